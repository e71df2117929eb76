"""'Submit for review': a creator asks PeerLoop to publish a draft.

Courses have no review column (and this change may not add a migration), so a
request is recorded as the notification each admin receives: its dedupe key
``course.review_requested:<course id>`` makes it once per course and admin, and
Brian's overview lists the drafts (inactive, not retired) that have such a key.
Publishing the course (the console's Publish action) takes it off that list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from peerloop.catalog.management import publish_problem
from peerloop.catalog.models import Course
from peerloop.extensions import db
from peerloop.notifications.models import Notification

KIND = "course.review_requested"
PREFIX = f"{KIND}:"
OVERVIEW_URL = "/admin/#waiting-for-review"


def review_key(course_id: uuid.UUID) -> str:
    return f"{PREFIX}{course_id}"


def review_requested_at(course: Course) -> datetime | None:
    """When the creator first asked for a review of ``course``, or None."""
    return db.session.scalar(
        sa.select(sa.func.min(Notification.created_at)).where(Notification.dedupe_key == review_key(course.id))
    )


def is_waiting_for_review(course: Course) -> bool:
    return not course.is_active and not course.is_retired and review_requested_at(course) is not None


@dataclass(frozen=True)
class ReviewOutcome:
    sent: bool
    message: str


def request_review(course: Course, *, now: datetime) -> ReviewOutcome:
    """Tell every admin that the creator asks them to review and publish the draft ``course``.

    Once per course: a second request notifies nobody again. A draft that could not be
    published (no live session, a price under the minimum charge) is not sent; the
    outcome says what to fix. Commits.
    """
    from peerloop.notifications.services import admins, notify

    if course.is_active:
        return ReviewOutcome(False, "This course is already published.")
    if course.is_retired:
        return ReviewOutcome(False, "This course is retired. Untick Retired first.")
    if problem := publish_problem(course):
        return ReviewOutcome(False, f"Not sent yet: the course {problem}.")
    if review_requested_at(course) is not None:
        return ReviewOutcome(False, "Already waiting for review. You hear from us when it is published.")
    team = admins()
    for admin in team:
        notify(
            admin,
            KIND,
            title=f"Review request: {course.title}",
            body=f"{course.creator.name} asks you to review and publish their draft course “{course.title}”.",
            action_url=OVERVIEW_URL,
            email_template="notification",
            dedupe_key=review_key(course.id),
            now=now,
            commit=False,
        )
    db.session.commit()
    if not team:  # nobody to tell (a fresh install): nothing recorded
        return ReviewOutcome(False, "There is no PeerLoop admin to review it yet. Try again later.")
    return ReviewOutcome(True, "Sent for review. PeerLoop publishes the course or tells you what to change.")


def waiting_for_review(limit: int = 20) -> list[tuple[Course, datetime]]:
    """Drafts whose creator asked for a review, oldest request first, with when they asked."""
    asked = (
        sa.select(Notification.dedupe_key, sa.func.min(Notification.created_at).label("asked_at"))
        .where(Notification.dedupe_key.like(f"{PREFIX}%"))
        .group_by(Notification.dedupe_key)
    )
    when: dict[uuid.UUID, datetime] = {}
    for key, asked_at in db.session.execute(asked):
        try:
            when[uuid.UUID(key.removeprefix(PREFIX))] = asked_at
        except ValueError:
            continue
    if not when:
        return []
    courses = db.session.scalars(
        sa.select(Course)
        .where(Course.id.in_(list(when)), Course.is_active.is_(False), Course.is_retired.is_(False))
        .options(joinedload(Course.creator))
    )
    return sorted(((course, when[course.id]) for course in courses), key=lambda pair: pair[1])[:limit]
