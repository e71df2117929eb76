"""The catalog: filters, search, sorting, pagination, course pages, teacher cards, profiles."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from peerloop.catalog.models import Level
from peerloop.extensions import db


@contextmanager
def count_queries():
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")):
            statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def catalog(make):
    ai = make.category(name="AI Coding", slug="ai-coding")
    data = make.category(name="Data Science", slug="data-science")
    claude = make.course(
        title="Intro to Claude Code",
        slug="intro-to-claude-code",
        category=ai,
        tagline="Master AI-powered coding",
        student_count=50,
        details=True,
    )
    pandas = make.course(
        title="Pandas in Practice",
        slug="pandas",
        category=data,
        level=Level.intermediate,
        price_cents=25000,
        student_count=10,
    )
    draft = make.course(title="Secret Draft", slug="secret-draft", category=ai, is_active=False)
    retired = make.course(title="Old Course", slug="old-course", category=ai, is_retired=True)
    return {"ai": ai, "data": data, "claude": claude, "pandas": pandas, "draft": draft, "retired": retired}


def titles(response) -> list[str]:
    return [item["title"] for item in response.get_json()["items"]]


def test_list_shows_only_active_courses_with_pagination_shape(client, catalog):
    body = client.get("/api/courses").get_json()
    assert set(body) == {"items", "page", "per_page", "total"}
    assert body["total"] == 2 and body["page"] == 1 and body["per_page"] == 20
    assert [c["title"] for c in body["items"]] == ["Intro to Claude Code", "Pandas in Practice"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=ai-coding", ["Intro to Claude Code"]),
        ("level=intermediate", ["Pandas in Practice"]),
        ("q=CLAUDE", ["Intro to Claude Code"]),
        ("q=ai-powered", ["Intro to Claude Code"]),  # tagline
        ("q=terminal", ["Intro to Claude Code"]),  # tag
        ("q=100%25", []),  # LIKE wildcards are literal
        ("q=secret", []),  # drafts never show
        ("sort=price", ["Pandas in Practice", "Intro to Claude Code"]),
        ("category=data-science&level=beginner", []),
    ],
)
def test_api_filters_and_search(client, catalog, query, expected):
    assert titles(client.get(f"/api/courses?{query}")) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("category=nope", "category"),
        ("level=expert", "level"),
        ("sort=random", "sort"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("per_page=101", "per_page"),
        ("q=" + "x" * 101, "q"),
    ],
)
def test_api_unknown_query_values_are_400_with_fields(client, catalog, query, field):
    response = client.get(f"/api/courses?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input" and field in error["fields"]


def test_api_pagination(client, catalog):
    body = client.get("/api/courses?per_page=1&page=2").get_json()
    assert body["total"] == 2 and [c["title"] for c in body["items"]] == ["Pandas in Practice"]
    assert client.get("/api/courses?per_page=1&page=9").get_json()["items"] == []


def test_catalog_page_filters_and_keeps_choices(client, catalog):
    html = client.get("/courses?category=ai-coding&q=claude").get_data(as_text=True)
    assert "Intro to Claude Code" in html and "Pandas in Practice" not in html
    assert '<option value="ai-coding" selected>' in html


def test_catalog_page_with_bad_filter_explains_and_shows_all(client, catalog):
    response = client.get("/courses?level=expert")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Choose beginner, intermediate or advanced." in html
    assert "Pandas in Practice" in html


def test_catalog_page_empty_result_says_so(client, catalog):
    assert "No courses match" in client.get("/courses?q=zzzz").get_data(as_text=True)


def test_course_page_shows_everything_the_tables_hold(client, catalog, make):
    course = catalog["claude"]
    marcus = make.user(name="Marcus Chen", handle="marcus", privacy_public=False)
    make.student_teacher(marcus, course, students_taught=12)
    html = client.get("/courses/intro-to-claude-code").get_data(as_text=True)
    for text in [
        "Intro to Claude Code",
        "Objective 0",
        "Include 1",
        "Required",
        "Nice to have",
        "Not required",
        "A computer with a terminal",
        "Curious beginners",
        "Great course",
        "Session 1",
        "Session 2",
        "Module 3",
        "Marcus Chen",
        "12 students taught",
        "$399",
    ]:
        assert text in html, text


def test_course_api_detail_and_teachers(client, catalog, make):
    course = catalog["claude"]
    marcus = make.user(name="Marcus Chen", handle="marcus")
    make.student_teacher(marcus, course, students_taught=12)
    inactive = make.user(name="Gone Teacher")
    make.student_teacher(inactive, course, is_active=False)
    by_slug = client.get("/api/courses/intro-to-claude-code").get_json()
    by_id = client.get(f"/api/courses/{course.id}").get_json()
    assert by_slug == by_id
    assert by_slug["prerequisites"] == {
        "required": ["A computer with a terminal"],
        "nice_to_have": ["Basic navigation"],
        "not_required": ["No coding experience"],
    }
    assert [m["session_number"] for m in by_slug["curriculum"]] == [1, 1, 2, 2]
    assert by_slug["price_cents"] == 39900 and by_slug["currency"] == "USD"
    body = client.get(f"/api/courses/{course.id}/sts").get_json()
    assert {k: body[k] for k in ("page", "per_page", "total")} == {"page": 1, "per_page": 20, "total": 1}
    assert client.get(f"/api/courses/{course.id}/sts?per_page=0").status_code == 400
    teachers = body["items"]
    assert [t["name"] for t in teachers] == ["Marcus Chen"]
    assert teachers[0]["students_taught"] == 12 and teachers[0]["next_available"] is None
    assert teachers[0]["id"] == str(marcus.id)


@pytest.mark.parametrize("path", ["/courses/secret-draft", "/courses/nope", "/courses/old-course"])
def test_unlisted_and_unknown_courses_are_404_for_visitors(client, catalog, path):
    assert client.get(path).status_code == 404


def test_unknown_course_ids_are_404_json(client, catalog):
    for path in [f"/api/courses/{uuid.uuid4()}", "/api/courses/secret-draft", "/api/courses/nope/sts"]:
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_private_profile_shows_only_name_handle_avatar_but_teaching_is_public(client, catalog, make):
    user = make.user(name="Private Pat", handle="pat", bio="My secret bio", privacy_public=False)
    make.student_teacher(user, catalog["claude"])
    html = client.get("/@pat").get_data(as_text=True)
    assert "Private Pat" in html and "This profile is private" in html and "My secret bio" not in html
    assert "Intro to Claude Code" in html
    body = client.get("/api/users/pat").get_json()
    assert (
        body["private"] is True and "bio" not in body and body["teaching"][0]["course_slug"] == "intro-to-claude-code"
    )


def test_public_profile_shows_details(client, make):
    make.user(name="Open Olga", handle="olga", bio="Hello there", privacy_public=True)
    assert "Hello there" in client.get("/@OLGA").get_data(as_text=True)
    assert client.get("/api/users/olga").get_json()["bio"] == "Hello there"
    assert client.get("/@nobody").status_code == 404
    assert client.get("/api/users/nobody").status_code == 404


def test_home_page_features_courses_and_the_flywheel(client, catalog):
    html = client.get("/").get_data(as_text=True)
    assert "Featured courses" in html and "Intro to Claude Code" in html and "Become a creator" in html
    assert "Secret Draft" not in html


def _grow(make, categories, factor: int, offset: int) -> None:
    for i in range(factor):
        course = make.course(
            title=f"Grown {offset}-{i}", slug=f"grown-{offset}-{i}", category=categories[i % 2], details=True
        )
        for j in range(2):
            make.student_teacher(make.user(), course, students_taught=j)


def test_query_counts_do_not_grow_with_the_data(client, make, catalog):
    """No N+1: ten times the courses, teachers and details, the same number of statements."""
    categories = [catalog["ai"], catalog["data"]]
    course = catalog["claude"]
    for _ in range(2):
        make.student_teacher(make.user(), course)
    _grow(make, categories, 3, 0)
    counts_small = {}
    for path in ["/courses", "/courses/intro-to-claude-code", "/api/courses", "/", "/api/courses/intro-to-claude-code"]:
        with count_queries() as statements:
            assert client.get(path).status_code == 200
        counts_small[path] = len(statements)

    for _ in range(18):
        make.student_teacher(make.user(), course)
    _grow(make, categories, 27, 1)
    counts_big = {}
    for path in counts_small:
        with count_queries() as statements:
            assert client.get(path).status_code == 200
        counts_big[path] = len(statements)
    assert counts_big == counts_small
    print("statements per page:", counts_small)
    assert all(count > 0 for count in counts_small.values())
    # The course page: one statement per section, its row read again for the shared body (catalog/views.py).
    assert counts_small["/courses"] <= 4 and counts_small["/courses/intro-to-claude-code"] <= 13
