"""Secure base views shared by the console (/admin, Brian) and the studio (/studio, creators).

Anonymous visitors are sent to the login page; a logged-in user without the
role gets a 403. Forms use Flask-WTF so the global CSRF protection accepts them.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import abort, flash, redirect, request
from flask_admin import AdminIndexView
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from sqlalchemy.exc import DBAPIError

from peerloop.accounts.access import has_role, login_url_for_current_request, safe_next
from peerloop.admin import formatting
from peerloop.db import parse_uuid
from peerloop.errors import ValidationError
from peerloop.extensions import db

log = logging.getLogger(__name__)


class RoleGate:
    required_role = "admin"

    def is_accessible(self) -> bool:
        return has_role(current_user, self.required_role)

    def _handle_view(self, name, **kwargs):
        """Flask-Admin runs this before every console view: check access, then the return URL.

        Flask-Admin's own check accepts ``?url=http:/evil.com`` (it resolves to this
        host) and then redirects to it, which browsers send to evil.com. Every
        return URL must pass the site's own check instead: a GET drops a bad one,
        a form that posts one is refused.
        """
        refused = super()._handle_view(name, **kwargs)
        if refused is not None:
            return refused
        target = request.values.get("url")
        if target and safe_next(target) is None:
            if request.method in ("GET", "HEAD"):
                args = request.args.copy()
                args.poplist("url")
                query = urlencode(list(args.items(multi=True)))
                return redirect(request.path + (f"?{query}" if query else ""))
            abort(400, "That return address is not on this site.")
        return None

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(login_url_for_current_request())
        abort(403)


class SecureIndexView(RoleGate, AdminIndexView):
    pass


class ConsoleForm(FlaskForm):
    """FlaskForm (so global CSRF accepts it) that remembers the object it edits.

    Flask-Admin's Unique validator lets a row keep its own value only when
    ``form._obj`` is that row; its own BaseForm sets it, FlaskForm does not.
    """

    def __init__(self, formdata=_Auto, obj=None, **kwargs):
        self._obj = obj
        super().__init__(formdata, obj=obj, **kwargs)


class SecureModelView(RoleGate, ModelView):
    form_base_class = ConsoleForm
    page_size = 20
    can_view_details = True
    can_set_page_size = True
    # Times in the logged-in person's zone, to the minute (peerloop/admin/formatting.py).
    column_type_formatters = formatting.LIST_FORMATTERS
    column_type_formatters_detail = formatting.DETAIL_FORMATTERS
    # The built-in bulk delete passes ids as strings the UUID column refuses;
    # deleting is rare enough to do one row at a time.
    action_disallowed_list = ["delete"]

    def handle_view_exception(self, exc):
        """A service's ValidationError (raised from on_model_change) is a form error, not a 500."""
        if isinstance(exc, ValidationError):
            flash("; ".join(exc.fields.values()) or exc.message, "error")
            return True
        if isinstance(exc, DBAPIError):
            # The database refused the row (a duplicate, a number out of range):
            # say so plainly, never with the SQL and the values.
            log.warning("console save refused by the database: %s", exc.orig)
            db.session.rollback()
            flash(
                "That could not be saved: a value is a duplicate or out of range. Check the fields and try again.",
                "error",
            )
            return True
        return super().handle_view_exception(exc)

    def handle_action(self, return_view=None):
        """Batch actions call services; their ValidationErrors become a flash, not a 500."""
        try:
            return super().handle_action(return_view)
        except ValidationError as exc:
            flash("; ".join(exc.fields.values()) or exc.message, "error")
            return redirect(self.get_url(".index_view"))

    def get_list(self, page, *args, **kwargs):
        # A huge ?page= would overflow the database's OFFSET: stay within what a person could page to.
        return super().get_list(max(0, min(page or 0, 10_000)), *args, **kwargs)

    def get_one(self, id):
        """The row with this id, or None for ids that are not UUIDs (Flask-Admin then says so)."""
        uid = parse_uuid(id)
        return db.session.get(self.model, uid) if uid else None


class EnumEqualFilter(FilterEqual):
    """Equality filter on a status column, offering its values and refusing others
    (Flask-Admin's own enum filter raises KeyError on an unknown value)."""

    def __init__(self, column, name, enum_cls):
        self.allowed = {member.value for member in enum_cls}
        super().__init__(column, name, options=[(v, v.replace("_", " ")) for v in sorted(self.allowed)])

    def validate(self, value):
        return value in self.allowed
