"""Every return URL in the consoles goes through the site's safe-redirect check (issue 5, item 2)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import csrf_from

EVIL = ["http:/evil.com", "https://evil.com/", "//evil.com", "/\\evil.com", "javascript:alert(1)", "http:///evil.com"]


def lands_on_site(location: str | None) -> bool:
    """Whether a browser following this Location stays on our host.

    Stricter than urljoin: browsers read ``http:/evil.com`` and ``http:///evil.com``
    as evil.com, so any Location with a scheme must name our origin exactly.
    """
    if location is None:
        return True
    if urlsplit(location).scheme:
        return location.startswith("http://peerloop.test/")
    return location.startswith("/") and not location.startswith(("//", "/\\"))


@pytest.mark.parametrize("target", EVIL)
def test_studio_export_does_not_redirect_off_site(client, make, login_as, target):
    login_as(make.creator())
    response = client.get("/studio/courses/export/csv/", query_string={"url": target})
    assert lands_on_site(response.headers.get("Location")), response.headers.get("Location")
    assert target not in response.get_data(as_text=True)


@pytest.mark.parametrize("target", EVIL)
@pytest.mark.parametrize("view", ["new", "edit", "details", "export/csv"])
def test_admin_views_drop_an_off_site_return_url(client, make, login_as, view, target):
    login_as(make.admin())
    category = make.category()
    path = f"/admin/console_categories/{view}/"
    query = {"url": target}
    if view in ("edit", "details"):
        query["id"] = str(category.id)
    response = client.get(path, query_string=query)
    assert lands_on_site(response.headers.get("Location")), response.headers.get("Location")
    assert target not in response.get_data(as_text=True)  # no Cancel / return link to it either
    if response.status_code == 302:
        followed = client.get(response.headers["Location"])
        assert followed.status_code in (200, 302)
        assert lands_on_site(followed.headers.get("Location"))
        assert target not in followed.get_data(as_text=True)


def test_a_safe_return_url_still_works(client, make, login_as):
    login_as(make.admin())
    category = make.category()
    response = client.get(
        "/admin/console_categories/edit/", query_string={"id": str(category.id), "url": "/admin/console_categories/"}
    )
    assert response.status_code == 200
    assert 'href="/admin/console_categories/"' in response.get_data(as_text=True)


def test_a_form_posting_an_off_site_return_url_is_refused(client, make, login_as):
    login_as(make.admin())
    category = make.category()
    page = client.get("/admin/console_categories/").get_data(as_text=True)
    response = client.post(
        "/admin/console_categories/delete/",
        data={"id": str(category.id), "url": "http:/evil.com", "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 400
    assert lands_on_site(response.headers.get("Location"))


def test_the_login_chain_cannot_carry_an_off_site_url(client, make, auth):
    admin = make.admin()
    first = client.get("/admin/console_categories/new/?url=http:/evil.com")
    assert first.status_code == 302 and "/login" in first.headers["Location"]
    next_path = urlsplit(first.headers["Location"]).query
    assert next_path
    from urllib.parse import parse_qs

    after_login = auth.login(admin.email, next=parse_qs(next_path)["next"][0])
    hops = [after_login]
    while hops[-1].status_code == 302 and len(hops) < 5:
        assert lands_on_site(hops[-1].headers["Location"]), hops[-1].headers["Location"]
        hops.append(client.get(hops[-1].headers["Location"]))
    assert hops[-1].status_code == 200
