"""The read cache seen from outside: an anonymous visitor reads a public path, the answer is stored (a
repeat costs no SQL), a write is made the way the product makes it (studio forms, the console, the
JSON API, the services they call), and the next anonymous read shows the change.

Every test first proves the stale answer WAS cached, so a pass means the write moved the version,
not that nothing was cached.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner

from peerloop import readcache
from peerloop.catalog import management
from peerloop.catalog.models import Course
from peerloop.extensions import db
from peerloop.scheduling import services as scheduling
from tests.admin.test_studio import form_values, page
from tests.catalog.test_catalog import count_queries
from tests.conftest import AuthActions, csrf_from
from tests.factories import PASSWORD
from tests.scheduling import conftest as booking
from tests.scheduling.conftest import at, week

world = booking.world  # the booking world fixture: a course, an S-T with a week, an enrolled student
TUE9 = at(1, 9)
WED9 = at(2, 9)


@pytest.fixture
def anon(app):
    """A visitor with no cookies at all: every request is anonymous."""
    return app.test_client(use_cookies=False)


@pytest.fixture
def clock(monkeypatch, now):
    """Business time pinned (the minute timed answers are kept under); clock(moment) moves it."""

    def _set(moment):
        monkeypatch.setattr("peerloop.clock.now", lambda: moment)

    _set(now)
    return _set


def login_client(app, user):
    """Another browser, logged in as ``user`` through the real form."""
    browser = app.test_client()
    response = AuthActions(browser).login(user.email)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return browser


def text(response) -> str:
    return response.get_data(as_text=True)


def cached(anon, path: str, **kwargs):
    """Read ``path`` anonymously twice: the second answer comes from the store (no SQL at all)."""
    first = anon.get(path, **kwargs)
    assert first.status_code == 200, (path, first.status_code, text(first)[:500])
    with count_queries() as statements:
        second = anon.get(path, **kwargs)
    assert second.status_code == 200
    assert statements == [], f"{path} was not served from the cache: {statements}"
    assert second.get_data() == first.get_data()
    assert second.headers["ETag"] == first.headers["ETag"]
    return second


def fresh_count(anon, path: str) -> tuple[int, object]:
    with count_queries() as statements:
        response = anon.get(path)
    return len(statements), response


def slots_of(anon, teacher) -> list[str]:
    return [item["start"] for item in anon.get(f"/api/sts/{teacher.id}/availability").get_json()["items"]]


# --- 1. a course edited ------------------------------------------------------------------


@pytest.fixture
def authored(make, client, login_as):
    """A published, detailed course; its creator logged in on ``client`` (the studio)."""
    creator = make.creator(name="Alice Author", handle="alice_author")
    course = make.course(
        creator=creator, title="Alpha Course", slug="alpha-course", tagline="Old tagline", details=True
    )
    login_as(creator)
    return course


def studio_save(client, url: str, **changes):
    data = form_values(page(client, url))
    data.update(changes)
    response = client.post(url, data=data)
    assert response.status_code == 302, text(response)[:2000]
    return response


@pytest.mark.parametrize(
    ("section", "changes", "html", "api"),
    [
        ("basics", {"title": "Alpha, Revised"}, "Alpha, Revised", ("title", "Alpha, Revised")),
        ("basics", {"tagline": "A brand new tagline"}, "A brand new tagline", ("tagline", "A brand new tagline")),
        # the price shows in the buy box and in the shared body's "Where your money goes" (70%: $86.10)
        ("price", {"price": "123"}, "$86.10", ("price_cents", 12300)),
    ],
)
def test_a_course_edited_in_the_studio_shows_everywhere(anon, client, clock, authored, section, changes, html, api):
    paths = ["/courses/alpha-course", "/courses", "/api/courses/alpha-course", "/api/courses"]
    before = {path: cached(anon, path) for path in paths}
    assert html not in text(before["/courses/alpha-course"])
    assert before["/api/courses/alpha-course"].get_json()[api[0]] != api[1]

    studio_save(client, f"/studio/courses/{authored.id}/{section}/", **changes)

    assert html in text(anon.get("/courses/alpha-course"))
    assert anon.get("/api/courses/alpha-course").get_json()[api[0]] == api[1]
    listed = next(c for c in anon.get("/api/courses").get_json()["items"] if c["slug"] == "alpha-course")
    assert listed[api[0]] == api[1]
    if section == "basics":
        assert html in text(anon.get("/courses"))
    else:
        assert "$123" in text(anon.get("/courses/alpha-course"))  # the buy box, made fresh each time


def test_a_course_edited_through_the_service_shows(anon, clock, make, now):
    """An edit made in code (a script, the console's model form): the rows change and commit."""
    course = make.course(title="Plain Course", slug="plain-course", price_cents=39900)
    cached(anon, "/courses/plain-course")
    cached(anon, "/api/courses/plain-course")
    cached(anon, "/courses")

    course.title = "Plain Course, Renamed"
    course.price_cents = 4900
    management.validate_course_fields(course)
    db.session.commit()

    assert "Plain Course, Renamed" in text(anon.get("/courses/plain-course"))
    assert "$49" in text(anon.get("/courses/plain-course"))
    assert "Plain Course, Renamed" in text(anon.get("/courses"))
    assert anon.get("/api/courses/plain-course").get_json()["price_cents"] == 4900


# --- 2. the curriculum -----------------------------------------------------------------


def _module_titles(anon, slug: str) -> list[str]:
    body = anon.get(f"/api/courses/{slug}").get_json()
    return [m["title"] for m in body["curriculum"]]


@pytest.mark.parametrize("change", ["renamed", "added"])
def test_a_curriculum_change_shows_to_visitors_and_to_a_logged_in_student(
    app, anon, client, clock, authored, make, change
):
    student = make.user(name="Sam Student")
    make.enrollment(student, authored)
    browser = login_client(app, student)
    cached(anon, "/courses/alpha-course")
    cached(anon, "/api/courses/alpha-course")
    assert "Module 0" in text(browser.get("/courses/alpha-course"))
    with app.app_context():  # the logged-in page's body is a stored fragment
        version, raw = readcache.store().read(readcache._name("fragment", f"course-body:{authored.id}"))
        assert raw is not None and version in raw.decode()

    url = f"/studio/courses/{authored.id}/curriculum/"
    data = form_values(page(client, url))
    if change == "renamed":
        key = next(k for k, v in data.items() if k.endswith("-title") and v == "Module 0")
        data[key] = "Kickoff Workshop"
    else:
        new = next(k for k in data if k.endswith("-title") and not data[k])
        prefix = new.removesuffix("title")
        data.update(
            {
                prefix + "title": "Kickoff Workshop",
                prefix + "duration": "10 min",
                prefix + "description": "Extra.",
                prefix + "session_number": "1",
            }
        )
    response = client.post(url, data=data)
    assert response.status_code == 302, text(response)[:2000]

    assert "Kickoff Workshop" in text(anon.get("/courses/alpha-course"))
    assert "Kickoff Workshop" in _module_titles(anon, "alpha-course")
    assert ("Module 0" in _module_titles(anon, "alpha-course")) is (change == "added")
    assert "Kickoff Workshop" in text(browser.get("/courses/alpha-course"))


# --- 3. new availability ---------------------------------------------------------------

EVENINGS = {"weekly": [{"day_of_week": 1, "start": "18:00", "end": "20:00"}]}  # Mondays 18:00-20:00 UTC


@pytest.mark.parametrize("how", ["service", "api"])
def test_new_availability_shows_in_the_api_and_the_course_page(anon, client, clock, world, api_token, now, how):
    path = f"/api/sts/{world.teacher.id}/availability"
    course_page = f"/courses/{world.course.slug}"
    assert "2026-11-23T16:00:00Z" in [i["start"] for i in cached(anon, path).get_json()["items"]]
    assert 'datetime="2026-11-23T16:00:00Z"' in text(cached(anon, course_page))

    if how == "service":
        scheduling.set_availability(world.teacher, EVENINGS, now=now)
    else:
        response = client.put("/api/me/availability", json=EVENINGS, headers=api_token(world.teacher))
        assert response.status_code == 200, response.get_json()

    slots = slots_of(anon, world.teacher)
    assert slots[:2] == ["2026-11-23T18:00:00Z", "2026-11-23T19:00:00Z"]
    assert "2026-11-23T16:00:00Z" not in slots
    body = text(anon.get(course_page))
    assert 'datetime="2026-11-23T18:00:00Z"' in body and 'datetime="2026-11-23T16:00:00Z"' not in body


# --- 4. a booking takes a slot; 5. a cancellation gives it back ------------------------------


def schedule_slots(anon, world, day: str) -> list[str]:
    body = anon.get(f"/api/courses/{world.course.id}/schedule?date={day}").get_json()
    return [slot for teacher in body["teachers"] for slot in teacher["slots"]]


def test_a_booking_takes_the_slot_off_every_public_answer(anon, client, clock, world, api_token):
    avail = f"/api/sts/{world.teacher.id}/availability"
    day = f"/api/courses/{world.course.id}/schedule?date=2026-11-24"
    assert scheduling.iso_z(TUE9) in [i["start"] for i in cached(anon, avail).get_json()["items"]]
    assert scheduling.iso_z(TUE9) in [s for t in cached(anon, day).get_json()["teachers"] for s in t["slots"]]

    body = {"course_id": str(world.course.id), "teacher_id": str(world.teacher.id), "start": scheduling.iso_z(TUE9)}
    response = client.post("/api/sessions", json=body, headers=api_token(world.student))
    assert response.status_code == 201, response.get_json()

    assert scheduling.iso_z(TUE9) not in slots_of(anon, world.teacher)
    assert scheduling.iso_z(TUE9) not in schedule_slots(anon, world, "2026-11-24")
    assert scheduling.iso_z(at(1, 10)) in schedule_slots(anon, world, "2026-11-24")


def test_a_cancellation_gives_the_slot_back(anon, client, clock, world, api_token, now):
    booked = world.book(WED9, now=now)
    avail = f"/api/sts/{world.teacher.id}/availability"
    day = f"/api/courses/{world.course.id}/schedule?date=2026-11-25"
    assert scheduling.iso_z(WED9) not in [i["start"] for i in cached(anon, avail).get_json()["items"]]
    assert scheduling.iso_z(WED9) not in [s for t in cached(anon, day).get_json()["teachers"] for s in t["slots"]]

    response = client.post(f"/api/sessions/{booked.id}/cancel", json={}, headers=api_token(world.student))
    assert response.status_code == 200, response.get_json()

    assert scheduling.iso_z(WED9) in slots_of(anon, world.teacher)
    assert scheduling.iso_z(WED9) in schedule_slots(anon, world, "2026-11-25")


# --- 6. a rating -----------------------------------------------------------------------


def test_a_rating_changes_the_course_page_and_the_api(anon, client, clock, world, api_token, now):
    booked = world.book(TUE9, now=now)
    clock(TUE9 + timedelta(hours=1))  # the session is over: it may be rated
    course_page = f"/courses/{world.course.slug}"
    before_page = text(cached(anon, course_page))
    before_api = cached(anon, f"/api/courses/{world.course.slug}").get_json()
    sts = cached(anon, f"/api/courses/{world.course.id}/sts").get_json()["items"]
    assert "★ 4.5" in before_page and "(0 reviews)" in before_page
    assert (before_api["rating"], before_api["rating_count"]) == (4.5, 0)
    assert next(t for t in sts if t["id"] == str(world.teacher.id))["rating"] is None

    response = client.post(f"/api/sessions/{booked.id}/feedback", json={"rating": 2}, headers=api_token(world.student))
    assert response.status_code == 201, response.get_json()

    after_page = text(anon.get(course_page))
    assert "★ 2.0 (1 reviews)" in after_page
    after_api = anon.get(f"/api/courses/{world.course.slug}").get_json()
    assert (after_api["rating"], after_api["rating_count"]) == (2.0, 1)
    sts = anon.get(f"/api/courses/{world.course.id}/sts").get_json()["items"]
    assert float(next(t for t in sts if t["id"] == str(world.teacher.id))["rating"]) == 2.0


# --- 7. publish and unpublish --------------------------------------------------------------


def console_action(client, action: str, course: Course):
    token = csrf_from(page(client, "/admin/console_courses/"))
    response = client.post(
        "/admin/console_courses/action/", data={"action": action, "rowid": str(course.id), "csrf_token": token}
    )
    assert response.status_code == 302, text(response)[:1000]


def listed_slugs(anon) -> list[str]:
    return [c["slug"] for c in anon.get("/api/courses?per_page=100").get_json()["items"]]


def test_a_published_course_appears_and_an_unpublished_one_goes(anon, client, clock, make, login_as):
    make.course(title="Always Here", slug="always-here")
    draft = make.course(title="Fresh Draft", slug="fresh-draft", is_active=False)
    login_as(make.admin())
    assert "Fresh Draft" not in text(cached(anon, "/courses"))
    assert "fresh-draft" not in [c["slug"] for c in cached(anon, "/api/courses?per_page=100").get_json()["items"]]
    assert anon.get("/courses/fresh-draft").status_code == 404

    console_action(client, "activate", draft)

    assert "Fresh Draft" in text(anon.get("/courses"))
    assert "fresh-draft" in listed_slugs(anon)
    assert anon.get("/courses/fresh-draft").status_code == 200
    assert "Fresh Draft" in text(cached(anon, "/courses/fresh-draft"))
    cached(anon, "/api/courses/fresh-draft")
    cached(anon, "/courses")

    console_action(client, "deactivate", draft)

    assert anon.get("/courses/fresh-draft").status_code == 404
    assert anon.get("/api/courses/fresh-draft").status_code == 404
    assert "Fresh Draft" not in text(anon.get("/courses"))
    assert "fresh-draft" not in listed_slugs(anon)
    assert "Always Here" in text(anon.get("/courses"))


def test_a_retired_course_leaves_the_catalog(anon, clock, make, now):
    course = make.course(title="Soon Retired", slug="soon-retired")
    cached(anon, "/courses/soon-retired")
    assert "Soon Retired" in text(cached(anon, "/courses"))

    course.is_retired = True
    db.session.commit()

    assert anon.get("/courses/soon-retired").status_code == 404
    assert "Soon Retired" not in text(anon.get("/courses"))


def test_set_courses_active_unpublishes_through_the_service(anon, clock, make, now):
    course = make.course(title="Service Pulled", slug="service-pulled")
    cached(anon, "/api/courses/service-pulled")
    assert "service-pulled" in [c["slug"] for c in cached(anon, "/api/courses?per_page=100").get_json()["items"]]

    assert management.set_courses_active([course.id], False, now=now) == 1

    assert anon.get("/api/courses/service-pulled").status_code == 404
    assert "service-pulled" not in listed_slugs(anon)


# --- 8. a private profile ------------------------------------------------------------------

SECRET_BIO = "My very private biography"


def test_a_private_profile_is_never_served_to_the_wrong_person(app, anon, clock, make):
    owner = make.user(name="Priya Private", handle="priya", bio=SECRET_BIO, title="Secret Title", privacy_public=False)
    other = make.user(name="Olly Other")
    admin = make.admin(name="Brian Admin")
    anonymous = cached(anon, "/@priya")
    assert SECRET_BIO not in text(anonymous) and "Secret Title" not in text(anonymous)
    assert "This profile is private." in text(anonymous)

    for who, full in ((owner, True), (other, False), (admin, True)):
        answer = login_client(app, who).get("/@priya")
        assert answer.status_code == 200
        assert (SECRET_BIO in text(answer)) is full, who.name
        assert answer.headers["Cache-Control"] == "private, no-cache"
        # and none of them left their version behind for the next visitor
        again = anon.get("/@priya")
        assert SECRET_BIO not in text(again)
        assert again.headers["ETag"] == anonymous.headers["ETag"]

    # The owner opens their profile up in /settings, then closes it again.
    browser = login_client(app, owner)
    for public in (True, False):
        cached(anon, "/@priya")
        settings_page = text(browser.get("/settings"))
        form = {
            "csrf_token": csrf_from(settings_page),
            "name": "Priya Private",
            "title": "Secret Title",
            "bio": SECRET_BIO,
            "timezone": "UTC",
        }
        if public:
            form["privacy_public"] = "y"
        saved = browser.post("/settings", data=form)
        assert saved.status_code == 302, text(saved)[:1000]
        assert (SECRET_BIO in text(anon.get("/@priya"))) is public


# --- 9. no cookie for a page without a form -------------------------------------------------


def public_paths(world) -> list[str]:
    course, teacher = world.course, world.teacher
    return [
        "/",
        "/courses",
        f"/courses/{course.slug}",
        f"/courses/{course.slug}/teachers",
        f"/@{teacher.handle}",
        "/api/courses",
        f"/api/courses/{course.slug}",
        f"/api/courses/{course.id}/sts",
        f"/api/courses/{course.id}/schedule",
        f"/api/sts/{teacher.id}/availability",
    ]


def test_public_paths_set_no_cookie_and_carry_no_csrf_token(anon, clock, world):
    for path in public_paths(world):
        answers = {}
        for attempt in ("miss", "hit"):
            response = answers[attempt] = anon.get(path)
            assert response.status_code == 200, (path, attempt)
            assert "Set-Cookie" not in response.headers, (path, attempt, response.headers.get("Set-Cookie"))
            assert response.headers["Cache-Control"] == "public, no-cache", path
            assert set(response.headers["Vary"].replace(" ", "").split(",")) >= {"Cookie", "Authorization"}, path
            assert response.headers.get("ETag") and response.headers.get("Last-Modified"), path
            if response.mimetype == "text/html":
                assert 'name="csrf-token"' not in text(response), path
                assert 'name="csrf_token"' not in text(response), path
        # A hit carries the same headers as the miss (security headers, type, validators).
        miss, hit = (dict(answers[a].headers) for a in ("miss", "hit"))
        assert hit == miss, path
    login = anon.get("/login")
    assert login.status_code == 200 and 'name="csrf_token"' in text(login)
    assert "Cache-Control" not in login.headers or "public" not in login.headers["Cache-Control"]


# --- 10. validators -----------------------------------------------------------------------


def test_a_matching_etag_is_a_304_until_a_write(anon, clock, make):
    course = make.course(title="Etag Course", slug="etag-course")
    path = "/courses/etag-course"
    first = cached(anon, path)
    etag = first.headers["ETag"]
    not_modified = anon.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.get_data() == b""
    assert not_modified.headers["ETag"] == etag
    since = anon.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    assert anon.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200

    course.tagline = "Changed tagline"
    db.session.commit()

    changed = anon.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "Changed tagline" in text(changed)
    assert changed.headers["ETag"] != etag
    assert anon.get(path, headers={"If-None-Match": changed.headers["ETag"]}).status_code == 304


@pytest.fixture
def frozen_wall_clock(monkeypatch):
    """time.time() stands still: the write and both reads fall within one second, as they often do."""
    monkeypatch.setattr(readcache.time, "time", lambda: 1795435200.0)


def test_after_a_write_in_the_same_second_if_modified_since_is_a_200(anon, clock, make, frozen_wall_clock):
    course = make.course(title="Same Second", slug="same-second")
    path = "/courses/same-second"
    first = cached(anon, path)
    assert anon.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304

    course.tagline = "Changed within the second"
    db.session.commit()

    changed = anon.get(path)
    assert "Changed within the second" in text(changed)
    assert parsedate_to_datetime(changed.headers["Last-Modified"]) > parsedate_to_datetime(
        first.headers["Last-Modified"]
    )
    assert anon.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 200


@pytest.fixture
def csrf_clock(monkeypatch):
    """The CSRF token a logged-in page carries is signed with the second: hold that second still."""
    moment = {"now": 1795435200}
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: moment["now"])
    return moment


def logged_in_reader(app, make):
    browser = login_client(app, make.user())
    browser.get("/")  # the "Welcome back" flash is shown once, here
    return browser


def test_a_private_answer_has_its_own_etag_and_304(app, clock, make, csrf_clock):
    course = make.course(title="Private Etag", slug="private-etag")
    browser = logged_in_reader(app, make)
    first = browser.get("/courses/private-etag")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "private, no-cache"
    etag = first.headers["ETag"]
    assert browser.get("/courses/private-etag", headers={"If-None-Match": etag}).status_code == 304

    course.tagline = "Private change"
    db.session.commit()

    again = browser.get("/courses/private-etag", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag and "Private change" in text(again)


def test_a_logged_in_page_read_again_a_second_later_is_a_304(app, clock, make, csrf_clock):
    make.course(title="Private Later", slug="private-later")
    browser = logged_in_reader(app, make)
    etag = browser.get("/courses/private-later").headers["ETag"]
    csrf_clock["now"] += 1
    assert browser.get("/courses/private-later", headers={"If-None-Match": etag}).status_code == 304


def test_a_bearer_answer_is_private_with_an_etag(anon, client, clock, make, api_token):
    make.course(title="Bearer Course", slug="bearer-course")
    headers = api_token(make.user())
    first = anon.get("/api/courses/bearer-course", headers=headers)
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "Authorization" in first.headers["Vary"]
    etag = first.headers["ETag"]
    assert anon.get("/api/courses/bearer-course", headers={**headers, "If-None-Match": etag}).status_code == 304


# --- writes no public page shows ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["form", "api"])
def test_a_login_keeps_the_cached_answers(app, anon, clock, make, how):
    make.course(title="Login Course", slug="login-course")
    user = make.user()
    cached(anon, "/courses")
    if how == "form":
        login_client(app, user)
    else:
        assert (
            app.test_client().post("/api/auth/login", json={"email": user.email, "password": PASSWORD}).status_code
            == 200
        )
    count, _ = fresh_count(anon, "/courses")
    assert count == 0


def test_a_private_write_keeps_the_cached_answers(app, anon, clock, make, now):
    """A notification is a row no public page shows: the cache stays."""
    from peerloop.notifications import services as notifications

    user = make.user()
    cached(anon, "/courses")
    notifications.notify(user, "test.hello", title="Hello", body="Only for you", dedupe_key=None, now=now)
    count, _ = fresh_count(anon, "/courses")
    assert count == 0


# --- a write while a page is being made --------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "logged in"])
def test_a_write_while_the_course_page_is_made_does_not_leave_a_stale_body(app, anon, clock, make, monkeypatch, who):
    from peerloop.catalog import views

    course_id = make.course(title="Racing", slug="racing", description="Old description.").id
    real_get_course = views.services.get_course
    raced = []

    def get_course_then_a_write_lands(*args, **kwargs):
        found = real_get_course(*args, **kwargs)
        if not raced:  # the creator saves in the studio just after this request loaded the course
            raced.append(True)
            # Another worker's commit, as this request sees it: the row and the version change, while
            # what this request has loaded stays as it was (a commit on its own session, not expiring it).
            own = db.session()
            own.expire_on_commit = False
            own.execute(
                sa.update(Course).where(Course.id == course_id).values(description="New description."),
                execution_options={"synchronize_session": False},
            )
            own.commit()  # the commit hook moves the version on
            own.expire_on_commit = True
        return found

    monkeypatch.setattr(views.services, "get_course", get_course_then_a_write_lands)
    reader = anon if who == "anonymous" else login_client(app, make.user())
    reader.get("/courses/racing")  # made from what it loaded before the write: fine, if not kept
    assert raced
    db.session.expire_all()
    assert db.session.get(Course, course_id).description == "New description."

    later = text(anon.get("/courses/racing"))
    assert "Old description." not in later and "New description." in later
    assert "New description." in text(login_client(app, make.user()).get("/courses/racing"))


# --- 11. timed answers ----------------------------------------------------------------------


def test_a_timed_answer_is_remade_when_the_minute_changes(anon, clock, world, now):
    path = f"/api/sts/{world.teacher.id}/availability"
    course_page = f"/courses/{world.course.slug}"
    clock(at(0, 11, 59))  # Monday 11:59: with 4 hours' notice, 16:00 is the first free time
    assert cached(anon, path).get_json()["items"][0]["start"] == "2026-11-23T16:00:00Z"
    assert 'datetime="2026-11-23T16:00:00Z"' in text(cached(anon, course_page))

    clock(at(0, 12, 1))  # two minutes later, nothing written: 16:00 is now inside the notice
    count, response = fresh_count(anon, path)
    assert count > 0
    assert response.get_json()["items"][0]["start"] == "2026-11-24T09:00:00Z"  # 16:00 was Monday's last
    count, response = fresh_count(anon, course_page)
    assert count > 0 and 'datetime="2026-11-23T16:00:00Z"' not in text(response)
    cached(anon, path)  # and stored again for this minute


def test_an_untimed_answer_survives_the_minute(anon, clock, make, now):
    make.course(title="Untimed", slug="untimed")
    cached(anon, "/api/courses/untimed")
    clock(now + timedelta(minutes=5))
    count, _ = fresh_count(anon, "/api/courses/untimed")
    assert count == 0


# --- 12. what is not stored ----------------------------------------------------------------


def test_an_unknown_query_argument_is_answered_fresh_and_not_stored(anon, clock, world):
    for path in (
        f"/courses/{world.course.slug}",
        "/courses",
        "/api/courses",
        f"/api/sts/{world.teacher.id}/availability",
    ):
        tagged = f"{path}?utm=x"
        assert anon.get(tagged).status_code == 200
        count, response = fresh_count(anon, tagged)
        assert response.status_code == 200 and count > 0, tagged
    # a query argument the view reads is part of the key: stored per value
    cached(anon, "/courses?level=beginner")
    cached(anon, "/courses?level=advanced")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/courses/no-such-course", 404),
        ("/api/courses/no-such-course", 404),
        ("/@nobody-at-all", 404),
        ("/courses?level=expert", 400),
        ("/api/courses?level=expert", 400),  # refused before any SQL: only the headers tell
        ("/api/sts/not-a-teacher/availability", 404),
    ],
)
def test_an_error_answer_is_not_stored(anon, clock, path, status):
    first_count, first = fresh_count(anon, path)
    assert first.status_code == status
    count, response = fresh_count(anon, path)
    assert response.status_code == status and count == first_count
    assert "public" not in response.headers.get("Cache-Control", "") and "ETag" not in response.headers
    if first_count:
        assert count > 0


# --- 13. statements at 1x and 10x data -------------------------------------------------------


def _grow(make, course, factor: int) -> None:
    for i in range(factor):
        extra = make.course(title=f"Grown {factor}-{i}", slug=f"grown-{factor}-{i}", details=True)
        make.student_teacher(make.user(), extra)
    for _ in range(factor):
        teacher = make.user()
        make.student_teacher(teacher, course)
        week(teacher, now=at(0, 12))


def test_statements_per_path_do_not_grow_with_the_data_and_a_hit_costs_none(anon, clock, world, make):
    _grow(make, world.course, 2)
    paths = public_paths(world)
    misses_small, hits = {}, {}
    for path in paths:
        readcache_miss, response = fresh_count(anon, path)
        assert response.status_code == 200, path
        misses_small[path] = readcache_miss
        hits[path], _ = fresh_count(anon, path)
    _grow(make, world.course, 20)
    misses_big = {}
    for path in paths:
        misses_big[path], response = fresh_count(anon, path)
        assert response.status_code == 200, path
    print("statements per miss (1x):", misses_small)
    print("statements per miss (10x):", misses_big)
    print("statements per hit:", hits)
    assert misses_big == misses_small
    assert all(count > 0 for count in misses_small.values())
    assert all(count == 0 for count in hits.values())


# --- a checkout's hold, its lapse and its payment ---------------------------------------------


def test_a_checkout_hold_takes_the_slot_its_lapse_gives_it_back_and_the_payment_counts(
    app, anon, client, clock, world, make, api_token, now
):
    from peerloop.payments import sandbox
    from peerloop.scheduling.models import SessionStatus, TutoringSession
    from tests.conftest import run_jobs

    buyer = make.user()
    avail = f"/api/sts/{world.teacher.id}/availability"
    assert scheduling.iso_z(TUE9) in [i["start"] for i in cached(anon, avail).get_json()["items"]]
    students_before = cached(anon, f"/api/courses/{world.course.slug}").get_json()["student_count"]

    body = {
        "course_id": str(world.course.id),
        "student_teacher_id": str(world.teacher.id),
        "start": scheduling.iso_z(TUE9),
    }
    response = client.post("/api/checkout/session", json=body, headers=api_token(buyer))
    assert response.status_code == 201, response.get_json()
    assert scheduling.iso_z(TUE9) not in [i["start"] for i in cached(anon, avail).get_json()["items"]]

    # The hold lapses with time alone: no write, the next minute's answer has the slot again.
    hold = db.session.scalar(
        sa.select(TutoringSession).where(
            TutoringSession.student_id == buyer.id, TutoringSession.status == SessionStatus.held
        )
    )
    clock(hold.hold_expires_at + timedelta(minutes=1))
    assert scheduling.iso_z(TUE9) in slots_of(anon, world.teacher)
    clock(now)

    # Paying goes through the sandbox's signed webhook and a job: the enrollment shows in the course's figures.
    cached(anon, f"/api/courses/{world.course.slug}")
    sandbox.pay(response.get_json()["id"], now=now)
    run_jobs(app)
    assert anon.get(f"/api/courses/{world.course.slug}").get_json()["student_count"] == students_before + 1


def test_a_deactivated_teacher_leaves_the_course_pages(anon, client, clock, world, api_token):
    from peerloop.certification.models import StudentTeacher

    row = db.session.scalar(
        sa.select(StudentTeacher).where(
            StudentTeacher.user_id == world.teacher.id, StudentTeacher.course_id == world.course.id
        )
    )
    paths = [f"/courses/{world.course.slug}/teachers", f"/courses/{world.course.slug}"]
    for path in paths:
        assert world.teacher.name in text(cached(anon, path))
    sts = f"/api/courses/{world.course.id}/sts"
    assert str(world.teacher.id) in [t["id"] for t in cached(anon, sts).get_json()["items"]]
    course_slots = f"/api/sts/{world.teacher.id}/availability?course_id={world.course.id}"
    cached(anon, course_slots)

    done = client.post(
        f"/api/student-teachers/{row.id}/deactivate", json={"reason": "Moved abroad"}, headers=api_token(world.creator)
    )
    assert done.status_code == 200, done.get_json()

    for path in paths:
        assert world.teacher.name not in text(anon.get(path)), path
    assert str(world.teacher.id) not in [t["id"] for t in anon.get(sts).get_json()["items"]]
    assert anon.get(course_slots).status_code == 404


def test_a_head_request_stores_the_whole_answer(anon, clock, make):
    make.course(title="Head First", slug="head-first")
    head = anon.head("/courses/head-first")
    assert head.status_code == 200 and head.get_data() == b""
    with count_queries() as statements:
        got = anon.get("/courses/head-first")
    assert statements == [] and "Head First" in text(got)
    assert got.headers["ETag"] == head.headers["ETag"]


def test_a_weakened_etag_still_matches(anon, clock, make):
    make.course(title="Weak Tag", slug="weak-tag")
    etag = cached(anon, "/courses/weak-tag").headers["ETag"]
    assert anon.get("/courses/weak-tag", headers={"If-None-Match": f"W/{etag}"}).status_code == 304


def test_a_sweep_with_nothing_due_keeps_the_cached_answers(anon, clock, world, now):
    """The clock process sweeps every minute: an idle pass must not empty the cache each time."""
    from peerloop.cli import run_sweep

    paths = [f"/courses/{world.course.slug}", "/api/courses", f"/api/sts/{world.teacher.id}/availability"]
    for path in paths:
        cached(anon, path)
    run_sweep(now)
    for path in paths:
        count, _ = fresh_count(anon, path)
        assert count == 0, path


def test_lapsing_no_hold_keeps_the_cached_answers(anon, clock, world, now):
    cached(anon, f"/api/sts/{world.teacher.id}/availability")
    assert scheduling.lapse_expired_holds(now) == 0
    count, _ = fresh_count(anon, f"/api/sts/{world.teacher.id}/availability")
    assert count == 0


def test_the_available_switch_hides_and_shows_a_teacher(anon, client, clock, world, api_token):
    sts = f"/api/courses/{world.course.id}/sts"
    day = f"/api/courses/{world.course.id}/schedule?date=2026-11-24"
    headers = api_token(world.teacher)
    for available in (False, True):
        ids = [t["id"] for t in cached(anon, sts).get_json()["items"]]
        assert (str(world.teacher.id) in ids) is not available
        cached(anon, day)
        response = client.put("/api/me/student-teacher", json={"available": available}, headers=headers)
        assert response.status_code == 200, response.get_json()
        ids = [t["id"] for t in anon.get(sts).get_json()["items"]]
        assert (str(world.teacher.id) in ids) is available
        teachers = [t["id"] for t in anon.get(day).get_json()["teachers"]]
        assert (str(world.teacher.id) in teachers) is available


def settings_saver(app, user):
    browser = login_client(app, user)

    def save(**changes):
        form = {"csrf_token": csrf_from(text(browser.get("/settings"))), "name": user.name, "timezone": "UTC"}
        form.update(changes)
        saved = browser.post("/settings", data=form)
        assert saved.status_code == 302, text(saved)[:1000]

    return save


def test_a_name_saved_in_settings_shows_on_the_course_page(app, anon, clock, world):
    save = settings_saver(app, world.teacher)
    cached(anon, f"/courses/{world.course.slug}")
    save(name="Marcus Renamed")
    assert "Marcus Renamed" in text(anon.get(f"/courses/{world.course.slug}"))


@pytest.mark.parametrize("change", ["time zone in /settings", "password"])
def test_a_change_no_public_page_shows_keeps_the_cache(app, anon, clock, world, now, change):
    from peerloop.accounts import services as accounts

    course_page = f"/courses/{world.course.slug}"
    if change == "password":
        cached(anon, course_page)
        accounts.change_password(
            world.teacher,
            current_password=PASSWORD,
            new_password="another long passphrase",
            now=now + timedelta(hours=1),  # later than the row's creation, as it always is
        )
    else:
        save = settings_saver(app, world.teacher)
        cached(anon, course_page)
        save(timezone="Europe/Paris")
    assert fresh_count(anon, course_page)[0] == 0
