"""flask seed-demo, create-admin, sweep."""

from __future__ import annotations

import getpass
import logging
import signal
import time

import click
from flask import Flask
from flask.cli import with_appcontext

from peerloop import clock
from peerloop.errors import DomainError
from peerloop.extensions import db

log = logging.getLogger("peerloop.sweep")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(sweep)
    app.cli.add_command(clock_group)


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Load the demo data (idempotent) and print the demo logins."""
    from peerloop.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo

    summary = load_demo(now=clock.now())
    click.echo(f"Demo data ready: {summary}")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, description in DEMO_LOGINS:
        click.echo(f"  {email:<24} {description}")


@click.command("create-admin")
@with_appcontext
@click.option("--email", prompt=True)
@click.option("--name", default="Admin", show_default=True)
@click.option("--handle", default=None, help="Defaults to the part of the email before @.")
@click.option("--password", default=None, help="Prompted for when left out.")
def create_admin(email: str, name: str, handle: str | None, password: str | None):
    """Create an admin account, or make an existing account an admin."""
    from peerloop.accounts import services

    if password is None:
        password = getpass.getpass("Password: ")
    handle = handle or email.split("@")[0].replace(".", "_").replace("-", "_")
    try:
        user = services.create_admin(email=email, password=password, name=name, handle=handle, now=clock.now())
    except DomainError as error:
        details = "; ".join(f"{k}: {v}" for k, v in error.fields.items()) or error.message
        raise click.ClickException(details) from error
    click.echo(f"{user.email} (@{user.handle}) is an admin.")


def run_sweep(now) -> dict:
    """One pass of the periodic work. Every step is idempotent; two at once do no harm.

    Settling runs before the feedback prompts, so a session the sweep completes is asked about in
    the same pass.
    """
    from peerloop.certification.deactivation import expire_unanswered
    from peerloop.notifications.services import retry_unsent_emails
    from peerloop.payments.services import expire_stale_checkouts, resume_approved_batches
    from peerloop.scheduling.services import lapse_expired_holds
    from peerloop.video.outcomes import release_due_shares, settle_ended_sessions
    from peerloop.video.recordings import retry_recording_copies
    from peerloop.video.reminders import send_feedback_prompts, send_reminders
    from peerloop.webhooks.services import retry_unprocessed_events

    steps = {
        "emails_retried": retry_unsent_emails,
        "webhook_events_retried": retry_unprocessed_events,
        "checkouts_expired": expire_stale_checkouts,
        "holds_lapsed": lapse_expired_holds,
        "teacher_changes_expired": expire_unanswered,
        "payouts_settled": resume_approved_batches,
        "reminders_sent": send_reminders,
        "sessions_settled": settle_ended_sessions,
        "shares_released": release_due_shares,
        "feedback_prompts_sent": send_feedback_prompts,
        "recordings_copied": retry_recording_copies,
    }
    result: dict = {"heartbeat": now.isoformat()}
    for name, step in steps.items():
        try:
            result[name] = step(now)
        except Exception:  # one failing step must not stop the others, nor keep its locks
            db.session.rollback()
            log.exception("sweep step %s failed", name)
            result[name] = "failed"
    return result


@click.command("sweep")
@with_appcontext
@click.option("--every", type=int, default=0, help="Repeat every N seconds (the clock: process). 0 runs once.")
def sweep(every: int):
    """Run the periodic sweep once, or forever with --every."""
    stop = {"now": False}

    def _stop(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while True:
        started = time.monotonic()
        try:
            result = run_sweep(clock.now())
            db.session.remove()  # the next pass reads afresh (and sees a moved test clock)
            click.echo(f"sweep: {result}")
        except Exception:  # a failed pass must not stop the clock
            db.session.rollback()
            log.exception("sweep pass failed")
        if not every or stop["now"]:
            return
        while not stop["now"] and time.monotonic() - started < every:
            time.sleep(0.5)
        if stop["now"]:
            return


@click.group("clock")
def clock_group():
    """The test clock: set, advance or reset business time (never in production).

    Every process of the app (web, worker, sweep) reads it when run with TEST_CLOCK=1.
    """


def _clock_guard() -> None:
    from flask import current_app

    if current_app.config["PEERLOOP_ENV"] == "production":
        raise click.ClickException("The test clock is refused in production.")
    if not current_app.config["TEST_CLOCK"]:
        click.echo("Note: TEST_CLOCK is off here; processes started with TEST_CLOCK=1 use this time.", err=True)


@clock_group.command("set")
@with_appcontext
@click.argument("instant")
def clock_set(instant: str):
    """Freeze business time at INSTANT (ISO 8601 with an offset, e.g. 2026-12-01T09:45:00Z)."""
    from datetime import datetime

    _clock_guard()
    try:
        parsed = datetime.fromisoformat(instant.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter(f"not an ISO 8601 time: {instant!r}") from error
    if parsed.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. 2026-12-01T09:45:00Z or …+01:00")
    click.echo(f"clock: {clock.set_to(parsed).isoformat()}")


@clock_group.command("advance")
@with_appcontext
@click.argument("duration")
def clock_advance(duration: str):
    """Move business time on by DURATION (90s, 15m, 2h, 3d, or seconds) and keep it frozen there."""
    _clock_guard()
    click.echo(f"clock: {clock.advance(parse_duration(duration)).isoformat()}")


@clock_group.command("reset")
@with_appcontext
def clock_reset():
    """Return to real time."""
    _clock_guard()
    clock.reset()
    click.echo("clock: real time")


@clock_group.command("show")
@with_appcontext
def clock_show():
    """Print the stored test time, if any."""
    stored = clock.stored()
    click.echo(f"clock: {stored.isoformat()}" if stored else "clock: real time")


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str):
    from datetime import timedelta

    text = text.strip().lower()
    unit = text[-1:] if text[-1:] in DURATION_UNITS else "s"
    number = text[:-1] if text[-1:] in DURATION_UNITS else text
    try:
        amount = float(number)
    except ValueError as error:
        raise click.BadParameter(f"not a duration: {text!r} (try 90s, 15m, 2h, 3d)") from error
    return timedelta(seconds=amount * DURATION_UNITS[unit])
