"""The creator's Students, Student-Teachers and Earnings pages in /studio.

Each page shows the logged-in creator's own courses only, filters by one of them (a foreign or
broken course id is ignored with a flash), pages long lists, and reads a fixed number of SQL
statements however many rows there are. The figures are checked against rows built by hand.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from peerloop.certification.models import Certificate, CertificateType
from peerloop.enrollment.models import EnrollmentStatus, ModuleProgress
from peerloop.extensions import db
from peerloop.payments import services as payment_services
from peerloop.payments.models import (
    Checkout,
    CheckoutStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerKind,
    Payout,
    PayoutStatus,
    Refund,
    RefundReason,
    Transaction,
)
from peerloop.scheduling.models import NoShowBy, SessionKind, SessionStatus, TutoringSession
from peerloop.timezones import format_local
from peerloop.video.models import Assessment

PAGES = ["/studio/students/", "/studio/teachers/", "/studio/earnings/"]


@pytest.fixture(autouse=True)
def business_time(now, monkeypatch):
    """The pages read business time: pin it to the tests' ``now``."""
    monkeypatch.setattr("peerloop.clock.now", lambda: now)


@pytest.fixture
def world(make):
    """Two creators. Ada owns Python (4 modules, 3 sessions) and Rust; Bo owns Go."""
    ada = make.creator(name="Ada Creator", handle="ada", timezone="America/New_York")
    bo = make.creator(name="Bo Creator", handle="bo")
    python = make.course(creator=ada, title="Python basics", details=True, session_count=3)
    rust = make.course(creator=ada, title="Rust basics")
    go = make.course(creator=bo, title="Go basics")
    teacher = make.user(name="Tess Teacher", handle="tess")
    make.student_teacher(teacher, python, students_taught=7)
    return SimpleNamespace(ada=ada, bo=bo, python=python, rust=rust, go=go, teacher=teacher)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    return response.get_data(as_text=True)


def row_of(html: str, row_id: str) -> str:
    match = re.search(rf'<tr id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row {row_id}"
    return match.group(1)


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def cell(row: str, css_class: str) -> str:
    """The text of the row's cell with this class."""
    match = re.search(rf'<td[^>]*class="{css_class}"[^>]*>(.*?)</td>', row, re.S)
    assert match, f"no cell {css_class}"
    return text(match.group(1))


def session(enrollment, teacher, start, *, status=SessionStatus.completed, kind=SessionKind.regular, **extra):
    row = TutoringSession(
        enrollment_id=enrollment.id,
        course_id=enrollment.course_id,
        teacher_id=teacher.id,
        student_id=enrollment.student_id,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        status=status,
        kind=kind,
        **extra,
    )
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def count_selects():
    seen: list[str] = []

    def _listen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    def _start():
        seen.clear()
        sa.event.listen(db.engine, "before_cursor_execute", _listen)
        return seen

    yield _start
    if sa.event.contains(db.engine, "before_cursor_execute", _listen):
        sa.event.remove(db.engine, "before_cursor_execute", _listen)


# --- who may see the pages ------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_visitors_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("who", ["student", "student_teacher", "admin"])
@pytest.mark.parametrize("path", PAGES)
def test_a_student_a_student_teacher_and_an_admin_get_403(client, make, login_as, world, path, who):
    # An S-T earns, but the studio is for creators (tests/test_access_matrix.py: admin 403 too).
    login_as({"student": make.user, "student_teacher": lambda: world.teacher, "admin": make.admin}[who]())
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_the_menu_links_the_three_pages_after_teach_applications(client, login_as, world, path):
    login_as(world.ada)
    html = page(client, path)
    positions = [html.find(f'href="{link}"') for link in ("/studio/applications/", *PAGES)]
    assert all(p > 0 for p in positions), positions
    assert positions == sorted(positions)


# --- Students -------------------------------------------------------------------------------


def test_students_lists_the_creators_own_enrollments_only(client, auth, make, login_as, world):
    mine = make.enrollment(make.user(name="Mia Mine", handle="mia"), world.python, student_teacher_id=world.teacher.id)
    other = make.enrollment(make.user(name="Otto Other", handle="otto"), world.go)
    gone = make.enrollment(make.user(name="Gil Gone"), world.rust, status=EnrollmentStatus.cancelled)
    login_as(world.ada)

    html = page(client, "/studio/students/")

    row = row_of(html, f"enrollment-{mine.id}")
    assert 'href="/@mia"' in row and "Mia Mine" in row
    assert "Python basics" in row and 'href="/@tess"' in row and "Tess Teacher" in row
    assert "Enrolled" in row
    assert f"enrollment-{other.id}" not in html and "Otto Other" not in html
    assert f"enrollment-{gone.id}" not in html

    auth.logout()
    login_as(world.bo)
    html = page(client, "/studio/students/")
    assert f"enrollment-{other.id}" in html and "Mia Mine" not in html


def test_students_progress_and_session_counts(client, make, login_as, world, now):
    student = make.user(name="Sam Student")
    enrollment = make.enrollment(
        student, world.python, student_teacher_id=world.teacher.id, status=EnrollmentStatus.in_progress
    )
    modules = sorted(world.python.modules, key=lambda m: m.module_order)
    db.session.add(ModuleProgress(enrollment_id=enrollment.id, module_id=modules[0].id, is_complete=True))
    db.session.add(ModuleProgress(enrollment_id=enrollment.id, module_id=modules[1].id, is_complete=False))
    t = world.teacher
    session(enrollment, t, now - timedelta(days=9))  # delivered
    session(enrollment, t, now - timedelta(days=8), status=SessionStatus.no_show, no_show_by=NoShowBy.student)
    session(enrollment, t, now - timedelta(days=7), status=SessionStatus.cancelled)  # not late: not counted
    session(enrollment, t, now - timedelta(days=6), kind=SessionKind.certification_assessment)  # not a paid one
    session(enrollment, t, now + timedelta(days=2), status=SessionStatus.scheduled)  # booked
    login_as(world.ada)

    row = text(row_of(page(client, "/studio/students/"), f"enrollment-{enrollment.id}"))

    assert "1 of 4 done" in row
    assert "2 done · 1 booked · 0 left of 3" in row
    assert "In progress" in row
    raw = row_of(page(client, "/studio/students/"), f"enrollment-{enrollment.id}")
    assert 'aria-valuenow="1"' in raw and "width: 25%" in raw


def test_students_show_sessions_left_and_no_teacher_yet(client, make, login_as, world):
    enrollment = make.enrollment(make.user(), world.python)
    login_as(world.ada)

    row = text(row_of(page(client, "/studio/students/"), f"enrollment-{enrollment.id}"))

    assert "0 done · 0 booked · 3 left of 3" in row
    assert "Not chosen yet" in row and "0 of 4 done" in row and "Not yet" in row


def test_students_show_the_certificate_when_issued(client, make, login_as, world, now):
    student = make.user()
    enrollment = make.enrollment(student, world.python, status=EnrollmentStatus.completed)
    certificate = Certificate(
        user_id=student.id,
        course_id=world.python.id,
        type=CertificateType.completion,
        issued_at=now,
        issued_by=world.ada.id,
    )
    revoked = Certificate(
        user_id=student.id,
        course_id=world.python.id,
        type=CertificateType.mastery,
        issued_at=now,
        issued_by=world.ada.id,
        revoked_at=now,
    )
    db.session.add_all([certificate, revoked])
    db.session.commit()
    login_as(world.ada)

    row = row_of(page(client, "/studio/students/"), f"enrollment-{enrollment.id}")

    assert f'href="/certificates/{certificate.id}"' in row and "Completion" in row
    assert str(revoked.id) not in row and "Completed" in row


def test_students_course_filter(client, make, login_as, world):
    in_python = make.enrollment(make.user(), world.python)
    in_rust = make.enrollment(make.user(), world.rust)
    in_go = make.enrollment(make.user(), world.go)
    login_as(world.ada)

    html = page(client, f"/studio/students/?course={world.rust.id}")
    assert f"enrollment-{in_rust.id}" in html and f"enrollment-{in_python.id}" not in html
    assert f'<option value="{world.rust.id}" selected>Rust basics</option>' in html
    assert "Go basics" not in html  # the select offers the creator's own courses only

    for foreign in (world.go.id, "not-a-uuid", uuid.uuid4(), "²"):
        html = page(client, f"/studio/students/?course={foreign}")
        assert "not one of yours" in html
        assert f"enrollment-{in_python.id}" in html and f"enrollment-{in_rust.id}" in html
        assert f"enrollment-{in_go.id}" not in html


def test_students_are_paged_by_25(client, make, login_as, world):
    enrollments = [make.enrollment(make.user(), world.rust) for _ in range(26)]
    login_as(world.ada)

    first = page(client, "/studio/students/")
    second = page(client, "/studio/students/?page=2")

    assert first.count('<tr id="enrollment-') == 25 and "Page 1 of 2 (26 students)" in first
    assert second.count('<tr id="enrollment-') == 1
    shown = set(re.findall(r'<tr id="enrollment-([0-9a-f-]+)"', first + second))
    assert shown == {str(e.id) for e in enrollments}
    for odd in ("0", "-1", "abc", "²", "99999999999"):
        assert client.get(f"/studio/students/?page={odd}").status_code == 200


def test_students_page_reads_a_fixed_number_of_statements(client, make, login_as, world, now, count_selects):
    modules = world.python.modules

    def add_students(n):
        for i in range(n):
            student = make.user()
            enrollment = make.enrollment(student, world.python, student_teacher_id=world.teacher.id)
            session(enrollment, world.teacher, now - timedelta(days=3, hours=3 * n + i))
            db.session.add(ModuleProgress(enrollment_id=enrollment.id, module_id=modules[0].id, is_complete=True))
            db.session.add(
                Certificate(
                    user_id=student.id,
                    course_id=world.python.id,
                    type=CertificateType.completion,
                    issued_at=now,
                    issued_by=world.ada.id,
                )
            )
            db.session.commit()

    add_students(2)
    login_as(world.ada)
    page(client, "/studio/students/")  # warm up
    few = count_selects()
    page(client, "/studio/students/")
    few_count = len(few)
    add_students(8)
    many = count_selects()
    page(client, "/studio/students/")

    assert len(many) == few_count, many[few_count:]


# --- Student-Teachers ----------------------------------------------------------------------


def test_teachers_lists_the_creators_own_student_teachers(client, make, login_as, world, now):
    rusty = make.user(name="Rusty Former", handle="rusty")
    former = make.student_teacher(rusty, world.rust, is_active=False, students_taught=2)
    gopher = make.user(name="Gopher Other")
    elsewhere = make.student_teacher(gopher, world.go)
    login_as(world.ada)

    html = page(client, "/studio/teachers/")

    rows = re.findall(r'<tr id="st-([0-9a-f-]+)"', html)
    assert len(rows) == 2 and str(former.id) in rows and str(elsewhere.id) not in rows
    assert "Gopher Other" not in html
    active_id = next(r for r in rows if r != str(former.id))
    active_row = row_of(html, f"st-{active_id}")
    assert "Tess Teacher" in active_row and 'href="/@tess"' in active_row and "Active" in active_row
    assert "1 Oct 2026" in active_row and cell(active_row, "st-taught") == "7"
    assert '<td class="st-actions">' in active_row  # the cell kept for the row's actions (Deactivate)
    former_row = row_of(html, f"st-{former.id}")
    assert "Not active" in former_row and 'st-actions"' not in former_row
    assert rows.index(active_id) < rows.index(str(former.id))  # active first


def test_teachers_rating_and_session_activity(client, make, login_as, world, now):
    t = world.teacher
    first = make.enrollment(make.user(), world.python, student_teacher_id=t.id)
    second = make.enrollment(make.user(), world.python, student_teacher_id=t.id)
    recent = session(first, t, now - timedelta(days=5))
    old = session(second, t, now - timedelta(days=40))
    session(first, t, now - timedelta(days=2), status=SessionStatus.cancelled)  # not delivered
    session(first, t, now + timedelta(days=3), status=SessionStatus.scheduled)
    session(second, t, now + timedelta(days=4), status=SessionStatus.scheduled)
    # Elsewhere: the same teacher's sessions of another course do not count here.
    make.student_teacher(t, world.go)
    session(make.enrollment(make.user(), world.go, student_teacher_id=t.id), t, now - timedelta(days=1))
    db.session.add_all(
        [
            Assessment(session_id=recent.id, assessor_id=first.student_id, assessee_id=t.id, rating=4),
            Assessment(session_id=old.id, assessor_id=second.student_id, assessee_id=t.id, rating=5),
        ]
    )
    db.session.commit()
    login_as(world.ada)

    html = page(client, "/studio/teachers/")
    (row_id,) = re.findall(r'<tr id="(st-[0-9a-f-]+)"', html)
    row = row_of(html, row_id)

    assert "★ 4.50" in row
    assert cell(row, "st-recent") == "1"
    assert cell(row, "st-upcoming") == "2"
    assert format_local(recent.scheduled_start, world.ada.timezone, style="short") in text(row)


def test_teachers_course_filter_and_foreign_course(client, make, login_as, world):
    other = make.student_teacher(make.user(name="Rhea Rust"), world.rust)
    login_as(world.ada)

    only_rust = page(client, f"/studio/teachers/?course={world.rust.id}")
    assert f"st-{other.id}" in only_rust and "Tess Teacher" not in only_rust

    foreign = page(client, f"/studio/teachers/?course={world.go.id}")
    assert "not one of yours" in foreign and "Tess Teacher" in foreign and f"st-{other.id}" in foreign


def test_teachers_page_reads_a_fixed_number_of_statements(client, make, login_as, world, now, count_selects):
    def add_teachers(n, offset):
        for i in range(n):
            user = make.user()
            make.student_teacher(user, world.rust)
            enrollment = make.enrollment(make.user(), world.rust, student_teacher_id=user.id)
            session(enrollment, user, now - timedelta(days=2, hours=offset + i))

    add_teachers(2, 0)
    login_as(world.ada)
    page(client, "/studio/teachers/")
    few = count_selects()
    page(client, "/studio/teachers/")
    few_count = len(few)
    add_teachers(8, 10)
    many = count_selects()
    page(client, "/studio/teachers/")

    assert len(many) == few_count, many[few_count:]


# --- Earnings -------------------------------------------------------------------------------


def _sale(student, course, cents, *, now, teacher_id=None):
    """A paid checkout by hand: its enrollment, transaction, and the split rows for ``cents``."""
    enrollment_values = {"student_teacher_id": teacher_id, "price_cents": cents}
    from tests import factories

    enrollment = factories.enrollment(student, course, **enrollment_values)
    checkout = Checkout(
        gateway="sandbox",
        gateway_session_id=f"cs_test_{uuid.uuid4().hex}",
        checkout_url="http://peerloop.test/pay",
        student_id=student.id,
        course_id=course.id,
        price_cents=cents,
        currency="USD",
        session_count=course.session_count,
        status=CheckoutStatus.completed,
        expires_at=now,
        enrollment_id=enrollment.id,
    )
    db.session.add(checkout)
    db.session.flush()
    sale = Transaction(
        checkout_id=checkout.id,
        enrollment_id=enrollment.id,
        student_id=student.id,
        course_id=course.id,
        amount_cents=cents,
        currency="USD",
        paid_at=now,
    )
    db.session.add(sale)
    db.session.flush()
    return sale, enrollment


def _row(sale, account, kind, cents, *, recipient=None, at, **extra):
    db.session.add(
        LedgerEntry(
            transaction_id=sale.id,
            enrollment_id=sale.enrollment_id,
            account=account,
            kind=kind,
            recipient_id=recipient and recipient.id,
            amount_cents=cents,
            currency="USD",
            created_at=at,
            **extra,
        )
    )


def _payout(creator, sale, cents, status, *, at):
    payout = Payout(
        recipient_id=creator.id, amount_cents=cents, currency="USD", status=status, requested_by_id=creator.id
    )
    db.session.add(payout)
    db.session.flush()
    _row(sale, LedgerAccount.earnings, LedgerKind.payout, -cents, recipient=creator, at=at, payout_id=payout.id)
    _row(sale, LedgerAccount.payout, LedgerKind.payout, cents, recipient=creator, at=at, payout_id=payout.id)


@pytest.fixture
def money_world(make, world, now):
    """Ada: Python sold twice ($1,234.50 taught by Tess, $399.00 taught by Ada, one session of it
    released), $200.00 refunded (her royalty gives $30.00 back), $100.00 paid out, $25.00 on its
    way; Rust sold once ($100.00). Bo: Go sold once."""
    ada, day = world.ada, timedelta(days=1)
    t1, _ = _sale(make.user(name="Una Buyer"), world.python, 123450, now=now - 9 * day, teacher_id=world.teacher.id)
    _row(t1, LedgerAccount.platform, LedgerKind.platform_share, 18518, at=now - 9 * day)
    _row(t1, LedgerAccount.earnings, LedgerKind.creator_royalty, 18517, recipient=ada, at=now - 9 * day)
    _row(t1, LedgerAccount.pool, LedgerKind.teaching_pool, 86415, at=now - 9 * day)
    t2, _ = _sale(make.user(name="Dee Buyer"), world.python, 39900, now=now - 8 * day, teacher_id=ada.id)
    _row(t2, LedgerAccount.platform, LedgerKind.platform_share, 5985, at=now - 8 * day)
    _row(t2, LedgerAccount.earnings, LedgerKind.creator_royalty, 5985, recipient=ada, at=now - 8 * day)
    _row(t2, LedgerAccount.pool, LedgerKind.teaching_pool, 27930, at=now - 8 * day)
    _row(t2, LedgerAccount.pool, LedgerKind.teaching_release, -13965, at=now - 7 * day)
    _row(t2, LedgerAccount.earnings, LedgerKind.teaching_release, 13965, recipient=ada, at=now - 7 * day)
    refund = Refund(
        transaction_id=t1.id,
        enrollment_id=t1.enrollment_id,
        amount_cents=20000,
        currency="USD",
        creator_cents=3000,
        pool_cents=14000,
        platform_cents=3000,
        reason=RefundReason.admin,
        created_at=now - 6 * day,
    )
    db.session.add(refund)
    db.session.flush()
    _row(t1, LedgerAccount.earnings, LedgerKind.refund, -3000, recipient=ada, at=now - 6 * day, refund_id=refund.id)
    _row(t1, LedgerAccount.pool, LedgerKind.refund, -14000, at=now - 6 * day, refund_id=refund.id)
    _row(t1, LedgerAccount.platform, LedgerKind.refund, -3000, at=now - 6 * day, refund_id=refund.id)
    _row(t1, LedgerAccount.refund, LedgerKind.refund, 20000, at=now - 6 * day, refund_id=refund.id)
    _payout(ada, t1, 10000, PayoutStatus.paid, at=now - 5 * day)
    _payout(ada, t2, 2500, PayoutStatus.requested, at=now - 4 * day)
    t3, _ = _sale(make.user(name="Rae Buyer"), world.rust, 10000, now=now - 3 * day)
    _row(t3, LedgerAccount.earnings, LedgerKind.creator_royalty, 1500, recipient=ada, at=now - 3 * day)
    t4, _ = _sale(make.user(name="Gus Buyer"), world.go, 50000, now=now - 2 * day)
    _row(t4, LedgerAccount.earnings, LedgerKind.creator_royalty, 7500, recipient=world.bo, at=now - 2 * day)
    db.session.commit()
    return world


def figures(html: str, section_id: str) -> dict[str, str]:
    match = re.search(rf'<section[^>]*id="{re.escape(section_id)}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    found = dict(re.findall(r'<dd class="(m-[a-z-]+)">(.*?)<', match.group(0)))
    on_its_way = re.search(r'class="people-sub m-in-payout">(.*?)<', match.group(0))
    found["m-in-payout"] = on_its_way.group(1) if on_its_way else ""
    return found


def test_earnings_per_course_and_in_total(client, login_as, money_world):
    w = money_world
    login_as(w.ada)

    html = page(client, "/studio/earnings/")

    assert figures(html, "total-USD") == {
        "m-gross": "$1,733.50",
        "m-refunded": "$200",
        "m-share": "$369.67",
        "m-pending": "$139.65",
        "m-available": "$244.67",
        "m-paid": "$100",
        "m-in-payout": "+ $25 on its way",
    }
    assert figures(html, f"course-{w.python.id}-USD") == {
        "m-gross": "$1,633.50",
        "m-refunded": "$200",
        "m-share": "$354.67",  # 185.17 + 59.85 + 139.65 − 30.00
        "m-pending": "$139.65",  # the half of Dee's pool Ada still teaches
        "m-available": "$229.67",
        "m-paid": "$100",
        "m-in-payout": "+ $25 on its way",
    }
    assert figures(html, f"course-{w.rust.id}-USD")["m-share"] == "$15"
    assert "Go basics" not in html and "Gus Buyer" not in html
    assert 'href="/earnings"' in html


def test_earnings_total_agrees_with_the_earnings_page(client, login_as, money_world):
    """/earnings' balances (payments.services) and the studio's sums are the same money."""
    (balance,) = payment_services.balances(money_world.ada.id)
    login_as(money_world.ada)

    total = figures(page(client, "/studio/earnings/"), "total-USD")

    assert (balance.available_cents, balance.held_cents, balance.paid_cents, balance.in_payout_cents) == (
        24467,
        13965,
        10000,
        2500,
    )
    assert (total["m-available"], total["m-pending"], total["m-paid"]) == ("$244.67", "$139.65", "$100")


def test_earnings_lines_and_course_filter(client, login_as, money_world):
    w = money_world
    login_as(w.ada)

    html = page(client, "/studio/earnings/")
    lines = re.search(r'<table class="table" id="money-lines">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    assert lines.count("<tr>") == 7  # three royalties, a session, a refund, two payouts
    assert "Session taught" in lines and "Refund to the student" in lines and "−$30" in lines
    assert "Una Buyer" in lines and "Gus Buyer" not in lines

    rust = page(client, f"/studio/earnings/?course={w.rust.id}")
    assert figures(rust, "total-USD")["m-gross"] == "$100"
    assert "Python basics" not in rust.split('id="money-lines"')[1]
    assert f"course-{w.python.id}-USD" not in rust

    foreign = page(client, f"/studio/earnings/?course={w.go.id}")
    assert "not one of yours" in foreign and figures(foreign, "total-USD")["m-gross"] == "$1,733.50"


def test_another_creator_sees_only_their_own_money(client, login_as, money_world):
    login_as(money_world.bo)

    html = page(client, "/studio/earnings/")

    assert figures(html, "total-USD")["m-gross"] == "$500" and figures(html, "total-USD")["m-share"] == "$75"
    assert "Python basics" not in html and "Una Buyer" not in html


def test_each_currency_has_its_own_total(client, make, login_as, money_world, now):
    sale, _ = _sale(make.user(), money_world.rust, 4550, now=now)
    sale.currency = "EUR"
    _row(sale, LedgerAccount.earnings, LedgerKind.creator_royalty, 682, recipient=money_world.ada, at=now)
    db.session.execute(sa.update(LedgerEntry).where(LedgerEntry.transaction_id == sale.id).values(currency="EUR"))
    db.session.commit()
    login_as(money_world.ada)

    html = page(client, "/studio/earnings/")

    euros = figures(html, "total-EUR")
    assert (euros["m-gross"], euros["m-share"], euros["m-available"]) == ("€45.50", "€6.82", "€6.82")
    assert figures(html, "total-USD")["m-gross"] == "$1,733.50"  # the euros are not added to the dollars
    assert figures(html, f"course-{money_world.rust.id}-EUR")["m-gross"] == "€45.50"


def test_a_creator_without_courses_sees_empty_pages(client, make, login_as, world):
    login_as(make.creator())
    assert 'id="no-students"' in page(client, "/studio/students/")
    assert 'id="no-teachers"' in page(client, "/studio/teachers/")
    html = page(client, "/studio/earnings/")
    assert 'id="no-earnings"' in html and 'id="no-lines"' in html
    assert 'id="course-filter"' not in html  # nothing to choose from


def test_earnings_page_reads_a_fixed_number_of_statements(client, login_as, make, money_world, now, count_selects):
    login_as(money_world.ada)
    page(client, "/studio/earnings/")
    few = count_selects()
    page(client, "/studio/earnings/")
    few_count = len(few)
    for i in range(6):
        sale, _ = _sale(make.user(), money_world.rust, 2000 + i, now=now)
        _row(sale, LedgerAccount.earnings, LedgerKind.creator_royalty, 300, recipient=money_world.ada, at=now)
    db.session.commit()
    many = count_selects()
    page(client, "/studio/earnings/")

    assert len(many) == few_count, many[few_count:]


def test_a_real_sale_shows_the_configured_royalty(client, login_as, make, world, now):
    """Through checkout and the sandbox's webhook path: $399.00 at 15 / 15 / 70."""
    from tests.payments.conftest import buy

    buy(make.user(), world.rust, now=now)
    login_as(world.ada)

    total = figures(page(client, "/studio/earnings/"), "total-USD")

    assert (total["m-gross"], total["m-share"], total["m-available"]) == ("$399", "$59.85", "$59.85")
