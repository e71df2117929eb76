"""Static files: a page links them by their content's fingerprint, and that URL is cached for a year."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from flask import Flask, url_for

from peerloop import assets

STATIC = Path(__file__).resolve().parent.parent / "static"


def _sha256_10(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


def test_a_page_links_the_stylesheet_by_its_content_and_that_url_is_kept_a_year(client):
    expected = _sha256_10((STATIC / "css" / "site.css").read_bytes())
    html = client.get("/").get_data(as_text=True)
    link = re.search(r'<link rel="stylesheet" href="(/static/css/site\.css\?v=([0-9a-f]+))"', html)
    assert link, "site.css is not linked with ?v="
    assert link.group(2) == expected

    response = client.get(link.group(1))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.get_data() == (STATIC / "css" / "site.css").read_bytes()


def test_without_v_or_with_an_old_v_the_file_stays_revalidatable(client):
    for url in ("/static/css/site.css", "/static/css/site.css?v=0123456789"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, no-cache"
        etag = response.headers["ETag"]
        assert etag and response.headers.get("Last-Modified")

        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.get_data() == b""
        assert again.headers["Cache-Control"] == "public, no-cache"


def test_a_missing_file_gets_no_v_and_answers_404(app, client):
    with app.test_request_context("/"):
        assert url_for("static", filename="css/no-such-file.css") == "/static/css/no-such-file.css"
    assert client.get("/static/css/no-such-file.css?v=0123456789").status_code == 404
    assert client.get("/static/../config.py").status_code == 404


def _small_app(folder: Path, *, debug: bool) -> Flask:
    small = Flask(__name__, static_folder=str(folder), static_url_path="/static")
    small.debug = debug
    assets.init_app(small)
    return small


def _rewrite(path: Path, data: bytes) -> None:
    """New bytes and a modification time that surely differs (coarse file-system clocks)."""
    before = path.stat().st_mtime_ns
    path.write_bytes(data)
    os.utime(path, ns=(before + 5_000_000_000, before + 5_000_000_000))


def test_in_debug_mode_a_changed_file_gets_a_new_v(tmp_path):
    sheet = tmp_path / "app.css"
    sheet.write_bytes(b"body { color: black; }\n")
    small = _small_app(tmp_path, debug=True)
    with small.test_request_context("/"):
        first = url_for("static", filename="app.css")
    assert first == f"/static/app.css?v={_sha256_10(sheet.read_bytes())}"

    navy = b"body { color: navy; }\n"
    _rewrite(sheet, navy)
    with small.test_request_context("/"):
        second = url_for("static", filename="app.css")
    assert second == f"/static/app.css?v={_sha256_10(navy)}"
    assert second != first

    client = small.test_client()
    assert client.get(second, buffered=True).headers["Cache-Control"] == "public, max-age=31536000, immutable"
    old = client.get(first, buffered=True)  # a page from before the change: the new bytes, to be checked again
    assert old.get_data() == navy
    assert old.headers["Cache-Control"] == "public, no-cache"


def test_outside_debug_mode_each_file_is_hashed_once(tmp_path):
    sheet = tmp_path / "app.css"
    one = b"one\n"
    sheet.write_bytes(one)
    small = _small_app(tmp_path, debug=False)
    with small.test_request_context("/"):
        first = url_for("static", filename="app.css")
        _rewrite(sheet, b"two\n")
        assert url_for("static", filename="app.css") == first
    assert first == f"/static/app.css?v={_sha256_10(one)}"
