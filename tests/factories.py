"""Factories: build rows with sensible defaults, committed through the session.

Kept as plain functions over the models (no factory library needed for this size).
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from peerloop.accounts.models import User
from peerloop.accounts.passwords import hash_password
from peerloop.catalog.models import (
    Category,
    Course,
    CourseInclude,
    CourseObjective,
    CoursePrerequisite,
    CourseTag,
    CourseTargetAudience,
    CourseTestimonial,
    Level,
    Module,
    PeerloopFeatures,
    PrerequisiteType,
)
from peerloop.certification.models import StudentTeacher
from peerloop.enrollment.models import Enrollment
from peerloop.extensions import db

PASSWORD = "correct horse battery"
_seq = itertools.count(1)
_hash_cache: dict[str, str] = {}


def _hash(password: str) -> str:
    if password not in _hash_cache:
        _hash_cache[password] = hash_password(password)
    return _hash_cache[password]


def user(**overrides) -> User:
    n = next(_seq)
    password = overrides.pop("password", PASSWORD)
    values = {
        "email": f"user{n}@example.com",
        "name": f"User {n}",
        "handle": f"user{n}",
        "password_hash": _hash(password),
        "email_verified": True,
    }
    values.update(overrides)
    row = User(**values)
    db.session.add(row)
    db.session.commit()
    return row


def creator(**overrides) -> User:
    return user(is_creator=True, **overrides)


def admin(**overrides) -> User:
    return user(is_admin=True, **overrides)


def category(**overrides) -> Category:
    n = next(_seq)
    row = Category(**{"name": f"Category {n}", "slug": f"category-{n}", "display_order": n, **overrides})
    db.session.add(row)
    db.session.commit()
    return row


def course(**overrides) -> Course:
    n = next(_seq)
    details = overrides.pop("details", False)
    values = {
        "title": f"Course {n}",
        "slug": f"course-{n}",
        "tagline": f"Tagline {n}",
        "description": "A course description.",
        "duration": "2 weeks",
        "level": Level.beginner,
        "price_cents": 39900,
        "currency": "USD",
        "session_count": 2,
        "is_active": True,
        "rating": Decimal("4.5"),
    }
    values.update(overrides)
    if "creator" not in values and "creator_id" not in values:
        values["creator"] = creator()
    if "category" not in values and "category_id" not in values:
        values["category"] = category()
    row = Course(**values)
    if details:
        add_details(row)
    db.session.add(row)
    db.session.commit()
    return row


def add_details(row: Course) -> None:
    """Give a course one of everything its page shows."""
    row.tags = [CourseTag(tag="claude"), CourseTag(tag="terminal")]
    row.objectives = [CourseObjective(objective=f"Objective {i}", display_order=i) for i in range(3)]
    row.includes = [CourseInclude(item=f"Include {i}", display_order=i) for i in range(2)]
    row.prerequisites = [
        CoursePrerequisite(type=PrerequisiteType.required, content="A computer with a terminal", display_order=0),
        CoursePrerequisite(type=PrerequisiteType.nice_to_have, content="Basic navigation", display_order=0),
        CoursePrerequisite(type=PrerequisiteType.not_required, content="No coding experience", display_order=0),
    ]
    row.target_audience = [CourseTargetAudience(description="Curious beginners", display_order=0)]
    row.testimonials = [CourseTestimonial(quote="Great course", student_name="Sarah", student_role="Graduate")]
    row.modules = [
        Module(
            title=f"Module {i}", description="About it", duration="20 min", session_number=1 + i // 2, module_order=i
        )
        for i in range(4)
    ]
    row.features = PeerloopFeatures()


def student_teacher(user: User, course: Course, **overrides) -> StudentTeacher:
    values = {
        "user_id": user.id,
        "course_id": course.id,
        "certified_date": date(2026, 10, 1),
        "students_taught": 3,
        "approved_by": course.creator_id,
        "is_active": True,
    }
    values.update(overrides)
    row = StudentTeacher(**values)
    db.session.add(row)
    if row.is_active:
        user.is_student_teacher = True  # approval switches "Available as Student-Teacher" on
    db.session.commit()
    return row


def enrollment(student: User, course: Course, **overrides) -> Enrollment:
    values = {
        "student_id": student.id,
        "course_id": course.id,
        "price_cents": course.price_cents,
        "currency": course.currency,
        "session_count": course.session_count or 0,
    }
    values.update(overrides)
    row = Enrollment(**values)
    db.session.add(row)
    db.session.commit()
    return row
