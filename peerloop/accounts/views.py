"""Account pages: signup, login, verification, password reset, settings, public profiles."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from peerloop import readcache
from peerloop.accounts import forms, services
from peerloop.accounts.access import log_in, log_out, safe_next
from peerloop.accounts.ratelimits import login_limits, reset_limits, signup_limits
from peerloop.catalog import services as catalog_services
from peerloop.db import utcnow
from peerloop.errors import Conflict, Unauthorized, ValidationError

bp = Blueprint("accounts", __name__)


def _landing(user) -> str:
    """Where a login without a safe ``next`` goes: My courses for a student (anyone with an
    enrollment), Teaching for a teacher with none, else My courses (it says how to start)."""
    import sqlalchemy as sa

    from peerloop.enrollment.models import Enrollment
    from peerloop.extensions import db
    from peerloop.scheduling.services import can_teach

    enrolled = db.session.scalar(sa.select(Enrollment.id).where(Enrollment.student_id == user.id).limit(1))
    if enrolled is None and can_teach(user):
        return url_for("scheduling.teaching")
    return url_for("payments.dashboard")


def _apply_field_errors(form, error: ValidationError | Conflict) -> None:
    """Show a service's field messages next to the form fields they belong to."""
    shown = False
    for name, message in error.fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
            shown = True
    if not shown:
        flash(error.message, "error")


@bp.route("/signup", methods=["GET", "POST"])
@signup_limits
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("catalog.home"))
    form = forms.SignupForm(next=request.args.get("next"))
    if form.validate_on_submit():
        try:
            user = services.signup(
                email=form.email.data,
                password=form.password.data,
                name=form.name.data,
                handle=form.handle.data,
                accept_terms=bool(form.accept_terms.data),
                timezone=form.timezone.data or "UTC",
                now=utcnow(),
            )
        except (ValidationError, Conflict) as error:
            _apply_field_errors(form, error)
        else:
            log_in(user)
            flash(f"Welcome to PeerLoop, {user.name}!", "success")  # the verify banner says where the link went
            return redirect(safe_next(form.next.data) or url_for("catalog.courses"))
    return render_template("accounts/signup.html", form=form), 400 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    form = forms.LoginForm(next=request.args.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")) or _landing(current_user))
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data, now=utcnow())
        except Unauthorized as error:
            form.password.errors = [error.message]
        else:
            log_in(user, remember=bool(form.remember.data))
            flash(f"Welcome back, {user.name}.", "success")
            return redirect(safe_next(form.next.data) or _landing(user))
    return render_template("accounts/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    form = forms.ActionForm()
    if form.validate_on_submit():
        log_out()
        flash("You are logged out.", "info")
    return redirect(url_for("catalog.home"))


@bp.get("/verify-email/<token>")
def verify_email(token: str):
    try:
        user = services.verify_email(token, now=utcnow())
    except (ValidationError, Conflict) as error:
        flash(error.message, "error")
        return render_template("accounts/verify_failed.html"), 400
    flash(f"Thanks, {user.email} is confirmed.", "success")
    return redirect(url_for("accounts.settings") if current_user.is_authenticated else url_for("accounts.login"))


@bp.post("/verify-email/resend")
@login_required
@reset_limits("verify-email-resend", per_email=False)
def resend_verification():
    form = forms.ActionForm()
    if form.validate_on_submit():
        if services.resend_verification(current_user, now=utcnow()):
            flash(f"We sent a new link to {current_user.email}.", "success")
        else:
            flash("Your email address is already confirmed.", "info")
    return redirect(safe_next(request.form.get("next")) or url_for("accounts.settings"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@reset_limits("password-reset")
def forgot_password():
    form = forms.ForgotPasswordForm()
    if form.validate_on_submit():
        services.queue_password_reset(form.email.data)
        flash("If that address has an account, a reset link is on its way. It works once, within the hour.", "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form), 400 if form.errors else 200


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@reset_limits("password-reset-confirm", per_email=False)
def reset_password(token: str):
    form = forms.ResetPasswordForm()
    if request.method == "GET" and not services.reset_link_is_live(token, now=utcnow()):
        flash("This link has expired or was already used. Ask for a new one.", "error")
        return redirect(url_for("accounts.forgot_password"))
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data, now=utcnow())
        except ValidationError as error:
            if error.code == "invalid_token":
                flash(error.message, "error")
                return redirect(url_for("accounts.forgot_password"))
            _apply_field_errors(form, error)
        else:
            log_out()
            flash("Your password is changed. Log in with the new one.", "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form, token=token), 400 if form.errors else 200


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    form = forms.ProfileForm(obj=current_user)
    if request.method == "GET":
        form.interests.data = ", ".join(i.tag for i in current_user.interests)
    if form.validate_on_submit():
        try:
            services.update_profile(
                current_user,
                {
                    "name": form.name.data,
                    "title": form.title.data,
                    "bio_short": form.bio_short.data,
                    "bio": form.bio.data,
                    "avatar_url": form.avatar_url.data,
                    "website": form.website.data,
                    "timezone": form.timezone.data,
                    "interests": form.interests.data,
                    "privacy_public": form.privacy_public.data,
                },
                now=utcnow(),
            )
        except ValidationError as error:
            _apply_field_errors(form, error)
        else:
            flash("Your profile is saved.", "success")
            return redirect(url_for("accounts.settings"))
    return render_template(
        "accounts/settings.html",
        form=form,
        password_form=forms.ChangePasswordForm(prefix="pw"),
        email_form=forms.ChangeEmailForm(prefix="em"),
        delete_form=forms.DeleteAccountForm(prefix="del"),
        action_form=forms.ActionForm(),
    ), 400 if form.errors else 200


def _settings_with(**overrides):
    context = {
        "form": forms.ProfileForm(obj=current_user, formdata=None),
        "password_form": forms.ChangePasswordForm(prefix="pw", formdata=None),
        "email_form": forms.ChangeEmailForm(prefix="em", formdata=None),
        "delete_form": forms.DeleteAccountForm(prefix="del", formdata=None),
        "action_form": forms.ActionForm(),
    }
    context["form"].interests.data = ", ".join(i.tag for i in current_user.interests)
    context.update(overrides)
    return render_template("accounts/settings.html", **context), 400


@bp.post("/settings/password")
@login_required
def change_password():
    form = forms.ChangePasswordForm(prefix="pw")
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
                now=utcnow(),
            )
        except ValidationError as error:
            _apply_field_errors(form, error)
        else:
            # The session id changed with the epoch: log this browser in again.
            log_in(current_user._get_current_object())
            flash("Password changed. Other devices and API tokens were logged out.", "success")
            return redirect(url_for("accounts.settings"))
    return _settings_with(password_form=form)


@bp.post("/settings/email")
@login_required
@reset_limits("email-change", per_email=False)
def change_email():
    form = forms.ChangeEmailForm(prefix="em")
    if form.validate_on_submit():
        try:
            services.request_email_change(
                current_user, password=form.password.data, new_email=form.new_email.data, now=utcnow()
            )
        except (ValidationError, Conflict) as error:
            _apply_field_errors(form, error)
        else:
            flash(f"We sent a link to {form.new_email.data.strip()}. Your email changes when you click it.", "success")
            return redirect(url_for("accounts.settings"))
    return _settings_with(email_form=form)


@bp.post("/settings/delete")
@login_required
def delete_account():
    form = forms.DeleteAccountForm(prefix="del")
    if form.validate_on_submit():
        try:
            services.delete_account(current_user, password=form.password.data, now=utcnow())
        except ValidationError as error:
            _apply_field_errors(form, error)
        else:
            log_out()
            flash("Your account is deleted. Your personal details are gone.", "info")
            return redirect(url_for("catalog.home"))
    return _settings_with(delete_form=form)


@bp.get("/@<handle>")
@readcache.shared
def profile(handle: str):
    profile = catalog_services.public_profile(handle, viewer=current_user)
    if profile is None:
        abort(404)
    return render_template("accounts/profile.html", profile=profile)
