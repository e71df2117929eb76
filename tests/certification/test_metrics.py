"""The flywheel in numbers (peerloop/certification/metrics.py) and where Brian and creators read it:
a hand-built set of students at every step, whose funnel is known to the last student."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop import clock
from peerloop.accounts.models import User
from peerloop.catalog.models import Module
from peerloop.certification import metrics, services
from peerloop.certification.metrics import Funnel
from peerloop.certification.models import Certificate, CertificateType, StudentTeacher, TeachApplication
from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.enrollment.progress import mark_module
from peerloop.extensions import db


def tick_all(student, enrollment, now) -> None:
    for module in db.session.scalars(sa.select(Module).where(Module.course_id == enrollment.course_id)):
        mark_module(student, enrollment.id, module.id, complete=True, now=now)


def with_modules(make, count: int, **overrides):
    course = make.course(**overrides)
    course.modules = [
        Module(title=f"Module {i}", description="About it", duration="20 min", module_order=i) for i in range(count)
    ]
    db.session.commit()
    return course


class World:
    """Three courses, every case of the funnel, and the numbers they must give.

    Alpha (Cora, 2 modules):
      s1 enrolled, nothing ticked                     → enrolled
      s2 every module ticked                          → modules done
      s3 ticked, certified through the services       → certified
      s4 ticked, certified, applied (pending)         → applied
      s5 ticked, certified, applied, approved         → teaching
      s6 a cancelled enrollment, ticked               → nowhere
      s7 ticked, certified, certificate revoked       → modules done (still "completed")
      s8 certified by hand, nothing ticked            → enrolled only (+1 certified unticked)
      s9 cancelled once, bought again, one tick       → enrolled, once
    Beta (Cora, 1 module):
      t1 ticked, completed by hand (no certificate), an S-T row made by hand → teaching
      t2 ticked, certified, application rejected      → applied
      t3 ticked, certified, S-T row deactivated       → applied
      t4 ticked, certified                            → certified
    Gamma (Otto, 0 modules, nobody enrolled)
    """

    ALPHA = Funnel(enrolled=8, modules_done=5, certified=3, applied=2, teaching=1, certified_unticked=1)
    BETA = Funnel(enrolled=4, modules_done=4, certified=4, applied=3, teaching=1, certified_unticked=0)
    GAMMA = Funnel()

    def __init__(self, make, now):
        self.now = now
        self.cora = make.creator(name="Cora Creator")
        self.otto = make.creator(name="Otto Other")
        self.alpha = with_modules(make, 2, creator=self.cora, title="Alpha")
        self.beta = with_modules(make, 1, creator=self.cora, title="Beta")
        self.gamma = with_modules(make, 0, creator=self.otto, title="Gamma")
        self.make = make
        self._alpha(make)
        self._beta(make)

    def student(self, course, *, tick=True, certify=False, name=None):
        person = self.make.user(name=name) if name else self.make.user()
        enrollment = self.make.enrollment(person, course)
        if tick:
            tick_all(person, enrollment, self.now)
        if certify:
            self.certify(enrollment)
        return person, enrollment

    def certify(self, enrollment):
        creator = self.cora if enrollment.course_id in (self.alpha.id, self.beta.id) else self.otto
        request = services.recommend(creator, enrollment.id, now=self.now)
        services.approve_certification(creator, request.id, now=self.now)
        return request

    def _alpha(self, make):
        a, now = self.alpha, self.now
        self.student(a, tick=False)  # s1
        self.student(a)  # s2
        self.student(a, certify=True)  # s3
        s4, _ = self.student(a, certify=True)
        services.apply_to_teach(s4, a.id, now=now)
        s5, _ = self.student(a, certify=True)
        application = services.apply_to_teach(s5, a.id, now=now)
        services.approve_application(self.cora, application.id, now=now)
        _, cancelled = self.student(a)  # s6
        cancelled.status = EnrollmentStatus.cancelled
        db.session.commit()
        s7, e7 = self.student(a, certify=True)
        certificate = services.valid_certificate(s7.id, a.id)
        services.revoke(self.cora, certificate.id, reason="Copied the project.", now=now)
        assert db.session.get(Enrollment, e7.id).status == EnrollmentStatus.completed  # revoking leaves it
        s8, _ = self.student(a, tick=False)
        db.session.add(
            Certificate(user_id=s8.id, course_id=a.id, type=CertificateType.completion, issued_by=self.cora.id)
        )
        db.session.commit()
        s9 = make.user()
        first = make.enrollment(s9, a, status=EnrollmentStatus.cancelled)
        again = make.enrollment(s9, a)
        mark_module(s9, again.id, a.modules[0].id, complete=True, now=now)
        assert first.id != again.id

    def _beta(self, make):
        b, now = self.beta, self.now
        t1, e1 = self.student(b)
        e1.status = EnrollmentStatus.completed
        db.session.commit()
        make.student_teacher(t1, b)
        t2, _ = self.student(b, certify=True)
        application = services.apply_to_teach(t2, b.id, now=now)
        services.reject_application(self.cora, application.id, note="Teach a trial session first.", now=now)
        t3, _ = self.student(b, certify=True)
        application = services.apply_to_teach(t3, b.id, now=now)
        services.approve_application(self.cora, application.id, now=now)
        teaching = db.session.scalars(sa.select(Certificate).where(Certificate.user_id == t3.id)).all()
        services.revoke(
            self.cora,
            next(c for c in teaching if c.type == CertificateType.teaching).id,
            reason="No-shows.",
            now=now,
        )
        self.student(b, certify=True)  # t4


@pytest.fixture
def world(make, now):
    return World(make, now)


def by_title(flywheel) -> dict[str, Funnel]:
    return {row.title: row.funnel for row in flywheel.courses}


# --- the numbers -------------------------------------------------------------------------------


def test_every_count_per_course_and_overall(world):
    flywheel = metrics.flywheel()

    assert [row.title for row in flywheel.courses] == ["Alpha", "Beta", "Gamma"]
    assert by_title(flywheel) == {"Alpha": World.ALPHA, "Beta": World.BETA, "Gamma": World.GAMMA}
    assert flywheel.overall == Funnel(
        enrolled=12, modules_done=9, certified=7, applied=5, teaching=2, certified_unticked=1
    )


def test_the_rates_per_course_and_overall(world):
    funnels = by_title(metrics.flywheel())
    alpha, beta, gamma = funnels["Alpha"], funnels["Beta"], funnels["Gamma"]
    overall = metrics.flywheel().overall

    assert (alpha.completion_rate, alpha.conversion_rate) == (3 / 8, 1 / 3)
    assert (alpha.completion_verdict, alpha.conversion_verdict) == ("below", "above")
    assert (beta.completion_rate, beta.conversion_rate) == (1.0, 1 / 4)
    assert (beta.completion_verdict, beta.conversion_verdict) == ("met", "above")
    assert (gamma.completion_rate, gamma.conversion_rate) == (None, None)  # nothing to divide by
    assert (gamma.completion_verdict, gamma.conversion_verdict) == (None, None)
    assert (overall.completion_rate, overall.conversion_rate) == (7 / 12, 2 / 7)


def test_the_targets_edges():
    assert metrics.COMPLETION_TARGET.verdict(0.75) == "met"
    assert metrics.COMPLETION_TARGET.verdict(0.7499) == "below"
    assert metrics.CONVERSION_TARGET.verdict(0.10) == "met"
    assert metrics.CONVERSION_TARGET.verdict(0.20) == "met"
    assert metrics.CONVERSION_TARGET.verdict(0.09) == "below"
    assert metrics.CONVERSION_TARGET.verdict(0.21) == "above"
    assert metrics.Funnel(enrolled=4, certified=0).conversion_rate is None


def test_the_funnel_never_widens(world):
    for funnel in [*by_title(metrics.flywheel()).values(), metrics.flywheel().overall]:
        counts = [step.count for step in funnel.steps]
        assert counts == sorted(counts, reverse=True), counts


def test_a_student_certified_by_hand_without_ticking_is_counted_apart_not_as_certified(make, now):
    course = with_modules(make, 3, title="Hand")
    student = make.user()
    make.enrollment(student, course, status=EnrollmentStatus.completed)
    db.session.add(
        Certificate(user_id=student.id, course_id=course.id, type=CertificateType.mastery, issued_by=course.creator_id)
    )
    make.student_teacher(student, course)
    db.session.commit()

    funnel = metrics.flywheel([course.id]).overall

    assert funnel == Funnel(enrolled=1, modules_done=0, certified=0, applied=0, teaching=0, certified_unticked=1)


def test_a_course_without_modules_has_nothing_left_to_tick(make, now):
    course = with_modules(make, 0, title="Empty")
    make.enrollment(make.user(), course)

    assert metrics.flywheel([course.id]).overall == Funnel(enrolled=1, modules_done=1)


def test_cancelled_enrollments_and_revoked_certificates_drop_out(world, now):
    alpha = metrics.flywheel([world.alpha.id]).overall
    # Cancel s2 (modules done) and revoke s3's certificate: both steps lose one.
    e2, e3 = _alpha_enrollments(world)[1:3]
    e2.status = EnrollmentStatus.cancelled
    db.session.commit()
    services.revoke(
        world.cora, services.valid_certificate(e3.student_id, world.alpha.id).id, reason="Revisited.", now=now
    )

    after = metrics.flywheel([world.alpha.id]).overall

    assert (after.enrolled, after.modules_done, after.certified) == (
        alpha.enrolled - 1,
        alpha.modules_done - 1,
        alpha.certified - 1,
    )
    # A live mastery certificate beside the revoked completion one counts again.
    db.session.add(
        Certificate(
            user_id=e3.student_id, course_id=world.alpha.id, type=CertificateType.mastery, issued_by=world.cora.id
        )
    )
    db.session.commit()
    assert metrics.flywheel([world.alpha.id]).overall.certified == alpha.certified


def _alpha_enrollments(world):
    return list(
        db.session.scalars(
            sa.select(Enrollment)
            .where(Enrollment.course_id == world.alpha.id, Enrollment.status != EnrollmentStatus.cancelled)
            .order_by(Enrollment.enrolled_at, Enrollment.created_at)
        )
    )


def test_only_the_courses_asked_for(world):
    cora = metrics.flywheel([world.alpha.id, world.beta.id])

    assert [row.title for row in cora.courses] == ["Alpha", "Beta"]
    assert cora.overall == World.ALPHA + World.BETA
    assert metrics.flywheel([]).courses == () and metrics.flywheel([]).overall == Funnel()


@pytest.fixture
def count_statements():
    """count_statements() → a list that collects the SELECTs run from now on."""
    seen: list[str] = []

    def _listen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    def _start():
        sa.event.listen(db.engine, "before_cursor_execute", _listen)
        return seen

    yield _start
    if sa.event.contains(db.engine, "before_cursor_execute", _listen):
        sa.event.remove(db.engine, "before_cursor_execute", _listen)


def test_the_statement_count_does_not_grow_with_the_courses(world, make, now, count_statements):
    db.session.expire_all()
    seen = count_statements()
    metrics.flywheel()
    with_three = len(seen)
    for _ in range(4):
        student = make.user()
        tick_all(student, make.enrollment(student, with_modules(make, 2)), now)
    db.session.expire_all()
    seen.clear()

    flywheel = metrics.flywheel()

    assert len(flywheel.courses) == 7
    assert len(seen) == with_three == 1, seen


def test_the_waiting_list_takes_two_statements(world, count_statements):
    seen = count_statements()
    metrics.stale_requests(clock.now())
    assert len(seen) <= 2, seen


# --- decisions left waiting --------------------------------------------------------------------


def pending_request(world, make, created_at):
    student, enrollment = world.student(world.alpha, name=f"Waiting {created_at:%d %H%M}")
    return services.recommend(world.cora, enrollment.id, now=created_at)


def test_stale_requests_are_those_pending_more_than_seven_days_oldest_first(world, make, now):
    eight = pending_request(world, make, now - timedelta(days=8))
    six = pending_request(world, make, now - timedelta(days=6))
    nine = pending_request(world, make, now - timedelta(days=9, hours=5))
    exactly_seven = pending_request(world, make, now - timedelta(days=7))
    decided = pending_request(world, make, now - timedelta(days=20))
    services.approve_certification(world.cora, decided.id, now=now)
    # A teach application from Beta's certified t4, 10 days ago.
    t4 = _beta_certified_without_application(world)
    application = services.apply_to_teach(t4, world.beta.id, now=now - timedelta(days=10))

    waiting = metrics.stale_requests(now)

    assert waiting.total == 3
    assert [(item.kind, item.id, item.days_waiting) for item in waiting.items] == [
        ("teaching", application.id, 10),
        ("certification", nine.id, 9),
        ("certification", eight.id, 8),
    ]
    first = waiting.items[0]
    assert (first.student_name, first.course_title, first.creator_name, first.creator_email) == (
        t4.name,
        "Beta",
        "Cora Creator",
        world.cora.email,
    )
    assert first.created_at == now - timedelta(days=10)
    assert {six.id, exactly_seven.id}.isdisjoint(item.id for item in waiting.items)


def test_stale_requests_show_at_most_the_limit_with_the_total(world, make, now):
    for days in (8, 9, 10):
        pending_request(world, make, now - timedelta(days=days))

    waiting = metrics.stale_requests(now, limit=2)

    assert waiting.total == 3
    assert [item.days_waiting for item in waiting.items] == [10, 9]


def _beta_certified_without_application(world):
    applied = sa.select(TeachApplication.user_id).where(TeachApplication.course_id == world.beta.id)
    certified = db.session.scalars(
        sa.select(Certificate.user_id).where(
            Certificate.course_id == world.beta.id,
            Certificate.type == CertificateType.completion,
            Certificate.revoked_at.is_(None),
            Certificate.user_id.not_in(applied),
        )
    ).all()
    teaching = sa.select(StudentTeacher.user_id).where(StudentTeacher.course_id == world.beta.id)
    (user_id,) = [uid for uid in certified if uid not in set(db.session.scalars(teaching))]
    return db.session.get(User, user_id)


# --- the pages ---------------------------------------------------------------------------------


def cell_numbers(html: str, slug: str) -> list[str]:
    row = re.search(rf'<tr data-course="{re.escape(slug)}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {slug}"
    return [
        re.sub(r"<[^>]+>.*?</sup>|<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    ]


def test_the_studio_shows_only_the_creators_courses(world, client, login_as):
    login_as(world.cora)

    html = client.get("/studio/").get_data(as_text=True)

    assert 'id="flywheel"' in html
    assert cell_numbers(html, world.alpha.slug) == ["8", "5", "3", "2", "1", "38%", "33%"]
    assert cell_numbers(html, world.beta.slug) == ["4", "4", "4", "3", "1", "100%", "25%"]
    assert f'data-course="{world.gamma.slug}"' not in html  # Otto's
    assert re.search(r'id="flywheel-overall-enrolled">12<', html)
    assert re.search(r'id="flywheel-overall-teaching">2<', html)


def test_another_creators_studio_shows_their_own_numbers(world, client, login_as):
    login_as(world.otto)

    html = client.get("/studio/").get_data(as_text=True)

    assert cell_numbers(html, world.gamma.slug) == ["0", "0", "0", "0", "0", "–", "–"]
    assert world.alpha.slug not in html and world.beta.slug not in html
    assert re.search(r'id="flywheel-overall-enrolled">0<', html)
    assert "No data yet" in html


def test_the_console_shows_every_course_and_the_targets(world, client, login_as, make):
    login_as(make.admin())

    html = client.get("/admin/").get_data(as_text=True)

    assert cell_numbers(html, world.alpha.slug) == ["8", "5", "3", "2", "1", "38%", "33%"]
    assert cell_numbers(html, world.gamma.slug) == ["0", "0", "0", "0", "0", "–", "–"]
    assert re.search(r'id="flywheel-overall-enrolled">12<', html)
    completion = re.search(r'id="flywheel-completion">(.*?)</div>\s*</div>', html, re.S).group(1)
    assert "58%" in completion and "at least 75%" in completion and "Below target" in completion
    conversion = re.search(r'id="flywheel-conversion">(.*?)</div>\s*</div>', html, re.S).group(1)
    assert "29%" in conversion and "10–20%" in conversion and "Above the range" in conversion
    assert 'id="flywheel-unticked"' in html
    assert "style=" not in re.search(r'<section class="flywheel.*?</section>', html, re.S).group(0)


def test_the_console_lists_a_request_eight_days_old_and_not_six(client, login_as, make):
    # The page reads the real clock: these requests are dated from it.
    real_now = clock.now()
    creator = make.creator(name="Nadia Nudge")
    course = with_modules(make, 1, creator=creator, title="Waiting Course")

    def request_made(days_ago: int):
        student = make.user(name=f"Student {days_ago} days")
        enrollment = make.enrollment(student, course)
        tick_all(student, enrollment, real_now - timedelta(days=days_ago + 1))
        return services.recommend(creator, enrollment.id, now=real_now - timedelta(days=days_ago))

    old, young = request_made(8), request_made(6)
    login_as(make.admin())

    html = client.get("/admin/").get_data(as_text=True)

    assert f'data-id="{old.id}"' in html
    assert f'data-id="{young.id}"' not in html
    assert re.search(r'id="waiting-total">1<', html)
    row = re.search(rf'<tr data-id="{old.id}">(.*?)</tr>', html, re.S).group(1)
    assert "8 days" in row and "Student 8 days" in row and "Waiting Course" in row
    assert "Nadia Nudge" in row and f"mailto:{creator.email}" in row
    assert "Only the creator can approve them" in html


def test_the_console_says_when_nothing_waits(client, login_as, make):
    login_as(make.admin())

    html = client.get("/admin/").get_data(as_text=True)

    assert 'id="no-waiting"' in html and 'id="waiting-list"' not in html
