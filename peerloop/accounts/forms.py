"""HTML forms. They check shape (required, length); the services check the rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from peerloop import clock, timezones
from peerloop.accounts.passwords import MAX_PASSWORD_LENGTH


def _timezone_choices(form, field) -> list[SelectChoice]:
    """Places grouped by region with their offset now; the account's own zone stays selectable."""
    return timezones.picker_choices(field.object_data, now=clock.now())


class SignupForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100)])
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])
    handle = StringField(
        "Handle",
        validators=[DataRequired("Choose a handle."), Length(max=31)],
        description="3-30 letters, numbers or underscores. People find you at /@handle.",
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password."), Length(max=MAX_PASSWORD_LENGTH)],
        description="At least 10 characters. A short sentence works well.",
    )
    timezone = HiddenField(default="UTC")
    accept_terms = BooleanField("I accept the terms of service and the refund policy")
    next = HiddenField()


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=1000)])
    remember = BooleanField("Keep me logged in on this device")
    next = HiddenField()


class ActionForm(FlaskForm):
    """A form with only the CSRF token: logout, resend verification, mark read."""


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a password."), Length(max=MAX_PASSWORD_LENGTH)],
        description="At least 10 characters.",
    )


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter your name."), Length(max=100)])
    title = StringField("Title", validators=[Optional(), Length(max=120)], description="e.g. Product designer")
    bio_short = StringField("Short bio", validators=[Optional(), Length(max=160)], description="Shown on cards.")
    bio = TextAreaField("Bio", validators=[Optional(), Length(max=2000)])
    avatar_url = StringField("Avatar URL", validators=[Optional(), Length(max=500)])
    website = StringField("Website", validators=[Optional(), Length(max=500)])
    timezone = SelectField(
        "Time zone",
        choices=_timezone_choices,
        description="Times on PeerLoop and in your emails show in this zone.",
    )
    interests = StringField(
        "Interests", validators=[Optional(), Length(max=600)], description="Comma separated, up to 10."
    )
    privacy_public = BooleanField("Make my profile public")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    new_password = PasswordField(
        "New password", validators=[DataRequired("Choose a new password."), Length(max=MAX_PASSWORD_LENGTH)]
    )


class ChangeEmailForm(FlaskForm):
    new_email = EmailField("New email", validators=[DataRequired("Enter the new address."), Length(max=254)])
    password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    confirm = BooleanField("I understand this cannot be undone", validators=[DataRequired("Tick the box to confirm.")])
