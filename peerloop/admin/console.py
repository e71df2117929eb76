"""Brian's console at /admin: users, courses, categories, the outbox, failed jobs, webhook events."""

from __future__ import annotations

import json
import re

from flask import flash
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from peerloop import clock
from peerloop.accounts import services as account_services
from peerloop.admin.base import EnumEqualFilter, SecureIndexView, SecureModelView
from peerloop.catalog import management
from peerloop.catalog.models import Course, Level
from peerloop.errors import ValidationError
from peerloop.notifications.models import EmailStatus, OutboundEmail
from peerloop.webhooks import services as webhook_services
from peerloop.webhooks.models import WebhookEvent, WebhookStatus


class ConsoleHome(SecureIndexView):
    @expose("/")
    def index(self):
        from peerloop.admin.contests import open_contest_count
        from peerloop.admin.scheduling import late_cancellations
        from peerloop.admin.studio_review import waiting_for_review
        from peerloop.certification import metrics
        from peerloop.payments.services import payout_overview

        now = clock.now()
        return self.render(
            "admin/console_home.html",
            stats=management.console_stats(),
            payouts=payout_overview(),
            late=late_cancellations(now),
            contests=open_contest_count(),
            review_requests=waiting_for_review(),
            flywheel=metrics.flywheel(),
            waiting=metrics.stale_requests(now),
        )


class UserView(SecureModelView):
    can_create = False
    can_delete = False
    column_list = [
        "name",
        "handle",
        "email",
        "email_verified",
        "is_creator",
        "is_admin",
        "is_moderator",
        "created_at",
        "deleted_at",
    ]
    column_searchable_list = ["name", "handle", "email"]
    # Date filters are left out: Flask-Admin would compare naive datetimes with our UTC columns.
    column_filters = ["is_creator", "is_admin", "is_moderator", "email_verified", "privacy_public"]
    column_default_sort = ("created_at", True)
    column_details_exclude_list = ["password_hash"]
    form_columns = [
        "name",
        "title",
        "bio_short",
        "bio",
        "is_creator",
        "is_moderator",
        "is_admin",
        "email_verified",
        "privacy_public",
    ]
    # The same limits as the settings page (accounts.services.update_profile).
    form_args = {
        "name": {"validators": [DataRequired("Enter a name."), Length(max=100)]},
        "title": {"validators": [Optional(), Length(max=120)]},
        "bio_short": {"validators": [Optional(), Length(max=160)]},
        "bio": {"validators": [Optional(), Length(max=2000)]},
    }

    def on_model_change(self, form, model, is_created):
        name = (model.name or "").strip()
        if not name:
            raise ValidationError(fields={"name": "Enter a name."})
        model.name = name
        if model.id == current_user.id and not model.is_admin:
            raise ValidationError("You can't remove your own admin role.")
        model.updated_at = clock.now()

    def _bulk(self, ids, flag: str, value: bool, label: str):
        count = account_services.set_flag_for_users(ids, flag, value, acting=current_user, now=clock.now())
        flash(f"{count} user(s) {label}.", "success")

    @action("make_creator", "Make creator", "Let the selected users create courses?")
    def action_make_creator(self, ids):
        self._bulk(ids, "is_creator", True, "can now create courses")

    @action("remove_creator", "Remove creator role", "Remove the creator role from the selected users?")
    def action_remove_creator(self, ids):
        self._bulk(ids, "is_creator", False, "are no longer creators")

    @action("make_moderator", "Make moderator", "Make the selected users moderators?")
    def action_make_moderator(self, ids):
        self._bulk(ids, "is_moderator", True, "are now moderators")

    @action("remove_moderator", "Remove moderator role", "Remove the moderator role from the selected users?")
    def action_remove_moderator(self, ids):
        self._bulk(ids, "is_moderator", False, "are no longer moderators")

    @action("mark_verified", "Mark email verified", "Mark the selected users' emails as verified?")
    def action_mark_verified(self, ids):
        self._bulk(ids, "email_verified", True, "marked verified")


def _course_link(view, context, model, name):
    return Markup(f'<a href="/courses/{escape(model.slug)}" target="_blank" rel="noopener">{escape(model.title)}</a>')


class CourseConsoleView(SecureModelView):
    can_create = False  # creators make courses in /studio; Brian activates them here
    column_list = [
        "title",
        "creator",
        "category",
        "level",
        "price_cents",
        "is_active",
        "is_retired",
        "student_count",
        "created_at",
    ]
    column_formatters = {"title": _course_link}
    column_searchable_list = ["title", "slug", "tagline"]
    column_filters = ["is_active", "is_retired", EnumEqualFilter(Course.level, "Level", Level), "category.name"]
    column_default_sort = ("created_at", True)
    form_columns = [
        "title",
        "slug",
        "tagline",
        "description",
        "category",
        "level",
        "price_cents",
        "currency",
        "duration",
        "session_count",
        "badge",
        "is_active",
        "is_retired",
    ]

    def on_model_change(self, form, model, is_created):
        management.validate_course_fields(model)
        management.validate_course_children(model)
        model.updated_at = clock.now()

    def update_model(self, form, model):
        """Ticking "active" in the form publishes the course as the batch action does: the creator hears."""
        was_live = model.is_active
        saved = super().update_model(form, model)
        if saved and model.is_active and not was_live:
            management.announce_published(model, now=clock.now())
        return saved

    @action("activate", "Activate (publish)", "Publish the selected courses in the catalog?")
    def action_activate(self, ids):
        count = management.set_courses_active(ids, True, now=clock.now())
        flash(f"{count} course(s) published.", "success")

    @action("deactivate", "Deactivate (unpublish)", "Take the selected courses out of the catalog?")
    def action_deactivate(self, ids):
        count = management.set_courses_active(ids, False, now=clock.now())
        flash(f"{count} course(s) unpublished.", "success")


class CategoryView(SecureModelView):
    column_list = ["name", "slug", "display_order"]
    column_default_sort = "display_order"
    form_columns = ["name", "slug", "display_order"]
    form_args = {
        "name": {"validators": [DataRequired("Enter a name."), Length(max=80)]},
        "slug": {"validators": [DataRequired("Enter a slug."), Length(max=80)]},
        "display_order": {"validators": [NumberRange(min=0, max=10_000)]},
    }
    column_searchable_list = ["name"]

    def on_model_change(self, form, model, is_created):
        management.validate_category(model)

    def delete_model(self, model):
        if management.category_in_use(model):
            flash("That category still has courses. Move them first.", "error")
            return False
        return super().delete_model(model)


_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'"


def linkify(text: str | None) -> Markup:
    """Escaped text whose http(s) URLs are links; nothing else becomes markup."""
    text = text or ""
    parts: list[Markup] = []
    last = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)  # "…/verify-email/abc." ends the sentence, not the link
        parts.append(escape(text[last : match.start()]))
        parts.append(Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(url))
        last = match.start() + len(url)
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def _pre(text: str | None) -> Markup:
    """Preformatted text for a details page, escaped unless it is Markup already."""
    return Markup('<pre style="white-space:pre-wrap">{}</pre>').format(text or "")


class OutboxView(SecureModelView):
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["created_at", "to_address", "subject", "status", "backend", "attempts", "sent_at"]
    column_searchable_list = ["to_address", "subject"]
    column_filters = [EnumEqualFilter(OutboundEmail.status, "Status", EmailStatus)]
    column_default_sort = ("created_at", True)
    column_details_list = [
        "created_at",
        "to_address",
        "subject",
        "status",
        "backend",
        "attempts",
        "last_error",
        "sent_at",
        "text_body",
    ]
    column_formatters_detail = {"text_body": lambda v, c, m, n: _pre(linkify(m.text_body))}


class FailedJobView(SecureModelView):
    can_create = False
    can_edit = False
    column_list = ["created_at", "func_name", "args", "resolved_at"]
    column_default_sort = ("created_at", True)
    column_formatters_detail = {"error": lambda v, c, m, n: _pre(m.error)}


class WebhookEventView(SecureModelView):
    """Inbound provider events: read-only, filter by status, replay the failed (or ignored) ones."""

    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["received_at", "provider", "event_type", "event_id", "status", "attempts", "processed_at"]
    column_searchable_list = ["event_id", "event_type"]
    column_filters = [EnumEqualFilter(WebhookEvent.status, "Status", WebhookStatus), "provider", "event_type"]
    column_default_sort = ("received_at", True)
    column_details_list = [
        "provider",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "received_at",
        "last_attempt_at",
        "processed_at",
        "next_attempt_at",
        "last_error",
        "payload",
    ]
    column_formatters_detail = {
        # Escaped by Markup.format: the payload is the provider's text, not ours.
        "payload": lambda v, c, m, n: _pre(json.dumps(m.payload, indent=2, sort_keys=True, ensure_ascii=False)),
        "last_error": lambda v, c, m, n: _pre(m.last_error),
    }

    @action("replay", "Replay", "Process the selected events again?")
    def action_replay(self, ids):
        count = webhook_services.replay_events(ids, clock.now())
        flash(f"{count} event(s) queued for processing.", "success")
