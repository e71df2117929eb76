"""The creators' studio at /studio: their own courses, and nothing else.

Every query is scoped to the logged-in creator. Another creator's course is a
404 whether reached by the list, by an edit URL or by a tampered form field;
``creator_id`` is always set from the session, never from the form.

A course is edited in the course builder, one section per page
(``/studio/courses/<id>/<section>/``: basics, price, learn, curriculum,
audience, testimonials), each a CSRF-protected form of
``peerloop/admin/studio_forms.py`` with a sticky Save bar, a Preview link
(``/studio/courses/<id>/preview``, the public page, which shows drafts to their
creator and the PeerLoop team only) and, for drafts, Submit for review
(``peerloop/admin/studio_review.py``). Flask-Admin's own edit URL
(``/studio/courses/edit/?id=…``, linked from the course page) opens the builder.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BooleanEqualFilter
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms.fields.choices import SelectChoice

from peerloop import clock
from peerloop.admin import studio_review
from peerloop.admin.base import SecureIndexView, SecureModelView
from peerloop.admin.studio_forms import (
    FIELD_OF_MESSAGE,
    LEVEL_LABELS,
    MAX_TAGS,
    SECTIONS,
    SECTIONS_BY_KEY,
    NewCourseForm,
    Section,
    money_with_cents,
    session_choices,
)
from peerloop.catalog import management
from peerloop.catalog.models import (
    Category,
    Course,
    CourseInclude,
    CourseObjective,
    CoursePrerequisite,
    CourseTag,
    CourseTargetAudience,
    CourseTestimonial,
    Module,
)
from peerloop.db import parse_uuid
from peerloop.errors import ValidationError
from peerloop.extensions import db
from peerloop.templating import money


class StudioHome(SecureIndexView):
    required_role = "creator"

    @expose("/")
    def index(self):
        from peerloop.certification import metrics

        courses = management.creator_courses(current_user.id)
        return self.render(
            "admin/studio_home.html",
            courses=courses,
            # Only the creator's own courses; none at all when they have none.
            flywheel=metrics.flywheel([row["course"].id for row in courses]),
        )


# --- applying a section's form to the course -------------------------------------------


def _text(value) -> str:
    return (value or "").strip()


def _optional_text(value) -> str | None:
    return _text(value) or None


def _position(entry, index: int) -> int:
    raw = str(entry.form.position.data or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else 1_000_000 + index


def ordered_entries(field_list) -> list:
    """The rows of a list in the order the creator arranged them (their ``position``)."""
    return [
        entry for _, _, entry in sorted((_position(entry, i), i, entry) for i, entry in enumerate(field_list.entries))
    ]


def _module_group(entry) -> tuple[bool, int]:
    number = entry.form.session_number.data
    return (number is None, number or 0)


def _apply_rows(rows: list, field_list, make_row, fill, order_attr: str | None = "display_order", key=None) -> None:
    """Update, add, remove and reorder ``rows`` (a relationship list) from the posted ``field_list``.

    A row posted with an id that is not one of ``rows`` (another course's, a stale page's)
    is ignored; rows of the course that were not posted at all keep their place after the rest.
    """
    existing = {str(row.id): row for row in rows}
    entries = ordered_entries(field_list)
    if key is not None:
        entries.sort(key=key)  # stable: keeps the creator's order within a group
    kept = []
    for entry in entries:
        form = entry.form
        row_id = _text(form.id.data)
        row = existing.pop(row_id, None) if row_id else None
        if row_id and row is None:
            continue
        if form.remove.data:
            if row is not None:
                rows.remove(row)
            continue
        if row is None:
            if form.is_blank():
                continue
            row = make_row()
            rows.append(row)
        fill(row, form)
        kept.append(row)
    if order_attr:
        for index, row in enumerate(kept + [r for r in rows if r in existing.values()]):
            setattr(row, order_attr, index)


def _apply_basics(form, course: Course) -> None:
    course.title = _text(form.title.data)
    course.slug = _text(form.slug.data).lower()
    course.tagline = _optional_text(form.tagline.data)
    course.description = _text(form.description.data)
    course.category_id = uuid.UUID(form.category_id.data)
    course.level = form.level.data
    if hasattr(form, "thumbnail_url"):
        course.thumbnail_url = _optional_text(form.thumbnail_url.data)
    if hasattr(form, "search_tags"):
        _apply_tags(form, course)


def _apply_tags(form, course: Course) -> None:
    words: list[str] = []
    for word in (form.search_tags.data or "").split(","):
        word = " ".join(word.split()).lower()
        if word and word not in words:
            words.append(word)
    if len(words) > MAX_TAGS:
        raise ValidationError(fields={"search_tags": f"At most {MAX_TAGS} tags."})
    if any(len(word) > 50 for word in words):
        raise ValidationError(fields={"search_tags": "Each tag at most 50 characters."})
    current = {tag.tag: tag for tag in course.tags}
    for word, tag in current.items():
        if word not in words:
            course.tags.remove(tag)
    for word in words:
        if word not in current:
            course.tags.append(CourseTag(tag=word))


def _apply_price(form, course: Course) -> None:
    course.price_cents = form.price.data
    course.currency = form.currency.data
    course.session_count = form.session_count.data
    course.duration = _text(form.duration.data)
    if hasattr(form, "duration_weeks"):
        course.duration_weeks = form.duration_weeks.data
        course.total_duration = _optional_text(form.total_duration.data)
        course.format = _optional_text(form.format.data)
        course.lifetime_access = bool(form.lifetime_access.data)
        course.has_certificate = bool(form.has_certificate.data)
        course.certificate_name = _optional_text(form.certificate_name.data)
        course.is_retired = bool(form.is_retired.data)


def _fill(**names):
    """A row filler copying form fields to row attributes (text trimmed, empty optional text None)."""

    def fill(row, form):
        for attr, kind in names.items():
            value = form[attr].data
            if kind == "text":
                value = _text(value)
            elif kind == "line":  # one line of text, typed in a box that wraps
                value = " ".join((value or "").split())
            elif kind == "optional":
                value = _optional_text(value)
            elif kind == "bool":
                value = bool(value)
            setattr(row, attr, value)

    return fill


def _apply_learn(form, course: Course) -> None:
    _apply_rows(course.objectives, form.objectives, CourseObjective, _fill(objective="line"))
    _apply_rows(course.includes, form.includes, CourseInclude, _fill(item="text"))


def _apply_audience(form, course: Course) -> None:
    _apply_rows(course.prerequisites, form.prerequisites, CoursePrerequisite, _fill(type="value", content="line"))
    _apply_rows(course.target_audience, form.target_audience, CourseTargetAudience, _fill(description="line"))


def _apply_testimonials(form, course: Course) -> None:
    _apply_rows(
        course.testimonials,
        form.testimonials,
        CourseTestimonial,
        _fill(quote="text", student_name="text", student_role="optional", is_featured="bool"),
        order_attr=None,  # testimonials have no order column: they show oldest first
    )


MODULE_FIELDS = _fill(
    session_number="value",
    title="text",
    duration="text",
    description="text",
    learning_objectives="optional",
    topics_covered="optional",
    hands_on_exercise="optional",
    video_url="optional",
    document_url="optional",
    has_assessment="bool",
)


def _apply_curriculum(form, course: Course) -> None:
    _apply_rows(course.modules, form.modules, Module, MODULE_FIELDS, order_attr="module_order", key=_module_group)
    course.module_count = len(course.modules) or None


APPLY = {
    "basics": _apply_basics,
    "price": _apply_price,
    "learn": _apply_learn,
    "curriculum": _apply_curriculum,
    "audience": _apply_audience,
    "testimonials": _apply_testimonials,
}


def _place_errors(form, exc: ValidationError) -> list[str]:
    """Put a service's field messages on the form's fields; return those with no field on this page."""
    elsewhere = []
    for key, message in (exc.fields or {"": exc.message}).items():
        name = FIELD_OF_MESSAGE.get(key, key)
        if name in form._fields and name != "csrf_token":
            form[name].errors = [*form[name].errors, message]
        else:
            elsewhere.append(message)
    return elsewhere


def _move(form, section: Section, move: str) -> str | None:
    """Apply an up/down button (``"<list>:<row index>:up|down"``) to the rows' positions.

    Returns the anchor of the moved row, or None when the button names nothing here.
    """
    parts = move.split(":")
    if len(parts) != 3 or parts[0] not in section.lists or parts[2] not in ("up", "down"):
        return None
    field_list = form[parts[0]]
    entries = ordered_entries(field_list)
    for index, entry in enumerate(entries):
        entry.form.position.data = str(index)
    target = next((e for e in entries if e.name == f"{parts[0]}-{parts[1]}"), None)
    if target is None:
        return None
    group = [e for e in entries if parts[0] != "modules" or _module_group(e) == _module_group(target)]
    at = group.index(target)
    other = at - 1 if parts[2] == "up" else at + 1
    if 0 <= other < len(group):
        neighbour = group[other]
        target.form.position.data, neighbour.form.position.data = (
            neighbour.form.position.data,
            target.form.position.data,
        )
    row_id = _text(target.form.id.data)
    return f"row-{row_id}" if row_id else parts[0]


def _price_label(form, currency: str | None) -> None:
    if "price" in form._fields:
        form.price.label.text = f"Price ({currency or 'USD'})"


class StudioCourseView(SecureModelView):
    """A creator's own courses: the list, a short New course page, and the course builder."""

    required_role = "creator"
    can_delete = False  # retire instead: enrolled students keep their course
    column_list = ["title", "category", "level", "price_cents", "session_count", "is_active", "is_retired"]
    column_labels = {
        "title": "Course",
        "price_cents": "Price",
        "session_count": "Live sessions",
        "is_active": "Published",
        "is_retired": "Retired",
        "student_count": "Students",
        "duration_weeks": "Length in weeks",
        "total_duration": "Total time",
        "thumbnail_url": "Cover image",
        "lifetime_access": "Lifetime access",
        "has_certificate": "Certificate",
        "certificate_name": "Certificate name",
        "module_count": "Modules",
        "lesson_count": "Lessons",
        "rating_count": "Ratings",
        "created_at": "Created",
        "updated_at": "Last changed",
    }
    column_formatters = {
        "price_cents": lambda view, context, model, name: money(model.price_cents, model.currency),
        "title": lambda view, context, model, name: Markup('<a href="{}">{}</a>').format(
            view.get_url(".builder", course_id=model.id, section="basics"), model.title
        ),
    }
    column_formatters["level"] = lambda view, context, model, name: LEVEL_LABELS.get(model.level, model.level)
    column_formatters_detail = {"price_cents": column_formatters["price_cents"], "level": column_formatters["level"]}
    column_filters = [BooleanEqualFilter(Course.is_active, "Published")]
    column_searchable_list = ["title"]
    form = NewCourseForm

    # Scope every list, count and lookup to the caller's courses.
    def get_query(self):
        return super().get_query().filter(Course.creator_id == current_user.id)

    def get_count_query(self):
        return super().get_count_query().filter(Course.creator_id == current_user.id)

    def get_one(self, id):
        course = super().get_one(id)
        if course is None or course.creator_id != current_user.id:
            abort(404)
        return course

    def delete_model(self, model):  # pragma: no cover - can_delete is False
        abort(404)

    def _own(self, course_id) -> Course:
        course = db.session.get(Course, course_id) if isinstance(course_id, uuid.UUID) else None
        if course is None or course.creator_id != current_user.id:
            abort(404)
        return course

    @staticmethod
    def _category_choices(form) -> None:
        categories = db.session.scalars(sa.select(Category).order_by(Category.display_order, Category.name))
        form.category_id.choices = [SelectChoice(str(c.id), c.name) for c in categories]

    # --- a new course: the few fields the catalog needs, then the builder ----------------

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        form = NewCourseForm()
        self._category_choices(form)
        _price_label(form, request.form.get("currency") or "USD")
        problems: list[str] = []
        status = 200
        if request.method == "POST":
            status = 400
            if form.validate():
                course = Course(creator_id=current_user.id, is_active=False, student_count=0)
                try:
                    with db.session.no_autoflush:
                        _apply_basics(form, course)
                        _apply_price(form, course)
                        management.validate_course_fields(course)
                    now = clock.now()
                    course.created_at = course.updated_at = now
                    db.session.add(course)
                    db.session.commit()
                except ValidationError as exc:
                    db.session.rollback()
                    problems = _place_errors(form, exc)
                else:
                    flash(
                        "Saved as a draft. Add what students will learn and the curriculum, "
                        "then Submit for review: PeerLoop publishes new courses after a quick review.",
                        "info",
                    )
                    return redirect(self.get_url(".builder", course_id=course.id, section="learn"))
        return self.render("admin/studio/new.html", form=form, problems=problems), status

    # --- Flask-Admin's edit URL opens the builder ---------------------------------------

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        course_id = parse_uuid(request.args.get("id") or "")
        course = self._own(course_id)
        return redirect(self.get_url(".builder", course_id=course.id, section="basics"))

    @expose("/<uuid:course_id>/")
    def builder_home(self, course_id):
        return redirect(self.get_url(".builder", course_id=self._own(course_id).id, section="basics"))

    # --- the course builder -----------------------------------------------------------

    @expose("/<uuid:course_id>/<section>/", methods=("GET", "POST"))
    def builder(self, course_id, section):
        spec = SECTIONS_BY_KEY.get(section)
        if spec is None:
            abort(404)
        course = self._own(course_id)
        if request.method == "POST":
            form = spec.form()  # from the posted fields only: rows are matched by their ids
        else:
            form = spec.form(
                formdata=None,
                obj=course,
                price=course.price_cents,
                category_id=str(course.category_id),
                search_tags=", ".join(tag.tag for tag in course.tags),
            )
        self._prepare(form, spec, course)
        problems: list[str] = []
        status = 200
        if request.method == "POST":
            status = 400
            anchor = _move(form, spec, request.form.get("move", ""))
            if form.validate():
                try:
                    with db.session.no_autoflush:
                        APPLY[spec.key](form, course)
                        management.validate_course_fields(course)
                        management.validate_course_children(course)
                    course.updated_at = clock.now()
                    db.session.commit()
                except ValidationError as exc:
                    db.session.rollback()
                    problems = _place_errors(form, exc)
                else:
                    return self._after_save(course, spec, anchor)
            if not problems:
                problems = ["Nothing was saved: check the fields marked below."]
        if request.method == "GET":
            self._add_blank_rows(form, spec, course)
        return (
            self.render(
                "admin/studio/builder.html",
                course=course,
                form=form,
                section=spec,
                sections=SECTIONS,
                problems=problems,
                status=self._status(course),
                module_groups=self._module_groups(form, course) if spec.key == "curriculum" else None,
                ordered=ordered_entries,
                money_with_cents=money_with_cents,
            ),
            status,
        )

    def _prepare(self, form, spec: Section, course: Course) -> None:
        if "category_id" in form._fields:
            self._category_choices(form)
        _price_label(form, course.currency)
        if spec.key == "curriculum":
            choices = session_choices(self._session_total(course))
            for entry in form.modules.entries:
                entry.form.session_number.choices = choices
        if request.method == "GET":
            for name in spec.lists:
                for index, entry in enumerate(form[name].entries):
                    entry.form.position.data = str(index)

    @staticmethod
    def _session_total(course: Course) -> int:
        numbers = [m.session_number for m in course.modules if m.session_number]
        return max([course.session_count or 0, *numbers, 1])

    def _add_blank_rows(self, form, spec: Section, course: Course) -> None:
        """One empty row at the end of each list: filled in, it is added on Save."""
        for name in spec.lists:
            field_list = form[name]
            field_list.append_entry()
            entry = field_list.entries[-1]
            entry.form.position.data = str(len(field_list.entries) - 1)
            if name == "modules":
                entry.form.session_number.choices = session_choices(self._session_total(course))
                last = max([m.session_number or 0 for m in course.modules] or [0]) or 1
                entry.form.session_number.data = last

    def _module_groups(self, form, course: Course) -> dict:
        """The curriculum's rows by live session (every session of the course, even empty), the new row apart."""
        total = self._session_total(course)
        groups: dict = {number: [] for number in range(1, total + 1)}
        new_rows = []
        for entry in ordered_entries(form.modules):
            if entry.form.is_blank():
                new_rows.append(entry)
                continue
            number = entry.form.session_number.data
            groups.setdefault(number if isinstance(number, int) else None, []).append(entry)
        numbered = sorted((k, v) for k, v in groups.items() if k is not None)
        ordered = [(number, f"Session {number}", rows) for number, rows in numbered]
        if groups.get(None):
            ordered.append((None, "Self-paced (no live session)", groups[None]))
        return {"groups": ordered, "new": new_rows}

    @staticmethod
    def _status(course: Course) -> dict:
        if course.is_retired:
            return {"key": "retired", "label": "Retired", "asked_at": None}
        if course.is_active:
            return {"key": "published", "label": "Published", "asked_at": None}
        asked = studio_review.review_requested_at(course)
        if asked is not None:
            return {"key": "waiting", "label": "Waiting for review", "asked_at": asked}
        return {"key": "draft", "label": "Draft", "asked_at": None}

    def _after_save(self, course: Course, spec: Section, anchor: str | None):
        action = request.form.get("action", "save")
        target = spec.key
        if action == "submit":
            outcome = studio_review.request_review(course, now=clock.now())
            flash("Saved. " + outcome.message, "success" if outcome.sent else "warning")
        else:
            flash("Saved." if not anchor else "Saved in the new order.", "success")
            if action == "next":
                keys = [s.key for s in SECTIONS]
                target = keys[min(keys.index(spec.key) + 1, len(keys) - 1)]
        url = self.get_url(".builder", course_id=course.id, section=target)
        return redirect(url + (f"#{escape(anchor)}" if anchor and target == spec.key else ""))

    # --- preview and review -----------------------------------------------------------

    @expose("/<uuid:course_id>/preview")
    def preview(self, course_id):
        """The public course page; a draft shows there to its creator (and the PeerLoop team) only."""
        course = self._own(course_id)
        return redirect(url_for("catalog.course", slug=course.slug))

    @expose("/<uuid:course_id>/submit", methods=("POST",))
    def submit(self, course_id):
        """Submit for review without saving a section (the dashboard's and the list's button)."""
        course = self._own(course_id)
        outcome = studio_review.request_review(course, now=clock.now())
        flash(outcome.message, "success" if outcome.sent else "warning")
        return redirect(self.get_url(".builder", course_id=course.id, section="basics"))
