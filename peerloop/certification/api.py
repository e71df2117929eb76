"""Certification and teaching (API.md): recommend, the creator's queues and decisions, public
certificates, applications to teach."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user, login_required

from peerloop import clock
from peerloop.accounts.serializers import user_card_json
from peerloop.api import json_body, page_args, paginated
from peerloop.certification import deactivation, services
from peerloop.certification.models import Certificate, CertificationRequest, TeachApplication
from peerloop.errors import NotFound
from peerloop.scheduling.services import iso_z
from peerloop.urls import external_url

bp = Blueprint("certification_api", __name__)


def _course(course) -> dict:
    return {"id": str(course.id), "slug": course.slug, "title": course.title}


def certificate_summary(certificate: Certificate) -> dict:
    return {"id": str(certificate.id), "type": certificate.type.value, "issued_at": iso_z(certificate.issued_at)}


def request_json(item: CertificationRequest, *, progress: tuple[int, int] | None = None) -> dict:
    data = {
        "id": str(item.id),
        "status": item.status.value,
        "enrollment_id": str(item.enrollment_id),
        "course": _course(item.course),
        "student": user_card_json(item.student),
        "recommended_by": user_card_json(item.recommender),
        "note": item.note,
        "created_at": iso_z(item.created_at),
        "decided_at": iso_z(item.decided_at) if item.decided_at else None,
        "decision_note": item.decision_note,
    }
    if item.certificate is not None:
        data["certificate"] = certificate_summary(item.certificate)
    if progress is not None:
        data["progress"] = {"done": progress[0], "total": progress[1]}
    return data


def application_json(item: TeachApplication) -> dict:
    return {
        "id": str(item.id),
        "status": item.status.value,
        "course": _course(item.course),
        "applicant": user_card_json(item.user),
        "message": item.message,
        "created_at": iso_z(item.created_at),
        "decided_at": iso_z(item.decided_at) if item.decided_at else None,
        "decision_note": item.decision_note,
    }


def certificate_json(certificate: Certificate) -> dict:
    data = {
        **certificate_summary(certificate),
        "holder": {"name": certificate.user.name, "handle": certificate.user.handle},
        "course": _course(certificate.course),
        "issued_by": {"name": certificate.issuer.name, "handle": certificate.issuer.handle},
        "revoked": certificate.revoked_at is not None,
        "verify_url": external_url("certification.certificate_page", certificate_id=certificate.id),
    }
    if certificate.revoked_at is not None:
        data["revoked_at"] = iso_z(certificate.revoked_at)
    return data


def _page(items: list, render):
    page, per_page = page_args(request.args)
    start = (page - 1) * per_page
    return paginated(
        [render(i) for i in items[start : start + per_page]], page=page, per_page=per_page, total=len(items)
    )


@bp.post("/enrollments/<enrollment_id>/recommend")
@login_required
def recommend(enrollment_id: str):
    data = json_body() if request.get_data() else {}
    item = services.recommend(current_user, enrollment_id[:64], note=data.get("note"), now=clock.now())
    return jsonify({"id": str(item.id), "status": item.status.value, "enrollment_id": str(item.enrollment_id)}), 201


@bp.get("/certification-requests")
@login_required
def certification_requests():
    from peerloop.enrollment.progress import NO_PROGRESS, progress_of

    items = services.certification_requests(current_user)
    progress = progress_of([item.enrollment_id for item in items])

    def render(item):
        found = progress.get(item.enrollment_id, NO_PROGRESS)
        return request_json(item, progress=(found.done, found.total))

    return _page(items, render)


@bp.post("/certification-requests/<request_id>/approve")
@login_required
def approve_certification(request_id: str):
    data = json_body() if request.get_data() else {}
    item = services.approve_certification(current_user, request_id[:64], kind=data.get("type"), now=clock.now())
    return jsonify(
        {"id": str(item.id), "status": item.status.value, "certificate": certificate_summary(item.certificate)}
    )


@bp.post("/certification-requests/<request_id>/reject")
@login_required
def reject_certification(request_id: str):
    data = json_body()
    item = services.reject_certification(current_user, request_id[:64], note=data.get("note"), now=clock.now())
    return jsonify({"id": str(item.id), "status": item.status.value, "decision_note": item.decision_note})


@bp.get("/certificates/<certificate_id>")
def certificate(certificate_id: str):
    """Public: anyone may verify a certificate. A revoked one answers 410 with the same body."""
    found = services.certificate(certificate_id[:64])
    return jsonify(certificate_json(found)), (410 if found.revoked_at is not None else 200)


@bp.post("/certificates/<certificate_id>/revoke")
@login_required
def revoke(certificate_id: str):
    data = json_body()
    found = services.revoke(current_user, certificate_id[:64], reason=data.get("reason"), now=clock.now())
    return jsonify(certificate_json(found))


@bp.post("/courses/<course_id>/teach-applications")
@login_required
def apply_to_teach(course_id: str):
    data = json_body() if request.get_data() else {}
    item = services.apply_to_teach(current_user, course_id[:200], message=data.get("message"), now=clock.now())
    return jsonify({"id": str(item.id), "status": item.status.value}), 201


@bp.get("/teach-applications")
@login_required
def teach_applications():
    return _page(services.teach_applications(current_user), application_json)


@bp.post("/teach-applications/<application_id>/approve")
@login_required
def approve_application(application_id: str):
    item = services.approve_application(current_user, application_id[:64], now=clock.now())
    return jsonify(application_json(item))


@bp.post("/teach-applications/<application_id>/reject")
@login_required
def reject_application(application_id: str):
    data = json_body()
    item = services.reject_application(current_user, application_id[:64], note=data.get("note"), now=clock.now())
    return jsonify(application_json(item))


def _toggle_json(user) -> dict:
    return {
        "available": bool(user.is_student_teacher),
        "courses": [_course(course) for course in services.teaching_courses(user)],
    }


@bp.get("/me/student-teacher")
@login_required
def my_toggle():
    """The "Available as Student-Teacher" toggle and the courses it covers (empty for non-S-Ts)."""
    return jsonify(_toggle_json(current_user))


@bp.put("/me/student-teacher")
@login_required
def set_my_toggle():
    services.set_available(current_user, json_body().get("available"), now=clock.now())
    return jsonify(_toggle_json(current_user))


# --- deactivating an S-T, and the student's answer -----------------------------------------------


def teacher_change_json(change, *, sessions=None) -> dict:
    data = {
        "id": str(change.id),
        "status": change.status.value,
        "course": _course(change.course),
        "from_teacher": user_card_json(change.from_teacher),
        "to_teacher": user_card_json(change.to_teacher),
        "expires_at": iso_z(change.expires_at),
        "decided_at": iso_z(change.decided_at) if change.decided_at else None,
    }
    if sessions is not None:
        data["sessions"] = [{"id": str(s.id), "start": iso_z(s.scheduled_start)} for s in sessions]
    return data


@bp.post("/student-teachers/<student_teacher_id>/deactivate")
@login_required
def deactivate_student_teacher(student_teacher_id: str):
    data = json_body()
    outcome = deactivation.deactivate(
        current_user, student_teacher_id[:64], plan=data.get("plan"), reason=data.get("reason"), now=clock.now()
    )
    return jsonify({"is_active": False, "students_offered": outcome.offered, "sessions_cancelled": outcome.cancelled})


@bp.get("/teacher-changes")
@login_required
def my_teacher_changes():
    now = clock.now()
    return jsonify(
        items=[
            teacher_change_json(change, sessions=deactivation.sessions_covered(change, now=now))
            for change in deactivation.pending_changes(current_user)
        ]
    )


@bp.post("/teacher-changes/<change_id>/<answer>")
@login_required
def answer_teacher_change(change_id: str, answer: str):
    if answer not in ("accept", "decline"):
        raise NotFound("No such action.")
    use_case = deactivation.accept if answer == "accept" else deactivation.decline
    return jsonify(teacher_change_json(use_case(current_user, change_id[:64], now=clock.now())))
