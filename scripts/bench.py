"""Statement counts and timings for the catalog pages at 1x and 10x data (see scripts/bench)."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
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


def main() -> None:
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


if __name__ == "__main__":
    main()
