"""Template filters and the values every page needs (the bell, the CSRF form)."""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_login import current_user

from peerloop.accounts.access import has_role


def money(cents: int | None, currency: str = "USD") -> str:
    if cents is None:
        return ""
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, currency + " ")
    whole, part = divmod(int(cents), 100)
    return f"{symbol}{whole:,}" if part == 0 else f"{symbol}{whole:,}.{part:02d}"


def initials(name: str | None) -> str:
    parts = [p for p in (name or "?").split() if p[:1].isalnum()]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["initials"] = initials

    @app.context_processor
    def inject_globals():
        from peerloop.accounts.forms import ActionForm
        from peerloop.notifications import services as notifications

        if not has_request_context():  # emails rendered by the CLI or a worker
            return {}
        context = {"has_role": has_role, "action_form": ActionForm(), "current_path": request.full_path.rstrip("?")}
        if current_user.is_authenticated:
            context["bell_unread"] = notifications.unread_count(current_user.id)
            context["bell_recent"] = notifications.recent(current_user.id, 5)
        return context
