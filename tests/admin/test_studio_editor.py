"""The studio's course builder: prices in the currency's units, section saves, row order, preview, review.

Every post goes through the real pages with their CSRF token, as a browser would
send them without the script (tests/admin/test_studio.py reads the form).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from peerloop.admin.studio_forms import parse_price
from peerloop.catalog.models import Course, CourseObjective, Module
from peerloop.extensions import db
from peerloop.notifications.models import Notification, OutboundEmail
from tests.admin.test_studio import form_values, fresh, page
from tests.conftest import csrf_from

SECTIONS = ["basics", "price", "learn", "curriculum", "audience", "testimonials"]


@pytest.fixture
def builder(make, login_as):
    """Creator A with a detailed course (2 sessions, lists filled), creator B with one; A is logged in."""
    a = make.creator(name="Alice Author", handle="alice_author")
    b = make.creator(name="Bob Builder", handle="bob_builder")
    course = make.course(creator=a, title="Alpha Course", slug="alpha-course", details=True, is_active=False)
    other = make.course(creator=b, title="Bravo Course", slug="bravo-course", is_active=False)
    login_as(a)
    return SimpleNamespace(a=a, b=b, course=course, other=other, url=f"/studio/courses/{course.id}")


def section_url(builder, section: str) -> str:
    return f"{builder.url}/{section}/"


def save(client, url: str, **changes):
    data = form_values(page(client, url))
    data.update(changes)
    return client.post(url, data=data)


# --- money in the currency's units --------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("399", 39900), ("399.5", 39950), ("399.50", 39950), ("0", 0), (" 49.99 ", 4999), ("$1,299", 129900)],
)
def test_parse_price_reads_the_currencys_units(typed, cents):
    assert parse_price(typed) == cents


def test_a_price_typed_as_399_sells_at_399_dollars(client, builder, make, login_as):
    response = save(client, section_url(builder, "price"), price="399")

    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    course = fresh(builder.course)
    assert course.price_cents == 39900
    body = page(client, section_url(builder, "price"))
    assert 'value="399.00"' in body
    assert "Students pay <strong>$399.00</strong>" in body
    # The public page (the site writes whole amounts without ".00"): $399, never $3.99.
    public = page(client, "/courses/alpha-course")
    assert '<p class="price big">$399</p>' in public
    assert "$3.99" not in public


def test_a_price_with_cents_keeps_them(client, builder):
    assert save(client, section_url(builder, "price"), price="399.5").status_code == 302

    assert fresh(builder.course).price_cents == 39950
    assert '<p class="price big">$399.50</p>' in page(client, "/courses/alpha-course")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-5", "A price cannot be negative."),
        ("−5", "A price cannot be negative."),
        ("3.999", "Use at most two decimal places"),
        ("abc", "Enter the price as a number"),
        ("1e3", "Enter the price as a number"),
        ("NaN", "Enter the price as a number"),
        ("", "Enter a price"),
        ("99999999", "At most 10000.00"),
        ("9" * 400, "At most 10000.00"),
    ],
)
def test_a_bad_price_is_a_field_error_and_saves_nothing(client, builder, typed, message):
    before = fresh(builder.course)
    price, sessions = before.price_cents, before.session_count

    response = save(client, section_url(builder, "price"), price=typed, session_count="7")

    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in body
    assert 'class="form-control is-invalid"' in body
    course = fresh(builder.course)
    assert (course.price_cents, course.session_count) == (price, sessions)


def test_a_published_course_keeps_the_minimum_charge(client, builder):
    builder.course.is_active = True
    db.session.commit()

    response = save(client, section_url(builder, "price"), price="0.10")

    assert response.status_code == 400
    assert "A published course needs a price of at least $0.50" in response.get_data(as_text=True)
    assert fresh(builder.course).price_cents == 39900


# --- plain labels, every section saves --------------------------------------------


@pytest.mark.parametrize(
    ("section", "labels"),
    [
        ("basics", ["Course title", "Web address", "Tagline", "Description", "Category", "Level", "Tags"]),
        ("price", ["Price (USD)", "Currency", "Number of live sessions", "How long it takes", "Retired: no new"]),
        ("learn", ["What you&#39;ll learn", "What&#39;s included", "Move up:", "Move down:", "Remove"]),
        ("curriculum", ["Session 1", "Session 2", "Module title", "Taught in", "Add a module"]),
        ("audience", ["Before you start", "Who this is for", "How much it matters", "Nice to have"]),
        ("testimonials", ["What they said", "Their name", "Show on the course page"]),
    ],
)
def test_each_section_has_plain_labels_and_the_save_bar(client, builder, section, labels):
    body = page(client, section_url(builder, section))

    for label in labels:
        assert label in body
    for stock in ("Objectives #1", "Is Retired", "Add Modules", "Price Cents", "Price (cents)"):
        assert stock not in body
    assert 'class="studio-savebar"' in body
    assert 'id="save-button"' in body
    assert f'href="/studio/courses/{builder.course.id}/preview"' in body


@pytest.mark.parametrize("section", SECTIONS)
def test_saving_a_section_unchanged_changes_nothing(client, builder, section):
    def snapshot():
        course = fresh(builder.course)
        return (
            course.title,
            course.slug,
            course.price_cents,
            course.session_count,
            course.is_retired,
            course.lifetime_access,
            sorted(t.tag for t in course.tags),
            # display_order may be renumbered 0, 1, 2 …; what a student sees, and in which order, stays.
            [o.objective for o in course.objectives],
            [i.item for i in course.includes],
            [(p.type, p.content) for p in course.prerequisites],
            [a.description for a in course.target_audience],
            [(t.quote, t.student_name, t.student_role, t.is_featured) for t in course.testimonials],
            [(m.title, m.session_number, m.module_order, m.description, m.video_url) for m in course.modules],
        )

    before = snapshot()

    response = save(client, section_url(builder, section))

    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert snapshot() == before
    assert "Saved." in page(client, response.headers["Location"])


def test_the_basics_save_title_and_description(client, builder):
    response = save(
        client, section_url(builder, "basics"), title="  Alpha, revised ", description="New words.\n\nTwo paragraphs."
    )

    assert response.status_code == 302
    course = fresh(builder.course)
    assert (course.title, course.description) == ("Alpha, revised", "New words.\n\nTwo paragraphs.")


def test_the_price_section_saves_sessions_and_retiring(client, builder):
    data = form_values(page(client, section_url(builder, "price")))
    data.update(session_count="4", duration="4 weeks", is_retired="y", currency="EUR")
    data.pop("lifetime_access", None)  # an unticked box is not sent

    assert client.post(section_url(builder, "price"), data=data).status_code == 302
    course = fresh(builder.course)
    assert (course.session_count, course.duration, course.is_retired, course.currency) == (4, "4 weeks", True, "EUR")
    assert course.lifetime_access is False
    assert "Price (EUR)" in page(client, section_url(builder, "price"))


def test_save_and_next_opens_the_next_section(client, builder):
    response = save(client, section_url(builder, "basics"), action="next")

    assert response.headers["Location"].endswith(f"{builder.url}/price/")


# --- lists: add, remove, reorder -------------------------------------------------------


def objectives(builder) -> list[str]:
    return [o.objective for o in fresh(builder.course).objectives]


def test_the_empty_row_adds_an_objective_at_the_end(client, builder):
    before = objectives(builder)
    data = form_values(page(client, section_url(builder, "learn")))
    new = [k for k in data if k.startswith("objectives-") and k.endswith("-objective") and not data[k]]
    assert len(new) == 1  # one empty row, marked New

    data[new[0]] = "  Ship   a thing  "
    assert client.post(section_url(builder, "learn"), data=data).status_code == 302

    rows = fresh(builder.course).objectives
    assert [o.objective for o in rows] == [*before, "Ship a thing"]
    assert [o.display_order for o in rows] == list(range(len(rows)))


def test_remove_takes_a_row_out(client, builder):
    before = objectives(builder)

    assert save(client, section_url(builder, "learn"), **{"objectives-0-remove": "y"}).status_code == 302

    assert objectives(builder) == before[1:]


def test_the_down_button_moves_a_row_and_saves_without_script(client, builder):
    first, second, *rest = objectives(builder)

    response = save(client, section_url(builder, "learn"), move="objectives:0:down")

    assert response.status_code == 302
    assert "#row-" in response.headers["Location"]
    rows = fresh(builder.course).objectives
    assert [o.objective for o in rows] == [second, first, *rest]
    assert [o.display_order for o in rows] == list(range(len(rows)))


def test_the_up_button_on_the_first_row_changes_nothing(client, builder):
    before = objectives(builder)

    assert save(client, section_url(builder, "learn"), move="objectives:0:up").status_code == 302

    assert objectives(builder) == before


def test_positions_sent_by_the_script_set_the_order(client, builder):
    before = objectives(builder)
    data = form_values(page(client, section_url(builder, "learn")))
    count = len(before)
    for index in range(count):  # the script renumbers rows as they are dragged: reverse them
        data[f"objectives-{index}-position"] = str(count - 1 - index)

    assert client.post(section_url(builder, "learn"), data=data).status_code == 302

    assert objectives(builder) == list(reversed(before))


def test_a_row_of_another_course_cannot_be_edited_or_removed(client, builder, make):
    foreign = CourseObjective(course_id=builder.other.id, objective="Bob's outcome", display_order=0)
    db.session.add(foreign)
    db.session.commit()
    data = form_values(page(client, section_url(builder, "learn")))
    data.update({"objectives-0-id": str(foreign.id), "objectives-0-objective": "Hijacked", "objectives-0-remove": ""})

    assert client.post(section_url(builder, "learn"), data=data).status_code == 302

    db.session.expire_all()
    assert db.session.get(CourseObjective, foreign.id).objective == "Bob's outcome"
    assert "Hijacked" not in objectives(builder)


def test_prerequisites_and_audience_save_with_their_kind(client, builder):
    data = form_values(page(client, section_url(builder, "audience")))
    new = next(k for k in data if k.startswith("prerequisites-") and k.endswith("-content") and not data[k])
    data[new] = "A laptop"
    data[new.replace("-content", "-type")] = "nice_to_have"

    assert client.post(section_url(builder, "audience"), data=data).status_code == 302

    last = fresh(builder.course).prerequisites[-1]
    assert (last.content, last.type.value) == ("A laptop", "nice_to_have")


def test_a_testimonial_is_added_and_hidden(client, builder):
    data = form_values(page(client, section_url(builder, "testimonials")))
    new = next(k for k in data if k.endswith("-quote") and not data[k])
    data[new] = "Loved it."
    data[new.replace("-quote", "-student_name")] = "Dana"
    data.pop(new.replace("-quote", "-is_featured"), None)

    assert client.post(section_url(builder, "testimonials"), data=data).status_code == 302

    added = [t for t in fresh(builder.course).testimonials if t.student_name == "Dana"]
    assert [(t.quote, t.is_featured) for t in added] == [("Loved it.", False)]
    assert "Loved it." not in page(client, "/courses/alpha-course")


# --- the curriculum by session ----------------------------------------------------------


def modules(builder) -> list[tuple[int | None, str]]:
    return [(m.session_number, m.title) for m in fresh(builder.course).modules]


def test_the_curriculum_is_grouped_by_session(client, builder):
    body = page(client, section_url(builder, "curriculum"))

    rows = fresh(builder.course).modules
    assert {m.session_number for m in rows} == {1, 2}
    one, two = body.index("<legend>Session 1</legend>"), body.index("<legend>Session 2</legend>")
    for module in rows:
        at = body.index(f'value="{module.title}"')
        assert (one < at < two) if module.session_number == 1 else (at > two)


def test_a_module_moves_to_another_session_and_the_order_follows_the_sessions(client, builder):
    first = fresh(builder.course).modules[0]
    assert first.session_number == 1

    response = save(client, section_url(builder, "curriculum"), **{"modules-0-session_number": "2"})

    assert response.status_code == 302
    rows = fresh(builder.course).modules
    assert [m.session_number for m in rows] == sorted(m.session_number for m in rows)
    assert next(m for m in rows if m.session_number == 2).title == first.title  # its position leads Session 2
    assert [m.module_order for m in rows] == list(range(len(rows)))


def test_a_module_moves_down_within_its_session_only(client, builder):
    before = modules(builder)
    last_of_one = max(i for i, (number, _) in enumerate(before) if number == 1)

    save(client, section_url(builder, "curriculum"), move=f"modules:{last_of_one}:down")

    assert modules(builder) == before  # already last in Session 1: it stays there


def test_a_new_module_is_added_to_the_chosen_session(client, builder):
    data = form_values(page(client, section_url(builder, "curriculum")))
    new = next(k for k in data if k.endswith("-title") and not data[k])
    prefix = new.removesuffix("title")
    data.update(
        {prefix + "title": "Bonus", prefix + "duration": "10 min", prefix + "description": "Extra."}
        | {prefix + "session_number": "1"}
    )

    assert client.post(section_url(builder, "curriculum"), data=data).status_code == 302

    rows = modules(builder)
    ones = [title for number, title in rows if number == 1]
    assert ones[-1] == "Bonus"
    assert fresh(builder.course).module_count == len(rows)


# --- whose course ------------------------------------------------------------------------


@pytest.mark.parametrize("section", SECTIONS)
def test_another_creators_course_is_404_on_every_section(client, builder, section):
    url = f"/studio/courses/{builder.other.id}/{section}/"
    token = csrf_from(page(client, section_url(builder, section)))

    assert client.get(url).status_code == 404
    assert client.post(url, data={"csrf_token": token, "title": "Hijacked", "price": "1"}).status_code == 404
    assert fresh(builder.other).title == "Bravo Course"


def test_an_unknown_section_is_404(client, builder):
    assert client.get(f"{builder.url}/secrets/").status_code == 404


def test_the_builder_is_for_creators_only(client, builder, make, login_as, auth):
    auth.logout()
    login_as(make.user())

    assert client.get(section_url(builder, "basics")).status_code == 403


# --- preview -----------------------------------------------------------------------------


def test_the_preview_shows_the_draft_to_its_creator(client, builder):
    response = client.get(f"{builder.url}/preview")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/courses/alpha-course")
    body = page(client, "/courses/alpha-course")
    assert "This is a draft: only you and the PeerLoop team can see it" in body
    assert "Alpha Course" in body


@pytest.mark.parametrize("who", ["other creator", "student", "anonymous"])
def test_a_draft_is_hidden_from_everyone_else(client, builder, make, login_as, auth, who):
    auth.logout()
    if who == "other creator":
        login_as(builder.b)
        assert client.get(f"{builder.url}/preview").status_code == 404
    elif who == "student":
        login_as(make.user())

    assert client.get("/courses/alpha-course").status_code == 404


# --- submit for review -------------------------------------------------------------------


def review_notes() -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Notification).where(Notification.type == "course.review_requested")))


def test_submit_for_review_notifies_every_admin_once(client, builder, make, login_as):
    brian, other_admin = make.admin(name="Brian"), make.admin(name="Ada")
    url = section_url(builder, "basics")
    assert 'id="submit-review"' in page(client, url)

    response = save(client, url, title="Alpha Course, ready", action="submit")

    assert response.status_code == 302
    assert fresh(builder.course).title == "Alpha Course, ready"  # the section was saved too
    notes = review_notes()
    assert sorted(n.user_id for n in notes) == sorted([brian.id, other_admin.id])
    assert {n.dedupe_key for n in notes} == {f"course.review_requested:{builder.course.id}"}
    body = page(client, url)
    assert "Sent for review." in body
    assert "Waiting for review" in body
    assert 'id="submit-review"' not in body
    emails = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboundEmail)
        .where(OutboundEmail.to_address.in_([brian.email, other_admin.email]))
    )
    assert emails == 2

    # Again, by the separate button (or a stale page): nobody is told twice.
    token = csrf_from(body)
    client.post(f"{builder.url}/submit", data={"csrf_token": token})
    save(client, url, action="submit")
    assert len(review_notes()) == 2
    assert fresh(builder.course).is_active is False  # only Brian publishes


def test_brians_overview_lists_the_drafts_waiting_for_review(client, builder, make, login_as, auth):
    brian = make.admin(name="Brian")
    save(client, section_url(builder, "basics"), action="submit")
    auth.logout()
    login_as(brian)

    body = page(client, "/admin/")
    assert 'id="review-requests"' in body
    assert "Alpha Course" in body.split('id="review-requests"')[1].split("</table>")[0]
    assert "Bravo Course" not in body.split('id="review-requests"')[1].split("</table>")[0]

    # Publishing it takes it off the list.
    token = csrf_from(body)
    client.post(
        "/admin/console_courses/action/",
        data={"action": "activate", "rowid": str(builder.course.id), "csrf_token": token, "url": "/admin/"},
    )
    assert fresh(builder.course).is_active is True
    assert 'id="no-review-requests"' in page(client, "/admin/")


def test_a_draft_that_could_not_be_published_is_not_sent(client, builder, make):
    make.admin()
    builder.course.session_count = 0
    db.session.commit()

    response = save(client, section_url(builder, "basics"), action="submit")

    assert response.status_code == 302
    assert review_notes() == []
    assert "Not sent yet: the course needs at least one live session" in page(client, response.headers["Location"])


def test_a_published_course_offers_no_submit_button(client, builder, make):
    make.admin()
    builder.course.is_active = True
    db.session.commit()

    assert 'id="submit-review"' not in page(client, section_url(builder, "basics"))
    client.post(f"{builder.url}/submit", data={"csrf_token": csrf_from(page(client, section_url(builder, "basics")))})
    assert review_notes() == []


def test_another_creators_course_cannot_be_submitted(client, builder, make):
    make.admin()
    token = csrf_from(page(client, section_url(builder, "basics")))

    assert client.post(f"/studio/courses/{builder.other.id}/submit", data={"csrf_token": token}).status_code == 404
    assert review_notes() == []


def test_the_module_rows_keep_their_ids(client, builder):
    ids = [m.id for m in fresh(builder.course).modules]

    save(client, section_url(builder, "curriculum"))

    db.session.expire_all()
    assert [
        m.id
        for m in db.session.scalars(
            sa.select(Module).where(Module.course_id == builder.course.id).order_by(Module.module_order)
        )
    ] == ids
    assert db.session.get(Course, builder.course.id) is not None
