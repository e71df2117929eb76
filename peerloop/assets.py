"""Static files: fingerprinted URLs and far-future caching.

Every ``url_for('static', filename=...)`` gets ``?v=<fingerprint>``, the first 10 hex digits of the
SHA-256 of the file's bytes. Each file is hashed once per process (a deploy starts new processes);
in debug mode it is hashed again when its modification time or size changes, so an edited
stylesheet shows on the next page. A file that does not exist gets no ``v`` (the page still renders;
its link answers 404 as before).

A static request whose ``v`` is the file's current fingerprint may be kept for a year without asking
again (``Cache-Control: public, max-age=31536000, immutable``): the bytes behind that URL never
change, a new file gets a new URL. Without ``v``, or with one that is not the current file's (a page
made before a deploy asking for its old stylesheet, which it now gets in its new form), the answer
stays revalidatable (``public, no-cache``) with werkzeug's ``ETag`` and ``Last-Modified``, so a
repeat is a 304.

The rule lives in the app's ``static`` view, replaced here: Flask picks a static file's max-age
from the file name alone (``get_send_file_max_age``), never from the request, and ``immutable``
is not something it sets.
"""

from __future__ import annotations

import hashlib
import os
from stat import S_ISREG

from flask import Flask, Response, current_app, request, send_from_directory
from werkzeug.security import safe_join

ONE_YEAR = 365 * 24 * 60 * 60
IMMUTABLE = f"public, max-age={ONE_YEAR}, immutable"
REVALIDATE = "public, no-cache"
DIGITS = 10


def file_fingerprint(path: str) -> str:
    """The first 10 hex digits of the SHA-256 of the file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:DIGITS]


def fingerprint(app: Flask, filename: str) -> str | None:
    """The current fingerprint of ``filename`` under the app's static folder; None when there is no
    such file (or the name points outside the folder)."""
    folder = app.static_folder
    path = safe_join(folder, filename) if folder else None
    if path is None:
        return None
    cache: dict[str, tuple[tuple[int, int], str]] = app.extensions["peerloop_assets"]
    cached = cache.get(path)
    if cached is not None and not app.debug:
        return cached[1]
    try:
        stat = os.stat(path)
    except OSError:
        return None  # not remembered: asking for made-up names must not grow the cache
    if not S_ISREG(stat.st_mode):
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        digest = file_fingerprint(path)
    except OSError:
        return None
    # A race between two threads hashes the same file twice, which is harmless.
    cache[path] = (stamp, digest)
    return digest


def _add_version(endpoint: str, values: dict) -> None:
    if endpoint != "static" or "v" in values or "filename" not in values:
        return
    digest = fingerprint(current_app, values["filename"])
    if digest is not None:
        values["v"] = digest


def send_static(filename: str) -> Response:
    """The ``static`` endpoint: the file, kept for a year when asked for by its current fingerprint."""
    app = current_app
    current = fingerprint(app, filename)
    immutable = current is not None and request.args.get("v") == current
    response = send_from_directory(app.static_folder, filename, max_age=ONE_YEAR if immutable else None)
    response.headers["Cache-Control"] = IMMUTABLE if immutable else REVALIDATE
    return response


def init_app(app: Flask) -> None:
    """Fingerprint static URLs and serve them with the caching rule above."""
    app.extensions["peerloop_assets"] = {}
    app.url_defaults(_add_version)
    if app.has_static_folder and "static" in app.view_functions:
        app.view_functions["static"] = send_static
