"""Courses and everything a course page shows."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from peerloop.accounts.models import User
from peerloop.db import CreatedAt, Timestamps, UUIDPrimaryKey, enum_column
from peerloop.extensions import db


class Level(enum.StrEnum):
    beginner = "beginner"
    intermediate = "intermediate"
    advanced = "advanced"


class Badge(enum.StrEnum):
    popular = "popular"
    new = "new"
    bestseller = "bestseller"
    featured = "featured"


class PrerequisiteType(enum.StrEnum):
    required = "required"
    nice_to_have = "nice_to_have"
    not_required = "not_required"


class Category(UUIDPrimaryKey, db.Model):
    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(sa.String(80))
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_order: Mapped[int] = mapped_column(default=0)

    def __str__(self) -> str:
        return self.name


class Course(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "courses"

    creator_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    slug: Mapped[str] = mapped_column(sa.String(200), unique=True)
    tagline: Mapped[str | None] = mapped_column(sa.String(150))
    description: Mapped[str] = mapped_column(sa.Text)
    duration: Mapped[str] = mapped_column(sa.String(50))
    duration_weeks: Mapped[int | None]
    total_duration: Mapped[str | None] = mapped_column(sa.String(50))
    session_count: Mapped[int | None]
    module_count: Mapped[int | None]
    lesson_count: Mapped[int | None]
    format: Mapped[str | None] = mapped_column(sa.String(100))
    level: Mapped[Level] = mapped_column(enum_column(Level, "course_level"), index=True)
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    thumbnail_url: Mapped[str | None] = mapped_column(sa.String(500))
    category_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("categories.id"), index=True)
    rating: Mapped[Decimal | None] = mapped_column(sa.Numeric(3, 2))
    rating_count: Mapped[int | None] = mapped_column(default=0)
    student_count: Mapped[int] = mapped_column(default=0)
    badge: Mapped[Badge | None] = mapped_column(enum_column(Badge, "course_badge"))
    lifetime_access: Mapped[bool] = mapped_column(default=True)
    has_certificate: Mapped[bool] = mapped_column(default=True)
    certificate_name: Mapped[str | None] = mapped_column(sa.String(120))
    # New courses are drafts until Brian activates them.
    is_active: Mapped[bool] = mapped_column(default=False, index=True)
    is_retired: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.CheckConstraint("session_count IS NULL OR session_count >= 0", name="session_count_not_negative"),
    )

    creator: Mapped[User] = relationship()
    category: Mapped[Category] = relationship()
    tags: Mapped[list[CourseTag]] = relationship(
        back_populates="course", order_by="CourseTag.tag", cascade="all, delete-orphan"
    )
    objectives: Mapped[list[CourseObjective]] = relationship(
        back_populates="course", order_by="CourseObjective.display_order", cascade="all, delete-orphan"
    )
    includes: Mapped[list[CourseInclude]] = relationship(
        back_populates="course", order_by="CourseInclude.display_order", cascade="all, delete-orphan"
    )
    prerequisites: Mapped[list[CoursePrerequisite]] = relationship(
        back_populates="course", order_by="CoursePrerequisite.display_order", cascade="all, delete-orphan"
    )
    target_audience: Mapped[list[CourseTargetAudience]] = relationship(
        back_populates="course", order_by="CourseTargetAudience.display_order", cascade="all, delete-orphan"
    )
    testimonials: Mapped[list[CourseTestimonial]] = relationship(
        back_populates="course", order_by="CourseTestimonial.created_at", cascade="all, delete-orphan"
    )
    modules: Mapped[list[Module]] = relationship(
        back_populates="course", order_by="Module.module_order", cascade="all, delete-orphan"
    )
    features: Mapped[PeerloopFeatures | None] = relationship(back_populates="course", cascade="all, delete-orphan")

    @property
    def is_listed(self) -> bool:
        """Shown in the public catalog and open for enrollment."""
        return self.is_active and not self.is_retired

    def __str__(self) -> str:
        return self.title


class CourseTag(UUIDPrimaryKey, db.Model):
    __tablename__ = "course_tags"
    __table_args__ = (sa.UniqueConstraint("course_id", "tag"),)

    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(sa.String(50), index=True)
    course: Mapped[Course] = relationship(back_populates="tags")

    def __str__(self) -> str:
        return self.tag


class CourseObjective(UUIDPrimaryKey, db.Model):
    __tablename__ = "course_objectives"

    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    objective: Mapped[str] = mapped_column(sa.Text)
    display_order: Mapped[int] = mapped_column(default=0)
    course: Mapped[Course] = relationship(back_populates="objectives")

    def __str__(self) -> str:
        return self.objective


class CourseInclude(UUIDPrimaryKey, db.Model):
    __tablename__ = "course_includes"

    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(sa.String(200))
    display_order: Mapped[int] = mapped_column(default=0)
    course: Mapped[Course] = relationship(back_populates="includes")

    def __str__(self) -> str:
        return self.item


class CoursePrerequisite(UUIDPrimaryKey, db.Model):
    __tablename__ = "course_prerequisites"

    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    type: Mapped[PrerequisiteType] = mapped_column(enum_column(PrerequisiteType, "prerequisite_type"))
    content: Mapped[str] = mapped_column(sa.String(300))
    display_order: Mapped[int] = mapped_column(default=0)
    course: Mapped[Course] = relationship(back_populates="prerequisites")

    def __str__(self) -> str:
        return self.content


class CourseTargetAudience(UUIDPrimaryKey, db.Model):
    __tablename__ = "course_target_audience"

    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(sa.String(300))
    display_order: Mapped[int] = mapped_column(default=0)
    course: Mapped[Course] = relationship(back_populates="target_audience")

    def __str__(self) -> str:
        return self.description


class CourseTestimonial(UUIDPrimaryKey, CreatedAt, db.Model):
    __tablename__ = "course_testimonials"

    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    quote: Mapped[str] = mapped_column(sa.Text)
    student_name: Mapped[str] = mapped_column(sa.String(100))
    student_role: Mapped[str | None] = mapped_column(sa.String(100))
    is_featured: Mapped[bool] = mapped_column(default=True)
    course: Mapped[Course] = relationship(back_populates="testimonials")

    def __str__(self) -> str:
        return f"{self.student_name}: {self.quote[:40]}"


class Module(UUIDPrimaryKey, db.Model):
    """One module of a course's curriculum; ``session_number`` groups modules by live session."""

    __tablename__ = "course_curriculum"

    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    session_number: Mapped[int | None]
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    duration: Mapped[str] = mapped_column(sa.String(50))
    learning_objectives: Mapped[str | None] = mapped_column(sa.Text)
    topics_covered: Mapped[str | None] = mapped_column(sa.Text)
    hands_on_exercise: Mapped[str | None] = mapped_column(sa.Text)
    video_count: Mapped[int | None]
    reading_count: Mapped[int | None]
    has_assessment: Mapped[bool | None] = mapped_column(default=False)
    module_order: Mapped[int] = mapped_column(default=0)
    video_url: Mapped[str | None] = mapped_column(sa.String(500))
    document_url: Mapped[str | None] = mapped_column(sa.String(500))
    course: Mapped[Course] = relationship(back_populates="modules")

    def __str__(self) -> str:
        return self.title


class PeerloopFeatures(db.Model):
    __tablename__ = "peerloop_features"

    course_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    one_on_one_teaching: Mapped[bool] = mapped_column(default=True)
    certified_teachers: Mapped[bool] = mapped_column(default=True)
    earn_while_teaching: Mapped[bool] = mapped_column(default=True)
    # Seed 001's column, kept for the schema but not read: the split is configured in one place
    # (SPLIT_TEACHER_PCT, payments.money.rates_from_config) and the API shows that value.
    teacher_commission: Mapped[int] = mapped_column(default=70)
    course: Mapped[Course] = relationship(back_populates="features")
