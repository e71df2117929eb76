"""Template filters and the values every page needs (the bell, the CSRF form)."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, current_app, g, has_request_context, request
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.local import LocalProxy

from peerloop import timezones
from peerloop.accounts.access import has_role
from peerloop.payments.money import rates_from_config


def money(cents: int | None, currency: str = "USD") -> str:
    if cents is None:
        return ""
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, currency + " ")
    sign = "−" if cents < 0 else ""  # a ledger line may be negative: −$12.50, never $-13.50
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{symbol}{whole:,}" if part == 0 else f"{sign}{symbol}{whole:,}.{part:02d}"


def initials(name: str | None) -> str:
    parts = [p for p in (name or "?").split() if p[:1].isalnum()]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def viewer_timezone() -> str:
    """The logged-in viewer's zone; UTC outside a request and for anonymous visitors."""
    if has_request_context() and current_user.is_authenticated:
        return current_user.timezone or timezones.DEFAULT_ZONE
    return timezones.DEFAULT_ZONE


def localtime_text(value: datetime | date | None, zone: str | None = None, style: str = "long") -> str:
    """``{{ dt|localtime_text }}``: "14 Nov 2026, 11:42 EST" as plain text (attributes, titles)."""
    return timezones.format_local(value, zone if zone is not None else viewer_timezone(), style=style)


def time_tag(value: datetime | date | None, zone: str | None = None, style: str = "long") -> Markup:
    """``<time datetime="2026-11-14T16:42:37Z">14 Nov 2026, 11:42 EST</time>``."""
    if value is None:
        return Markup("")
    text = localtime_text(value, zone, style)
    machine = timezones.iso_utc(value) if isinstance(value, datetime) else value.isoformat()
    return Markup('<time datetime="{}">{}</time>').format(machine, text)


def _zone_in(context: Context, zone: str | None) -> str | None:
    """The zone a template asked for; in an email (templates/email/*) the recipient's, ``user``."""
    if zone is None and (context.name or "").startswith("email/"):
        return getattr(context.get("user"), "timezone", None) or timezones.DEFAULT_ZONE
    return zone  # None: the viewer's


@pass_context
def localtime(context: Context, value: datetime | date | None, zone: str | None = None, style: str = "long"):
    """A time in the viewer's zone: ``{{ dt|localtime }}``, or ``{{ dt|localtime(user.timezone) }}``.

    In an HTML template (autoescaped) it is a ``<time>`` element; in a ``.txt``
    email it is the plain text. Emails go to a recipient, who may not be the
    person whose request sends them: pass the recipient's zone there (without
    one, an email template uses its ``user``'s zone, never the requester's).
    """
    zone = _zone_in(context, zone)
    if context.eval_ctx.autoescape:
        return time_tag(value, zone, style)
    return localtime_text(value, zone, style)


@pass_context
def _localtime_text_filter(context: Context, value, zone: str | None = None, style: str = "long") -> str:
    return localtime_text(value, _zone_in(context, zone), style)


def _action_form():
    """The token-only form every page's buttons post with, made once per request when first shown."""
    from peerloop.accounts.forms import ActionForm

    if "action_form" not in g:
        g.action_form = ActionForm(formdata=None)  # never reads the request body
    return g.action_form


def init_app(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["initials"] = initials
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localtime_text"] = _localtime_text_filter

    @app.context_processor
    def inject_globals():
        from peerloop.notifications import services as notifications

        if not has_request_context():  # emails rendered by the CLI or a worker
            return {}
        context = {
            "has_role": has_role,
            # Only its token, and only made when a template shows it: a page with no form starts no
            # session, so an anonymous visitor gets no cookie and their page can be shared.
            "action_form": LocalProxy(_action_form),
            "current_path": request.full_path.rstrip("?"),
            # The configured split, for "Where your money goes" (platform, creator, teacher percentages).
            "split_rates": rates_from_config(current_app.config),
            "viewer_timezone": viewer_timezone,
        }
        if current_user.is_authenticated:
            context["bell_unread"] = notifications.unread_count(current_user.id)
            context["bell_recent"] = notifications.recent(current_user.id, 5)
        return context
