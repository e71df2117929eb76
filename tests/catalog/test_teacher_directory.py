"""The teacher directory /courses/<slug>/teachers: every active S-T (and the teaching creator),
24 a page, privacy as on the course page, a fixed number of statements whatever the page holds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from peerloop.scheduling import services as scheduling
from tests.catalog.test_catalog import count_queries

WEEK = [{"day_of_week": d, "start": "00:00", "end": "23:59"} for d in range(7)]


def teach_every_day(user):
    scheduling.set_availability(
        user,
        {
            "timezone": "UTC",
            "weekly": WEEK,
            "blocked_dates": [],
            "session_minutes": 60,
            "buffer_minutes": 0,
            "min_notice_hours": 4,
            "max_window_days": 14,
        },
        now=datetime.now(UTC),
    )


@pytest.fixture
def course(make):
    return make.course(slug="intro-python", title="Intro to Python")


def names(html: str) -> list[str]:
    return re.findall(r'<h2 class="h3"><a href="/@[^"]+">([^<]+)</a>', html)


def test_lists_active_sts_with_their_facts_and_a_book_link(client, make, course):
    ana = make.user(name="Ana Teacher", privacy_public=True, bio_short="Ten years of Python.", title="Engineer")
    make.student_teacher(ana, course, students_taught=7)
    teach_every_day(ana)
    make.student_teacher(make.user(name="Old Teacher"), course, is_active=False)
    make.student_teacher(make.user(name="Other Course"), make.course())
    response = client.get("/courses/intro-python/teachers")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert names(html) == ["Ana Teacher"]
    assert "7 students taught" in html and "No ratings yet" in html
    assert "Ten years of Python." in html and "Engineer" in html
    assert f'href="/@{ana.handle}"' in html
    assert "Next free time:" in html and 'data-utc="' in html
    assert f"/courses/intro-python/book?teacher={ana.id}" in html and "Book this time" in html
    # The course page links here.
    page = client.get("/courses/intro-python").get_data(as_text=True)
    assert 'href="/courses/intro-python/teachers"' in page and "See all 1 teacher" in page


def test_the_teaching_creator_is_listed_first(client, make, course):
    teach_every_day(course.creator)
    make.student_teacher(make.user(name="Ana Teacher"), course)
    html = client.get("/courses/intro-python/teachers").get_data(as_text=True)
    assert names(html) == [course.creator.name, "Ana Teacher"] and ">Creator</span>" in html


def test_a_private_profile_shows_name_handle_avatar_and_teaching_only(client, make, course):
    private = make.user(name="Pia Private", bio_short="My secret bio", title="Secret title", privacy_public=False)
    make.student_teacher(private, course, students_taught=2)
    html = client.get("/courses/intro-python/teachers").get_data(as_text=True)
    assert "Pia Private" in html and f"@{private.handle}" in html and 'class="avatar' in html
    assert "My secret bio" not in html and "Secret title" not in html
    # Teaching presence is public by nature, as on the course page's cards.
    assert "2 students taught" in html


def test_paged_24_at_a_time_with_next_and_previous(client, make, course):
    for n in range(30):
        make.student_teacher(make.user(name=f"Teacher {n:02d}"), course, students_taught=100 - n)
    first = client.get("/courses/intro-python/teachers").get_data(as_text=True)
    assert names(first) == [f"Teacher {n:02d}" for n in range(24)]
    assert "30 teachers" in first and 'rel="next" href="/courses/intro-python/teachers?page=2"' in first
    assert 'rel="prev"' not in first
    second = client.get("/courses/intro-python/teachers?page=2").get_data(as_text=True)
    assert names(second) == [f"Teacher {n:02d}" for n in range(24, 30)]
    assert 'rel="prev" href="/courses/intro-python/teachers?page=1"' in second and 'rel="next"' not in second
    assert client.get("/courses/intro-python/teachers?page=3").status_code == 404
    assert client.get("/courses/intro-python/teachers?page=x").status_code == 404
    assert client.get("/courses/intro-python/teachers?page=²").status_code == 404  # a digit int() refuses


def test_unknown_and_inactive_courses_are_404(client, make):
    make.course(slug="a-draft", is_active=False)
    assert client.get("/courses/nope/teachers").status_code == 404
    assert client.get("/courses/a-draft/teachers").status_code == 404


def test_a_fixed_number_of_statements_whatever_the_page_holds(client, make, course):
    teach_every_day(course.creator)
    for _ in range(2):
        teach_every_day(make.student_teacher(make.user(), course).user)
    with count_queries() as statements:
        assert client.get("/courses/intro-python/teachers").status_code == 200
    small = len(statements)
    for _ in range(25):
        teach_every_day(make.student_teacher(make.user(), course).user)
    with count_queries() as statements:
        assert client.get("/courses/intro-python/teachers").status_code == 200
    assert len(statements) == small
    with count_queries() as statements:
        assert client.get("/courses/intro-python/teachers?page=2").status_code == 200
    assert len(statements) <= small
