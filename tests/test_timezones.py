"""Times in the viewer's zone: the filter, the picker, the cached zone set, the pages and the consoles."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime

import pytest
from flask import g

from peerloop import timezones
from peerloop.accounts import services as accounts
from peerloop.accounts.forms import ProfileForm
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from tests.conftest import csrf_from

WINTER = datetime(2026, 11, 14, 16, 42, 37, 662529, tzinfo=UTC)
SUMMER = datetime(2026, 7, 14, 16, 42, 37, tzinfo=UTC)


def render(app, source: str, **context) -> str:
    with app.test_request_context():
        return app.jinja_env.from_string(source).render(**context)


def render_text(app, source: str, **context) -> str:
    """As a .txt email is rendered: no autoescaping, no request."""
    return app.jinja_env.overlay(autoescape=False).from_string(source).render(**context)


# --- the filter ----------------------------------------------------------------------


def test_new_york_in_winter_is_est_in_a_time_element(app):
    html = render(app, "{{ dt|localtime('America/New_York') }}", dt=WINTER)
    assert html == '<time datetime="2026-11-14T16:42:37Z">14 Nov 2026, 11:42 EST</time>'


def test_new_york_in_summer_is_edt(app):
    assert render(app, "{{ dt|localtime_text('America/New_York') }}", dt=SUMMER) == "14 Jul 2026, 12:42 EDT"


def test_a_half_hour_zone(app):
    assert render(app, "{{ dt|localtime_text('Asia/Kolkata') }}", dt=WINTER) == "14 Nov 2026, 22:12 IST"
    # Zones without a letter abbreviation show their offset, never tzdata's bare "+0545".
    assert timezones.format_local(WINTER, "Asia/Kathmandu") == "14 Nov 2026, 22:27 UTC+05:45"


def test_a_day_that_differs_from_the_utc_day():
    late = datetime(2026, 11, 15, 2, 30, tzinfo=UTC)
    assert timezones.format_local(late, "America/Los_Angeles") == "14 Nov 2026, 18:30 PST"


def test_a_text_email_gets_plain_text_in_the_recipients_zone(app):
    with app.app_context():  # a worker: no request, no viewer
        text = render_text(app, "At {{ dt|localtime(user.timezone) }}.", dt=WINTER, user={"timezone": "Europe/Berlin"})
    assert text == "At 14 Nov 2026, 17:42 CET."


def test_an_email_sent_during_someone_elses_request_uses_the_recipients_zone(app, make):
    from types import SimpleNamespace

    from jinja2 import DictLoader

    env = app.jinja_env.overlay(
        loader=DictLoader({"email/t.txt": "At {{ dt|localtime }}.", "email/t.html": "<p>{{ dt|localtime }}</p>"})
    )
    recipient = SimpleNamespace(timezone="Europe/Berlin")
    with app.test_request_context():
        g._login_user = make.user(timezone="America/New_York")  # the sender is the viewer here
        assert env.get_template("email/t.txt").render(dt=WINTER, user=recipient) == "At 14 Nov 2026, 17:42 CET."
        html = env.get_template("email/t.html").render(dt=WINTER, user=recipient)
        assert html == '<p><time datetime="2026-11-14T16:42:37Z">14 Nov 2026, 17:42 CET</time></p>'
        # Outside templates/email/ the viewer's zone applies.
        assert app.jinja_env.from_string("{{ dt|localtime_text }}").render(dt=WINTER) == "14 Nov 2026, 11:42 EST"


def test_without_a_viewer_times_are_utc_and_say_so(app):
    with app.app_context():
        assert render_text(app, "{{ dt|localtime }}", dt=WINTER) == "14 Nov 2026, 16:42 UTC"


def test_an_unknown_zone_or_nothing_falls_back_to_utc(app):
    assert timezones.format_local(WINTER, "Mars/Olympus_Mons") == "14 Nov 2026, 16:42 UTC"
    assert timezones.format_local(None, "UTC") == ""
    assert render(app, "[{{ none|localtime('UTC') }}]", none=None) == "[]"


def test_naive_datetimes_are_taken_as_utc():
    assert timezones.format_local(WINTER.replace(tzinfo=None), "America/New_York") == "14 Nov 2026, 11:42 EST"


def test_console_style_is_to_the_minute():
    assert timezones.format_local(WINTER, "America/New_York", style="console") == "2026-11-14 11:42 EST"
    assert timezones.format_local(date(2026, 11, 14), "America/New_York", style="console") == "2026-11-14"


# --- the picker ----------------------------------------------------------------------


def test_picker_lists_real_places_grouped_by_region_with_their_offset():
    choices = timezones.picker_choices(now=WINTER)
    values = [c.value for c in choices]
    for junk in ("Factory", "localtime", "posixrules", "Etc/GMT+5", "US/Eastern", "Asia/Calcutta", "GMT", "EST5EDT"):
        assert junk not in values
    assert not [v for v in values if v.startswith(("Etc/", "SystemV/", "posix/", "right/"))]
    assert values[0] == "UTC"
    assert all(c.optgroup for c in choices[1:])
    by_value = {c.value: c for c in choices}
    assert by_value["America/New_York"].optgroup == "America"
    assert by_value["America/New_York"].label == "New York (UTC\u221205:00)"
    assert by_value["Asia/Kolkata"].label == "Kolkata (UTC+05:30)"
    assert by_value["Europe/Berlin"].label == "Berlin (UTC+01:00)"
    assert by_value["America/Argentina/Buenos_Aires"].label == "Buenos Aires, Argentina (UTC\u221203:00)"
    assert len(values) == len(set(values)) > 300
    # Each region is one block, so it renders as one <optgroup>.
    groups = [c.optgroup for c in choices[1:]]
    assert len(set(groups)) == len([g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g])


def test_picker_offsets_follow_the_date():
    summer = {c.value: c.label for c in timezones.picker_choices(now=SUMMER)}
    assert summer["America/New_York"] == "New York (UTC\u221204:00)"
    assert summer["Europe/Berlin"] == "Berlin (UTC+02:00)"


def test_an_accounts_own_legacy_zone_stays_selectable():
    choices = timezones.picker_choices("US/Eastern", now=WINTER)
    assert choices[-1].value == "US/Eastern"
    assert choices[-1].optgroup == "Other"
    assert "US/Eastern" not in [c.value for c in timezones.picker_choices("Not/AZone", now=WINTER)]


def test_the_settings_form_renders_optgroups(app):
    with app.test_request_context():
        html = str(ProfileForm(formdata=None, data={"timezone": "America/New_York"}).timezone())
    assert '<optgroup label="America">' in html
    assert re.search(r'<option selected value="America/New_York">New York \(UTC\u22120[45]:00\)</option>', html)
    assert "Factory" not in html and "Etc/GMT" not in html


def test_the_zone_set_is_computed_once(app, make, monkeypatch):
    calls = []
    real = zoneinfo.available_timezones

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(zoneinfo, "available_timezones", counting)
    timezones.valid_timezones.cache_clear()
    try:
        now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        first = accounts.signup(
            email="tz-one@example.com",
            password="a long enough passphrase",
            name="Tz One",
            handle="tz_one",
            accept_terms=True,
            now=now,
            timezone="Asia/Kolkata",
        )
        accounts.signup(
            email="tz-two@example.com",
            password="a long enough passphrase",
            name="Tz Two",
            handle="tz_two",
            accept_terms=True,
            now=now,
            timezone="Not/AZone",
        )
        accounts.update_profile(first, {"timezone": "America/New_York"}, now=now)
        with app.test_request_context():
            ProfileForm(formdata=None, obj=first).timezone()
        assert timezones.is_valid_timezone("Europe/Berlin")
        assert not timezones.is_valid_timezone("Mars/Olympus_Mons")
        assert first.timezone == "America/New_York"
        assert len(calls) == 1
    finally:
        timezones.valid_timezones.cache_clear()


# --- pages ---------------------------------------------------------------------------


def test_sarah_sees_her_notification_times_in_new_york_time(client, make, login_as):
    sarah = login_as(make.user(name="Sarah", timezone="America/New_York"))
    db.session.add(
        Notification(user_id=sarah.id, type="test", title="Booked", body="Your session is booked.", created_at=WINTER)
    )
    db.session.commit()

    body = client.get("/notifications").get_data(as_text=True)

    assert '<time datetime="2026-11-14T16:42:37Z">14 Nov 2026, 11:42 EST</time>' in body
    assert "16:42 UTC" not in body


def test_settings_offers_the_grouped_picker_and_keeps_a_legacy_zone(client, make, login_as):
    user = login_as(make.user(timezone="US/Eastern"))
    page = client.get("/settings").get_data(as_text=True)
    assert '<optgroup label="Europe">' in page
    assert '<option selected value="US/Eastern">' in page

    response = client.post(
        "/settings",
        data={"csrf_token": csrf_from(page), "name": user.name, "timezone": "US/Eastern"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]

    response = client.post(
        "/settings",
        data={"csrf_token": csrf_from(page), "name": user.name, "timezone": "Asia/Kolkata"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert user.timezone == "Asia/Kolkata"


def test_settings_refuses_a_zone_that_is_not_offered(client, make, login_as):
    user = login_as(make.user(timezone="Europe/Berlin"))
    page = client.get("/settings").get_data(as_text=True)
    response = client.post("/settings", data={"csrf_token": csrf_from(page), "name": user.name, "timezone": "Factory"})
    assert response.status_code == 400
    db.session.expire_all()
    assert user.timezone == "Europe/Berlin"


# --- the consoles --------------------------------------------------------------------


def test_console_lists_show_the_admins_local_time_to_the_minute(client, make, login_as):
    login_as(make.admin(timezone="America/New_York"))
    listed = make.user(handle="tz_listed", email="tz-listed@example.com", created_at=WINTER)

    body = client.get("/admin/console_users/?search=tz_listed").get_data(as_text=True)
    assert "2026-11-14 11:42 EST" in body
    assert "16:42:37.662529" not in body and "+00:00" not in body
    assert '<time datetime="2026-11-14T16:42:37Z" title="2026-11-14 16:42 UTC">2026-11-14 11:42 EST</time>' in body

    details = client.get(f"/admin/console_users/details/?id={listed.id}").get_data(as_text=True)
    assert "2026-11-14 11:42 EST" in details
    assert "16:42:37.662529" not in details


def test_console_home_shows_draft_dates_in_the_admins_zone(client, make, login_as):
    login_as(make.admin(timezone="Asia/Kolkata"))
    make.course(is_active=False, created_at=WINTER)

    body = client.get("/admin/").get_data(as_text=True)
    assert "2026-11-14 22:12 IST" in body


@pytest.mark.parametrize("zone, expected", [("Europe/Berlin", "2026-11-14 17:42 CET"), ("UTC", "2026-11-14 16:42 UTC")])
def test_the_studio_shows_the_creators_zone(client, make, login_as, zone, expected):
    creator = login_as(make.creator(timezone=zone))
    course = make.course(creator=creator, created_at=WINTER)

    body = client.get(f"/studio/courses/details/?id={course.id}").get_data(as_text=True)
    assert expected in body


@pytest.mark.parametrize("name", ["Factory", "localtime"])
def test_names_that_are_not_places_are_not_valid_zones(client, name):
    """'localtime' follows the server's own setting; 'Factory' is a placeholder. Signup falls back to UTC."""
    assert not timezones.is_valid_timezone(name)
    response = client.post(
        "/api/auth/signup",
        json={
            "email": f"zone-{name.lower()}@example.com",
            "password": "a long pass phrase",
            "name": "Zone",
            "handle": f"zone_{name.lower()}",
            "accept_terms": True,
            "timezone": name,
        },
    )
    assert response.status_code == 201 and response.get_json()["user"]["timezone"] == "UTC"
