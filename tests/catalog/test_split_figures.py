"""The split a page or the API shows is the configured one (SPLIT_*_PCT), never a copy of it."""

from __future__ import annotations

import re

import pytest

from peerloop.demo import load_demo


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


@pytest.fixture
def altered_split(app, monkeypatch):
    """20% platform, 12% creator, 68% teacher: figures that appear nowhere in a template."""
    for name, value in {"SPLIT_PLATFORM_PCT": 20, "SPLIT_CREATOR_PCT": 12, "SPLIT_TEACHER_PCT": 68}.items():
        monkeypatch.setitem(app.config, name, value)


def test_the_course_page_shows_the_configured_split(client, make):
    creator = make.creator(name="Gabriel Rymberg")
    make.course(slug="split-course", price_cents=39_900, creator=creator)
    text = _text(client.get("/courses/split-course").get_data(as_text=True))
    assert "Where your money goes" in text
    assert "70% ($279.30) to the Student-Teacher who teaches you" in text
    assert "15% ($59.85) royalty to Gabriel Rymberg" in text
    assert "15% ($59.85) to PeerLoop" in text
    assert "When Gabriel Rymberg teaches you, they earn 85%" in text


def test_the_course_page_follows_the_configuration(client, make, altered_split):
    make.course(slug="split-course", price_cents=39_900)
    text = _text(client.get("/courses/split-course").get_data(as_text=True))
    # 12% of 399.00 = 47.88, 68% = 271.32, the platform the rest, 79.80.
    assert "68% ($271.32) to the Student-Teacher" in text
    assert "12% ($47.88) royalty" in text
    assert "20% ($79.80) to PeerLoop" in text
    assert "they earn 80%" in text
    assert "70%" not in text and "85%" not in text


def test_the_home_page_follows_the_configuration(client, altered_split):
    text = _text(client.get("/").get_data(as_text=True))
    assert "they earn 68%, the course's creator earns a 12% royalty and PeerLoop keeps 20%" in text
    assert "they earn 80%" in text
    assert "keep 68% of every student's price" in text and "earn 68% of each price" in text
    assert "70%" not in text and "85%" not in text and "15%" not in text


def test_the_api_teacher_commission_is_the_configured_share(client, make, app, monkeypatch):
    course = make.course(slug="split-course", details=True)
    assert course.features.teacher_commission == 70  # the stored column, no longer what is shown
    assert client.get("/api/courses/split-course").get_json()["peerloop_features"]["teacher_commission"] == 70
    monkeypatch.setitem(app.config, "SPLIT_TEACHER_PCT", 65)
    monkeypatch.setitem(app.config, "SPLIT_PLATFORM_PCT", 20)
    assert client.get("/api/courses/split-course").get_json()["peerloop_features"]["teacher_commission"] == 65


def test_the_demo_courses_agree_with_the_configured_split(client, app, now):
    load_demo(now=now)
    teacher_pct = app.config["SPLIT_TEACHER_PCT"]
    slugs = [c["slug"] for c in client.get("/api/courses?per_page=50").get_json()["items"]]
    assert slugs
    for slug in slugs:
        features = client.get(f"/api/courses/{slug}").get_json()["peerloop_features"]
        assert features is not None and features["teacher_commission"] == teacher_pct, slug


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/how-it-works", ["earn 68% of each student's price"]),
        ("/become-a-creator", ["earn a 12% royalty", "(80% when you teach yourself)"]),
        ("/terms", ["earns 68% of the price", "the creator earns 12% and PeerLoop 20%", "they earn 80%"]),
    ],
)
def test_the_prose_pages_follow_the_configuration(client, altered_split, path, expected):
    text = _text(client.get(path).get_data(as_text=True))
    for phrase in expected:
        assert phrase in text, phrase
    assert "70%" not in text and "85%" not in text
