"""Load benchmark (``scripts/bench --load``): PeerLoop under gunicorn on PostgreSQL, beside a bare Flask route.

Figures only; nothing passes or fails. For the demo data and for ten times as much (bench.py's ``grow``):

- req/s from a closed loop (wrk ``-t2 -c32`` when installed, else 32 asyncio connections),
- its share of a bare Flask route that renders a 20-line template (scripts/bare_app.py) under the
  same gunicorn settings in the same run,
- p50/p95/p99 from an open loop: requests sent at a fixed rate whatever the answers, each timed from
  its scheduled send time, so queueing shows,
- errors (non-2xx/3xx answers and failed requests) and SQL statements per request (the test client in
  process, first request and a repeat).

The database (``BENCH_DATABASE_URL``, else ``peerloop_load`` on 127.0.0.1:5432, user postgres) is created
and dropped here. Redis (``BENCH_REDIS_URL``, else db 15 on 127.0.0.1:6379) is used when reachable and
flushed before each scale, so nothing cached at one scale is served at the other.

    python scripts/load.py [--seconds 5] [--rate 200] [--scale 1|10|both] [--paths / /api/courses ...]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import grow  # noqa: E402  (scripts/ is on the path: this file's folder)

from peerloop import create_app, readcache  # noqa: E402
from peerloop.extensions import db  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/peerloop_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
SECRET_KEY = "load-benchmark-secret-key-not-for-production-use"
WORKERS, THREADS = 2, 4
CLOSED_CONNECTIONS = 32
# The open loop's ceiling on requests in flight: beyond it they wait in the client (still timed from
# their scheduled send), so an overloaded path leaves at most this many queued in the server.
OPEN_CONNECTIONS = 64
DRAIN_SECONDS = 2.0  # after the open loop's last send, how long answers are awaited
SLUG = "intro-to-claude-code"
BARE = "bare Flask (20-line template)"


# --- setup: database, data, servers ------------------------------------------------------


class SetupError(Exception):
    pass


def database_url() -> str:
    from config import normalise_database_url

    return normalise_database_url(os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL)


def create_database(url: str) -> sa.Engine:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        raise SetupError(f"PostgreSQL at {admin.url.render_as_string(hide_password=True)}: {error.orig}") from None
    return admin


def drop_database(admin: sa.Engine, url: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.engine.make_url(url).database}" WITH (FORCE)')
    admin.dispose()


def reachable_redis() -> str | None:
    import redis

    url = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


def flush_redis(url: str | None) -> None:
    import redis

    if url:
        redis.Redis.from_url(url).flushdb()


def app_config(url: str, redis_url: str | None) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": SECRET_KEY,
        "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": False,
        "ARGON2_TIME_COST": 1,  # the demo's password hashes: nobody logs in here
        "ARGON2_MEMORY_COST": 1024,
        "EMAIL_BACKEND": "outbox",
    }


def load_data(app) -> dict[str, str]:
    """The demo data; then the ids and handle the paths need."""
    from peerloop.accounts.models import User
    from peerloop.catalog.models import Course
    from peerloop.certification.models import StudentTeacher
    from peerloop.db import utcnow
    from peerloop.demo import load_demo
    from peerloop.scheduling.models import AvailabilitySettings

    with app.app_context():
        db.create_all()  # with the sessions' exclusion constraints, as bench.py and the tests do
        load_demo(now=utcnow())
        course_id = db.session.scalar(sa.select(Course.id).where(Course.slug == SLUG))
        teacher_id = db.session.scalar(
            sa.select(StudentTeacher.user_id)
            .join(AvailabilitySettings, AvailabilitySettings.user_id == StudentTeacher.user_id)
            .where(StudentTeacher.course_id == course_id, StudentTeacher.is_active)
            .order_by(StudentTeacher.certified_date)
            .limit(1)
        )
        handles = list(
            db.session.scalars(
                sa.select(User.handle).where(User.privacy_public, User.deleted_at.is_(None)).order_by(User.handle)
            )
        )
        db.session.remove()
    if course_id is None or teacher_id is None or not handles:
        raise SetupError(f"the demo data has no {SLUG}, no teacher of it with availability, or no public profile")
    handle = "marcus" if "marcus" in handles else handles[0]
    return {"course_id": str(course_id), "teacher_id": str(teacher_id), "handle": handle}


def data_size(app) -> str:
    from peerloop.catalog.models import Course
    from peerloop.certification.models import StudentTeacher

    with app.app_context():
        courses = db.session.scalar(sa.select(sa.func.count()).select_from(Course))
        teachers = db.session.scalar(sa.select(sa.func.count()).select_from(StudentTeacher))
        db.session.remove()
    return f"{courses} courses, {teachers} S-Ts"


def read_paths(ids: dict[str, str]) -> list[tuple[str, str]]:
    """(label, path) for every public read path of issue 10, anonymous."""
    course, teacher, handle = ids["course_id"], ids["teacher_id"], ids["handle"]
    return [
        ("/", "/"),
        ("/courses", "/courses"),
        ("/courses?level=beginner", "/courses?level=beginner"),
        (f"/courses/{SLUG}", f"/courses/{SLUG}"),
        (f"/@{handle}", f"/@{handle}"),
        ("/api/courses", "/api/courses"),
        (f"/api/courses/{SLUG}", f"/api/courses/{SLUG}"),
        ("/api/courses/<id>/sts", f"/api/courses/{course}/sts"),
        ("/api/courses/<id>/schedule", f"/api/courses/{course}/schedule"),
        ("/api/sts/<id>/availability", f"/api/sts/{teacher}/availability"),
    ]


def count_statements(app, paths: list[tuple[str, str]]) -> dict[str, str]:
    """SQL statements (BEGIN aside) of each path requested twice in process, anonymously:
    "n" when both cost the same, "first/repeat" when not (a cache shows as "n/0")."""
    client = app.test_client(use_cookies=False)
    with app.app_context():
        engine = db.engine
    counts = {}
    for label, path in paths:
        seen = []
        for _ in range(2):
            statements = []

            def count(conn, cursor, statement, *args, statements=statements, **kwargs):
                if statement != "BEGIN":
                    statements.append(statement)

            sa.event.listen(engine, "before_cursor_execute", count)
            try:
                status = client.get(path).status_code
            finally:
                sa.event.remove(engine, "before_cursor_execute", count)
            seen.append(len(statements))
        shown = str(seen[0]) if seen[0] == seen[1] else f"{seen[0]}/{seen[1]}"
        counts[label] = shown if status < 400 else f"{shown} ({status})"
    return counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    base: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gunicorn(name: str, target: str, *, chdir: Path, env: dict, logs: Path) -> Server:
    port = free_port()
    log = logs / f"{name}.log"
    command = [
        *(sys.executable, "-m", "gunicorn"),
        *("-w", str(WORKERS), "--threads", str(THREADS)),
        *("-b", f"127.0.0.1:{port}", "--chdir", str(chdir), "--log-level", "warning"),
        target,
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SetupError(f"gunicorn for {name} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise SetupError(f"gunicorn for {name} did not listen on port {port} within 60 s")


def server_env(url: str, redis_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "BENCH_"))}
    for key in ("PEERLOOP_ENV", "REDIS_URL", "RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY"):
        env.pop(key, None)
    env.update(DATABASE_URL=url, SECRET_KEY=SECRET_KEY, RATELIMIT_ENABLED="false", PYTHONUNBUFFERED="1")
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


# --- drivers ------------------------------------------------------------------------


@dataclass
class Result:
    rps: float = 0.0  # closed loop: the median of its rounds
    share: float = 0.0  # the median of its rounds' ratios to the bare route
    rounds: list[float] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # open loop, seconds
    errors: Counter = field(default_factory=Counter)  # status (or exception name) -> count
    unanswered: int = 0


def ok(status: int) -> bool:
    return 200 <= status < 400


def session(connections: int) -> aiohttp.ClientSession:
    # No cookies (anonymous), no redirects followed (a 3xx is an answer); idle connections are
    # dropped before gunicorn's 2 s keep-alive would close them under a request.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=1.0),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
    )


async def fetch(client: aiohttp.ClientSession, url: str) -> int | str:
    try:
        async with client.get(url, allow_redirects=False) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, OSError) as error:
        return type(error).__name__


async def closed_loop_python(url: str, seconds: float, result: Result) -> None:
    loop = asyncio.get_running_loop()
    done = 0
    async with session(CLOSED_CONNECTIONS) as client:
        end = loop.time() + seconds

        async def worker():
            nonlocal done
            while loop.time() < end:
                status = await fetch(client, url)
                if loop.time() <= end:
                    done += 1
                    if not (isinstance(status, int) and ok(status)):
                        result.errors[status] += 1

        started = loop.time()
        await asyncio.gather(*(worker() for _ in range(CLOSED_CONNECTIONS)))
    result.rps = done / min(seconds, loop.time() - started)


def closed_loop_wrk(url: str, seconds: float, result: Result) -> None:
    seconds = max(1, round(seconds))
    command = ["wrk", "-t2", f"-c{CLOSED_CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", output)
    if rate is None:
        raise SetupError(f"wrk printed no Requests/sec:\n{output}")
    result.rps = float(rate.group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    if non_2xx:
        result.errors["non-2xx/3xx (wrk)"] += int(non_2xx.group(1))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if sockets:
        for kind, n in zip(("connect", "read", "write", "timeout"), sockets.groups(), strict=True):
            if int(n):
                result.errors[f"socket {kind} (wrk)"] += int(n)


async def open_loop(url: str, rate: float, seconds: float, result: Result) -> None:
    """``rate`` requests a second for ``seconds``, each sent at its scheduled time whatever came back
    before; latency from the scheduled time. Those unanswered DRAIN_SECONDS after the last send are
    cancelled, counted, and enter the percentiles with the time they had waited (a lower bound)."""
    loop = asyncio.get_running_loop()
    async with session(OPEN_CONNECTIONS) as client:

        async def one(scheduled: float):
            status = await fetch(client, url)
            result.latencies.append(loop.time() - scheduled)
            if not (isinstance(status, int) and ok(status)):
                result.errors[status] += 1

        start = loop.time() + 0.05
        tasks = {}
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks[asyncio.create_task(one(scheduled))] = scheduled
        deadline = loop.time() + DRAIN_SECONDS
        _, pending = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
        for task in pending:
            task.cancel()
            result.latencies.append(deadline - tasks[task])
        result.unanswered = len(pending)
        await asyncio.gather(*pending, return_exceptions=True)


async def settle(url: str, limit: float = 30.0) -> None:
    """Wait until the server answers within a second again: what an overloaded open loop left queued
    is served before the next measurement starts."""
    loop = asyncio.get_running_loop()
    async with session(1) as client:
        end = loop.time() + limit
        while loop.time() < end:
            started = loop.time()
            await fetch(client, url)
            if loop.time() - started < 1.0:
                return
            await asyncio.sleep(0.1)


async def warm(url: str) -> None:
    async with session(8) as client:
        for _ in range(3):
            await asyncio.gather(*(fetch(client, url) for _ in range(8)))


def closed_loop(url: str, seconds: float, result: Result) -> float:
    """One closed-loop run's req/s (its errors counted into ``result``)."""
    run = Result()
    asyncio.run(warm(url))
    if shutil.which("wrk"):
        closed_loop_wrk(url, seconds, run)
    else:
        asyncio.run(closed_loop_python(url, seconds, run))
    result.errors.update(run.errors)
    asyncio.run(settle(url))
    return run.rps


def measure_latency(url: str, *, seconds: float, rate: float, result: Result) -> None:
    asyncio.run(warm(url))
    asyncio.run(open_loop(url, rate, seconds, result))
    asyncio.run(settle(url))


def measure(rows: list[tuple[str, str]], *, seconds: float, rate: float, rounds: int) -> dict[str, Result]:
    """Every row's closed loop ``rounds`` times, the rows interleaved, the first row (the bare route)
    first in each round: req/s is the median of a row's rounds, and its share the median of its
    ratio to the bare route *in the same round*, so a slow moment of a shared machine does not make
    one row look slow. Then one open loop per row."""
    results = {label: Result() for label, _ in rows}
    for _ in range(rounds):
        bare_rps = None
        for label, url in rows:
            rps = closed_loop(url, seconds, results[label])
            bare_rps = rps if bare_rps is None else bare_rps
            results[label].rounds.append(rps)
            results[label].shares.append(rps / bare_rps if bare_rps else 0.0)
    for label, url in rows:
        result = results[label]
        result.rps, result.share = statistics.median(result.rounds), statistics.median(result.shares)
        measure_latency(url, seconds=seconds, rate=rate, result=result)
    return results


# --- report --------------------------------------------------------------------------


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load: anything else running shares the CPUs with the servers."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def print_table(title: str, rows: list[tuple[str, str, Result]]) -> None:
    print(f"\n{title}")
    width = max(len(label) for label, _, _ in rows) + 2
    print(
        f"{'path':<{width}}{'req/s':>8}{'share':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'unanswered':>12}{'stmts':>10}  rounds (req/s)"
    )
    notes = []
    for label, statements, result in rows:
        share = result.share
        marks = ">" if result.unanswered else ""  # lower bounds: some requests never came back
        p50, p95, p99 = (
            f"{marks}{percentile(result.latencies, q) * 1000:.1f}" if result.latencies else "-"
            for q in (0.50, 0.95, 0.99)
        )
        errors = sum(result.errors.values())
        print(
            f"{label:<{width}}{result.rps:>8.0f}{share:>7.2f}{p50:>9}{p95:>9}{p99:>9}"
            f"{errors:>8}{result.unanswered:>12}{statements:>10}  {'/'.join(f'{r:.0f}' for r in result.rounds)}"
        )
        if errors:
            notes.append(f"  {label}: " + ", ".join(f"{n} x {kind}" for kind, n in result.errors.most_common()))
    if notes:
        print("errors by kind:")
        print("\n".join(notes))
    sys.stdout.flush()


# --- main ----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per path and per driver (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="closed-loop rounds per row, medians (default 5)")
    parser.add_argument("--rate", type=float, default=200.0, help="open loop: requests per second (default 200)")
    parser.add_argument("--scale", choices=("1", "10", "both"), default="both", help="demo data, 10x, or both")
    parser.add_argument("--paths", nargs="+", metavar="PATH", help="only these rows (as labelled in the table)")
    args = parser.parse_args()
    logging.getLogger("peerloop.notifications.outbox").setLevel(logging.WARNING)
    try:
        return run(args)
    except SetupError as error:
        print(f"load benchmark: setup failed: {error}", file=sys.stderr)
        return 1


def run(args) -> int:
    import gunicorn

    url = database_url()
    redis_url = reachable_redis()
    scales = [1, 10] if args.scale == "both" else [int(args.scale)]
    driver = "wrk -t2 -c32" if shutil.which("wrk") else f"asyncio + aiohttp, {CLOSED_CONNECTIONS} connections"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"Load benchmark: {cpus} CPUs (load average {load_average()}); "
        f"PostgreSQL {sa.engine.make_url(url).render_as_string(hide_password=True)} (created and dropped); "
        f"Redis {redis_url or 'unreachable: none'}\n"
        f"gunicorn {gunicorn.__version__} -w {WORKERS} --threads {THREADS} on loopback, PEERLOOP_ENV development, "
        "rate limits off; anonymous requests, no cookies\n"
        f"closed loop (req/s): {driver}, {args.seconds:g} s per path and round, {args.rounds} rounds (median); "
        f"open loop (latency): {args.rate:g} req/s "
        f"for {args.seconds:g} s per path, timed from each request's scheduled send, {DRAIN_SECONDS:g} s to drain\n"
        "share: the median of each round's req/s over the bare Flask route's in that round; "
        "errors: non-2xx/3xx or failed, both loops; "
        "unanswered: open loop, cancelled after the drain (its percentiles, marked >, are then lower bounds); "
        "stmts: SQL statements of one request in process, 'first/repeat' when they differ\n"
        "the load generator runs on the same CPUs as the servers"
    )
    sys.stdout.flush()
    admin = create_database(url)
    servers: list[Server] = []
    try:
        with tempfile.TemporaryDirectory() as logs:
            app = create_app(app_config(url, redis_url))
            started = time.perf_counter()
            ids = load_data(app)
            paths = read_paths(ids)
            if args.paths:
                known = {label for label, _ in paths} | {"bare"}
                unknown = [p for p in args.paths if p not in known]
                if unknown:
                    raise SetupError(f"unknown --paths {unknown}; the rows are: bare {' '.join(sorted(known))}")
                paths = [(label, path) for label, path in paths if label in args.paths]
            print(f"demo data loaded in {time.perf_counter() - started:.1f} s")
            env = server_env(url, redis_url)
            bare = start_gunicorn("bare", "bare_app:app", chdir=ROOT / "scripts", env=env, logs=Path(logs))
            servers.append(bare)
            grown = 1
            for scale in scales:
                if scale > grown:
                    started = time.perf_counter()
                    with app.app_context():
                        grow(scale)
                        db.session.remove()
                    grown = scale
                    print(f"grown to {scale}x in {time.perf_counter() - started:.1f} s")
                flush_redis(redis_url)
                with app.test_request_context():
                    readcache.store().read("warm")  # a flushed store starts its version on first read
                statements = count_statements(app, paths)
                peerloop = start_gunicorn(f"peerloop-{scale}x", "wsgi:app", chdir=ROOT, env=env, logs=Path(logs))
                servers.append(peerloop)
                started = time.perf_counter()
                measured = measure(
                    [(BARE, bare.base + "/"), *((label, peerloop.base + path) for label, path in paths)],
                    seconds=args.seconds,
                    rate=args.rate,
                    rounds=args.rounds,
                )
                rows = [(BARE, "-", measured[BARE])]
                rows += [(label, statements[label], measured[label]) for label, _ in paths]
                peerloop.stop()
                servers.remove(peerloop)
                title = "Demo data" if scale == 1 else f"{scale}x the demo data"
                print_table(
                    f"{title} ({data_size(app)}), measured in {time.perf_counter() - started:.0f} s, "
                    f"load average after {load_average()}",
                    rows,
                )
            with app.app_context():
                db.engine.dispose()
    finally:
        for server in servers:
            server.stop()
        drop_database(admin, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
