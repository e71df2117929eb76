"""Accounts: signup, verification, login, API tokens, password reset, settings, deletion.

Every function takes explicit arguments (the acting user, ``now``) and owns its
transaction. Validation failures raise ``ValidationError`` with field messages.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlparse

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from peerloop import jobs, timezones
from peerloop.accounts.models import (
    AccountToken,
    AccountTokenPurpose,
    ApiToken,
    LoginSession,
    PrimaryRole,
    User,
    UserInterest,
)
from peerloop.accounts.passwords import hash_password, password_problem, verify_password
from peerloop.db import for_update, unique_ids, utcnow
from peerloop.errors import Conflict, Unauthorized, ValidationError
from peerloop.extensions import db
from peerloop.urls import external_url, site_path

HANDLE_RE = re.compile(r"^[a-z0-9_]{3,30}$")
# Handles that would shadow a page, a role or the brand.
RESERVED_HANDLES = frozenset(
    [
        "admin",
        "administrator",
        "api",
        "auth",
        "brian_admin",
        "courses",
        "course",
        "creator",
        "creators",
        "dashboard",
        "help",
        "login",
        "logout",
        "me",
        "moderator",
        "moderators",
        "mod",
        "null",
        "none",
        "notifications",
        "peerloop",
        "root",
        "settings",
        "signup",
        "staff",
        "static",
        "studio",
        "support",
        "system",
        "teach",
        "teachers",
        "terms",
        "privacy",
        "refund",
        "refunds",
        "undefined",
        "user",
        "users",
        "webhooks",
        "www",
        "security",
        "billing",
        "payments",
        "payouts",
    ]
)
NAME_MAX = 100
BIO_MAX = 2000
MAX_INTERESTS = 10

# A real hash to compare against when the email is unknown, so a wrong email
# and a wrong password take the same time.
_DUMMY_HASH: dict[str, str] = {}


def normalise_email(email: str | None) -> str:
    """The one stored form of an address, so one mailbox is one account.

    The domain as email_validator normalises it, in its IDNA (ASCII) form:
    ``u@ｅｘａｍｐｌｅ.com`` is ``u@example.com`` and ``u@bücher.example`` is
    ``u@xn--bcher-kva.example``. The local part in NFC, lower case. Text that
    is not an address at all is only trimmed and lowered (lookups then find nothing).
    """
    text = unicodedata.normalize("NFC", (email or "").strip())
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return text.lower()
    return f"{unicodedata.normalize('NFC', valid.local_part).lower()}@{valid.ascii_domain}"


def normalise_handle(handle: str | None) -> str:
    return (handle or "").strip().removeprefix("@").strip().lower()


def email_problem(email: str) -> str | None:
    if not email:
        return "Enter your email address."
    if len(email) > 254:
        return "That email address is too long."
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return "Enter a valid email address, like you@example.com."
    return None


def handle_problem(handle: str) -> str | None:
    if not handle:
        return "Choose a handle."
    if " " in handle:
        return "Handles can't contain spaces."
    if not HANDLE_RE.match(handle):
        return "Use 3-30 letters, numbers or underscores."
    if handle in RESERVED_HANDLES:
        return "That handle is reserved. Choose another."
    return None


def name_problem(name: str) -> str | None:
    if not name:
        return "Enter your name."
    if len(name) > NAME_MAX:
        return f"Use at most {NAME_MAX} characters."
    return None


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _email_taken(email: str, *, except_user: uuid.UUID | None = None) -> bool:
    query = sa.select(User.id).where(User.email == email)
    if except_user is not None:
        query = query.where(User.id != except_user)
    return db.session.scalar(query) is not None


def _handle_taken(handle: str) -> bool:
    return db.session.scalar(sa.select(User.id).where(User.handle == handle)) is not None


# --- signup and verification -------------------------------------------------


def signup(
    *, email: str, password: str, name: str, handle: str, accept_terms: bool, now: datetime, timezone: str = "UTC"
) -> User:
    """Create an account and email a verification link.

    :raise ValidationError: a field is missing or invalid (``fields`` says which).
    :raise Conflict: ``email_taken`` or ``handle_taken``.
    """
    email, handle, name = normalise_email(email), normalise_handle(handle), (name or "").strip()
    fields = {}
    for field, problem in (
        ("email", email_problem(email)),
        ("name", name_problem(name)),
        ("handle", handle_problem(handle)),
        ("password", password_problem(password or "", email=email, handle=handle)),
    ):
        if problem:
            fields[field] = problem
    if accept_terms is not True:
        fields["accept_terms"] = "Accept the terms and the refund policy to continue."
    if not timezones.is_valid_timezone(timezone):
        timezone = "UTC"
    if fields:
        raise ValidationError(fields=fields)
    if _email_taken(email):
        raise Conflict(
            "An account with that email already exists. Log in or reset your password.",
            code="email_taken",
            fields={"email": "An account with that email already exists."},
        )
    if _handle_taken(handle):
        raise Conflict("That handle is taken.", code="handle_taken", fields={"handle": "That handle is taken."})

    user = User(
        email=email,
        password_hash=hash_password(password),
        name=name,
        handle=handle,
        timezone=timezone,
        role=PrimaryRole.student,
        created_at=now,
        updated_at=now,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except sa.exc.IntegrityError as exc:
        # Two signups raced past the checks above: the unique constraint decides.
        db.session.rollback()
        if "handle" in str(exc.orig).lower():
            raise Conflict(
                "That handle is taken.", code="handle_taken", fields={"handle": "That handle is taken."}
            ) from exc
        raise Conflict(
            "An account with that email already exists.",
            code="email_taken",
            fields={"email": "An account with that email already exists."},
        ) from exc
    email_row = _queue_verification(user, user.email, now)
    db.session.commit()
    jobs.enqueue(_send_email_job(), email_row.id)
    _welcome(user, now)
    return user


def _welcome(user: User, now: datetime) -> None:
    """Ring the bell for a new account. The account exists already: a failure here is logged, not raised."""
    from peerloop.notifications.services import notify

    try:
        notify(
            user,
            "account.welcome",
            title="Welcome to PeerLoop",
            body="Find a course, pick a Student-Teacher whose times suit you, and learn 1-on-1.",
            action_url=site_path("catalog.courses"),
            dedupe_key="account.welcome",
            now=now,
        )
    except Exception:
        db.session.rollback()
        current_app.logger.exception("welcome notification for %s failed", user.id)


def _send_email_job():
    from peerloop.notifications.services import send_email_job

    return send_email_job


def _new_account_token(user: User, purpose: AccountTokenPurpose, email: str, lifetime: timedelta, now: datetime):
    raw = secrets.token_urlsafe(32)
    token = AccountToken(
        user_id=user.id,
        purpose=purpose,
        token_hash=_digest(raw),
        email=email,
        expires_at=now + lifetime,
        created_at=now,
    )
    db.session.add(token)
    db.session.flush()
    return raw, token


def _queue_verification(
    user: User, email: str, now: datetime, purpose: AccountTokenPurpose = AccountTokenPurpose.verify_email
):
    from peerloop.notifications.services import queue_email

    raw, token = _new_account_token(
        user,
        purpose,
        email,
        timedelta(hours=current_app.config["VERIFY_TOKEN_HOURS"]),
        now,
    )
    link = external_url("accounts.verify_email", token=raw)
    return queue_email(
        to=email,
        template="verify_email",
        context={"user": user, "link": link, "hours": current_app.config["VERIFY_TOKEN_HOURS"]},
        idempotency_key=f"verify:{token.id}",
        user_id=user.id,
        redact_after_send=True,
    )


def resend_verification(user: User, *, now: datetime) -> bool:
    """Send a new verification link. Returns False when the address is already verified."""
    if user.email_verified:
        return False
    email_row = _queue_verification(user, user.email, now)
    db.session.commit()
    jobs.enqueue(_send_email_job(), email_row.id)
    return True


def _consume_token(raw: str, purposes: tuple[AccountTokenPurpose, ...], now: datetime) -> AccountToken:
    """Find a live token and mark it used, under a row lock so it works once only.

    :raise ValidationError: ``invalid_token`` when unknown, used or expired.
    """
    token = db.session.scalar(
        for_update(
            sa.select(AccountToken).where(
                AccountToken.token_hash == _digest(raw or ""), AccountToken.purpose.in_(purposes)
            )
        )
    )
    if token is None or token.used_at is not None or token.expires_at <= now:
        raise ValidationError(
            "This link has expired or was already used. Ask for a new one.",
            code="invalid_token",
            fields={"token": "This link has expired or was already used."},
        )
    # The UPDATE … WHERE used_at IS NULL guards against two concurrent uses on
    # databases that ignore FOR UPDATE (SQLite).
    claimed = db.session.execute(
        sa.update(AccountToken)
        .where(AccountToken.id == token.id, AccountToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise ValidationError(
            "This link was already used.", code="invalid_token", fields={"token": "This link was already used."}
        )
    db.session.refresh(token)
    return token


def verify_email(raw_token: str, *, now: datetime) -> User:
    """Confirm an address from its emailed link; a change_email link also switches to it.

    A verify link for an address the account no longer has (an old signup link
    after an email change) is refused: it must never switch the address back.

    :raise ValidationError: ``invalid_token``.
    :raise Conflict: ``email_taken`` when someone took the new address meanwhile.
    """
    token = _consume_token(raw_token, (AccountTokenPurpose.verify_email, AccountTokenPurpose.change_email), now)
    user = db.session.get(User, token.user_id)
    stale = token.purpose == AccountTokenPurpose.verify_email and token.email != (user.email if user else None)
    if user is None or user.is_deleted or stale:
        db.session.rollback()
        raise ValidationError("This link is no longer valid.", code="invalid_token")
    if token.email != user.email:
        if _email_taken(token.email, except_user=user.id):
            db.session.rollback()
            raise Conflict("That email address now belongs to another account.", code="email_taken")
        user.email = token.email
        # Links sent to the old address (verify, reset) must not outlive it.
        _end_open_tokens(user, now)
    user.email_verified = True
    user.updated_at = now
    db.session.commit()
    return user


def _end_open_tokens(user: User, now: datetime, purposes: tuple[AccountTokenPurpose, ...] | None = None) -> None:
    """Mark the user's unused links used, so none outlives a password or email change."""
    stmt = (
        sa.update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if purposes is not None:
        stmt = stmt.where(AccountToken.purpose.in_(purposes))
    db.session.execute(stmt)


# --- login and API tokens ----------------------------------------------------


def start_login_session(user: User, *, now: datetime) -> User:
    """Open a server-side login for a browser; the caller then hands ``user`` to Flask-Login.

    The session and remember-me cookies carry this row's id, so ``end_login_session``
    (logout) makes a replayed cookie worthless.
    """
    login = LoginSession(
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(seconds=current_app.config["REMEMBER_COOKIE_DURATION"]),
    )
    db.session.add(login)
    db.session.commit()
    user.login_session_id = login.id
    return user


def user_for_login_session(user_id: uuid.UUID, login_id: uuid.UUID, *, now: datetime) -> User | None:
    """The user of a live login session, or None (ended, expired, deleted account)."""
    user = db.session.scalar(
        sa.select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            User.id == user_id,
            User.deleted_at.is_(None),
            LoginSession.id == login_id,
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > now,
        )
    )
    if user is not None:
        user.login_session_id = login_id
    return user


def end_login_session(login_id: uuid.UUID | None, *, now: datetime) -> None:
    """Logout: this login's cookies stop working, wherever they were copied to."""
    if login_id is None:
        return
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.id == login_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _end_all_login_sessions(user: User, now: datetime) -> None:
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )


def authenticate(email: str, password: str, *, now: datetime) -> User:
    """The user with these credentials.

    :raise Unauthorized: ``invalid_credentials``, the same for an unknown email.
    """
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None or user.is_deleted:
        if "hash" not in _DUMMY_HASH:
            _DUMMY_HASH["hash"] = hash_password(secrets.token_hex(8))
        verify_password(_DUMMY_HASH["hash"], password or "")
        raise Unauthorized("Email or password is incorrect.", code="invalid_credentials")
    if not verify_password(user.password_hash, password or ""):
        raise Unauthorized("Email or password is incorrect.", code="invalid_credentials")
    user.last_login_at = now
    db.session.commit()
    return user


def issue_api_token(user: User, *, now: datetime) -> str:
    """A new bearer token for the API; only its hash is kept."""
    raw = secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_digest(raw),
            expires_at=now + timedelta(days=current_app.config["API_TOKEN_DAYS"]),
            created_at=now,
        )
    )
    db.session.commit()
    return raw


def user_for_api_token(raw: str, *, now: datetime) -> User | None:
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(raw)))
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    user = db.session.get(User, token.user_id)
    if user is None or user.is_deleted:
        return None
    return user


def revoke_api_token(raw: str, *, now: datetime) -> None:
    db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.token_hash == _digest(raw), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.commit()


def _revoke_all_api_tokens(user: User, now: datetime) -> None:
    db.session.execute(
        sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )


# --- password reset and change -----------------------------------------------


def queue_password_reset(email: str) -> None:
    """Ask for a reset link, from a page or the API. Says nothing either way.

    The request does the same work whether or not the address has an account
    (one job, run after the response when jobs are inline): its timing must not
    tell who has one. The job looks the address up.
    """
    jobs.enqueue_after_response(password_reset_job, normalise_email(email))


def password_reset_job(email: str) -> None:
    request_password_reset(email, now=utcnow())


def request_password_reset(email: str, *, now: datetime) -> None:
    """Email a single-use reset link if the address has an account (the job behind ``queue_password_reset``)."""
    from peerloop.notifications.services import queue_email

    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None or user.is_deleted:
        return
    minutes = current_app.config["RESET_TOKEN_MINUTES"]
    raw, token = _new_account_token(
        user, AccountTokenPurpose.reset_password, user.email, timedelta(minutes=minutes), now
    )
    email_row = queue_email(
        to=user.email,
        template="reset_password",
        context={
            "user": user,
            "link": external_url("accounts.reset_password", token=raw),
            "minutes": minutes,
        },
        idempotency_key=f"reset:{token.id}",
        user_id=user.id,
        redact_after_send=True,
    )
    db.session.commit()
    jobs.enqueue(_send_email_job(), email_row.id)


def reset_link_is_live(raw_token: str, *, now: datetime) -> bool:
    """Whether a reset link can still be used (checked before showing its form)."""
    token = db.session.scalar(
        sa.select(AccountToken).where(
            AccountToken.token_hash == _digest(raw_token or ""),
            AccountToken.purpose == AccountTokenPurpose.reset_password,
        )
    )
    return token is not None and token.used_at is None and token.expires_at > now


def reset_password(raw_token: str, new_password: str, *, now: datetime) -> User:
    """Set a new password from a reset link; ends every session and API token.

    :raise ValidationError: ``invalid_token``, or a weak password (token not used up).
    """
    problem = password_problem(new_password or "")
    if problem:
        raise ValidationError(fields={"password": problem}, code="weak_password", message=problem)
    token = _consume_token(raw_token, (AccountTokenPurpose.reset_password,), now)
    user = db.session.get(User, token.user_id)
    if user is None or user.is_deleted:
        db.session.rollback()
        raise ValidationError("This link is no longer valid.", code="invalid_token")
    problem = password_problem(new_password, email=user.email, handle=user.handle)
    if problem:
        db.session.rollback()
        raise ValidationError(fields={"password": problem}, code="weak_password", message=problem)
    user.password_hash = hash_password(new_password)
    _end_all_login_sessions(user, now)
    # Reading the link proves control of the address.
    if token.email == user.email:
        user.email_verified = True
    user.updated_at = now
    _revoke_all_api_tokens(user, now)
    _end_open_tokens(user, now, (AccountTokenPurpose.reset_password,))
    db.session.commit()
    return user


def change_password(user: User, *, current_password: str, new_password: str, now: datetime) -> None:
    """Change the password; every browser login and all API tokens stop working.

    The caller logs the current browser in again (``start_login_session``).
    """
    if not verify_password(user.password_hash, current_password or ""):
        raise ValidationError(fields={"current_password": "That is not your current password."})
    problem = password_problem(new_password or "", email=user.email, handle=user.handle)
    if problem:
        raise ValidationError(fields={"new_password": problem})
    user.password_hash = hash_password(new_password)
    _end_all_login_sessions(user, now)
    user.updated_at = now
    _revoke_all_api_tokens(user, now)
    _end_open_tokens(user, now, (AccountTokenPurpose.reset_password,))
    db.session.commit()


def request_email_change(user: User, *, password: str, new_email: str, now: datetime) -> None:
    """Send a verification link to the new address; the email changes when it is clicked."""
    new_email = normalise_email(new_email)
    if not verify_password(user.password_hash, password or ""):
        raise ValidationError(fields={"password": "That is not your current password."})
    problem = email_problem(new_email)
    if problem:
        raise ValidationError(fields={"new_email": problem})
    if new_email == user.email:
        raise ValidationError(fields={"new_email": "That is already your email address."})
    if _email_taken(new_email):
        raise Conflict(
            "That email address belongs to another account.",
            code="email_taken",
            fields={"new_email": "That email address belongs to another account."},
        )
    # Only the latest requested address can be confirmed.
    _end_open_tokens(user, now, (AccountTokenPurpose.change_email,))
    email_row = _queue_verification(user, new_email, now, AccountTokenPurpose.change_email)
    db.session.commit()
    jobs.enqueue(_send_email_job(), email_row.id)


# --- profile settings and deletion -------------------------------------------


def _url_problem(url: str) -> str | None:
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc or len(url) > 500:
        return "Enter a full web address starting with https://"
    return None


def update_profile(user: User, data: dict, *, now: datetime) -> User:
    """Update the public profile. Keys absent from ``data`` are left as they are."""
    limits = {"name": NAME_MAX, "title": 120, "bio_short": 160, "bio": BIO_MAX, "teaching_philosophy": BIO_MAX}
    fields: dict[str, str] = {}
    clean: dict = {}
    for key, limit in limits.items():
        if key in data:
            value = (data[key] or "").strip()
            if len(value) > limit:
                fields[key] = f"Use at most {limit} characters."
            clean[key] = value or None
    if "name" in clean and not clean["name"]:
        fields["name"] = "Enter your name."
    for key in ("avatar_url", "website"):
        if key in data:
            value = (data[key] or "").strip()
            if value and (problem := _url_problem(value)):
                fields[key] = problem
            clean[key] = value or None
    if "timezone" in data:
        tz = (data["timezone"] or "").strip()
        if not timezones.is_valid_timezone(tz):
            fields["timezone"] = "Choose a time zone from the list."
        clean["timezone"] = tz
    if "privacy_public" in data:
        clean["privacy_public"] = bool(data["privacy_public"])
    interests = None
    if "interests" in data:
        raw = data["interests"]
        items = raw.split(",") if isinstance(raw, str) else list(raw or [])
        interests = []
        for item in items:
            tag = str(item).strip().lower()
            if tag and tag not in interests:
                interests.append(tag)
        if len(interests) > MAX_INTERESTS:
            fields["interests"] = f"Choose at most {MAX_INTERESTS} interests."
        elif any(len(tag) > 50 for tag in interests):
            fields["interests"] = "Keep each interest under 50 characters."
    if fields:
        raise ValidationError(fields=fields)
    for key, value in clean.items():
        setattr(user, key, value)
    if interests is not None:
        # Keep the rows that stay; a wholesale replace would insert a tag again
        # before deleting its old row and trip the (user_id, tag) constraint.
        kept = {row.tag: row for row in user.interests}
        user.interests = [kept.get(tag) or UserInterest(tag=tag) for tag in interests]
    user.updated_at = now
    db.session.commit()
    return user


def delete_account(user: User, *, password: str, now: datetime) -> None:
    """Remove personal data and close the account. Money records (enrollments,
    and later transactions and payouts) keep pointing at the anonymised row."""
    from peerloop.catalog.models import Course
    from peerloop.certification.models import StudentTeacher
    from peerloop.notifications.models import Notification, OutboundEmail

    if not verify_password(user.password_hash, password or ""):
        raise ValidationError(fields={"password": "That is not your current password."})
    tag = user.id.hex[:12]
    user.email = f"deleted-{user.id.hex}@deleted.invalid"
    user.handle = f"deleted_{tag}"
    user.name = "Deleted user"
    for attr in ("title", "avatar_url", "bio", "bio_short", "teaching_philosophy", "website", "stripe_account_id"):
        setattr(user, attr, None)
    user.password_hash = "!deleted"  # no password verifies against this
    user.privacy_public = False
    user.email_verified = False
    user.is_student_teacher = False
    user.is_creator = user.is_admin = user.is_moderator = False
    user.role = PrimaryRole.student
    user.timezone = "UTC"
    user.last_login_at = None
    user.marketing_opt_out = True
    _end_all_login_sessions(user, now)
    user.deleted_at = now
    user.updated_at = now
    user.interests = []
    user.expertise = []
    user.qualifications = []
    _revoke_all_api_tokens(user, now)
    db.session.execute(sa.delete(AccountToken).where(AccountToken.user_id == user.id))
    db.session.execute(sa.delete(Notification).where(Notification.user_id == user.id))
    db.session.execute(sa.update(StudentTeacher).where(StudentTeacher.user_id == user.id).values(is_active=False))
    # Their courses leave the catalog; students who bought them keep their enrollments.
    db.session.execute(
        sa.update(Course).where(Course.creator_id == user.id).values(is_active=False, is_retired=True, updated_at=now)
    )
    # Emails we sent them carried their address and name.
    db.session.execute(
        sa.update(OutboundEmail)
        .where(OutboundEmail.user_id == user.id)
        .values(
            to_address=user.email, subject="[deleted]", text_body="[deleted]", html_body="[deleted]", attachments=[]
        )
    )
    db.session.commit()


def create_admin(*, email: str, password: str, name: str, handle: str, now: datetime) -> User:
    """Make an admin account (verified), or promote an existing one with that email."""
    existing = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if existing is not None:
        existing.is_admin = True
        existing.role = PrimaryRole.admin
        db.session.commit()
        return existing
    problem = password_problem(password, email=email, handle=handle)
    fields = {
        k: v
        for k, v in (
            ("email", email_problem(normalise_email(email))),
            ("handle", handle_problem(normalise_handle(handle))),
            ("password", problem),
        )
        if v
    }
    if fields:
        raise ValidationError(fields=fields)
    if _handle_taken(normalise_handle(handle)):
        raise Conflict("That handle is taken.", code="handle_taken", fields={"handle": "That handle is taken."})
    user = User(
        email=normalise_email(email),
        password_hash=hash_password(password),
        name=name.strip() or "Admin",
        handle=normalise_handle(handle),
        is_admin=True,
        role=PrimaryRole.admin,
        email_verified=True,
        created_at=now,
        updated_at=now,
    )
    db.session.add(user)
    db.session.commit()
    return user


def roles_of(user: User) -> list[str]:
    """The API's role list: everyone is a student; S-T from active StudentTeacher rows."""
    from peerloop.certification.models import StudentTeacher

    roles = ["student"]
    teaches = db.session.scalar(
        sa.select(StudentTeacher.id)
        .where(StudentTeacher.user_id == user.id, StudentTeacher.is_active.is_(True))
        .limit(1)
    )
    if teaches is not None:
        roles.append("student_teacher")
    if user.is_creator:
        roles.append("creator")
    if user.is_admin:
        roles.append("admin")
    if user.is_moderator:
        roles.append("moderator")
    return roles


ADMIN_SETTABLE_FLAGS = {"is_creator", "is_moderator", "email_verified"}


def set_flag_for_users(user_ids: list, flag: str, value: bool, *, acting: User, now: datetime) -> int:
    """A console bulk action: set one role or status flag on many users."""
    if flag not in ADMIN_SETTABLE_FLAGS:
        raise ValueError(f"flag {flag!r} cannot be set in bulk")
    ids = unique_ids(user_ids)
    if not ids:
        return 0
    count = db.session.execute(
        sa.update(User).where(User.id.in_(ids), User.deleted_at.is_(None)).values({flag: value, "updated_at": now})
    ).rowcount
    db.session.commit()
    return count
