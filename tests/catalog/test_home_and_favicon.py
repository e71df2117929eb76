"""The home page lists only categories that have courses to show; /favicon.ico answers."""

from __future__ import annotations

import re

from peerloop.catalog import services


def test_only_categories_with_listed_courses_with_their_count(client, make):
    ai = make.category(name="AI Coding", slug="ai-coding")
    data = make.category(name="Data Science", slug="data-science")
    drafts = make.category(name="Only Drafts", slug="only-drafts")
    make.category(name="Empty Shelf", slug="empty-shelf")
    make.course(title="One", slug="one", category=ai)
    make.course(title="Two", slug="two", category=ai)
    make.course(title="Retired", slug="retired", category=ai, is_retired=True)
    make.course(title="Three", slug="three", category=data)
    make.course(title="Draft", slug="draft", category=drafts, is_active=False)

    rows = services.categories_with_courses()
    assert [(row.category.slug, row.course_count) for row in rows] == [("ai-coding", 2), ("data-science", 1)]

    html = client.get("/").get_data(as_text=True)
    chips = re.findall(
        r'<a class="chip" href="[^"]*category=([^"&]+)">([^<]+)<span class="chip-count">([^<]+)</span>', html
    )
    assert [(slug, name.strip(), count) for slug, name, count in chips] == [
        ("ai-coding", "AI Coding", "2 courses"),
        ("data-science", "Data Science", "1 course"),
    ]
    assert "Empty Shelf" not in html and "Only Drafts" not in html


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in {"image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon"}
    assert len(response.get_data()) > 0
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'<link rel="icon"[^>]+href="/static/favicon\.svg', html)
