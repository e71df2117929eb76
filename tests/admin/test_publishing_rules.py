"""A course cannot be published without a live session and Stripe's minimum charge (issue 6, item 1)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from peerloop.catalog import management
from peerloop.catalog.models import Course
from peerloop.errors import ValidationError
from peerloop.extensions import db
from tests.conftest import csrf_from


def fresh(course: Course) -> Course:
    db.session.expire_all()
    return db.session.get(Course, course.id)


def save_in_console(client, course: Course, *, active: bool, **changes):
    """Submit the course's /admin edit form as Brian would, with ``changes`` over its current values."""
    edit = client.get(f"/admin/console_courses/edit/?id={course.id}").get_data(as_text=True)
    form = {
        "title": course.title,
        "slug": course.slug,
        "tagline": course.tagline,
        "description": course.description,
        "category": str(course.category_id),
        "level": "beginner",
        "price_cents": str(course.price_cents),
        "currency": course.currency,
        "duration": course.duration,
        "session_count": str(course.session_count),
        "csrf_token": csrf_from(edit),
        **changes,
    }
    if active:
        form["is_active"] = "y"
    return client.post(f"/admin/console_courses/edit/?id={course.id}", data=form, follow_redirects=True)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"session_count": 0}, "needs at least one live session"),
        ({"session_count": None}, "needs at least one live session"),
        ({"price_cents": 49}, "needs a price of at least $0.50"),
        ({"price_cents": 0}, "needs a price of at least $0.50"),
        ({"price_cents": 10, "currency": "EUR"}, "needs a price of at least €0.50"),
    ],
)
def test_brian_cannot_publish_a_course_nobody_could_buy(client, make, login_as, overrides, reason):
    login_as(make.admin())
    draft = make.course(title="Unfinished", is_active=False, **overrides)
    page = client.get("/admin/console_courses/").get_data(as_text=True)
    response = client.post(
        "/admin/console_courses/action/",
        data={"action": "activate", "rowid": str(draft.id), "csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert f"Unfinished {reason} before it can be published" in response.get_data(as_text=True)
    assert not fresh(draft).is_active


def test_one_unpublishable_course_publishes_nothing_and_names_it(make, now):
    good = make.course(title="Ready", is_active=False)
    bad = make.course(title="No sessions", is_active=False, session_count=0)
    with pytest.raises(ValidationError, match="No sessions needs at least one live session"):
        management.set_courses_active([good.id, bad.id], True, now=now)
    assert not fresh(good).is_active and not fresh(bad).is_active
    assert management.set_courses_active([good.id], True, now=now) == 1


def test_a_live_course_cannot_be_edited_into_an_unbuyable_one(client, make, login_as):
    login_as(make.admin())
    course = make.course(title="Live one", session_count=2)
    response = save_in_console(client, course, active=True, session_count="0")
    assert "A published course needs at least one live session" in response.get_data(as_text=True)
    assert fresh(course).session_count == 2


def test_a_draft_may_still_be_incomplete(make, now):
    draft = make.course(is_active=False, session_count=0, price_cents=0)
    management.validate_course_fields(draft)  # no error: drafts are work in progress


def test_publishing_through_the_edit_form_tells_the_creator_once(client, make, login_as):
    from peerloop.notifications.models import Notification

    login_as(make.admin())
    creator = make.creator()
    draft = make.course(title="Form published", creator=creator, is_active=False)

    def save(active: bool, title: str):
        response = save_in_console(client, draft, active=active, title=title)
        assert response.status_code == 200 and "Record was successfully saved" in response.get_data(as_text=True)

    def rung() -> int:
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(Notification).where(Notification.user_id == creator.id)
        )

    save(active=False, title="Form published")
    assert rung() == 0  # an edit of a draft says nothing
    save(active=True, title="Form published")
    assert fresh(draft).is_active and rung() == 1
    save(active=True, title="Form published, renamed")
    assert rung() == 1  # an edit of a live course is no news
