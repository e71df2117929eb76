"""Brian's console at /admin: searching users, batch actions, edits, the outbox, the overview."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from markupsafe import escape

from peerloop.accounts.models import User
from peerloop.catalog.models import Category, Course
from peerloop.extensions import db
from peerloop.notifications.models import Notification, OutboundEmail
from tests.conftest import csrf_from
from tests.factories import PASSWORD


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def fresh(row):
    """``row`` as the database has it now, not as this session remembers it."""
    db.session.expire_all()
    return db.session.get(type(row), row.id)


# --- the user list ---------------------------------------------------------------


def test_user_search_finds_a_user_by_handle(client, make, login_as):
    login_as(make.admin())
    wanted = make.user(handle="zelda_quill", email="zq@example.com")
    other = make.user(handle="marco_polo", email="mp@example.com")

    body = page(client, "/admin/console_users/?search=zelda")

    assert wanted.email in body
    assert other.email not in body


def test_user_search_finds_a_user_by_email(client, make, login_as):
    login_as(make.admin())
    wanted = make.user(handle="first_one", email="needle@haystack.example")
    other = make.user(handle="second_one", email="straw@haystack.example")

    body = page(client, "/admin/console_users/?search=needle@")

    assert wanted.handle in body
    assert other.handle not in body


def test_make_creator_batch_action_turns_the_flag_on_for_every_selected_user(client, make, login_as):
    login_as(make.admin())
    first, second = make.user(), make.user()
    bystander = make.user()
    token = csrf_from(page(client, "/admin/console_users/"))

    response = client.post(
        "/admin/console_users/action/",
        data={"action": "make_creator", "rowid": [str(first.id), str(second.id)], "csrf_token": token},
    )

    assert response.status_code == 302
    assert fresh(first).is_creator
    assert fresh(second).is_creator
    assert not fresh(bystander).is_creator
    assert "2 user(s) can now create courses." in page(client, "/admin/console_users/")


def test_batch_action_without_csrf_token_is_refused_and_changes_nothing(client, make, login_as):
    login_as(make.admin())
    user = make.user()

    response = client.post("/admin/console_users/action/", data={"action": "make_creator", "rowid": str(user.id)})

    assert response.status_code == 400
    assert not fresh(user).is_creator


def test_batch_action_is_refused_to_a_non_admin_even_with_a_csrf_token(client, make, login_as):
    login_as(make.creator())
    user = make.user()
    token = csrf_from(client.get("/settings").get_data(as_text=True))

    response = client.post(
        "/admin/console_users/action/", data={"action": "make_moderator", "rowid": str(user.id), "csrf_token": token}
    )

    assert response.status_code == 403
    assert not fresh(user).is_moderator


# --- courses ----------------------------------------------------------------------


def test_activate_batch_action_publishes_a_draft_in_the_catalog(client, make, login_as):
    login_as(make.admin())
    draft = make.course(title="Freshly reviewed course", is_active=False)
    assert "Freshly reviewed course" not in page(client, "/courses")
    token = csrf_from(page(client, "/admin/console_courses/"))

    response = client.post(
        "/admin/console_courses/action/", data={"action": "activate", "rowid": str(draft.id), "csrf_token": token}
    )

    assert response.status_code == 302
    assert fresh(draft).is_active
    assert "Freshly reviewed course" in page(client, "/courses")
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == draft.creator_id))
    assert note.type == "course.published" and note.title == "Freshly reviewed course is live"


def test_activating_a_live_course_again_notifies_nobody(client, make, login_as):
    login_as(make.admin())
    live = make.course(is_active=True)
    token = csrf_from(page(client, "/admin/console_courses/"))
    client.post(
        "/admin/console_courses/action/", data={"action": "activate", "rowid": str(live.id), "csrf_token": token}
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


def test_console_home_lists_drafts_waiting_to_be_published(client, make, login_as):
    login_as(make.admin())
    make.course(title="Waiting for Brian", is_active=False)
    make.course(title="Already live course", is_active=True)

    body = page(client, "/admin/")

    drafts = body[body.index("Drafts waiting") :]
    assert "Waiting for Brian" in drafts
    assert "Already live course" not in drafts


def test_admin_can_retitle_a_course_keeping_its_slug(client, make, login_as):
    login_as(make.admin())
    course = make.course(title="Old title", slug="kept-slug")
    edit_url = f"/admin/console_courses/edit/?id={course.id}"
    token = csrf_from(page(client, edit_url))
    data = {
        "csrf_token": token,
        "title": "New title",
        "slug": "kept-slug",
        "tagline": course.tagline,
        "description": course.description,
        "category": str(course.category_id),
        "level": course.level.value,
        "price_cents": str(course.price_cents),
        "currency": course.currency,
        "duration": course.duration,
        "session_count": str(course.session_count),
        "is_active": "y",
    }

    response = client.post(edit_url, data=data)

    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert fresh(course).title == "New title"


# --- categories --------------------------------------------------------------------


def test_admin_can_add_a_category(client, make, login_as):
    login_as(make.admin())
    token = csrf_from(page(client, "/admin/console_categories/new/"))

    response = client.post(
        "/admin/console_categories/new/",
        data={"csrf_token": token, "name": "Data Science", "slug": "data-science", "display_order": "5"},
    )

    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    db.session.expire_all()
    assert db.session.scalar(sa.select(Category.name).where(Category.slug == "data-science")) == "Data Science"


def test_admin_can_rename_a_category_keeping_its_slug(client, make, login_as):
    login_as(make.admin())
    category = make.category(name="Old name", slug="kept-category")
    edit_url = f"/admin/console_categories/edit/?id={category.id}"
    token = csrf_from(page(client, edit_url))

    response = client.post(
        edit_url, data={"csrf_token": token, "name": "New name", "slug": "kept-category", "display_order": "1"}
    )

    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert fresh(category).name == "New name"


def test_a_category_with_a_taken_slug_is_refused_with_a_form_error(client, make, login_as):
    login_as(make.admin())
    make.category(slug="taken")
    token = csrf_from(page(client, "/admin/console_categories/new/"))

    response = client.post(
        "/admin/console_categories/new/",
        data={"csrf_token": token, "name": "Copy", "slug": "taken", "display_order": "1"},
    )

    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Already exists." in body or "Another category already uses that slug." in body
    assert "IntegrityError" not in body
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Category.name == "Copy")) == 0


def test_a_category_in_use_cannot_be_deleted(client, make, login_as):
    login_as(make.admin())
    course = make.course()
    token = csrf_from(page(client, "/admin/console_categories/"))

    response = client.post(
        "/admin/console_categories/delete/", data={"id": str(course.category_id), "csrf_token": token}
    )

    assert response.status_code == 302
    assert "That category still has courses." in page(client, "/admin/console_categories/")
    db.session.expire_all()
    assert db.session.get(Category, course.category_id) is not None
    assert db.session.get(Course, course.id) is not None


# --- editing a user -----------------------------------------------------------------


def user_form(user: User, token: str, **changes) -> dict:
    """What the console's user edit form posts for ``user``, with ``changes``.

    Checkboxes are sent only when ticked, as a browser does.
    """
    values = {
        "name": user.name,
        "title": user.title or "",
        "bio_short": user.bio_short or "",
        "bio": user.bio or "",
        "is_creator": user.is_creator,
        "is_moderator": user.is_moderator,
        "is_admin": user.is_admin,
        "email_verified": user.email_verified,
        "privacy_public": user.privacy_public,
        **changes,
    }
    data = {"csrf_token": token}
    for name, value in values.items():
        if value is True:
            data[name] = "y"
        elif value not in (False, None):
            data[name] = value
    return data


def test_editing_a_user_with_a_blank_name_shows_an_error_and_saves_nothing(client, make, login_as):
    login_as(make.admin())
    user = make.user(name="Ada Lovelace")
    edit_url = f"/admin/console_users/edit/?id={user.id}"
    token = csrf_from(page(client, edit_url))

    response = client.post(edit_url, data=user_form(user, token, name="   ", bio_short="Changed too"))

    assert response.status_code == 200  # the form again, not a redirect to the list
    body = response.get_data(as_text=True)
    assert "Enter a name." in body
    saved = fresh(user)
    assert saved.name == "Ada Lovelace"
    assert saved.bio_short != "Changed too"


def test_editing_a_user_saves_valid_changes(client, make, login_as):
    login_as(make.admin())
    user = make.user(name="Grace Hopper")
    edit_url = f"/admin/console_users/edit/?id={user.id}"
    token = csrf_from(page(client, edit_url))

    response = client.post(edit_url, data=user_form(user, token, name="  Rear Admiral Hopper ", is_moderator=True))

    assert response.status_code == 302
    saved = fresh(user)
    assert saved.name == "Rear Admiral Hopper"
    assert saved.is_moderator


def test_admin_cannot_remove_their_own_admin_role_through_the_edit_form(client, make, login_as):
    admin = login_as(make.admin())
    edit_url = f"/admin/console_users/edit/?id={admin.id}"
    token = csrf_from(page(client, edit_url))

    response = client.post(edit_url, data=user_form(admin, token, is_admin=False), follow_redirects=True)

    assert "You can&#39;t remove your own admin role." in response.get_data(as_text=True)
    assert fresh(admin).is_admin
    assert client.get("/admin/").status_code == 200


def test_user_edit_with_a_non_uuid_id_does_not_fail(client, make, login_as):
    login_as(make.admin())

    response = client.get("/admin/console_users/edit/?id=nope")

    assert response.status_code in (302, 404)


# --- the outbox -------------------------------------------------------------------


def test_outbox_lists_the_verification_email_sent_at_signup(client, make, login_as):
    signup = client.post(
        "/api/auth/signup",
        json={
            "email": "newcomer@example.com",
            "password": PASSWORD,
            "name": "New Comer",
            "handle": "newcomer",
            "accept_terms": True,
        },
    )
    assert signup.status_code == 201, signup.get_json()
    email = db.session.scalar(sa.select(OutboundEmail).where(OutboundEmail.to_address == "newcomer@example.com"))
    assert email is not None
    login_as(make.admin())

    body = page(client, "/admin/console_outbox/")

    assert "newcomer@example.com" in body
    assert str(escape(email.subject)) in body


def test_outbox_is_read_only(client, make, login_as):
    login_as(make.admin())

    assert client.get("/admin/console_outbox/new/").status_code in (302, 404)
    assert client.get("/admin/console_outbox/edit/?id=nope").status_code in (302, 404)


def test_brian_publishes_a_draft_from_the_overview_in_one_click(client, make, login_as):
    login_as(make.admin())
    draft = make.course(title="One click course", is_active=False)
    home = page(client, "/admin/")
    assert "One click course" in home and ">Publish</button>" in home
    response = client.post(
        "/admin/console_courses/action/",
        data={"action": "activate", "rowid": str(draft.id), "url": "/admin/", "csrf_token": csrf_from(home)},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    assert fresh(draft).is_active
    assert "One click course" not in page(client, "/admin/").split("Drafts waiting")[1]


def test_odd_list_arguments_never_500(client, make, login_as):
    login_as(make.admin())
    make.course()
    for path in (
        ["/admin/console_users/?page=-1", "/admin/console_courses/?page=-5"]
        + [f"/admin/console_courses/?flt0_{i}=expert" for i in range(12)]
        + [f"/admin/console_outbox/?flt0_{i}=1" for i in range(6)]
    ):
        assert client.get(path).status_code in (200, 302), path


def test_a_huge_batch_is_refused_with_a_message(client, make, login_as):
    login_as(make.admin())
    token = csrf_from(page(client, "/admin/console_users/"))
    rowids = [str(uuid.uuid4()) for _ in range(501)]
    response = client.post(
        "/admin/console_users/action/",
        data={"action": "mark_verified", "rowid": rowids, "csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "at most 500" in response.get_data(as_text=True)


def test_a_long_course_title_still_notifies_its_creator(client, make, login_as):
    login_as(make.admin())
    draft = make.course(title="T" * 200, is_active=False)
    token = csrf_from(page(client, "/admin/console_courses/"))
    client.post(
        "/admin/console_courses/action/", data={"action": "activate", "rowid": str(draft.id), "csrf_token": token}
    )
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == draft.creator_id))
    assert fresh(draft).is_active and len(note.title) == 200 and note.title.endswith("…")
