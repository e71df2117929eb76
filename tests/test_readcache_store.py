"""The read cache's stores: the local one (memory + a version file every process reads) and Redis,
and what a public view does when its store fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

from peerloop import readcache
from peerloop.extensions import db
from peerloop.readcache import VERSION_KEY, Entry, LocalStore, RedisStore
from tests.catalog.test_catalog import count_queries
from tests.conftest import TEST_REDIS_URL, AuthActions

ROOT = Path(__file__).resolve().parent.parent


def entry(version: str, body: bytes = b"hello") -> bytes:
    return Entry(version, None, "etag", 1795435200, "text/plain", body).dump()


def served(store, key: str) -> bytes | None:
    """What shared() would serve for ``key``: the entry only when made under the current version."""
    version, raw = store.read(key)
    found = Entry.load(raw)
    return found.body if found is not None and found.version == version else None


def bump_in_another_process(version_file: Path) -> None:
    """What the sweep or ``flask read-cache-clear`` does from its own process."""
    code = (
        "from pathlib import Path; from peerloop.readcache import LocalStore; "
        f"LocalStore(Path({str(version_file)!r})).new_version()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


# --- LocalStore --------------------------------------------------------------------------


def test_two_local_stores_share_the_version_file(tmp_path):
    path = tmp_path / "test.db.read-version"
    web, sweep = LocalStore(path), LocalStore(path)
    version, _ = web.read("k")
    assert sweep.read("k")[0] == version
    web.write("k", entry(version), 60)
    assert served(web, "k") == b"hello"

    sweep.new_version()  # the sweep (another store) changed something

    assert web.read("k")[0] != version
    assert served(web, "k") is None
    assert web.read("k")[0] == sweep.read("k")[0]


def test_another_processs_bump_is_seen(tmp_path):
    path = tmp_path / "test.db.read-version"
    web = LocalStore(path)
    version, _ = web.read("k")
    web.write("k", entry(version), 60)
    bump_in_another_process(path)
    assert path.read_text() != version
    assert served(web, "k") is None


def test_a_missing_or_empty_version_file_starts_a_new_version(tmp_path):
    path = tmp_path / "v"
    store = LocalStore(path)
    first, _ = store.read("k")
    assert path.read_text() == first
    path.write_text("")
    second, _ = store.read("k")
    assert second and second != first
    path.unlink()
    third, _ = store.read("k")
    assert third not in (first, second) and path.read_text() == third


def test_without_a_file_the_version_lives_in_memory():
    store = LocalStore(None)
    version, _ = store.read("k")
    store.write("k", entry(version), 60)
    assert served(store, "k") == b"hello"
    store.new_version()
    assert store.read("k")[0] != version
    assert served(store, "k") is None


def test_local_entries_expire(monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr(readcache.time, "monotonic", lambda: clock["now"])
    store = LocalStore(None)
    version, _ = store.read("k")
    store.write("k", entry(version), 60)
    clock["now"] += 59
    assert served(store, "k") == b"hello"
    clock["now"] += 2
    assert store.read("k") == (version, None)
    assert "k" not in store.entries


def test_capacity_evicts_the_least_recently_used():
    store = LocalStore(None, capacity=2)
    version, _ = store.read("a")
    store.write("a", entry(version, b"A"), 60)
    store.write("b", entry(version, b"B"), 60)
    assert served(store, "a") == b"A"  # a read makes "a" the most recent
    store.write("c", entry(version, b"C"), 60)
    assert list(store.entries) == ["a", "c"]
    assert served(store, "b") is None and served(store, "a") == b"A" and served(store, "c") == b"C"
    store.write("a", entry(version, b"A2"), 60)  # rewriting keeps one entry per key
    assert len(store.entries) == 2 and served(store, "a") == b"A2"


def test_a_bump_from_another_process_retires_the_apps_answers(app, make):
    """The web server, the sweep and the CLI share the version file beside the SQLite database."""
    store = app.extensions["read_cache"]
    if not isinstance(store, LocalStore) or store.version_file is None:
        pytest.skip("the app's read cache is not a file-backed LocalStore here")
    make.course(title="Shared File", slug="shared-file")
    anon = app.test_client(use_cookies=False)
    assert anon.get("/api/courses/shared-file").status_code == 200
    with count_queries() as statements:
        anon.get("/api/courses/shared-file")
    assert statements == []
    bump_in_another_process(store.version_file)
    with count_queries() as statements:
        assert anon.get("/api/courses/shared-file").status_code == 200
    assert statements


# --- RedisStore ----------------------------------------------------------------------------


def _db13(url: str) -> str:
    from redis.connection import parse_url

    base = url.rsplit("/", 1)[0] if parse_url(url).get("db") is not None else url.rstrip("/")
    return f"{base}/13"


@pytest.fixture
def redis_store():
    if not TEST_REDIS_URL:
        pytest.skip("TEST_REDIS_URL is not set")
    url = _db13(TEST_REDIS_URL)
    connection = Redis.from_url(url)
    connection.flushdb()
    store = RedisStore(url)
    yield store
    connection.flushdb()
    connection.close()
    store.redis.close()


def test_redis_entries_live_under_the_version(redis_store):
    assert redis_store.read("k") == (None, None)  # nothing yet: a version is started, nothing served
    version, _ = redis_store.read("k")
    assert version
    redis_store.write("k", entry(version), 60)
    assert served(redis_store, "k") == b"hello"
    assert 0 < redis_store.redis.ttl("k") <= 60

    other = RedisStore(_db13(TEST_REDIS_URL))
    other.new_version()  # another process changed something
    assert served(redis_store, "k") is None
    other.redis.close()


def test_redis_entries_are_written_to_expire(redis_store):
    """Redis keeps time itself (no clock to move): every entry is written with its time to live."""
    redis_store.read("k")
    version, _ = redis_store.read("k")
    redis_store.write("k", entry(version), readcache.TIMED_ENTRY_SECONDS)
    assert 0 < redis_store.redis.ttl("k") <= readcache.TIMED_ENTRY_SECONDS
    redis_store.redis.delete("k")  # what Redis does when it is up
    assert served(redis_store, "k") is None


@pytest.mark.parametrize("loss", ["flushdb", "version key only"])
def test_a_lost_version_never_revives_an_old_entry(redis_store, loss):
    redis_store.read("k")
    version, _ = redis_store.read("k")
    redis_store.write("k", entry(version), 60)
    assert served(redis_store, "k") == b"hello"

    if loss == "flushdb":
        redis_store.redis.flushdb()
    else:
        redis_store.redis.delete(VERSION_KEY)  # evicted under memory pressure, say
    # A request that read the old version before the loss stores its answer after it.
    redis_store.write("k", entry(version, b"made before the loss"), 60)

    assert redis_store.read("k") == (None, None)
    new_version, _ = redis_store.read("k")
    assert new_version and new_version != version
    assert served(redis_store, "k") is None


def test_the_app_on_redis_survives_a_flush(app, make, redis_store, monkeypatch):
    monkeypatch.setitem(app.extensions, "read_cache", redis_store)
    make.course(title="On Redis", slug="on-redis")
    anon = app.test_client(use_cookies=False)
    for _ in range(2):  # the first read starts a version, the second stores the answer
        assert anon.get("/api/courses/on-redis").status_code == 200
    with count_queries() as statements:
        assert anon.get("/api/courses/on-redis").status_code == 200
    assert statements == []
    entries = [key for key in redis_store.redis.keys(readcache.KEY_PREFIX + "*") if key != VERSION_KEY.encode()]
    assert entries and all(0 < redis_store.redis.ttl(key) <= readcache.ENTRY_SECONDS for key in entries)

    redis_store.redis.flushdb()

    with count_queries() as statements:
        assert anon.get("/api/courses/on-redis").get_json()["title"] == "On Redis"
    assert statements


# --- a store that fails ------------------------------------------------------------------------


def test_an_unreachable_redis_makes_answers_fresh_not_errors(app, make, monkeypatch):
    down = RedisStore("redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.extensions, "read_cache", down)
    creator = make.creator()
    course = make.course(creator=creator, title="Redis Down", slug="redis-down", details=True)  # a commit: no raise
    anon = app.test_client(use_cookies=False)
    paths = ["/", "/courses", "/courses/redis-down", "/api/courses", "/api/courses/redis-down", f"/@{creator.handle}"]
    for path in paths:
        for _ in range(2):
            with count_queries() as statements:
                response = anon.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert statements, f"{path}: nothing can have been stored"
    course.tagline = "Written while Redis is down"
    db.session.commit()  # content_changed() fails quietly
    assert "Written while Redis is down" in anon.get("/courses/redis-down").get_data(as_text=True)
    browser = app.test_client()
    assert AuthActions(browser).login(make.user().email).status_code == 302
    page = browser.get("/courses/redis-down")  # the course body fragment cannot be stored either
    assert page.status_code == 200 and "Written while Redis is down" in page.get_data(as_text=True)
