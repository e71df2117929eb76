"""The catalog: listing and searching courses, course pages, teachers, public profiles.

Every query loads what its page shows in a fixed number of statements (no N+1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from peerloop.accounts.models import User
from peerloop.catalog.models import Category, Course, CourseTag, Level, PrerequisiteType
from peerloop.certification.models import StudentTeacher
from peerloop.db import parse_uuid
from peerloop.errors import ValidationError
from peerloop.extensions import db

SORTS = {
    "popular": (Course.student_count.desc(), Course.title),
    "new": (Course.created_at.desc(), Course.title),
    "rating": (sa.func.coalesce(Course.rating, 0).desc(), Course.title),
    "price": (Course.price_cents.asc(), Course.title),
}
MAX_PER_PAGE = 100
MAX_QUERY_LENGTH = 100


@dataclass
class CourseFilters:
    category: str | None = None
    level: str | None = None
    q: str | None = None
    sort: str = "popular"
    page: int = 1
    per_page: int = 12


def parse_filters(args, *, default_per_page: int = 12) -> CourseFilters:
    """Read catalog filters from query arguments.

    :raise ValidationError: an unknown category, level or sort, or a bad page number.
    """
    fields: dict[str, str] = {}
    filters = CourseFilters(per_page=default_per_page)
    category = (args.get("category") or "").strip().lower() or None
    if category is not None:
        if db.session.scalar(sa.select(Category.id).where(Category.slug == category)) is None:
            fields["category"] = "Unknown category."
        filters.category = category
    level = (args.get("level") or "").strip().lower() or None
    if level is not None:
        if level not in Level.__members__:
            fields["level"] = "Choose beginner, intermediate or advanced."
        filters.level = level
    q = (args.get("q") or "").strip()
    if len(q) > MAX_QUERY_LENGTH:
        fields["q"] = f"Search with at most {MAX_QUERY_LENGTH} characters."
    filters.q = q or None
    sort = (args.get("sort") or "popular").strip().lower()
    if sort not in SORTS:
        fields["sort"] = "Sort by popular, new, rating or price."
    filters.sort = sort
    for name, low, high in (("page", 1, 10_000), ("per_page", 1, MAX_PER_PAGE)):
        raw = args.get(name)
        if raw in (None, ""):
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError):
            fields[name] = "Must be a whole number."
            continue
        if not low <= value <= high:
            fields[name] = f"Must be between {low} and {high}."
            continue
        setattr(filters, name, value)
    if fields:
        raise ValidationError(fields=fields)
    return filters


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def listed_courses_query():
    return sa.select(Course).where(Course.is_active.is_(True), Course.is_retired.is_(False))


def search_courses(filters: CourseFilters) -> tuple[list[Course], int]:
    """Active courses matching the filters, one page of them, and the total."""
    query = listed_courses_query()
    if filters.category:
        query = query.join(Category, Course.category_id == Category.id).where(Category.slug == filters.category)
    if filters.level:
        query = query.where(Course.level == Level(filters.level))
    if filters.q:
        pattern = f"%{_escape_like(filters.q.lower())}%"
        tag_match = sa.exists().where(
            CourseTag.course_id == Course.id, sa.func.lower(CourseTag.tag).like(pattern, escape="\\")
        )
        query = query.where(
            sa.or_(
                sa.func.lower(Course.title).like(pattern, escape="\\"),
                sa.func.lower(sa.func.coalesce(Course.tagline, "")).like(pattern, escape="\\"),
                tag_match,
            )
        )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    page_query = (
        query.options(joinedload(Course.creator), joinedload(Course.category))
        .order_by(*SORTS[filters.sort], Course.id)
        .offset((filters.page - 1) * filters.per_page)
        .limit(filters.per_page)
    )
    return list(db.session.scalars(page_query).unique()), total


def featured_courses(limit: int = 6) -> list[Course]:
    query = (
        listed_courses_query()
        .options(joinedload(Course.creator), joinedload(Course.category))
        .order_by(sa.case((Course.badge.is_not(None), 0), else_=1), Course.student_count.desc(), Course.title)
        .limit(limit)
    )
    return list(db.session.scalars(query).unique())


def categories() -> list[Category]:
    return list(db.session.scalars(sa.select(Category).order_by(Category.display_order, Category.name)))


@dataclass
class CategoryCount:
    category: Category
    course_count: int


def categories_with_courses() -> list[CategoryCount]:
    """Categories that have listed (published, not retired) courses, with how many, in display order."""
    listed = listed_courses_query().subquery()
    count = sa.func.count(listed.c.id)
    rows = db.session.execute(
        sa.select(Category, count)
        .join(listed, listed.c.category_id == Category.id)
        .group_by(Category.id)
        .order_by(Category.display_order, Category.name)
    ).all()
    return [CategoryCount(category=category, course_count=n) for category, n in rows]


DETAILS = (
    joinedload(Course.creator).selectinload(User.qualifications),
    joinedload(Course.category),
    joinedload(Course.features),
    selectinload(Course.tags),
    selectinload(Course.objectives),
    selectinload(Course.includes),
    selectinload(Course.prerequisites),
    selectinload(Course.target_audience),
    selectinload(Course.testimonials),
    selectinload(Course.modules),
)


def course_with_details(course_id) -> Course:
    """The course and everything its page's body shows, read now (over whatever the session holds)."""
    query = sa.select(Course).where(Course.id == course_id).options(*DETAILS)
    return db.session.scalars(query.execution_options(populate_existing=True)).one()


def get_course(id_or_slug: str, *, viewer=None, with_details: bool = True) -> Course | None:
    """A course (with everything its page shows, unless ``with_details`` is False), or None.

    Drafts and retired courses are visible to their creator and admins only.
    """
    options = DETAILS if with_details else (joinedload(Course.creator), joinedload(Course.category))
    course_id = parse_uuid(id_or_slug)
    condition = Course.id == course_id if course_id else Course.slug == str(id_or_slug).strip().lower()
    course = db.session.scalar(sa.select(Course).where(condition).options(*options))
    if course is None:
        return None
    if not course.is_listed and not can_manage_course(viewer, course):
        return None
    return course


def can_manage_course(user, course: Course) -> bool:
    return bool(user is not None and user.is_authenticated and (user.is_admin or user.id == course.creator_id))


def prerequisites_by_type(course: Course) -> dict[str, list]:
    grouped: dict[str, list] = {t.value: [] for t in PrerequisiteType}
    for prerequisite in course.prerequisites:
        grouped[prerequisite.type.value].append(prerequisite)
    return grouped


def modules_by_session(course: Course) -> list[tuple[int | None, list]]:
    """Modules grouped by live session number, in order; None groups self-paced modules."""
    groups: dict[int | None, list] = {}
    for module in course.modules:
        groups.setdefault(module.session_number, []).append(module)
    return sorted(groups.items(), key=lambda item: (item[0] is None, item[0] or 0))


@dataclass
class TeacherCard:
    """What a student sees about someone who teaches a course (seed 000 §2)."""

    user: User
    students_taught: int
    rating: float | None
    is_creator: bool = False
    slots: list = field(default_factory=list)  # the next free start instants (UTC), filled by scheduling
    next_available: str | None = None  # the first of them, ISO 8601 UTC; None when none is free


def _st_query(course: Course):
    return (
        sa.select(StudentTeacher, User)
        .join(User, StudentTeacher.user_id == User.id)
        .where(
            StudentTeacher.course_id == course.id,
            StudentTeacher.is_active.is_(True),
            User.is_student_teacher.is_(True),  # the "Available as Student-Teacher" toggle
            User.deleted_at.is_(None),
            User.id != course.creator_id,
        )
    )


def _course_ratings(course: Course):
    """Each teacher's rating in this course (not across courses): ``teacher_id, rating`` over the
    stars their students gave them after sessions of it, grouped, to join to the cards' query."""
    from peerloop.scheduling.models import TutoringSession
    from peerloop.video.feedback import student_assessments
    from peerloop.video.models import Assessment

    return (
        student_assessments(TutoringSession.teacher_id, sa.func.avg(Assessment.rating).label("rating"))
        .where(TutoringSession.course_id == course.id)
        .group_by(TutoringSession.teacher_id)
        .subquery("teacher_ratings")
    )


def _rating(value) -> float | None:
    from peerloop.video.feedback import two_places

    return None if value is None else float(two_places(value))


def _creator_card(course: Course) -> TeacherCard | None:
    """The creator, when they teach the course themselves (they have set availability)."""
    from peerloop.scheduling.models import AvailabilitySettings, SessionKind, SessionStatus, TutoringSession

    if course.creator.deleted_at is not None:
        return None
    ratings = _course_ratings(course)
    # One statement: whether they teach it, how many they have taught, their rating here.
    teaches, taught, rating = db.session.execute(
        sa.select(
            sa.exists().where(AvailabilitySettings.user_id == course.creator_id),
            sa.func.count(sa.distinct(TutoringSession.student_id)),
            sa.select(ratings.c.rating).where(ratings.c.teacher_id == course.creator_id).scalar_subquery(),
        ).where(
            TutoringSession.teacher_id == course.creator_id,
            TutoringSession.course_id == course.id,
            TutoringSession.status == SessionStatus.completed,
            TutoringSession.kind == SessionKind.regular,  # an assessment teaches no one
        )
    ).one()
    if not teaches:
        return None
    return TeacherCard(user=course.creator, students_taught=int(taught or 0), rating=_rating(rating), is_creator=True)


def teacher_ratings(pairs) -> dict[tuple, float]:
    """Teachers' ratings by ``(course_id, teacher_id)`` for the given pairs, in one grouped query:
    the average (2 decimals) of the stars their students gave them after sessions of that course.
    A pair nobody has rated yet is absent."""
    from peerloop.scheduling.models import TutoringSession
    from peerloop.video.feedback import student_assessments
    from peerloop.video.models import Assessment

    pairs = set(pairs)
    if not pairs:
        return {}
    course_ids = {course_id for course_id, _ in pairs}
    teacher_ids = {teacher_id for _, teacher_id in pairs}
    rows = db.session.execute(
        student_assessments(TutoringSession.course_id, TutoringSession.teacher_id, sa.func.avg(Assessment.rating))
        .where(TutoringSession.course_id.in_(course_ids), TutoringSession.teacher_id.in_(teacher_ids))
        .group_by(TutoringSession.course_id, TutoringSession.teacher_id)
    ).all()
    return {
        (course_id, teacher_id): _rating(average)
        for course_id, teacher_id, average in rows
        if (course_id, teacher_id) in pairs
    }


def course_teachers(
    course: Course, *, page: int = 1, per_page: int | None = None, now=None, viewer=None, slot_limit: int = 6
) -> list[TeacherCard]:
    """Who teaches the course: its creator first when they teach it, then its certified, active
    Student-Teachers, most experienced first; one page of them (paged in SQL). With ``now``, each
    card carries its next free times (in a fixed number of queries, whatever the page size)."""
    creator = _creator_card(course)
    offset = (page - 1) * per_page if per_page else 0
    cards = [creator] if creator and offset == 0 else []
    ratings = _course_ratings(course)  # joined, so the whole page's ratings cost no statement of their own
    query = (
        _st_query(course)
        .add_columns(ratings.c.rating)
        .outerjoin(ratings, ratings.c.teacher_id == StudentTeacher.user_id)
        .order_by(StudentTeacher.students_taught.desc(), User.name, User.id)
    )
    if per_page:
        shift = 1 if creator else 0
        query = query.offset(max(0, offset - shift)).limit(per_page - len(cards))
    rows = db.session.execute(query).all()
    cards += [
        TeacherCard(user=user, students_taught=st.students_taught, rating=_rating(rating)) for st, user, rating in rows
    ]
    if now is not None and cards:
        from peerloop.scheduling.services import fill_slots

        fill_slots(cards, now=now, viewer=viewer, limit=slot_limit)
    return cards


def course_teacher_count(course: Course) -> int:
    count = db.session.scalar(sa.select(sa.func.count()).select_from(_st_query(course).subquery()))
    return int(count) + (1 if _creator_card(course) else 0)


@dataclass
class PublicProfile:
    user: User
    full: bool  # False: a private profile seen by someone else (name, handle, avatar only)
    teaching: list[StudentTeacher]
    created_courses: list[Course]
    # Their rating per course taught, by course id (absent: nobody has rated them there yet).
    ratings: dict = field(default_factory=dict)


def public_profile(handle: str, *, viewer=None) -> PublicProfile | None:
    from peerloop.accounts.services import normalise_handle

    # Qualifications, expertise and interests load when shown: a private profile's never are.
    user = db.session.scalar(sa.select(User).where(User.handle == normalise_handle(handle), User.deleted_at.is_(None)))
    if user is None:
        return None
    is_self_or_admin = bool(
        viewer is not None and viewer.is_authenticated and (viewer.id == user.id or viewer.is_admin)
    )
    teaching = list(
        db.session.scalars(
            sa.select(StudentTeacher)
            .join(Course, StudentTeacher.course_id == Course.id)
            .where(
                StudentTeacher.user_id == user.id,
                StudentTeacher.is_active.is_(True),
                Course.is_active.is_(True),
                Course.is_retired.is_(False),
            )
            .options(joinedload(StudentTeacher.course))
            .order_by(Course.title)
        )
    )
    created = (
        list(
            db.session.scalars(
                listed_courses_query()
                .where(Course.creator_id == user.id)
                .options(joinedload(Course.category))
                .order_by(Course.title)
            )
        )
        if user.is_creator
        else []
    )
    ratings = teacher_ratings((st.course_id, user.id) for st in teaching)
    return PublicProfile(
        user=user,
        full=user.privacy_public or is_self_or_admin,
        teaching=teaching,
        created_courses=created,
        ratings={course_id: rating for (course_id, _), rating in ratings.items()},
    )
