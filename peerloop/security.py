"""Security headers on every response: a Content-Security-Policy, no framing, no sniffing, HSTS in production.

A small ``after_request`` instead of Flask-Talisman (barely maintained). Three policies:

- site pages: scripts only from our own origin (no inline scripts, no ``javascript:`` links);
  styles from our origin plus inline ``style=`` attributes (course thumbnails set a CSS variable);
  images from anywhere over HTTPS (avatars are links people give);
- the Flask-Admin consoles (/admin, /studio): their templates carry inline scripts, ``onclick``
  handlers (batch actions) and ``javascript:void(0)`` links, which a nonce cannot cover, so
  ``'unsafe-inline'`` for scripts there; everything else is as strict as the site;
- JSON and other non-HTML answers: nothing may load at all.

All three refuse framing (``frame-ancestors 'none'``, and ``X-Frame-Options: DENY`` for old
browsers) and forms posting elsewhere (``form-action 'self'``; browsers apply it to the redirect
after a POST too, so a POST that redirects off-site, such as to a hosted payment page, needs that
host added here). A header a view set itself is left alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

_COMMON = {
    "default-src": "'self'",
    "base-uri": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    # A form may post here and be redirected on to Stripe's hosted Checkout or Connect onboarding
    # (browsers apply form-action to the redirect too).
    "form-action": "'self' https://checkout.stripe.com https://connect.stripe.com",
    "img-src": "'self' data: https:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
}


def _policy(**directives: str) -> str:
    merged = {**_COMMON, **{name.replace("_", "-"): value for name, value in directives.items()}}
    return "; ".join(f"{name} {value}" for name, value in merged.items())


SITE_POLICY = _policy(script_src="'self'", style_src="'self' 'unsafe-inline'")
CONSOLE_POLICY = _policy(script_src="'self' 'unsafe-inline'", style_src="'self' 'unsafe-inline'")
NON_HTML_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

HSTS = "max-age=31536000; includeSubDomains"
CONSOLE_PREFIXES = ("/admin", "/studio")


def _console_prefixes(app: Flask) -> tuple[str, ...]:
    admins = app.extensions.get("admin") or []
    urls = tuple(admin.url for admin in admins if getattr(admin, "url", None))
    return urls or CONSOLE_PREFIXES


def _in_console(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)


def policy_for(path: str, mimetype: str | None, prefixes: tuple[str, ...] = CONSOLE_PREFIXES) -> str:
    if mimetype != "text/html":
        return NON_HTML_POLICY
    return CONSOLE_POLICY if _in_console(path, prefixes) else SITE_POLICY


def video_origin(config) -> str | None:
    """Where the Join button's form is redirected (the room): the configured video service's origin."""
    provider = config.get("VIDEO_PROVIDER", "link")
    if provider == "daily":
        return "https://*.daily.co"
    base = {"link": "VIDEO_LINK_BASE_URL", "bbb": "BBB_API_URL", "plugnmeet": "PLUGNMEET_URL"}.get(provider)
    parts = urlsplit(config.get(base) or "") if base else None
    if not parts or parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _site_policy(app: Flask) -> str:
    cached = app.extensions.get("peerloop_site_policy")
    if cached is None:
        origin = video_origin(app.config)
        form_action = _COMMON["form-action"] + (f" {origin}" if origin else "")
        cached = _policy(script_src="'self'", style_src="'self' 'unsafe-inline'", form_action=form_action)
        app.extensions["peerloop_site_policy"] = cached
    return cached


def _fixed_headers(app: Flask) -> tuple[tuple[str, str], ...]:
    cached = app.extensions.get("peerloop_fixed_headers")
    if cached is None:
        cached = (
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
        )
        if app.config.get("PEERLOOP_ENV") == "production":
            cached += (("Strict-Transport-Security", HSTS),)
        app.extensions["peerloop_fixed_headers"] = cached
    return cached


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    app = current_app._get_current_object()
    policy = policy_for(request.path, response.mimetype, _console_prefixes(app))
    if policy is SITE_POLICY:
        policy = _site_policy(app)  # the Join form is redirected on to the video service
    present = {name.lower() for name, _ in headers}  # one pass, not one per header (every answer pays it)
    for name, value in (("Content-Security-Policy", policy), *_fixed_headers(app)):
        if name.lower() not in present:
            headers.add(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(set_security_headers)
