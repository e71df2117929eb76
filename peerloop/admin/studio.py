"""The creators' studio at /studio: their own courses, and nothing else.

Every query is scoped to the logged-in creator. Another creator's course is a
404 whether reached by the list, by an edit URL or by a tampered form field;
``creator_id`` is always set from the session, never from the form.
"""

from __future__ import annotations

from flask import abort, flash
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BooleanEqualFilter
from flask_admin.model.form import InlineFormAdmin
from flask_login import current_user
from wtforms.validators import NumberRange, Optional

from peerloop import clock
from peerloop.admin.base import SecureIndexView, SecureModelView
from peerloop.catalog import management
from peerloop.catalog.models import (
    Course,
    CourseInclude,
    CourseObjective,
    CoursePrerequisite,
    CourseTag,
    CourseTargetAudience,
    CourseTestimonial,
    Module,
)


class StudioHome(SecureIndexView):
    required_role = "creator"

    @expose("/")
    def index(self):
        return self.render("admin/studio_home.html", courses=management.creator_courses(current_user.id))


ORDER = {"validators": [Optional(), NumberRange(min=0, max=10_000)]}


class OrderedInline(InlineFormAdmin):
    form_excluded_columns = ["course"]
    form_args = {"display_order": ORDER}


class ModuleInline(InlineFormAdmin):
    form_columns = [
        "id",
        "session_number",
        "module_order",
        "title",
        "description",
        "duration",
        "learning_objectives",
        "topics_covered",
        "hands_on_exercise",
        "video_url",
        "document_url",
        "has_assessment",
    ]
    form_args = {
        "session_number": {"validators": [Optional(), NumberRange(min=1, max=50)]},
        "module_order": ORDER,
    }


class StudioCourseView(SecureModelView):
    """A creator's own courses with their curriculum and details, edited inline."""

    required_role = "creator"
    can_delete = False  # retire instead: enrolled students keep their course
    column_list = ["title", "category", "level", "price_cents", "is_active", "is_retired", "student_count"]
    column_labels = {"is_active": "Published", "price_cents": "Price (cents)"}
    column_filters = [BooleanEqualFilter(Course.is_active, "Published")]
    column_searchable_list = ["title"]
    form_columns = [
        "title",
        "slug",
        "tagline",
        "description",
        "category",
        "level",
        "price_cents",
        "currency",
        "duration",
        "duration_weeks",
        "total_duration",
        "session_count",
        "format",
        "thumbnail_url",
        "lifetime_access",
        "has_certificate",
        "certificate_name",
        "is_retired",
    ]
    form_args = {"slug": {"description": "Lower-case words and hyphens, e.g. intro-to-claude-code"}}
    inline_models = [
        OrderedInline(CourseObjective),
        OrderedInline(CourseInclude),
        OrderedInline(CoursePrerequisite),
        OrderedInline(CourseTargetAudience),
        OrderedInline(CourseTestimonial),
        OrderedInline(CourseTag),
        ModuleInline(Module),
    ]

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

    def on_model_change(self, form, model, is_created):
        model.creator_id = current_user.id
        if is_created:
            model.is_active = False  # a draft until Brian publishes it
            model.student_count = 0
        management.validate_course_fields(model)
        management.validate_course_children(model)
        model.updated_at = clock.now()

    def after_model_change(self, form, model, is_created):
        if is_created:
            flash("Saved as a draft. Brian publishes new courses after a quick review.", "info")

    def delete_model(self, model):  # pragma: no cover - can_delete is False
        abort(404)
