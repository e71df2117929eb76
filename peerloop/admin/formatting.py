"""How the consoles (/admin and /studio) show times: in the logged-in person's zone, to the minute.

Flask-Admin's default prints ``str(value)``: "2026-11-11 16:42:37.662529+00:00".
These type formatters give "2026-11-11 11:42 EST" in a ``<time>`` element whose
title keeps the UTC instant. CSV exports keep Flask-Admin's own export formatters.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_admin.model import typefmt
from markupsafe import Markup

from peerloop import timezones
from peerloop.templating import localtime_text


def datetime_formatter(view, value: datetime, name: str) -> Markup:
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        timezones.iso_utc(value),
        timezones.format_local(value, timezones.DEFAULT_ZONE, style="console"),
        localtime_text(value, style="console"),
    )


def date_formatter(view, value: date, name: str) -> str:
    return timezones.format_local(value, None, style="console")


# datetime before date: a datetime is also a date, and Flask-Admin takes the first match.
LIST_FORMATTERS = {**typefmt.BASE_FORMATTERS, datetime: datetime_formatter, date: date_formatter}
DETAIL_FORMATTERS = {**typefmt.DETAIL_FORMATTERS, datetime: datetime_formatter, date: date_formatter}
