"""Statement counts and timings (see scripts/bench). Figures only; nothing passes or fails.

- SQLite: the catalog pages at 1x and 10x the demo data, and the password-reset timing.
- PostgreSQL: booking at scale. One course with 50 teachers (14 days of hours each, in varied
  zones) and 2,000 sessions already booked, a second with 10 teachers; the day view (API and page)
  and POST /api/sessions, N requests each. The database (``BENCH_DATABASE_URL``, else
  ``peerloop_bench`` on TEST_DATABASE_URL's server, else on 127.0.0.1:5432) is created and dropped
  here; an unreachable server skips the section with a message.

    python scripts/bench.py [--only sqlite|postgres] [--requests 50] [--teachers 50] [--sessions 2000]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peerloop import create_app  # noqa: E402
from peerloop.catalog.models import Course  # noqa: E402
from peerloop.db import utcnow  # noqa: E402
from peerloop.demo import load_demo  # noqa: E402
from peerloop.extensions import db  # noqa: E402

PAGES = [
    "/",
    "/courses",
    "/courses?q=claude&level=beginner",
    "/courses/intro-to-claude-code",
    "/api/courses",
    "/api/courses/intro-to-claude-code",
    "/api/courses/intro-to-claude-code/sts",
    "/@marcus",
]
RUNS = 30
RESET_RUNS = 200


def grow(factor: int) -> None:
    """Copy every course (with its details and teachers) until there are ``factor`` times as many."""
    from peerloop.catalog.models import CourseObjective, CourseTag, Module
    from peerloop.certification.models import StudentTeacher

    originals = list(db.session.scalars(sa.select(Course)))
    teachers = list(db.session.scalars(sa.select(StudentTeacher)))
    for n in range(1, factor):
        for course in originals:
            copy = Course(**{c.key: getattr(course, c.key) for c in Course.__table__.columns if c.key != "id"})
            copy.slug, copy.title = f"{course.slug}-{n}", f"{course.title} {n}"
            copy.tags = [CourseTag(tag=t.tag) for t in course.tags]
            copy.objectives = [
                CourseObjective(objective=o.objective, display_order=o.display_order) for o in course.objectives
            ]
            copy.modules = [
                Module(
                    title=m.title,
                    description=m.description,
                    duration=m.duration,
                    session_number=m.session_number,
                    module_order=m.module_order,
                )
                for m in course.modules
            ]
            db.session.add(copy)
        for st in teachers:
            from peerloop.accounts.models import User

            clone = User(
                email=f"st{n}-{st.id.hex[:6]}@example.com",
                handle=f"st{n}_{st.id.hex[:6]}",
                name=f"Teacher {n}",
                password_hash="!",
            )
            db.session.add(clone)
            db.session.flush()
            db.session.add(
                StudentTeacher(
                    user_id=clone.id,
                    course_id=st.course_id,
                    certified_date=st.certified_date,
                    students_taught=1,
                    approved_by=st.approved_by,
                )
            )
    db.session.commit()


def measure(app) -> dict[str, tuple[int, float]]:
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    results = {}
    for path in PAGES:
        statements: list[str] = []

        def count(*args, statements=statements, **kwargs):
            if args[2] != "BEGIN":  # the SQLite transaction recipe, not a query
                statements.append(args[2])

        sa.event.listen(engine, "before_cursor_execute", count)
        assert client.get(path).status_code == 200, path
        sa.event.remove(engine, "before_cursor_execute", count)
        timings = []
        for _ in range(RUNS):
            started = time.perf_counter()
            client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
        results[path] = (len(statements), statistics.median(timings))
    return results


def reset_timing(app) -> dict[str, tuple[float, float, float]]:
    """How long a password-reset request takes, as its caller sees it, for an address with an account
    and one without (min, median, max ms). Equal work either way: the lookup is a job run after the response."""
    client = app.test_client()
    addresses = {"known": "sarah@example.com", "unknown": "nobody-here@example.com"}
    timings: dict[str, list[float]] = {label: [] for label in addresses}
    for _ in range(RESET_RUNS):  # interleaved, so both see the same warm caches and collector
        for label, email in addresses.items():
            started = time.perf_counter()
            response = client.post("/api/auth/password-reset", json={"email": email})
            response.get_data()
            timings[label].append((time.perf_counter() - started) * 1000)
            response.close()  # the server closes the response: the job runs now, outside the timing
    results = {}
    for label, values in timings.items():
        results[label] = (min(values), statistics.median(values), max(values))
    return results


def sqlite_section() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "ARGON2_TIME_COST": 1,
                "ARGON2_MEMORY_COST": 1024,
                "RATELIMIT_ENABLED": False,
                "REDIS_URL": None,
            }
        )
        with app.app_context():
            db.create_all()
            load_demo(now=utcnow())
            courses = db.session.scalar(sa.select(sa.func.count()).select_from(Course))
        small = measure(app)
        resets = reset_timing(app)
        with app.app_context():
            grow(10)
            big_courses = db.session.scalar(sa.select(sa.func.count()).select_from(Course))
        big = measure(app)
        with app.app_context():
            db.engine.dispose()
    print(f"SQLite, demo data ({courses} courses) vs 10x ({big_courses} courses); median of {RUNS} requests")
    print(f"{'page':<44}{'stmts 1x':>9}{'stmts 10x':>10}{'ms 1x':>9}{'ms 10x':>9}")
    for path in PAGES:
        print(f"{path:<44}{small[path][0]:>9}{big[path][0]:>10}{small[path][1]:>9.1f}{big[path][1]:>9.1f}")
    print(f"\nPOST /api/auth/password-reset, {RESET_RUNS} requests each (ms, as the caller sees it; jobs inline)")
    for label, (low, median, high) in resets.items():
        print(f"  {label:<8} min {low:6.2f}  median {median:6.2f}  max {high:6.2f}")


# --- PostgreSQL: booking at scale --------------------------------------------------------

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/peerloop_bench"
ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "America/Los_Angeles", "Australia/Sydney"]
SESSIONS_PER_STUDENT = 4
BENCH_PASSWORD = "bench password 1"


def bench_database_url() -> str:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    test_url = os.environ.get("TEST_DATABASE_URL")
    if test_url:  # the test server, never the test database: this one is dropped afterwards
        return test_url.rsplit("/", 1)[0] + "/peerloop_bench"
    return DEFAULT_PG_URL


class StatementCounter:
    """SQL statements the engine sends (the transaction's BEGIN aside), per request."""

    def __init__(self, engine: sa.Engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args, **kwargs):
        if statement != "BEGIN":
            self.count += 1


def _users(prefix: str, n: int, *, password_hash: str, **fields) -> list[uuid.UUID]:
    from peerloop.accounts.models import User

    ids = [uuid.uuid4() for _ in range(n)]
    rows = [
        {
            "id": uid,
            "email": f"{prefix}{i}@bench.example",
            "handle": f"{prefix}{i}",
            "name": f"{prefix.capitalize()} {i}",
            "password_hash": password_hash,
            "email_verified": True,
            **fields,
        }
        for i, uid in enumerate(ids)
    ]
    if rows:
        db.session.execute(sa.insert(User), rows)
    return ids


def load_course(slug: str, *, teachers: int, sessions: int, bookers: int, now: datetime, password_hash: str) -> dict:
    """A course with ``teachers`` S-Ts (14 days of hours each), ``sessions`` sessions already booked
    (per teacher, in their free slots: no teacher or student overlaps), and ``bookers`` enrolled
    students with no session yet. Bulk inserts, except availability (through set_availability)."""
    from peerloop.accounts.models import User
    from peerloop.catalog.models import Category, Level
    from peerloop.certification.models import StudentTeacher
    from peerloop.enrollment.models import Enrollment, EnrollmentStatus
    from peerloop.scheduling import services as scheduling
    from peerloop.scheduling.models import SessionStatus, TutoringSession

    creator = User(
        email=f"{slug}-creator@bench.example",
        handle=f"{slug}_creator"[:30].replace("-", "_"),
        name="Bench Creator",
        password_hash=password_hash,
        is_creator=True,
        email_verified=True,
    )
    category = Category(name=f"Bench {slug}", slug=f"bench-{slug}", display_order=99)
    course = Course(
        title=f"Bench {slug}",
        slug=slug,
        tagline="Bench",
        description="A course for the benchmark.",
        duration="2 weeks",
        level=Level.beginner,
        price_cents=10000,
        currency="USD",
        session_count=SESSIONS_PER_STUDENT,
        is_active=True,
        creator=creator,
        category=category,
    )
    db.session.add_all([creator, category, course])
    db.session.flush()
    teacher_ids = _users(f"{slug[-3:]}t", teachers, password_hash=password_hash, is_student_teacher=True)
    db.session.execute(
        sa.insert(StudentTeacher),
        [
            {
                "user_id": uid,
                "course_id": course.id,
                "certified_date": now.date(),
                "students_taught": 0,
                "approved_by": creator.id,
                "is_active": True,
            }
            for uid in teacher_ids
        ],
    )
    db.session.commit()
    for i, uid in enumerate(teacher_ids):  # 08:00-20:00 local every day: 9 slots a day of 60 + 15 minutes
        scheduling.set_availability(
            db.session.get(User, uid),
            {
                "timezone": ZONES[i % len(ZONES)],
                "weekly": [{"day_of_week": d, "start": "08:00", "end": "20:00"} for d in range(7)],
                "session_minutes": 60,
                "buffer_minutes": 15,
                "min_notice_hours": 4,
                "max_window_days": 14,
                "paused": False,
            },
            now=now,
        )
    # Each existing student has all their sessions with one teacher (so no student overlaps),
    # spread over the teacher's free slots (every second one).
    per_teacher = sessions // teachers
    students_per_teacher = -(-per_teacher // SESSIONS_PER_STUDENT)
    student_ids = _users(f"{slug[-3:]}s", students_per_teacher * teachers, password_hash=password_hash)
    booker_ids = _users(f"{slug[-3:]}b", bookers, password_hash=password_hash)
    enrollments = {}
    rows = []
    for sid in [*student_ids, *booker_ids]:
        enrollments[sid] = uuid.uuid4()
        rows.append(
            {
                "id": enrollments[sid],
                "student_id": sid,
                "course_id": course.id,
                "status": EnrollmentStatus.in_progress if sid not in booker_ids else EnrollmentStatus.enrolled,
                "price_cents": 10000,
                "currency": "USD",
                "session_count": SESSIONS_PER_STUDENT,
                "enrolled_at": now - timedelta(days=1),
            }
        )
    db.session.execute(sa.insert(Enrollment), rows)
    free = scheduling.free_slots_for(teacher_ids, now=now)
    session_rows = []
    for t, uid in enumerate(teacher_ids):
        starts = free[uid][::2][:per_teacher]
        mine = student_ids[t * students_per_teacher : (t + 1) * students_per_teacher]
        for k, start in enumerate(starts):
            sid = mine[k // SESSIONS_PER_STUDENT]
            session_rows.append(
                {
                    "enrollment_id": enrollments[sid],
                    "course_id": course.id,
                    "teacher_id": uid,
                    "student_id": sid,
                    "scheduled_start": start,
                    "scheduled_end": start + timedelta(minutes=60),
                    "status": SessionStatus.scheduled,
                    "number": k % SESSIONS_PER_STUDENT + 1,
                    "created_at": now - timedelta(hours=1),
                    "updated_at": now - timedelta(hours=1),
                }
            )
    db.session.execute(sa.insert(TutoringSession), session_rows)
    db.session.commit()
    return {
        "course_id": str(course.id),
        "slug": slug,
        "teacher_ids": teacher_ids,
        "booker_ids": booker_ids,
        "sessions": len(session_rows),
    }


def _summary(times: list[float], statements: list[int]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    counts = sorted(set(statements))
    shown = str(counts[0]) if len(counts) == 1 else f"{statistics.median(statements):g} ({counts[0]}-{counts[-1]})"
    return f"{statistics.median(times):>9.1f}{p95:>9.1f}{shown:>14}"


def _timed(client, engine, method: str, path: str, **kwargs) -> tuple[float, int, object]:
    with StatementCounter(engine) as counter:
        started = time.perf_counter()
        response = getattr(client, method)(path, **kwargs)
        response.get_data()
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, counter.count, response


def measure_reads(app, course: dict, *, day: str, runs: int) -> dict[str, tuple[list[float], list[int]]]:
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    paths = {
        "GET /api/courses/<id>/schedule": f"/api/courses/{course['course_id']}/schedule?date={day}&tz=America/New_York",
        "GET /courses/<slug>/schedule": f"/courses/{course['slug']}/schedule?date={day}",
    }
    results = {}
    for label, path in paths.items():
        first = client.get(path)  # warm
        assert first.status_code == 200, (path, first.status_code, first.get_data(as_text=True)[:300])
        if label.startswith("GET /api"):
            body = first.get_json()
            course["days_with_slots"] = len(body["days_with_slots"])
            course["teachers_shown"] = len(body["teachers"])
        times, counts = [], []
        for _ in range(runs):
            elapsed, n, response = _timed(client, engine, "get", path)
            assert response.status_code == 200, path
            times.append(elapsed)
            counts.append(n)
        results[label] = (times, counts)
    return results


def measure_bookings(app, course: dict, *, runs: int) -> tuple[list[float], list[int], int]:
    """POST /api/sessions, each by a new student (bearer token) at a different teacher's free slot."""
    from peerloop.accounts.models import User
    from peerloop.scheduling import services as scheduling

    client = app.test_client()
    with app.app_context():
        engine = db.engine
        now = datetime.now(UTC)
        free = scheduling.free_slots_for(course["teacher_ids"], now=now + timedelta(minutes=5))
        emails = dict(
            db.session.execute(sa.select(User.id, User.email).where(User.id.in_(course["booker_ids"][:runs]))).all()
        )
        db.session.remove()
    teachers = course["teacher_ids"]
    tokens = []
    for sid in course["booker_ids"][:runs]:
        response = client.post("/api/auth/login", json={"email": emails[sid], "password": BENCH_PASSWORD})
        assert response.status_code == 200, response.get_json()
        tokens.append(response.get_json()["token"])
    times, counts, refused = [], [], 0
    for i, token in enumerate(tokens):
        teacher = teachers[i % len(teachers)]
        start = free[teacher][1 + i // len(teachers)]  # distinct per booking; a free slot of that teacher
        elapsed, n, response = _timed(
            client,
            engine,
            "post",
            "/api/sessions",
            json={
                "course_id": course["course_id"],
                "teacher_id": str(teacher),
                "start": scheduling.iso_z(start),
                "agenda": "Bench",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code != 201:
            refused += 1
            print(f"  booking {i} answered {response.status_code}: {response.get_json()}")
            continue
        times.append(elapsed)
        counts.append(n)
    return times, counts, refused


def postgres_section(*, runs: int, teachers: int, sessions: int) -> None:
    from config import normalise_database_url

    url = normalise_database_url(bench_database_url())
    name = sa.engine.make_url(url).database
    admin_url = sa.engine.make_url(url).set(database="postgres")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        print(f"\nPostgreSQL: skipped, {admin_url.render_as_string(hide_password=True)} is unreachable ({error.orig})")
        admin.dispose()
        return
    try:
        _postgres_bench(url, runs=runs, teachers=teachers, sessions=sessions)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _postgres_bench(url: str, *, runs: int, teachers: int, sessions: int) -> None:
    from peerloop.accounts.passwords import hash_password
    from peerloop.notifications.models import OutboundEmail
    from peerloop.timezones import zone_for

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-secret",
            "PUBLIC_URL": "http://peerloop.bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "EMAIL_BACKEND": "outbox",
            "RATELIMIT_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "REDIS_URL": None,
        }
    )
    small_teachers = 10
    started = time.perf_counter()
    with app.app_context():
        db.create_all()  # with the sessions' exclusion constraints
        now = datetime.now(UTC)
        password_hash = hash_password(BENCH_PASSWORD)
        big = load_course(
            "bench-big", teachers=teachers, sessions=sessions, bookers=runs, now=now, password_hash=password_hash
        )
        small = load_course(
            "bench-small",
            teachers=small_teachers,
            sessions=sessions * small_teachers // teachers,
            bookers=0,
            now=now,
            password_hash=password_hash,
        )
        db.session.remove()
    loaded = time.perf_counter() - started
    day = (now.astimezone(zone_for("America/New_York")) + timedelta(days=3)).date().isoformat()
    reads_big = measure_reads(app, big, day=day, runs=runs)
    reads_small = measure_reads(app, small, day=day, runs=runs)
    book_times, book_counts, refused = measure_bookings(app, big, runs=runs)
    with app.app_context():
        emails = dict(
            db.session.execute(sa.select(OutboundEmail.status, sa.func.count()).group_by(OutboundEmail.status)).all()
        )
        db.session.remove()
        db.engine.dispose()

    print(
        f"\nPostgreSQL, one course with {teachers} teachers (14 days of 08:00-20:00 in {len(ZONES)} zones) and "
        f"{big['sessions']} booked sessions, loaded in {loaded:.1f} s; {runs} requests each, server time in "
        "process (test client), anonymous reads"
    )
    print(f"{'request':<36}{'median ms':>10}{'p95 ms':>9}{'statements':>14}")
    for label, (times, counts) in reads_big.items():
        print(f"{label:<36} {_summary(times, counts)}")
    if book_times:
        print(f"{'POST /api/sessions (book)':<36} {_summary(book_times, book_counts)}")
    if refused:
        print(f"  {refused} of {runs} bookings refused (see above)")
    print(
        f"  day view of {day} (New York): {big['teachers_shown']} teachers with slots, "
        f"{big['days_with_slots']} days with slots"
    )
    outbox = ", ".join(f"{getattr(k, 'value', k)} {v}" for k, v in sorted(emails.items(), key=str))
    print(f"  outbox after the bookings (2 emails each, sent inline): {outbox}")
    print(f"\nStatements per request by number of teachers ({small['sessions']} and {big['sessions']} sessions)")
    few_label, many_label = str(small_teachers), str(teachers)
    print(
        f"{'request':<36}{'stmts ' + few_label:>10}{'stmts ' + many_label:>10}"
        f"{'ms ' + few_label:>8}{'ms ' + many_label:>8}"
    )
    for label in reads_big:
        (few_ms, few), (many_ms, many) = reads_small[label], reads_big[label]
        print(
            f"{label:<36}{statistics.median(few):>10g}{statistics.median(many):>10g}"
            f"{statistics.median(few_ms):>8.1f}{statistics.median(many_ms):>8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="run one section")
    parser.add_argument("--requests", type=int, default=50, help="PostgreSQL: requests per endpoint (N)")
    parser.add_argument("--teachers", type=int, default=50, help="PostgreSQL: teachers of the big course")
    parser.add_argument("--sessions", type=int, default=2000, help="PostgreSQL: sessions already booked")
    args = parser.parse_args()
    logging.getLogger("peerloop.notifications.outbox").setLevel(logging.WARNING)  # not every email's text
    if args.only != "postgres":
        sqlite_section()
    if args.only != "sqlite":
        postgres_section(runs=args.requests, teachers=args.teachers, sessions=args.sessions)


if __name__ == "__main__":
    main()
