"""A reset request does the same work for any address (item 6); one mailbox is one account (item 8)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import current_app

from peerloop.accounts import services
from peerloop.extensions import db
from peerloop.notifications.models import OutboundEmail
from tests.conftest import run_jobs


class Statements:
    """The SQL a block of code sends, with its literal values left out."""

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(statement)

    def __enter__(self):
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self)


def reset_request(client, email: str):
    """POST the reset request and return (response, SQL the request itself ran); the job runs after."""
    with Statements() as statements:
        response = client.post("/api/auth/password-reset", json={"email": email}, buffered=False)
        body = response.get_data()  # the response is complete here, as the client receives it
    assert response.status_code == 202 and body
    response.close()  # the server closes the response: inline jobs run now
    run_jobs(current_app)
    return statements.seen


def test_a_reset_request_does_the_same_work_for_known_and_unknown_addresses(client, make):
    known = make.user()
    for_known = reset_request(client, known.email)
    for_unknown = reset_request(client, "nobody-here@example.com")
    assert for_known == for_unknown  # the same statements, in the same order
    # The lookup happens in the job, not the request: the address appears in no statement the request ran.
    assert not any("users" in statement for statement in for_known)
    # ... and the job did its work for the known address only.
    to_known = db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboundEmail).where(OutboundEmail.to_address == known.email)
    )
    to_nobody = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboundEmail)
        .where(OutboundEmail.to_address == "nobody-here@example.com")
    )
    assert (to_known, to_nobody) == (1, 0)


def test_the_reset_page_answers_the_same_either_way(client, make):
    from tests.conftest import csrf_from

    known = make.user()
    answers = []
    for email in (known.email, "nobody-here@example.com"):
        page = client.get("/forgot-password").get_data(as_text=True)
        response = client.post("/forgot-password", data={"email": email, "csrf_token": csrf_from(page)})
        answers.append((response.status_code, response.headers["Location"]))
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("u@example.com", "u@ｅｘａｍｐｌｅ.com"),  # fullwidth letters
        ("u@bücher.example", "u@xn--bcher-kva.example"),
        ("u@xn--bcher-kva.example", "u@BÜCHER.example"),
        ("Mixed.Case@Example.com", "mixed.case@example.COM"),
    ],
)
def test_two_spellings_of_one_mailbox_are_one_account(client, first, second):
    def signup(email: str, handle: str):
        return client.post(
            "/api/auth/signup",
            json={
                "email": email,
                "password": "a long pass phrase",
                "name": "U",
                "handle": handle,
                "accept_terms": True,
            },
        )

    assert signup(first, "first_spelling").status_code == 201
    response = signup(second, "second_spelling")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "email_taken"
    # Either spelling logs in.
    login = client.post("/api/auth/login", json={"email": second, "password": "a long pass phrase"})
    assert login.status_code == 200


def test_the_stored_form_is_the_idna_one():
    assert services.normalise_email(" U@Bücher.Example ") == "u@xn--bcher-kva.example"
    assert services.normalise_email("u@ｅｘａｍｐｌｅ.com") == "u@example.com"
    assert services.normalise_email("not an address") == "not an address"
