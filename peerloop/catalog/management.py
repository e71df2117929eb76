"""Course management for the consoles: publishing, validation, dashboard figures."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from urllib.parse import urlparse

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from peerloop.accounts.models import User
from peerloop.catalog.models import Category, Course
from peerloop.certification.models import StudentTeacher
from peerloop.db import unique_ids
from peerloop.enrollment.models import Enrollment
from peerloop.errors import ValidationError
from peerloop.extensions import db
from peerloop.templating import money
from peerloop.urls import site_path

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CURRENCIES = {"USD", "EUR", "GBP", "CAD", "AUD"}
MAX_PRICE_CENTS = 10_000_00
# Stripe's smallest charge is 0.50 in each of these currencies; a course must cost at least that to be bought.
MIN_PRICE_CENTS = 50


def publish_problem(course: Course) -> str | None:
    """Why ``course`` cannot be in the catalog (nobody could buy it, or the ledger could not split it), or None.

    A draft may be incomplete; a published course needs at least one live session
    (the teaching share is released per session) and Stripe's minimum charge.
    """
    if not course.session_count or course.session_count < 1:
        return "needs at least one live session before it can be published"
    if course.price_cents is None or course.price_cents < MIN_PRICE_CENTS:
        minimum = money(MIN_PRICE_CENTS, course.currency or "USD")
        return f"needs a price of at least {minimum} before it can be published"
    return None


def _slug_taken(model, slug: str, own_id) -> bool:
    """Whether another row of ``model`` has this slug.

    No autoflush: the row being validated may be pending (its id not yet set)
    and must not be written, or found, by this very check.
    """
    query = sa.select(model.id).where(model.slug == slug)
    if own_id is not None:
        query = query.where(model.id != own_id)
    with db.session.no_autoflush:
        return db.session.scalar(query.limit(1)) is not None


def validate_course_fields(course: Course) -> None:
    """Check a course edited in a console before it is saved.

    :raise ValidationError: with a message per bad field.
    """
    fields = {}
    course.slug = (course.slug or "").strip().lower()
    course.title = (course.title or "").strip()
    if not course.title:
        fields["title"] = "Enter a title."
    if not SLUG_RE.match(course.slug) or len(course.slug) > 200:
        fields["slug"] = "Use lower-case letters, numbers and single hyphens."
    elif _slug_taken(Course, course.slug, course.id):
        fields["slug"] = "Another course already uses that slug."
    if course.price_cents is None or not 0 <= course.price_cents <= MAX_PRICE_CENTS:
        fields["price_cents"] = "Enter a price in cents between 0 and 1,000,000."
    course.currency = (course.currency or "USD").strip().upper()
    if course.currency not in CURRENCIES:
        fields["currency"] = "Choose one of " + ", ".join(sorted(CURRENCIES)) + "."
    if course.session_count is not None and not 0 <= course.session_count <= 50:
        fields["session_count"] = "Between 0 and 50 live sessions."
    if not (course.description or "").strip():
        fields["description"] = "Describe the course."
    if not (course.duration or "").strip():
        fields["duration"] = "Say how long it takes, e.g. 2 weeks."
    for column in Course.__table__.columns:
        value = getattr(course, column.key)
        limit = getattr(column.type, "length", None)
        if isinstance(value, str) and limit and len(value) > limit and column.key not in fields:
            fields[column.key] = f"Use at most {limit} characters."
    course.thumbnail_url = (course.thumbnail_url or "").strip() or None
    if course.thumbnail_url and not _is_web_address(course.thumbnail_url):
        fields["thumbnail_url"] = "Use a full web address starting with https://"
    if course.duration_weeks is not None and not 0 <= course.duration_weeks <= 520:
        fields["duration_weeks"] = "Between 0 and 520 weeks."
    if course.is_active and not fields and (problem := publish_problem(course)):
        field = "session_count" if "session" in problem else "price_cents"
        fields[field] = f"A published course {problem}."
    if fields:
        raise ValidationError(fields=fields)


# Required text of each kind of child row, as (relationship, fields).
CHILD_TEXT = [
    ("objectives", ("objective",)),
    ("includes", ("item",)),
    ("prerequisites", ("content",)),
    ("target_audience", ("description",)),
    ("testimonials", ("quote", "student_name")),
    ("tags", ("tag",)),
    ("modules", ("title", "description", "duration")),
]


def validate_course_children(course: Course) -> None:
    """Trim the course's child rows (edited inline in the studio) and check them.

    :raise ValidationError: blank required text, a repeated tag, a link that is not http(s).
    """
    fields: dict[str, str] = {}
    for relation, names in CHILD_TEXT:
        for row in getattr(course, relation):
            for name in names:
                value = (getattr(row, name) or "").strip()
                setattr(row, name, value)
                if not value:
                    fields[f"{relation}.{name}"] = f"Fill in every {relation.replace('_', ' ')} row, or remove it."
    tags = [tag.tag.lower() for tag in course.tags]
    for tag, row in zip(tags, course.tags, strict=True):
        row.tag = tag
    if len(set(tags)) != len(tags):
        fields["tags"] = "Each tag once, please."
    for module in course.modules:
        for name in ("video_url", "document_url"):
            value = (getattr(module, name) or "").strip() or None
            setattr(module, name, value)
            if value and not _is_web_address(value):
                fields[f"modules.{name}"] = "Links must be full web addresses starting with https://"
    if fields:
        raise ValidationError(fields=fields)


def _is_web_address(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc)


def validate_category(category: Category) -> None:
    category.name = (category.name or "").strip()
    category.slug = (category.slug or "").strip().lower()
    fields = {}
    if not category.name:
        fields["name"] = "Enter a name."
    if not SLUG_RE.match(category.slug):
        fields["slug"] = "Use lower-case letters, numbers and single hyphens."
    elif _slug_taken(Category, category.slug, category.id):
        fields["slug"] = "Another category already uses that slug."
    if fields:
        raise ValidationError(fields=fields)


def category_in_use(category: Category) -> bool:
    return db.session.scalar(sa.select(Course.id).where(Course.category_id == category.id).limit(1)) is not None


def set_courses_active(course_ids: list[uuid.UUID | None], active: bool, *, now: datetime) -> int:
    """Publish (or unpublish) courses; creators hear when a draft goes live.

    Returns how many courses changed state.

    :raise ValidationError: a course to publish has no live session or is priced under the minimum
        charge (then nothing is published, and the message names each one).
    """
    ids = unique_ids(course_ids)
    if not ids:
        return 0
    changing = list(
        db.session.scalars(
            sa.select(Course)
            .where(Course.id.in_(ids), Course.is_active.is_not(active))
            .options(joinedload(Course.creator))
        )
    )
    if active:
        refused = [f"{course.title} {problem}" for course in changing if (problem := publish_problem(course))]
        if refused:
            db.session.rollback()
            message = "Nothing was published: " + "; ".join(refused) + "."
            raise ValidationError(message, fields={"ids": message})
    for course in changing:
        course.is_active = active
        course.updated_at = now
    db.session.commit()
    if active:
        for course in changing:
            announce_published(course, now=now)
    return len(changing)


def announce_published(course: Course, *, now: datetime) -> None:
    """Tell the creator their course is live (once per course, however it was published).

    The course is live already, so a failure here is logged, not raised.
    """
    from peerloop.notifications.services import notify

    try:
        notify(
            course.creator,
            "course.published",
            title=f"{course.title} is live",
            body="Your course is published in the PeerLoop catalog. Students can find and buy it now.",
            action_url=site_path("catalog.course", slug=course.slug),
            email_template="notification",
            dedupe_key=f"course.published:{course.id}",  # the creator hears it once, however often it is toggled
            now=now,
        )
    except Exception:
        db.session.rollback()
        current_app.logger.exception("could not notify %s that %s is published", course.creator_id, course.id)


def creator_courses(creator_id: uuid.UUID) -> list[dict]:
    """The studio dashboard: each of the creator's courses with its figures."""
    enrolled = (
        sa.select(sa.func.count(Enrollment.id))
        .where(Enrollment.course_id == Course.id, Enrollment.status != "cancelled")
        .correlate(Course)
        .scalar_subquery()
    )
    teachers = (
        sa.select(sa.func.count(StudentTeacher.id))
        .where(StudentTeacher.course_id == Course.id, StudentTeacher.is_active.is_(True))
        .correlate(Course)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Course, enrolled, teachers).where(Course.creator_id == creator_id).order_by(Course.title)
    ).all()
    return [{"course": c, "enrollments": e, "teachers": t} for c, e, t in rows]


def console_stats() -> dict:
    count = sa.func.count
    return {
        "users": db.session.scalar(sa.select(count(User.id)).where(User.deleted_at.is_(None))),
        "creators": db.session.scalar(sa.select(count(User.id)).where(User.is_creator.is_(True))),
        "courses_live": db.session.scalar(sa.select(count(Course.id)).where(Course.is_active.is_(True))),
        "courses_draft": db.session.scalar(
            sa.select(count(Course.id)).where(Course.is_active.is_(False), Course.is_retired.is_(False))
        ),
        "enrollments": db.session.scalar(sa.select(count(Enrollment.id))),
        "student_teachers": db.session.scalar(
            sa.select(count(StudentTeacher.id)).where(StudentTeacher.is_active.is_(True))
        ),
        "drafts": list(
            db.session.scalars(
                sa.select(Course)
                .where(Course.is_active.is_(False), Course.is_retired.is_(False))
                .order_by(Course.created_at.desc())
                .limit(10)
            )
        ),
    }
