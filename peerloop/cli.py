"""flask seed-demo, create-admin, sweep."""

from __future__ import annotations

import getpass
import logging
import signal
import time

import click
from flask import Flask
from flask.cli import with_appcontext

from peerloop.db import utcnow
from peerloop.errors import DomainError

log = logging.getLogger("peerloop.sweep")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(sweep)


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Load the demo data (idempotent) and print the demo logins."""
    from peerloop.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo

    summary = load_demo(now=utcnow())
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
        user = services.create_admin(email=email, password=password, name=name, handle=handle, now=utcnow())
    except DomainError as error:
        details = "; ".join(f"{k}: {v}" for k, v in error.fields.items()) or error.message
        raise click.ClickException(details) from error
    click.echo(f"{user.email} (@{user.handle}) is an admin.")


def run_sweep(now) -> dict:
    """One pass of the periodic work. Every step is idempotent; two at once do no harm.

    Steps arrive with the features that need them (reminders, feedback prompts,
    webhook retries, expired checkouts).
    """
    from peerloop.notifications.services import retry_unsent_emails

    return {"heartbeat": now.isoformat(), "emails_retried": retry_unsent_emails(now)}


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
            result = run_sweep(utcnow())
            click.echo(f"sweep: {result}")
        except Exception:  # a failed pass must not stop the clock
            log.exception("sweep pass failed")
        if not every or stop["now"]:
            return
        while not stop["now"] and time.monotonic() - started < every:
            time.sleep(0.5)
        if stop["now"]:
            return
