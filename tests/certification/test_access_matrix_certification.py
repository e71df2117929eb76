"""Who may see and decide each certification queue and action: every role against every queue page,
decision and API endpoint, through real requests (the issue: "student, S-T of another course,
another creator, admin: sees, cannot approve").

Deciding is the course creator's alone: an admin sees every queue through the API (the /studio
pages are creators' only, and the console has no certification queue) and may revoke, but gets 403
on approve and reject; anyone else's attempt at a request or application is a 404, as if it did not
exist. Every refusal leaves the database as it was; every success changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from peerloop.certification import services
from peerloop.certification.models import (
    Certificate,
    CertificationRequest,
    StudentTeacher,
    TeachApplication,
)
from peerloop.enrollment.models import Enrollment, ModuleProgress
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from tests.conftest import csrf_from

ROLES = ("anonymous", "student", "other_st", "own_st", "other_creator", "creator", "admin")


@dataclass(frozen=True)
class Action:
    """One queue or action. ``path`` names the world's rows ({request}, {application}, {certificate},
    {finisher_enrollment}, {course}); ``student`` is whose row it is (the "student" role);
    ``form`` is a studio decision's fields, ``json`` an API call's body."""

    method: str
    path: str
    student: str
    json: dict | None = None
    form: dict | None = None
    sees: str | None = None  # a list: the row whose id the caller sees, or not

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")


ACTIONS = {
    "studio certifications": Action("GET", "/studio/certifications/", "student", sees="request"),
    "studio certify": Action("POST", "/studio/certifications/decide/", "student", form={"one": "{request}"}),
    "studio reject request": Action(
        "POST",
        "/studio/certifications/decide/",
        "student",
        form={"one": "{request}", "action": "reject", "note": "One more project first."},
    ),
    "studio applications": Action("GET", "/studio/applications/", "applicant", sees="application"),
    "studio approve application": Action(
        "POST", "/studio/applications/decide/", "applicant", form={"one": "{application}"}
    ),
    "studio reject application": Action(
        "POST",
        "/studio/applications/decide/",
        "applicant",
        form={"one": "{application}", "action": "reject", "note": "Teach a pilot session first."},
    ),
    "api requests": Action("GET", "/api/certification-requests", "student", sees="request"),
    "api approve request": Action("POST", "/api/certification-requests/{request}/approve", "student", json={}),
    "api reject request": Action(
        "POST", "/api/certification-requests/{request}/reject", "student", json={"note": "One more project first."}
    ),
    "api recommend": Action(
        "POST", "/api/enrollments/{finisher_enrollment}/recommend", "finisher", json={"note": "Ready."}
    ),
    "api apply to teach": Action(
        "POST", "/api/courses/{course}/teach-applications", "graduate", json={"message": "I would love to teach."}
    ),
    "api applications": Action("GET", "/api/teach-applications", "applicant", sees="application"),
    "api approve application": Action("POST", "/api/teach-applications/{application}/approve", "applicant", json={}),
    "api reject application": Action(
        "POST", "/api/teach-applications/{application}/reject", "applicant", json={"note": "Not yet."}
    ),
    "api revoke": Action(
        "POST", "/api/certificates/{certificate}/revoke", "graduate", json={"reason": "Plagiarised project."}
    ),
    "api certificate": Action("GET", "/api/certificates/{certificate}", "graduate"),
    "certificate page": Action("GET", "/certificates/{certificate}", "graduate"),
    "certificate pdf": Action("GET", "/certificates/{certificate}.pdf", "graduate"),
}

# One row per action, one cell per role in ROLES' order:
#   "login"          a page's redirect to /login
#   "403"            a page's 403 (the studio is creators' only)
#   "sees"/"hidden"  200, and the row is in the list or not
#   "done: <flash>"  a studio decision made: back to the queue with that message
#   "refused: <flash>" a studio decision refused: back to the queue, nothing decided
#   "<status>" or "<status> <code>"  an API answer (and its error code)
NO_REQUEST = "refused: No such certification request."
NO_APPLICATION = "refused: No such application."
EXPECTED = {
    # anonymous, student, other_st, own_st, other_creator, creator, admin
    "studio certifications": ("login", "403", "403", "403", "hidden", "sees", "403"),
    "studio certify": ("login", "403", "403", "403", NO_REQUEST, "done: Certified 1.", "403"),
    "studio reject request": ("login", "403", "403", "403", NO_REQUEST, "done: Rejected 1.", "403"),
    "studio applications": ("login", "403", "403", "403", "hidden", "sees", "403"),
    "studio approve application": ("login", "403", "403", "403", NO_APPLICATION, "done: Approved 1.", "403"),
    "studio reject application": ("login", "403", "403", "403", NO_APPLICATION, "done: Rejected 1.", "403"),
    "api requests": (
        "401 unauthorized",
        "403 forbidden",
        "403 forbidden",
        "403 forbidden",
        "hidden",
        "sees",
        "sees",
    ),
    "api approve request": (
        "401 unauthorized",
        "404 not_found",
        "404 not_found",
        "404 not_found",
        "404 not_found",
        "200",
        "403 forbidden",
    ),
    "api reject request": (
        "401 unauthorized",
        "404 not_found",
        "404 not_found",
        "404 not_found",
        "404 not_found",
        "200",
        "403 forbidden",
    ),
    # The student's own S-T or the course's creator; the student themselves and Brian: not theirs.
    "api recommend": (
        "401 unauthorized",
        "404 not_found",
        "404 not_found",
        "201",
        "404 not_found",
        "201",
        "404 not_found",
    ),
    # Everyone applies for themselves: only the certified student may.
    "api apply to teach": (
        "401 unauthorized",
        "201",
        "422 not_certified",
        "422 not_certified",
        "422 not_certified",
        "422 not_certified",
        "422 not_certified",
    ),
    "api applications": (
        "401 unauthorized",
        "403 forbidden",
        "403 forbidden",
        "403 forbidden",
        "hidden",
        "sees",
        "sees",
    ),
    "api approve application": (
        "401 unauthorized",
        "404 not_found",
        "404 not_found",
        "404 not_found",
        "404 not_found",
        "200",
        "403 forbidden",
    ),
    "api reject application": (
        "401 unauthorized",
        "404 not_found",
        "404 not_found",
        "404 not_found",
        "404 not_found",
        "200",
        "403 forbidden",
    ),
    # A certificate is public, so refusing to revoke it is a 403, not a 404.
    "api revoke": (
        "401 unauthorized",
        "403 forbidden",
        "403 forbidden",
        "403 forbidden",
        "403 forbidden",
        "200",
        "200",
    ),
    "api certificate": ("200",) * len(ROLES),
    "certificate page": ("200",) * len(ROLES),
    "certificate pdf": ("200",) * len(ROLES),
}
assert EXPECTED.keys() == ACTIONS.keys() and all(len(row) == len(ROLES) for row in EXPECTED.values())

CASES = [pytest.param(action, role, id=f"{action}-{role}") for action in ACTIONS for role in ROLES]


def _finish(enrollment: Enrollment, course, now) -> None:
    for module in course.modules:
        db.session.add(
            ModuleProgress(enrollment_id=enrollment.id, module_id=module.id, is_complete=True, completed_at=now)
        )
    db.session.commit()


@pytest.fixture
def world(make, now):
    """Course A (its creator, an S-T, four students of that S-T) and course B (another creator, its S-T).

    student: every module done, recommended (a pending request); finisher: every module done, not
    recommended; graduate: certified (a completion certificate), no application; applicant:
    certified, a pending application to teach.
    """
    creator = make.creator(name="Cora Creator")
    course = make.course(creator=creator, details=True, title="Intro to Python")
    own_st = make.user(name="Omar Teacher")
    make.student_teacher(own_st, course)
    other_creator = make.creator(name="Otto Creator")
    other_course = make.course(creator=other_creator, details=True, title="Other course")
    other_st = make.user(name="Olga Teacher")
    make.student_teacher(other_st, other_course)

    people = {}
    for name in ("student", "finisher", "graduate", "applicant"):
        person = make.user(name=name.title())
        enrollment = make.enrollment(person, course, student_teacher_id=own_st.id)
        _finish(enrollment, course, now)
        people[name] = SimpleNamespace(user=person, enrollment=enrollment)
    request = services.recommend(own_st, people["student"].enrollment.id, note="Built it all.", now=now)
    certificates = {}
    for name in ("graduate", "applicant"):
        recommended = services.recommend(own_st, people[name].enrollment.id, now=now)
        certificates[name] = services.approve_certification(creator, recommended.id, now=now).certificate_id
    application = services.apply_to_teach(people["applicant"].user, course.id, message="Let me teach.", now=now)
    return SimpleNamespace(
        course=course,
        people=people,
        users={
            "other_st": other_st,
            "own_st": own_st,
            "other_creator": other_creator,
            "creator": creator,
            "admin": make.admin(name="Brian"),
        },
        ids={
            "request": request.id,
            "application": application.id,
            "certificate": certificates["graduate"],
            "finisher_enrollment": people["finisher"].enrollment.id,
            "course": course.id,
        },
    )


def snapshot(world) -> dict:
    """What any decision would change: the rows' states and how many of each kind exist."""
    db.session.expire_all()

    def count(model) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))

    return {
        "request": db.session.get(CertificationRequest, world.ids["request"]).status,
        "application": db.session.get(TeachApplication, world.ids["application"]).status,
        "revoked_at": db.session.get(Certificate, world.ids["certificate"]).revoked_at,
        "enrollment": db.session.get(Enrollment, world.people["student"].enrollment.id).status,
        "certificates": count(Certificate),
        "student_teachers": db.session.scalar(
            sa.select(sa.func.count()).select_from(StudentTeacher).where(StudentTeacher.is_active)
        ),
        "requests": count(CertificationRequest),
        "applications": count(TeachApplication),
        "notifications": count(Notification),
    }


def _fill(value, ids: dict):
    return value.format(**ids) if isinstance(value, str) else value


def _caller(world, action: Action, role: str):
    if role == "anonymous":
        return None
    if role == "student":
        return world.people[action.student].user
    return world.users[role]


@pytest.mark.parametrize(("name", "role"), CASES)
def test_who_sees_and_decides_what(name, role, world, client, login_as, api_token):
    action, expected = ACTIONS[name], EXPECTED[name][ROLES.index(role)]
    ids = {key: str(value) for key, value in world.ids.items()}
    path = _fill(action.path, ids)
    caller = _caller(world, action, role)
    headers = {}
    if caller is not None:
        if action.api:
            headers = api_token(caller)
        else:
            login_as(caller)
    before = snapshot(world)

    if action.form is not None:
        token = csrf_from(client.get("/login" if caller is None else "/").get_data(as_text=True))
        form = {key: _fill(value, ids) for key, value in action.form.items()}
        response = client.post(path, data={**form, "csrf_token": token})
    elif action.method == "POST":
        response = client.post(path, json=action.json, headers=headers)
    else:
        response = client.get(path, headers=headers)

    changed = snapshot(world) != before
    if expected == "login":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif expected.startswith(("done: ", "refused: ")):
        queue = action.path.removesuffix("decide/")
        assert response.status_code == 302 and response.headers["Location"].endswith(queue)
        flashed = client.get(queue).get_data(as_text=True)
        assert expected.split(": ", 1)[1] in flashed
    elif expected in ("sees", "hidden"):
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert (str(world.ids[action.sees]) in body) is (expected == "sees")
        if action.api:
            listed = [item["id"] for item in response.get_json()["items"]]
            assert listed == ([str(world.ids[action.sees])] if expected == "sees" else [])
    else:
        status, _, code = expected.partition(" ")
        assert response.status_code == int(status), response.get_data(as_text=True)[:300]
        if code:
            assert response.get_json()["error"]["code"] == code
    succeeded = expected.startswith("done: ") or (action.method == "POST" and action.api and expected[0] == "2")
    # A refusal (and every read) changes nothing; a decision made changes the database.
    assert changed is succeeded, (before, snapshot(world))


UNKNOWN_IDS = ["00000000-0000-4000-8000-000000000000", "not-an-id", "%C2%B2"]


@pytest.mark.parametrize("unknown", UNKNOWN_IDS)
@pytest.mark.parametrize(
    "name",
    [name for name, action in ACTIONS.items() if action.api and "{" in action.path],
)
def test_an_unknown_id_is_a_404_for_the_creator(name, unknown, world, client, api_token):
    action = ACTIONS[name]
    path = action.path.split("{")[0] + unknown + action.path.split("}")[1]
    before = snapshot(world)
    response = client.open(path, method=action.method, json=action.json, headers=api_token(world.users["creator"]))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert snapshot(world) == before


def test_an_st_whose_teaching_was_revoked_can_no_longer_recommend(world, client, api_token):
    """The enrollment still names them, but the right to teach the course is gone."""
    own_st = world.users["own_st"]
    db.session.execute(sa.update(StudentTeacher).where(StudentTeacher.user_id == own_st.id).values(is_active=False))
    db.session.commit()
    before = snapshot(world)
    response = client.post(
        f"/api/enrollments/{world.ids['finisher_enrollment']}/recommend", json={}, headers=api_token(own_st)
    )
    # No longer their student: as for any S-T of another course.
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert snapshot(world) == before
