"""Links the app makes: in-site paths and absolute URLs, with or without a request.

Every absolute URL (emails, notifications, calendar feeds, provider callbacks
and return URLs) is built from the configured ``PUBLIC_URL``, never from the
request's ``Host`` or ``X-Forwarded-Host``: those are the caller's to choose,
and a reset link on the caller's host hands them the account. The builders
work in the RQ worker and the sweep too, where there is no request.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import MapAdapter


def _adapter() -> MapAdapter:
    base = urlsplit(current_app.config["PUBLIC_URL"])
    return current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http", subdomain=None
    )


def site_path(endpoint: str, **values) -> str:
    """The in-site path of ``endpoint`` (what a notification's ``action_url`` stores)."""
    return _adapter().build(endpoint, values)


def external_url(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` on ``PUBLIC_URL``."""
    return _adapter().build(endpoint, values, force_external=True)


def absolute(path: str | None) -> str | None:
    """An in-site path (``/courses/x``, as ``site_path`` gives) made absolute on ``PUBLIC_URL``.

    :raise ValueError: ``path`` is not an in-site path (an absolute or protocol-relative URL).
    """
    if not path:
        return None
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        raise ValueError(f"not an in-site path: {path!r}")
    base = urlsplit(current_app.config["PUBLIC_URL"])
    return f"{base.scheme}://{base.netloc}{path}"
