"""Who sees which page: every role against every kind of page, through real requests.

Public pages are open to all; member pages send visitors to log in; the console
(/admin) is for admins and the studio (/studio) for creators, everyone else
logged in gets a 403 page; the API answers visitors with a JSON 401.
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

ROLES = ["anonymous", "student", "creator", "admin", "moderator"]

# Flask-Admin 2.2.1 builds enum and relation selects with tuple choices, which
# WTForms 3.3 deprecates; with warnings as errors the studio's course form is a
# 500. tests/admin/test_studio.py holds the strict xfail that tracks the bug.
TOLERATE_ADMIN_SELECT_WARNINGS = pytest.mark.filterwarnings(
    "ignore:Passing SelectField choices as tuples:DeprecationWarning",
    "ignore:Yielding raw tuples from iter_choices:DeprecationWarning",
)

PUBLIC = ["/", "/courses", "/courses/{slug}", "/@{handle}"]
MEMBERS = ["/settings", "/notifications", "/dashboard"]
EARNERS = ["/earnings", "/earnings.csv", "/settings/payouts"]
CONSOLE = [
    "/admin/",
    "/admin/console_users/",
    "/admin/console_courses/",
    "/admin/console_categories/",
    "/admin/console_outbox/",
    "/admin/console_failed_jobs/",
    "/admin/console_transactions/",
    "/admin/console_payout_batches/",
    "/admin/console_payouts/",
    "/admin/console_sessions/",
    "/admin/console_session_requests/",
    "/admin/contests/",
    "/admin/certifications/",
]
STUDIO = [
    "/studio/",
    "/studio/courses/",
    "/studio/courses/new/",
    "/studio/students/",
    "/studio/teachers/",
    "/studio/earnings/",
]


PAGES = [
    *(pytest.param("public", path, id=path) for path in PUBLIC),
    *(pytest.param("members", path, id=path) for path in MEMBERS),
    *(pytest.param("earners", path, id=path) for path in EARNERS),
    *(pytest.param("console", path, id=path) for path in CONSOLE),
    *(
        pytest.param("studio", path, id=path, marks=[TOLERATE_ADMIN_SELECT_WARNINGS] if path.endswith("/new/") else [])
        for path in STUDIO
    ),
]


# What each role gets on each kind of page: a status, or "login" for a redirect to /login.
EXPECTED = {
    "public": dict.fromkeys(ROLES, 200),
    "members": {"anonymous": "login", "student": 200, "creator": 200, "admin": 200, "moderator": 200},
    # Earnings and payouts: creators and Student-Teachers (and anyone who once earned).
    "earners": {"anonymous": "login", "student": 403, "creator": 200, "admin": 403, "moderator": 403},
    "console": {"anonymous": "login", "student": 403, "creator": 403, "admin": 200, "moderator": 403},
    "studio": {"anonymous": "login", "student": 403, "creator": 200, "admin": 403, "moderator": 403},
}


@pytest.fixture
def site(make):
    owner = make.creator(handle="coursemaker")
    course = make.course(creator=owner, title="Listed course", slug="listed-course")
    return SimpleNamespace(owner=owner, course=course)


@pytest.fixture
def log_in_as(make, login_as):
    """Log in a fresh user holding ``role``; anonymous stays logged out."""
    builders = {
        "student": make.user,
        "creator": make.creator,
        "admin": make.admin,
        "moderator": lambda: make.user(is_moderator=True),
    }

    def _log_in(role: str):
        if role == "anonymous":
            return None
        return login_as(builders[role]())

    return _log_in


def assert_sent_to_login(response, path: str) -> None:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


def assert_forbidden_page(response) -> None:
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "Error 403" in body
    assert 'href="/">Go to the home page</a>' in body


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("kind", "template"), PAGES)
def test_page_access_by_role(client, site, log_in_as, role, kind, template):
    path = template.format(slug=site.course.slug, handle=site.owner.handle)
    log_in_as(role)

    response = client.get(path)

    expected = EXPECTED[kind][role]
    if expected == "login":
        assert_sent_to_login(response, path)
    elif expected == 403:
        assert_forbidden_page(response)
    else:
        assert response.status_code == expected, response.get_data(as_text=True)[:300]


def test_api_me_without_credentials_is_a_json_401(client):
    response = client.get("/api/me")

    assert response.status_code == 401
    assert response.is_json
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_api_me_answers_any_logged_in_role(client, log_in_as, role):
    user = log_in_as(role)

    response = client.get("/api/me")

    assert response.status_code == 200
    assert response.is_json
    assert user.email in response.get_data(as_text=True)


@pytest.fixture
def draft(make):
    owner = make.creator()
    course = make.course(creator=owner, title="Unpublished draft", slug="unpublished-draft", is_active=False)
    return SimpleNamespace(owner=owner, course=course)


@pytest.mark.parametrize("viewer", ["anonymous", "student", "other creator", "moderator"])
def test_draft_course_page_is_hidden_from_everyone_but_its_creator_and_admins(client, make, login_as, draft, viewer):
    if viewer == "student":
        login_as(make.user())
    elif viewer == "other creator":
        login_as(make.creator())
    elif viewer == "moderator":
        login_as(make.user(is_moderator=True))

    response = client.get(f"/courses/{draft.course.slug}")

    assert response.status_code == 404
    assert "Unpublished draft" not in response.get_data(as_text=True)


@pytest.mark.parametrize("viewer", ["its creator", "admin"])
def test_draft_course_page_is_shown_to_its_creator_and_admins(client, make, login_as, draft, viewer):
    login_as(draft.owner if viewer == "its creator" else make.admin())

    response = client.get(f"/courses/{draft.course.slug}")

    assert response.status_code == 200
    assert "Unpublished draft" in response.get_data(as_text=True)
