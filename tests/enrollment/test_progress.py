"""Module progress: the service, the API, the learning page and the dashboards that show it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from peerloop.catalog.models import Module
from peerloop.enrollment import progress
from peerloop.enrollment.models import EnrollmentStatus, ModuleProgress
from peerloop.errors import NotFound, RuleViolation
from peerloop.extensions import db
from tests.conftest import csrf_from
from tests.scheduling.conftest import at, error_of


def modules_of(course) -> list[Module]:
    return sorted(course.modules, key=lambda m: m.module_order)


def rows_of(enrollment) -> list[ModuleProgress]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ModuleProgress).where(ModuleProgress.enrollment_id == enrollment.id)))


@pytest.fixture
def count_queries():
    """count_queries() → a list that collects the SELECTs run from now on."""
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


# --- the service -----------------------------------------------------------------------------


def test_marking_a_module_sets_completed_at_and_moves_the_numbers(world, now):
    first = modules_of(world.course)[0]

    row = progress.mark_module(world.student, world.enrollment.id, first.id, complete=True, now=now)

    assert (row.is_complete, row.completed_at) == (True, now)
    assert progress.progress_of([world.enrollment.id])[world.enrollment.id] == progress.Progress(1, 4)
    assert progress.progress_of([world.enrollment.id])[world.enrollment.id].percent == 25
    assert db.session.get(type(world.enrollment), world.enrollment.id).status == EnrollmentStatus.in_progress


def test_unmarking_clears_completed_at(world, now):
    first = modules_of(world.course)[0]
    progress.mark_module(world.student, world.enrollment.id, first.id, complete=True, now=now)

    row = progress.mark_module(world.student, world.enrollment.id, first.id, complete=False, now=now)

    assert (row.is_complete, row.completed_at) == (False, None)
    assert progress.progress_of([world.enrollment.id])[world.enrollment.id] == progress.Progress(0, 4)


def test_marking_twice_is_one_row_and_keeps_the_first_time(world, now):
    first = modules_of(world.course)[0]
    progress.mark_module(world.student, world.enrollment.id, first.id, complete=True, now=now)

    progress.mark_module(world.student, world.enrollment.id, first.id, complete=True, now=now + timedelta(hours=1))
    progress.mark_module(world.student, world.enrollment.id, str(first.id), complete=True, now=now + timedelta(hours=2))

    rows = rows_of(world.enrollment)
    assert [(r.module_id, r.is_complete, r.completed_at) for r in rows] == [(first.id, True, now)]


def test_unmarking_a_module_never_marked_writes_a_not_done_row(world, now):
    first = modules_of(world.course)[0]

    progress.mark_module(world.student, world.enrollment.id, first.id, complete=False, now=now)

    assert [(r.is_complete, r.completed_at) for r in rows_of(world.enrollment)] == [(False, None)]
    assert world.enrollment.status == EnrollmentStatus.enrolled  # nothing was learned yet


def test_a_concurrent_twin_row_is_taken_not_duplicated(world, now):
    """The unique (enrollment, module) pair: an insert that loses the race reads the winner's row."""
    first = modules_of(world.course)[0]
    twin = ModuleProgress(enrollment_id=world.enrollment.id, module_id=first.id, is_complete=True, completed_at=now)
    db.session.add(twin)
    db.session.commit()

    row = progress._insert_row(world.enrollment.id, first.id)  # as if it had not seen the twin

    assert row.id == twin.id
    assert len(rows_of(world.enrollment)) == 1


def test_another_students_enrollment_is_not_found(world, make, now):
    first = modules_of(world.course)[0]

    with pytest.raises(NotFound):
        progress.mark_module(make.user(), world.enrollment.id, first.id, complete=True, now=now)
    with pytest.raises(NotFound):
        progress.mark_module(world.teacher, world.enrollment.id, first.id, complete=True, now=now)
    assert rows_of(world.enrollment) == []


def test_a_module_of_another_course_is_not_found(world, make, now):
    other = make.course(details=True)

    with pytest.raises(NotFound):
        progress.mark_module(world.student, world.enrollment.id, modules_of(other)[0].id, complete=True, now=now)
    with pytest.raises(NotFound):
        progress.mark_module(world.student, world.enrollment.id, "not-a-uuid", complete=True, now=now)
    with pytest.raises(NotFound):
        progress.mark_module(world.student, "not-a-uuid", modules_of(world.course)[0].id, complete=True, now=now)


def test_a_cancelled_enrollment_cannot_be_marked(world, now):
    world.enrollment.status = EnrollmentStatus.cancelled
    db.session.commit()

    with pytest.raises(RuleViolation) as caught:
        progress.mark_module(world.student, world.enrollment.id, modules_of(world.course)[0].id, complete=True, now=now)

    assert caught.value.code == "enrollment_ended" and caught.value.status == 422
    assert rows_of(world.enrollment) == []


def test_progress_of_many_enrollments_in_one_query(world, make, now, count_queries):
    students = [make.user() for _ in range(5)]
    enrollments = [make.enrollment(s, world.course) for s in students]
    empty_course = make.course()
    bare = make.enrollment(make.user(), empty_course)
    for i, enrollment in enumerate(enrollments):
        for module in modules_of(world.course)[:i]:
            progress.mark_module(students[i], enrollment.id, module.id, complete=True, now=now)
    # A stray row for another course's module (left by an edit of the curriculum) does not count.
    other = make.course(details=True)
    db.session.add(ModuleProgress(enrollment_id=enrollments[1].id, module_id=modules_of(other)[0].id, is_complete=True))
    db.session.commit()

    ids = [e.id for e in enrollments] + [bare.id, world.enrollment.id]
    db.session.expire_all()

    seen = count_queries()
    numbers = progress.progress_of(ids)

    assert len(seen) == 1
    assert [numbers[e.id] for e in enrollments] == [progress.Progress(min(i, 4), 4) for i in range(5)]
    assert numbers[bare.id] == progress.Progress(0, 0) and numbers[bare.id].percent == 0
    assert numbers[world.enrollment.id] == progress.Progress(0, 4)
    assert progress.progress_of([]) == {}


def test_all_modules_done(world, make, now):
    assert progress.all_modules_done(world.enrollment) is False
    for module in modules_of(world.course)[:3]:
        progress.mark_module(world.student, world.enrollment.id, module.id, complete=True, now=now)
    assert progress.all_modules_done(world.enrollment) is False

    progress.mark_module(world.student, world.enrollment.id, modules_of(world.course)[3].id, complete=True, now=now)

    assert progress.all_modules_done(world.enrollment) is True
    bare = make.enrollment(make.user(), make.course())
    assert progress.all_modules_done(bare) is True  # nothing to tick


# --- the API ----------------------------------------------------------------------------------


def put(client, enrollment, module, body, headers):
    return client.put(f"/api/enrollments/{enrollment.id}/modules/{module.id}", json=body, headers=headers)


def test_put_marks_and_answers_the_new_progress(client, world, api_token, business_time, now):
    headers = api_token(world.student)
    first, second = modules_of(world.course)[:2]

    response = put(client, world.enrollment, first, {"is_complete": True}, headers)

    assert response.status_code == 200
    assert response.get_json() == {
        "module_id": str(first.id),
        "is_complete": True,
        "completed_at": "2026-11-23T12:00:00Z",
        "progress": {"done": 1, "total": 4, "percent": 25},
    }
    assert put(client, world.enrollment, second, {"complete": True}, headers).get_json()["progress"]["done"] == 2
    again = put(client, world.enrollment, first, {"is_complete": True}, headers)
    assert again.status_code == 200 and again.get_json()["progress"]["done"] == 2
    undone = put(client, world.enrollment, first, {"complete": False}, headers).get_json()
    assert undone == {
        "module_id": str(first.id),
        "is_complete": False,
        "completed_at": None,
        "progress": {"done": 1, "total": 4, "percent": 25},
    }


@pytest.mark.parametrize(
    "body",
    [{}, {"is_complete": "yes"}, {"is_complete": 1}, {"complete": None}, {"is_complete": True, "complete": False}],
)
def test_put_without_a_true_or_false_is_a_400(client, world, api_token, body):
    response = put(client, world.enrollment, modules_of(world.course)[0], body, api_token(world.student))

    assert response.status_code == 400
    assert error_of(response)["fields"]
    assert rows_of(world.enrollment) == []


def test_put_with_a_body_that_is_not_json_is_a_400(client, world, api_token):
    module = modules_of(world.course)[0]
    response = client.put(
        f"/api/enrollments/{world.enrollment.id}/modules/{module.id}",
        data="is_complete=true",
        headers={**api_token(world.student), "Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 400 and error_of(response)["code"] == "invalid_json"


def test_put_on_someone_elses_enrollment_or_another_courses_module_is_a_404(client, world, make, api_token):
    other = make.course(details=True)

    own, foreign = modules_of(world.course)[0], modules_of(other)[0]
    done = {"is_complete": True}

    stranger = put(client, world.enrollment, own, done, api_token(make.user()))
    teacher = put(client, world.enrollment, own, done, api_token(world.teacher))
    foreign = put(client, world.enrollment, foreign, done, api_token(world.student))

    assert [r.status_code for r in (stranger, teacher, foreign)] == [404, 404, 404]
    assert error_of(foreign)["code"] == "not_found"
    assert rows_of(world.enrollment) == []


def test_put_on_a_cancelled_enrollment_is_a_422(client, world, api_token):
    world.enrollment.status = EnrollmentStatus.cancelled
    db.session.commit()

    module = modules_of(world.course)[0]

    response = put(client, world.enrollment, module, {"is_complete": True}, api_token(world.student))

    assert response.status_code == 422 and error_of(response)["code"] == "enrollment_ended"


def test_put_needs_a_login_and_cookie_callers_need_the_csrf_header(client, world, login_as):
    module = modules_of(world.course)[0]
    assert put(client, world.enrollment, module, {"is_complete": True}, {}).status_code == 401

    login_as(world.student)
    refused = put(client, world.enrollment, module, {"is_complete": True}, {})
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/dashboard").get_data(as_text=True))[1]
    accepted = put(client, world.enrollment, module, {"is_complete": True}, {"X-CSRFToken": token})

    assert refused.status_code == 400 and error_of(refused)["code"] == "csrf_failed"
    assert accepted.status_code == 200 and accepted.get_json()["progress"]["done"] == 1


def test_get_enrollments_includes_progress(client, world, make, api_token, now):
    for module in modules_of(world.course)[:3]:
        progress.mark_module(world.student, world.enrollment.id, module.id, complete=True, now=now)
    make.enrollment(world.student, make.course())  # a course without modules

    items = client.get("/api/enrollments", headers=api_token(world.student)).get_json()["items"]

    by_course = {item["course"]["id"]: item for item in items}
    assert by_course[str(world.course.id)]["progress"] == {"done": 3, "total": 4, "percent": 75}
    assert [item["progress"] for item in items if item["course"]["id"] != str(world.course.id)] == [
        {"done": 0, "total": 0, "percent": 0}
    ]


# --- the learning page --------------------------------------------------------------------------


def test_the_student_sees_modules_by_session_with_links_and_checkboxes(client, world, login_as, now):
    first, second, third, fourth = modules_of(world.course)
    first.video_url = "https://video.example.com/one"
    first.document_url = "https://docs.example.com/one.pdf"
    second.video_url = "javascript:alert(1)"  # never a link
    db.session.commit()
    world.book(at(1, 9), now=now)  # session 1: Tuesday 24 November, 09:00 UTC
    progress.mark_module(world.student, world.enrollment.id, second.id, complete=True, now=now)
    login_as(world.student)

    page = client.get(f"/learn/{world.enrollment.id}").get_data(as_text=True)

    session_1 = page.split('id="session-1-h"', 1)[1].split('id="session-2-h"', 1)[0]
    session_2 = page.split('id="session-2-h"', 1)[1]
    assert "Session 1 · " in session_1 and "24 Nov" in session_1.split("</h2>", 1)[0]
    assert "Module 0" in session_1 and "Module 1" in session_1 and "Module 2" in session_2
    assert page.split('id="session-2-h">', 1)[1].split("</h2>", 1)[0].strip() == "Session 2"  # not booked yet
    assert '<a class="button ghost" href="https://video.example.com/one" target="_blank" rel="noopener">' in page
    assert 'href="https://docs.example.com/one.pdf" target="_blank" rel="noopener"' in page
    assert "javascript:" not in page
    assert page.count('type="checkbox" name="complete"') == 4
    assert page.count(" checked>") == 1
    assert f'action="/learn/{world.enrollment.id}/modules/{first.id}"' in page
    assert f'data-api="/api/enrollments/{world.enrollment.id}/modules/{first.id}"' in page
    assert "1 of 4 modules done" in page and 'aria-valuenow="1"' in page and "width: 25%" in page
    assert "js/learn.js" in page
    assert "All modules done" not in page.split("data-learn-all-done", 1)[1].split(">", 1)[0]  # hidden
    assert re.search(r"data-learn-all-done hidden>", page)


def test_the_form_marks_and_comes_back_to_the_module(client, world, login_as):
    first = modules_of(world.course)[0]
    login_as(world.student)
    token = csrf_from(client.get(f"/learn/{world.enrollment.id}").get_data(as_text=True))

    ticked = client.post(
        f"/learn/{world.enrollment.id}/modules/{first.id}", data={"csrf_token": token, "complete": "1"}
    )
    after_tick = client.get(f"/learn/{world.enrollment.id}").get_data(as_text=True)
    unticked = client.post(f"/learn/{world.enrollment.id}/modules/{first.id}", data={"csrf_token": token})
    after_untick = client.get(f"/learn/{world.enrollment.id}").get_data(as_text=True)

    assert ticked.status_code == 303
    assert ticked.headers["Location"].endswith(f"/learn/{world.enrollment.id}#module-{first.id}")
    assert "1 of 4 modules done" in after_tick
    assert unticked.status_code == 303 and "0 of 4 modules done" in after_untick
    no_token = client.post(f"/learn/{world.enrollment.id}/modules/{first.id}", data={"complete": "1"})
    assert no_token.status_code == 400
    assert [r.is_complete for r in rows_of(world.enrollment)] == [False]


def test_all_done_asks_for_a_certification_assessment(client, world, login_as, now):
    for module in modules_of(world.course):
        progress.mark_module(world.student, world.enrollment.id, module.id, complete=True, now=now)
    login_as(world.student)

    page = client.get(f"/learn/{world.enrollment.id}").get_data(as_text=True)

    assert "4 of 4 modules done" in page and "width: 100%" in page
    assert "data-learn-all-done>All modules done!" in page
    assert f"/courses/{world.course.slug}/schedule?for=assessment" in page
    assert "Book your Certification Assessment" in page


def test_a_cancelled_enrollment_reads_but_cannot_be_marked(client, world, login_as):
    world.enrollment.status = EnrollmentStatus.cancelled
    db.session.commit()
    first = modules_of(world.course)[0]
    login_as(world.student)
    page = client.get(f"/learn/{world.enrollment.id}").get_data(as_text=True)

    posted = client.post(
        f"/learn/{world.enrollment.id}/modules/{first.id}",
        data={"csrf_token": csrf_from(page), "complete": "1"},
        follow_redirects=True,
    )

    assert "You left this course" in page and 'name="complete"' not in page
    assert "can no longer be marked" in posted.get_data(as_text=True)
    assert rows_of(world.enrollment) == []


@pytest.mark.parametrize("who", ["student-teacher", "creator"])
def test_the_teacher_sees_the_page_read_only(client, world, login_as, now, who):
    first = modules_of(world.course)[0]
    progress.mark_module(world.student, world.enrollment.id, first.id, complete=True, now=now)
    world.enrollment.student_teacher_id = world.teacher.id
    db.session.commit()
    login_as(world.teacher if who == "student-teacher" else world.creator)

    response = client.get(f"/learn/{world.enrollment.id}")
    page = response.get_data(as_text=True)
    posted = client.post(
        f"/learn/{world.enrollment.id}/modules/{modules_of(world.course)[1].id}",
        data={"csrf_token": csrf_from(page), "complete": "1"},
    )

    assert response.status_code == 200
    assert "Ana Student</strong>’s progress" in page and "1 of 4 modules done" in page
    assert 'name="complete"' not in page and "js/learn.js" not in page
    assert page.count('class="pill ok">Done') == 1 and page.count("Not done yet") == 3
    assert posted.status_code == 404
    assert len([r for r in rows_of(world.enrollment) if r.is_complete]) == 1


def test_strangers_get_a_404_and_visitors_the_login(client, world, make, login_as, auth):
    path = f"/learn/{world.enrollment.id}"
    assert client.get(path).headers["Location"].startswith("/login")

    login_as(make.user())  # another student
    assert client.get(path).status_code == 404
    auth.logout()
    login_as(world.teacher)  # teaches the course, but not this student
    assert client.get(path).status_code == 404
    assert client.get("/learn/not-a-uuid").status_code == 404


# --- the dashboards ---------------------------------------------------------------------------------


def test_my_courses_shows_progress_and_continue_learning(client, world, make, login_as, now, count_queries):
    for module in modules_of(world.course)[:3]:
        progress.mark_module(world.student, world.enrollment.id, module.id, complete=True, now=now)
    for _ in range(3):
        make.enrollment(world.student, make.course(details=True))
    login_as(world.student)
    client.get("/dashboard")
    seen = count_queries()

    page = client.get("/dashboard").get_data(as_text=True)

    card = page.split(world.course.title, 1)[1].split("</li>", 1)[0]
    assert "3 of 4 modules done" in card and 'class="progress slim"' in card and "width: 75%" in card
    assert f'href="/learn/{world.enrollment.id}">Continue learning</a>' in card
    assert page.count("Continue learning") == 4
    progress_selects = [s for s in seen if "module_progress" in s]
    assert len(progress_selects) <= 2  # the page's own count and progress_of: not one per card


def test_teaching_shows_each_students_progress(client, world, login_as, now):
    world.book(at(1, 9), now=now)
    progress.mark_module(world.student, world.enrollment.id, modules_of(world.course)[0].id, complete=True, now=now)
    login_as(world.teacher)

    page = client.get("/teaching").get_data(as_text=True)

    students = page.split('id="students-h"', 1)[1]
    assert f'<a href="/learn/{world.enrollment.id}">1 of 4 modules</a>' in students
    assert 'class="progress slim"' in students and "width: 25%" in students
