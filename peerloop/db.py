"""The declarative base every model shares, and the column types it relies on."""

from __future__ import annotations

import contextvars
import enum
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so Alembic can find and alter them on any database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The wall clock. Business time (what views, jobs and defaults use) is ``peerloop.clock.now``;
    the wall clock is for what must follow real time: token and link expiry, rate limits, signatures."""
    return datetime.now(UTC)


def business_now() -> datetime:
    """Model timestamp defaults: the business clock (a test clock when one is set)."""
    from peerloop.clock import now

    return now()


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware datetime stored as UTC.

    SQLite drops the zone, and comparing a naive with an aware datetime raises,
    so values are normalised to UTC on the way in and made aware on the way out.
    A naive datetime is a programming error and is refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_cls: type[enum.Enum], name: str, **kwargs) -> sa.Enum:
    """A status column: a string plus a CHECK, never a native enum type.

    New states then need no ``ALTER TYPE``; the check constraint is named after
    ``name`` so migrations can find it.
    """
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        **kwargs,
    )


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=business_now, nullable=False)


class Timestamps(CreatedAt):
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=business_now, onupdate=business_now, nullable=False
    )


def parse_uuid(value) -> uuid.UUID | None:
    """A UUID from user input, or None when it is not one (callers answer 404)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


MAX_BULK = 500  # rows one bulk action may touch (and ids one statement may carry)


def unique_ids(values, *, limit: int = MAX_BULK) -> list[uuid.UUID]:
    """Distinct valid UUIDs from user input, in order.

    :raise ValidationError: more than ``limit`` of them.
    """
    from peerloop.errors import ValidationError

    seen: dict[uuid.UUID, None] = {}
    for value in values:
        uid = parse_uuid(value)
        if uid is not None:
            seen[uid] = None
    if len(seen) > limit:
        raise ValidationError(
            f"Select at most {limit} at a time.", fields={"ids": f"Select at most {limit} at a time."}
        )
    return list(seen)


# --- the write lock ----------------------------------------------------------

_force_write_lock = contextvars.ContextVar("force_write_lock", default=False)


def sqlite_begin_statement() -> str:
    """How a SQLite transaction begins: IMMEDIATE (holding the write lock) unless it
    belongs to a safe request, whose reads need no lock."""
    from flask import has_request_context, request

    if not _force_write_lock.get() and has_request_context() and request.method in ("GET", "HEAD", "OPTIONS"):
        return "BEGIN"
    return "BEGIN IMMEDIATE"


def for_update(statement):
    """The one way a service that reads, decides and writes locks what it read.

    PostgreSQL: ``SELECT … FOR UPDATE`` row locks (take them in a fixed order,
    e.g. by id, so two services cannot deadlock). SQLite has no row locks: there
    the transaction holds the database's write lock from its BEGIN IMMEDIATE; a
    read-only transaction (a GET request) is ended first and an IMMEDIATE one
    begun, so the read that follows sees the latest data and nobody can write
    between it and our write.

    :raise RuntimeError: on SQLite, unflushed changes in a transaction without the write lock.
    """
    from peerloop.extensions import db

    session = db.session()
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.info.get("sqlite_write_lock"):
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("for_update() after unflushed changes in a read transaction")
        session.commit()
        token = _force_write_lock.set(True)
        try:
            session.connection()  # begins IMMEDIATE
        finally:
            _force_write_lock.reset(token)
    return statement.with_for_update()
