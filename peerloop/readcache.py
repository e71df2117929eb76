"""Shared reads: what every anonymous visitor sees alike, made once and served again until anything changes.

Three parts:

- **The content version**: one value that every write changes. The services reach it through their
  commit: the session notes each flush and each bulk statement that touches a table a public read
  shows (courses, curriculum, users, teachers, availability, sessions, ratings …), and after the
  commit :func:`content_changed` sets a new version. No write path can forget it, and writes no
  public page shows (notifications, emails, the ledger, webhooks, logins) leave the cache alone.
- **Shared responses** (:func:`shared`): a public GET view's answer to a request that carries no
  session cookie, no remember cookie and no ``Authorization`` is stored with the version it was made
  under (and, for answers that depend on the time, the clock's minute). It is served again only while
  both still hold, with ``ETag``, ``Last-Modified``, ``Cache-Control: public, no-cache`` (any cache in
  front may keep it, but must ask again, and gets a 304 on a match) and ``Vary: Cookie, Authorization``.
  The version is read before the view reads the database, so an answer made from data older than a
  change is always stored under the version before it, and never served after it.
- **Fragments** (:func:`fragment`): pieces of a page that do not depend on who is looking (a course's
  description and curriculum), cached the same way for logged-in visitors, whose own header, buttons,
  times and slots are rendered fresh.

Everyone else (logged in, a bearer token, an opened form) gets a fresh answer with its own ``ETag``
and ``Cache-Control: private, no-cache``. Drafts and private details are never stored: a draft is a
404 to anonymous visitors, and a private profile's anonymous page holds only its public part.

The store is Redis (``REDIS_URL``) in production, shared by every process; without it, entries live
in each process's memory and the version in a small file beside the SQLite database, so the web
server, the sweep and the CLI still agree on it. Redis being down costs speed, never correctness:
answers are then made fresh.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, has_app_context, make_response, request
from flask import session as browser_session
from flask.sessions import SecureCookieSessionInterface
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# Tables no public read shows: writing them keeps every cached answer.
PRIVATE_TABLES = frozenset(
    {
        "account_tokens",
        "api_tokens",
        "calendar_feeds",
        "certification_requests",
        "checkouts",
        "disputes",
        "failed_jobs",
        "login_sessions",
        "module_progress",
        "notifications",
        "outbound_emails",
        "payment_splits",
        "payout_batches",
        "payout_transfers",
        "payouts",
        "refunds",
        "sandbox_objects",
        "session_attendance",
        "session_requests",
        "session_resources",
        "teach_applications",
        "teacher_changes",
        "transactions",
        "webhook_events",
    }
)
# Columns of public tables that no public read shows: an update of only these keeps the cache.
PRIVATE_COLUMNS = {
    "users": frozenset(
        {
            "email",
            "password_hash",
            "timezone",
            "role",
            "is_admin",
            "is_moderator",
            "email_verified",
            "email_status",
            "marketing_opt_out",
            "stripe_account_id",
            "stripe_account_status",
            "stripe_payouts_enabled",
            "last_login_at",
        }
    ),
}
ENTRY_SECONDS = 600  # a bound on any entry's life, should a version change ever be lost
TIMED_ENTRY_SECONDS = 120
LOCAL_ENTRIES = 512  # per process: the embedded default serves one machine
KEY_PREFIX = "peerloop:read:"
# Settings that shape what public pages say ("Where your money goes", links).
SHAPING_CONFIG = ("SPLIT_PLATFORM_PCT", "SPLIT_CREATOR_PCT", "SPLIT_TEACHER_PCT", "PUBLIC_URL", "SITE_NAME")
VERSION_KEY = KEY_PREFIX + "version"
REDIS_TIMEOUT = 0.5  # a slow Redis must not hold a page up: past this the answer is made fresh


# --- stores -------------------------------------------------------------------------------


class Store(Protocol):
    def read(self, key: str) -> tuple[str | None, bytes | None]:
        """The current version and the entry under ``key`` (None when absent), in one round trip."""

    def write(self, key: str, entry: bytes, seconds: int) -> None: ...

    def new_version(self) -> None:
        """Every entry made before this call is dead."""


def _token() -> str:
    return secrets.token_hex(8)  # random, not a counter: a version lost and remade never repeats an old one


class RedisStore:
    def __init__(self, url: str):
        self.redis = Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)

    def read(self, key: str) -> tuple[str | None, bytes | None]:
        version, entry = self.redis.mget(VERSION_KEY, key)
        if version is None:  # never set, or flushed: start one (whoever sets it first wins)
            self.redis.set(VERSION_KEY, _token(), nx=True)
            return None, None
        return version.decode(), entry

    def write(self, key: str, entry: bytes, seconds: int) -> None:
        self.redis.set(key, entry, ex=seconds)

    def new_version(self) -> None:
        self.redis.set(VERSION_KEY, _token())


class LocalStore:
    """Entries in this process's memory (least recently used dropped first); the version in a file
    that every process on the machine reads, or in memory when there is no file to share."""

    def __init__(self, version_file: Path | None, capacity: int = LOCAL_ENTRIES):
        self.version_file = version_file
        self.capacity = capacity
        self.entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.lock = threading.Lock()
        self.memory_version = _token()

    def _version(self) -> str:
        if self.version_file is None:
            return self.memory_version
        try:
            return self.version_file.read_text() or self._write_version()
        except FileNotFoundError:
            return self._write_version()

    def _write_version(self) -> str:
        version = _token()
        if self.version_file is None:
            self.memory_version = version
            return version
        # Write then rename: a reader sees the old version or the new one, never half of one.
        temporary = self.version_file.with_name(f"{self.version_file.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(version)
        os.replace(temporary, self.version_file)
        return version

    def read(self, key: str) -> tuple[str | None, bytes | None]:
        version = self._version()
        with self.lock:
            found = self.entries.get(key)
            if found is None:
                return version, None
            expires, entry = found
            if expires < time.monotonic():
                del self.entries[key]
                return version, None
            self.entries.move_to_end(key)
            return version, entry

    def write(self, key: str, entry: bytes, seconds: int) -> None:
        with self.lock:
            self.entries[key] = (time.monotonic() + seconds, entry)
            self.entries.move_to_end(key)
            while len(self.entries) > self.capacity:
                self.entries.popitem(last=False)

    def new_version(self) -> None:
        # The entries stay until they are read or pushed out: a remade answer compares itself with
        # its stale one to move Last-Modified on (see ``shared``).
        self._write_version()


def _version_file(app: Flask) -> Path | None:
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).with_name(Path(url.database).name + ".read-version")
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return Path(app.instance_path) / "read-version"


def store() -> Store:
    return current_app.extensions["read_cache"]


# --- the version ----------------------------------------------------------------------------


def content_changed() -> None:
    """Something a public read shows has changed: no answer made before now is served again.

    Called after the commit of any write to a table a public read shows (see ``_note_*`` below),
    by the sweep and the CLI as much as by the web. Should Redis refuse, the entries it holds die
    within ``ENTRY_SECONDS``.
    """
    try:
        store().new_version()
    except RedisError:
        log.exception("could not change the read cache's version: cached answers may be stale for a while")


def _shows_publicly(table_name: str | None) -> bool:
    return table_name is not None and table_name not in PRIVATE_TABLES


def _changes_what_shows(instance) -> bool:
    """Whether an updated row changed a column a public read may show (a login's timestamp does not)."""
    table = getattr(type(instance), "__tablename__", None)
    if not _shows_publicly(table):
        return False
    private = PRIVATE_COLUMNS.get(table, frozenset()) | {"updated_at"}  # no public page shows when a row changed
    state = sa.inspect(instance)
    return any(attr.key not in private and attr.history.has_changes() for attr in state.attrs)


def _note_flush(session: Session, _context) -> None:
    created_or_deleted = (getattr(type(o), "__tablename__", None) for o in (*session.new, *session.deleted))
    if any(_shows_publicly(table) for table in created_or_deleted) or any(
        _changes_what_shows(o) for o in session.dirty
    ):
        session.info["read_cache_stale"] = True


def _note_bulk(state):
    """``session.execute(sa.update(…))`` and friends change rows without a flush. Run here, so that
    an UPDATE or DELETE that matched no row (the sweep's idle passes) keeps the cache."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    table = getattr(state.statement, "table", None)
    if not _shows_publicly(getattr(table, "name", None)):
        return None
    result = state.invoke_statement()
    if state.is_insert or getattr(result, "rowcount", -1) != 0:  # -1: the driver cannot say
        state.session.info["read_cache_stale"] = True
    return result


def _after_commit(session: Session) -> None:
    if session.info.pop("read_cache_stale", False) and has_app_context() and "read_cache" in current_app.extensions:
        content_changed()


def _after_rollback(session: Session) -> None:
    if not session.in_transaction():  # the whole transaction, not a savepoint, is gone
        session.info.pop("read_cache_stale", None)


# --- shared responses -----------------------------------------------------------------------


def is_anonymous_request() -> bool:
    """No session, no remember-me cookie, no bearer token: the answer cannot depend on who asks."""
    config = current_app.config
    cookies = request.cookies
    return not (
        config.get("SESSION_COOKIE_NAME", "session") in cookies
        or config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies
        or "Authorization" in request.headers
    )


def _minute() -> int | None:
    from peerloop import clock

    return int(clock.now().timestamp() // 60)


@dataclass
class Entry:
    version: str
    minute: int | None
    etag: str
    last_modified: int  # epoch seconds
    mimetype: str
    body: bytes

    def dump(self) -> bytes:
        head = {"v": self.version, "m": self.minute, "e": self.etag, "t": self.last_modified, "c": self.mimetype}
        return json.dumps(head, separators=(",", ":")).encode() + b"\n" + self.body

    @classmethod
    def load(cls, raw: bytes | None) -> Entry | None:
        if not raw:
            return None
        try:
            head, body = raw.split(b"\n", 1)
            fields = json.loads(head)
            return cls(fields["v"], fields["m"], fields["e"], int(fields["t"]), fields["c"], body)
        except (ValueError, KeyError, TypeError):
            return None  # not ours, or from another release: made again


def _etag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def _not_modified(etag: str, last_modified: int | None) -> bool:
    """Whether the asker's copy is this one: ``If-None-Match`` decides when sent (RFC 9110 §13.2.2)."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag)  # weak comparison (RFC 9110 §13.1.2): a proxy may weaken it
    since = request.if_modified_since
    return last_modified is not None and since is not None and last_modified <= since.timestamp()


def _public_headers(response: Response, etag: str, last_modified: int) -> Response:
    headers = response.headers
    headers["ETag"] = f'"{etag}"'
    headers["Last-Modified"] = formatdate(last_modified, usegmt=True)
    headers["Cache-Control"] = "public, no-cache"
    if "Vary" in headers:
        response.vary.update(("Cookie", "Authorization"))
    else:
        headers["Vary"] = "Cookie, Authorization"
    return response


def _conditional(response: Response, etag: str, last_modified: int | None) -> Response:
    if request.method in ("GET", "HEAD") and _not_modified(etag, last_modified):
        # Content-Type stays: the browser lays a 304's headers over its copy, so the 304 must get the
        # same Content-Security-Policy as the page (security.py picks it by type), not the one for JSON.
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Length", None)
    return response


def _served(entry: Entry) -> Response:
    response = current_app.response_class(entry.body, status=200, mimetype=entry.mimetype)
    return _conditional(_public_headers(response, entry.etag, entry.last_modified), entry.etag, entry.last_modified)


def _private_etag(body: bytes) -> str:
    """The ETag of one person's page. Its CSRF token is signed afresh each second, so the signed form
    is left out and the session's own token (which every signed form of it carries) counted instead:
    a page that differs only by the signature is the same page, and its old token still posts."""
    signed = g.get("csrf_token")
    if signed:
        body = body.replace(signed.encode(), b"") + b"\0" + str(browser_session.get("csrf_token", "")).encode()
    return _etag(body)


def _private(response: Response) -> Response:
    """A fresh answer for one person: validators so a repeat costs no bytes, and no shared cache."""
    if response.status_code == 200 and not response.direct_passthrough:
        etag = _private_etag(response.get_data())
        response.set_etag(etag)
        response.headers.setdefault("Cache-Control", "private, no-cache")
        response.vary.update(("Cookie", "Authorization"))
        return _conditional(response, etag, None)
    return response


def release_fingerprint(root: Path) -> str:
    """A hash of the code, templates and static files: another release never reads this one's entries
    (both run side by side during a rolling deploy)."""
    digest = hashlib.blake2b(digest_size=8)
    for folder in ("peerloop", "templates", "static"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _name(*parts: str) -> str:
    config = current_app.config
    shaping = [current_app.extensions["read_cache_release"], *(str(config.get(name)) for name in SHAPING_CONFIG)]
    return KEY_PREFIX + hashlib.blake2b("\n".join([*shaping, *parts]).encode(), digest_size=16).hexdigest()


def _key(params: frozenset[str]) -> str | None:
    """The entry's name: the release, the settings pages show, host, path and the query the view
    reads; None when the query holds anything else (so nobody can fill the store with made-up query
    strings, and nothing a view reads is left out)."""
    args = request.args
    if any(name not in params for name in args):
        return None
    query = (f"{name}={value}" for name in sorted(args) for value in args.getlist(name))
    return _name(request.host, request.path, *query)


def _enabled() -> bool:
    return bool(current_app.config.get("READ_CACHE", True))


@dataclass
class _Lookup:
    """What the store holds for this request: read once, before anything else reads the database."""

    key: str | None
    version: str | None = None
    stale: Entry | None = None
    minute: int | None = None

    @property
    def hit(self) -> bool:
        entry = self.stale
        return entry is not None and entry.version == self.version and entry.minute == self.minute


def _look_up(params: frozenset[str], timed: bool) -> _Lookup:
    lookup = _Lookup(_key(params))
    if lookup.key is None:
        return lookup
    try:
        lookup.version, raw = store().read(lookup.key)
    except RedisError:
        log.warning("read cache unavailable; answering fresh", exc_info=True)
        return lookup
    lookup.stale = Entry.load(raw)
    lookup.minute = _minute() if timed else None
    return lookup


def serve_early():
    """The first ``before_request``: a hit is answered before any other hook or the view runs (a
    stored answer was made for this very path and query, which passed them then); a miss leaves its
    lookup for the view's wrapper, so the version is still read before anything reads the database."""
    if request.method not in ("GET", "HEAD"):
        return None
    settings = getattr(current_app.view_functions.get(request.endpoint), "read_cache_settings", None)
    if settings is None or not (_enabled() and is_anonymous_request()):
        return None
    lookup = _look_up(*settings)
    if lookup.hit:
        return _served(lookup.stale)
    g.read_cache_lookup = lookup
    return None


def shared(view: Callable | None = None, *, params: Iterable[str] = (), timed: bool = False):
    """A public read: anonymous answers are cached (see the module's docstring).

    ``params``: the query arguments the view reads (any other makes the answer fresh);
    ``timed``: the answer depends on the time (free slots, notice, "next available"), so an entry
    lives within the clock's minute.
    """
    if view is None:
        return functools.partial(shared, params=params, timed=timed)
    settings = (frozenset(params), timed)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not (_enabled() and is_anonymous_request()):
            return _private(make_response(view(*args, **kwargs)))
        lookup = g.pop("read_cache_lookup", None) or _look_up(*settings)
        if lookup.hit:
            return _served(lookup.stale)
        response = make_response(view(*args, **kwargs))
        if response.status_code != 200 or response.direct_passthrough or browser_session.modified:
            return response  # errors, streams and an answer that starts a session are nobody else's
        body = response.get_data()
        etag = _etag(body)
        made = math.floor(time.time())
        stale = lookup.stale
        if stale is not None and stale.etag != etag and stale.last_modified >= made:
            made = stale.last_modified + 1  # a change within the same second still moves Last-Modified on
        if lookup.version is not None:
            entry = Entry(lookup.version, lookup.minute, etag, made, response.mimetype, body)
            try:
                store().write(lookup.key, entry.dump(), TIMED_ENTRY_SECONDS if timed else ENTRY_SECONDS)
            except RedisError:
                log.warning("could not store a read in the cache", exc_info=True)
        return _conditional(_public_headers(response, etag, made), etag, made)

    wrapper.read_cache_settings = settings
    return wrapper


# --- fragments ------------------------------------------------------------------------------


def fragment(name: str, render: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Pieces of HTML that look the same to everyone, under ``name`` (include the ids they show):
    ``render()`` makes them when the current version has none. It must read what it shows itself
    (rows loaded before this call may predate the version it is stored under)."""
    key = _name("fragment", name)
    version = None
    if _enabled():
        try:
            version, raw = store().read(key)
        except RedisError:
            log.warning("read cache unavailable; rendering fresh", exc_info=True)
        else:
            if raw:
                try:
                    made_under, pieces = json.loads(raw)
                except ValueError:
                    made_under = None
                if made_under == version:
                    return pieces
    pieces = render()
    if version is not None:
        try:
            store().write(key, json.dumps([version, pieces]).encode(), ENTRY_SECONDS)
        except RedisError:
            log.warning("could not store a fragment in the cache", exc_info=True)
    return pieces


# --- wiring ---------------------------------------------------------------------------------


class CookieOnlyWhenUsed(SecureCookieSessionInterface):
    """Flask's signed-cookie session, minus the signer it builds for every request: a request with
    no session cookie gets an empty session straight away (most anonymous reads)."""

    def open_session(self, app: Flask, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    url = app.config.get("READ_CACHE_REDIS_URL") or app.config.get("REDIS_URL")
    app.extensions["read_cache"] = RedisStore(url) if url else LocalStore(_version_file(app))
    app.extensions["read_cache_release"] = release_fingerprint(Path(app.root_path).parent)
    app.session_interface = CookieOnlyWhenUsed()
    app.before_request_funcs.setdefault(None, []).insert(0, serve_early)
    if not sa.event.contains(Session, "after_flush", _note_flush):
        sa.event.listen(Session, "after_flush", _note_flush)
        sa.event.listen(Session, "do_orm_execute", _note_bulk)
        sa.event.listen(Session, "after_commit", _after_commit)
        sa.event.listen(Session, "after_soft_rollback", lambda session, _previous: _after_rollback(session))

    @app.cli.command("read-cache-clear")
    def clear_command():
        """Retire every cached answer (the release phase runs this after migrating)."""
        content_changed()
        print("read cache: new version")
