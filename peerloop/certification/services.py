"""Learn, certify, teach (seed 000 §1): the S-T recommends, the course's creator certifies, the
certified student applies to teach, the creator grants it.

Deciding is the course creator's alone ("Creator, NOT Brian"): an admin sees every queue and may
revoke a certificate, and gets 403 on approve and reject. Someone else's request or application is a
404 (its existence is private). Every use case takes the acting user and ``now`` and commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from peerloop.accounts.models import User
from peerloop.catalog.models import Course
from peerloop.certification.models import (
    Certificate,
    CertificateType,
    CertificationRequest,
    DecisionStatus,
    StudentTeacher,
    TeachApplication,
)
from peerloop.db import for_update, parse_uuid
from peerloop.enrollment.models import Enrollment, EnrollmentStatus
from peerloop.enrollment.progress import all_modules_done
from peerloop.errors import Conflict, Forbidden, NotFound, RuleViolation, ValidationError
from peerloop.extensions import db
from peerloop.notifications.services import notify
from peerloop.urls import site_path

NOTE_MAX = 2000
CERTIFIED_TYPES = (CertificateType.completion, CertificateType.mastery)


def _text(value, name: str, *, required: bool = False) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationError("Send text.", fields={name: "Must be text."})
    text = (value or "").strip()
    if required and not text:
        raise ValidationError("Say why.", fields={name: "Required."})
    if len(text) > NOTE_MAX:
        raise ValidationError("Keep it under 2,000 characters.", fields={name: "Too long."})
    return text or None


def _lock(model, row_id: uuid.UUID):
    return db.session.scalar(
        for_update(sa.select(model).where(model.id == row_id)).execution_options(populate_existing=True)
    )


def teaches(user: User, enrollment: Enrollment) -> bool:
    """The course's creator (who may teach their own course), or the enrollment's S-T while they
    still hold the grant to teach it (a deactivated or revoked S-T recommends no one)."""
    if user.id == enrollment.course.creator_id:
        return True
    if user.id != enrollment.student_teacher_id:
        return False
    return (
        db.session.scalar(
            sa.select(StudentTeacher.id).where(
                StudentTeacher.user_id == user.id,
                StudentTeacher.course_id == enrollment.course_id,
                StudentTeacher.is_active.is_(True),
            )
        )
        is not None
    )


@dataclass(frozen=True)
class FlywheelStep:
    """Where one enrollment stands after the modules: what My courses and Teaching offer next."""

    assessment: object | None = None  # the upcoming Certification Assessment session
    request: CertificationRequest | None = None  # a recommendation waiting for the creator
    certificate: Certificate | None = None  # the live completion or mastery certificate
    application: TeachApplication | None = None  # an application to teach waiting for the creator
    teaching: bool = False  # an active S-T of the course


def flywheel_steps(enrollments: list[Enrollment], *, now: datetime) -> dict[uuid.UUID, FlywheelStep]:
    """Each enrollment's step, in five statements whatever the number of enrollments."""
    from peerloop.scheduling.models import SessionKind, SessionStatus, TutoringSession

    if not enrollments:
        return {}
    ids = [e.id for e in enrollments]
    pairs = {(e.student_id, e.course_id): e.id for e in enrollments}
    students = {e.student_id for e in enrollments}
    courses = {e.course_id for e in enrollments}
    assessments = {
        s.enrollment_id: s
        for s in db.session.scalars(
            sa.select(TutoringSession)
            .where(
                TutoringSession.enrollment_id.in_(ids),
                TutoringSession.kind == SessionKind.certification_assessment,
                TutoringSession.status == SessionStatus.scheduled,
                TutoringSession.scheduled_end > now,
            )
            .order_by(TutoringSession.scheduled_start.desc())
        )
    }
    requests = {
        r.enrollment_id: r
        for r in db.session.scalars(
            sa.select(CertificationRequest).where(
                CertificationRequest.enrollment_id.in_(ids), CertificationRequest.status == DecisionStatus.pending
            )
        )
    }

    def by_pair(rows, user_attr: str) -> dict:
        found = {}
        for row in rows:
            enrollment_id = pairs.get((getattr(row, user_attr), row.course_id))
            if enrollment_id is not None:
                found[enrollment_id] = row
        return found

    certificates = by_pair(
        db.session.scalars(
            sa.select(Certificate).where(
                Certificate.user_id.in_(students),
                Certificate.course_id.in_(courses),
                Certificate.type.in_(CERTIFIED_TYPES),
                Certificate.revoked_at.is_(None),
            )
        ),
        "user_id",
    )
    applications = by_pair(
        db.session.scalars(
            sa.select(TeachApplication).where(
                TeachApplication.user_id.in_(students),
                TeachApplication.course_id.in_(courses),
                TeachApplication.status == DecisionStatus.pending,
            )
        ),
        "user_id",
    )
    teaching = by_pair(
        db.session.scalars(
            sa.select(StudentTeacher).where(
                StudentTeacher.user_id.in_(students),
                StudentTeacher.course_id.in_(courses),
                StudentTeacher.is_active.is_(True),
            )
        ),
        "user_id",
    )
    return {
        enrollment_id: FlywheelStep(
            assessment=assessments.get(enrollment_id),
            request=requests.get(enrollment_id),
            certificate=certificates.get(enrollment_id),
            application=applications.get(enrollment_id),
            teaching=enrollment_id in teaching,
        )
        for enrollment_id in ids
    }


# --- recommendation ---------------------------------------------------------------------------


def recommend(user: User, enrollment_id, *, note=None, now: datetime) -> CertificationRequest:
    """The student's S-T (or the course's creator) recommends them for certification.

    :raise NotFound: no such enrollment, or not the caller's student.
    :raise RuleViolation: ``modules_incomplete``; ``enrollment_ended`` for a cancelled enrollment.
    :raise Conflict: ``already_requested`` while one is pending, ``already_certified`` once approved.
    """
    uid = parse_uuid(enrollment_id)
    enrollment = db.session.get(Enrollment, uid) if uid else None
    if enrollment is None or not teaches(user, enrollment) or user.id == enrollment.student_id:
        raise NotFound("No such student.")
    text = _text(note, "note")
    enrollment = _lock(Enrollment, enrollment.id)  # one recommendation at a time per enrollment
    if enrollment.status == EnrollmentStatus.cancelled:
        raise RuleViolation("This enrollment has ended.", code="enrollment_ended")
    if not all_modules_done(enrollment):
        raise RuleViolation("Every module must be done before a recommendation.", code="modules_incomplete")
    if valid_certificate(enrollment.student_id, enrollment.course_id) is not None:
        raise Conflict("This student is already certified.", code="already_certified")
    waiting = db.session.scalar(
        sa.select(CertificationRequest.id).where(
            CertificationRequest.enrollment_id == enrollment.id, CertificationRequest.status == DecisionStatus.pending
        )
    )
    if waiting is not None:  # a revoked certificate's student may be recommended again
        raise Conflict("A recommendation is already waiting for the creator.", code="already_requested")
    request = CertificationRequest(
        enrollment_id=enrollment.id,
        student_id=enrollment.student_id,
        course_id=enrollment.course_id,
        recommended_by=user.id,
        note=text,
        status=DecisionStatus.pending,
        created_at=now,
    )
    db.session.add(request)
    db.session.flush()
    course, student = enrollment.course, enrollment.student
    notify(
        course.creator,
        "certification_requested",
        title=f"Certify {student.name}? ({course.title})",
        body=f"{user.name} recommends {student.name} for certification." + (f' "{text}"' if text else ""),
        dedupe_key=f"certification_requested:{request.id}",
        now=now,
        action_url="/studio/certifications/",
        email_template="notification",
        commit=False,
    )
    notify(
        student,
        "certification_recommended",
        title=f"Recommended for certification: {course.title}",
        body=f"{user.name} recommended you. {course.creator.name}, the course's creator, decides next.",
        dedupe_key=f"certification_recommended:{request.id}",
        now=now,
        commit=False,
    )
    db.session.commit()
    return request


# --- the creator's queues ---------------------------------------------------------------------


def _visible_courses(user: User):
    """The courses whose queues ``user`` sees: their own; every course for an admin."""
    if user.is_admin:
        return None
    return sa.select(Course.id).where(Course.creator_id == user.id)


def certification_requests(user: User, *, status: DecisionStatus | None = DecisionStatus.pending):
    """Requests for the creator's courses (an admin: all), oldest first.

    :raise Forbidden: neither a creator nor an admin.
    """
    return _queue(
        CertificationRequest,
        user,
        status,
        "certification requests",
        CertificationRequest.student,
        CertificationRequest.course,
        CertificationRequest.recommender,
    )


def _queue(model, user: User, status, noun: str, *loads):
    if not (user.is_creator or user.is_admin):
        raise Forbidden(f"Only a course's creator or an admin sees {noun}.")
    query = sa.select(model).options(*(joinedload(rel) for rel in loads)).order_by(model.created_at, model.id)
    courses = _visible_courses(user)
    if courses is not None:
        query = query.where(model.course_id.in_(courses))
    if status is not None:
        query = query.where(model.status == status)
    return list(db.session.scalars(query).unique())


def _decidable(model, user: User, row_id, noun: str):
    uid = parse_uuid(row_id)
    row = db.session.get(model, uid) if uid else None
    if row is None:
        raise NotFound(f"No such {noun}.")
    course = db.session.get(Course, row.course_id)
    if user.id != course.creator_id:
        if user.is_admin:
            raise Forbidden("Only the course's creator decides (seed 000: Creator, not Brian).")
        raise NotFound(f"No such {noun}.")
    row = _lock(model, row.id)
    if row.status != DecisionStatus.pending:
        raise Conflict(f"This {noun} is already decided.", code="already_decided")
    return row, course


def _record(row, status: DecisionStatus, user: User, now: datetime, *, note: str | None = None) -> None:
    row.status, row.decided_by, row.decided_at, row.decision_note = status, user.id, now, note


def _issue(user_id, course: Course, kind: CertificateType, *, by: User, recommended_by=None, now) -> Certificate:
    """A certificate of ``kind`` (once per person, course and kind: a revoked one is issued afresh)."""
    certificate = db.session.scalar(
        sa.select(Certificate).where(
            Certificate.user_id == user_id, Certificate.course_id == course.id, Certificate.type == kind
        )
    )
    if certificate is None:
        certificate = Certificate(user_id=user_id, course_id=course.id, type=kind)
        db.session.add(certificate)
    certificate.issued_at = now
    certificate.issued_by = by.id
    certificate.recommended_by = recommended_by
    certificate.revoked_at = certificate.revoked_by = certificate.revoke_reason = None
    db.session.flush()
    return certificate


def approve_certification(user: User, request_id, *, kind=None, now: datetime) -> CertificationRequest:
    """The creator certifies: a completion certificate (or mastery), the enrollment completed (its
    remaining paid sessions and its refund right stay), the student told by email and in-app.

    :raise NotFound, Forbidden (an admin), Conflict (``already_decided``), ValidationError (``type``).
    """
    try:
        certificate_type = CertificateType(kind or "completion")
    except ValueError:
        raise ValidationError("Choose completion or mastery.", fields={"type": "completion or mastery."}) from None
    if certificate_type not in CERTIFIED_TYPES:
        raise ValidationError("Choose completion or mastery.", fields={"type": "completion or mastery."})
    request, course = _decidable(CertificationRequest, user, request_id, "certification request")
    enrollment = _lock(Enrollment, request.enrollment_id)
    certificate = _issue(
        request.student_id, course, certificate_type, by=user, recommended_by=request.recommended_by, now=now
    )
    _record(request, DecisionStatus.approved, user, now)
    request.certificate_id = certificate.id
    if enrollment.status != EnrollmentStatus.cancelled:
        enrollment.status = EnrollmentStatus.completed
        enrollment.completed_at = enrollment.completed_at or now
    student = db.session.get(User, request.student_id)
    notify(
        student,
        "certificate_issued",
        title=f"You are certified: {course.title}",
        body=(
            f"{user.name} certified you ({certificate_type.value}). Your certificate has its own page anyone "
            "can open to verify it; you can now apply to teach this course."
        ),
        dedupe_key=f"certificate_issued:{certificate.id}:{now.isoformat()}",
        now=now,
        action_url=site_path("certification.certificate_page", certificate_id=certificate.id),
        email_template="notification",
        commit=False,
    )
    db.session.commit()
    return request


def reject_certification(user: User, request_id, *, note, now: datetime) -> CertificationRequest:
    """:raise NotFound, Forbidden (an admin), Conflict, ValidationError (``note`` required)."""
    text = _text(note, "note", required=True)
    request, course = _decidable(CertificationRequest, user, request_id, "certification request")
    _record(request, DecisionStatus.rejected, user, now, note=text)
    for person_id in {request.student_id, request.recommended_by}:
        notify(
            db.session.get(User, person_id),
            "certification_rejected",
            title=f"Not certified yet: {course.title}",
            body=f'{user.name}: "{text}"',
            dedupe_key=f"certification_rejected:{request.id}",
            now=now,
            commit=False,
        )
    db.session.commit()
    return request


# --- certificates -----------------------------------------------------------------------------


def certificate(certificate_id) -> Certificate:
    """:raise NotFound: no such certificate."""
    uid = parse_uuid(certificate_id)
    found = db.session.get(Certificate, uid) if uid else None
    if found is None:
        raise NotFound("No such certificate.")
    return found


def revoke(user: User, certificate_id, *, reason, now: datetime) -> Certificate:
    """The course's creator or an admin revokes a certificate, with a reason. A teaching certificate's
    revocation ends the right to teach (the StudentTeacher row is deactivated).

    :raise NotFound, Forbidden, ValidationError (``reason``), Conflict (``already_revoked``).
    """
    found = certificate(certificate_id)
    course = db.session.get(Course, found.course_id)
    if not (user.is_admin or user.id == course.creator_id):
        raise Forbidden("Only the course's creator or an admin revokes a certificate.")
    text = _text(reason, "reason", required=True)
    found = _lock(Certificate, found.id)
    if found.revoked_at is not None:
        raise Conflict("This certificate is already revoked.", code="already_revoked")
    found.revoked_at, found.revoked_by, found.revoke_reason = now, user.id, text
    if found.type == CertificateType.teaching:
        db.session.execute(
            sa.update(StudentTeacher)
            .where(StudentTeacher.user_id == found.user_id, StudentTeacher.course_id == found.course_id)
            .values(is_active=False)
        )
    notify(
        db.session.get(User, found.user_id),
        "certificate_revoked",
        title=f"Certificate revoked: {course.title}",
        body=f'Reason: "{text}"',
        dedupe_key=f"certificate_revoked:{found.id}:{now.isoformat()}",
        now=now,
        commit=False,
    )
    db.session.commit()
    return found


def valid_certificate(user_id, course_id) -> Certificate | None:
    """The person's live completion or mastery certificate of the course, if any."""
    return db.session.scalar(
        sa.select(Certificate).where(
            Certificate.user_id == user_id,
            Certificate.course_id == course_id,
            Certificate.type.in_(CERTIFIED_TYPES),
            Certificate.revoked_at.is_(None),
        )
    )


# --- applying to teach ------------------------------------------------------------------------


def apply_to_teach(user: User, course_id, *, message=None, now: datetime) -> TeachApplication:
    """A certified student asks to teach the course. A rejected applicant may apply again.

    :raise NotFound: no such course. :raise RuleViolation: ``not_certified`` (none, or revoked),
        ``already_teaching``. :raise Conflict: ``already_applied`` while one is pending.
    """
    uid = parse_uuid(course_id)
    course = db.session.get(Course, uid) if uid else None
    if course is None:
        course = db.session.scalar(sa.select(Course).where(Course.slug == str(course_id)))
    if course is None:
        raise NotFound("No such course.")
    text = _text(message, "message")
    db.session.scalar(for_update(sa.select(User.id).where(User.id == user.id)))  # one application at a time
    if valid_certificate(user.id, course.id) is None:
        raise RuleViolation("Only students certified in this course may apply to teach it.", code="not_certified")
    active = db.session.scalar(
        sa.select(StudentTeacher.id).where(
            StudentTeacher.user_id == user.id, StudentTeacher.course_id == course.id, StudentTeacher.is_active
        )
    )
    if active is not None:
        raise RuleViolation("You already teach this course.", code="already_teaching")
    pending = db.session.scalar(
        sa.select(TeachApplication.id).where(
            TeachApplication.user_id == user.id,
            TeachApplication.course_id == course.id,
            TeachApplication.status == DecisionStatus.pending,
        )
    )
    if pending is not None:
        raise Conflict("Your application is already waiting for the creator.", code="already_applied")
    application = TeachApplication(
        user_id=user.id, course_id=course.id, message=text, status=DecisionStatus.pending, created_at=now
    )
    db.session.add(application)
    db.session.flush()
    notify(
        course.creator,
        "teach_application",
        title=f"{user.name} applies to teach {course.title}",
        body=f'"{text}"' if text else f"{user.name} is certified in {course.title} and would like to teach it.",
        dedupe_key=f"teach_application:{application.id}",
        now=now,
        action_url="/studio/applications/",
        email_template="notification",
        commit=False,
    )
    db.session.commit()
    return application


def teach_applications(user: User, *, status: DecisionStatus | None = DecisionStatus.pending):
    """Applications for the creator's courses (an admin: all), oldest first."""
    return _queue(
        TeachApplication, user, status, "applications to teach", TeachApplication.user, TeachApplication.course
    )


def approve_application(user: User, application_id, *, now: datetime) -> TeachApplication:
    """The creator grants the right to teach: a StudentTeacher row (or the earlier one reactivated),
    a teaching certificate, the badge; the "Available as Student-Teacher" toggle is switched on.

    :raise NotFound, Forbidden (an admin), Conflict (``already_decided``), RuleViolation
        (``not_certified``: the certificate was revoked meanwhile).
    """
    application, course = _decidable(TeachApplication, user, application_id, "application")
    applicant = db.session.get(User, application.user_id)
    if valid_certificate(applicant.id, course.id) is None:
        raise RuleViolation("The applicant's certificate was revoked.", code="not_certified")
    row = db.session.scalar(
        sa.select(StudentTeacher).where(StudentTeacher.user_id == applicant.id, StudentTeacher.course_id == course.id)
    )
    if row is None:
        row = StudentTeacher(user_id=applicant.id, course_id=course.id, students_taught=0)
        db.session.add(row)
    row.is_active = True
    row.certified_date = now.date()
    row.approved_by = user.id
    applicant.is_student_teacher = True
    _issue(applicant.id, course, CertificateType.teaching, by=user, now=now)
    _record(application, DecisionStatus.approved, user, now)
    notify(
        applicant,
        "teach_application_approved",
        title=f"You can teach {course.title}",
        body="Set your availability and students can book you from the course page.",
        dedupe_key=f"teach_application_approved:{application.id}",
        now=now,
        action_url="/availability",
        email_template="notification",
        commit=False,
    )
    db.session.commit()
    return application


def reject_application(user: User, application_id, *, note, now: datetime) -> TeachApplication:
    text = _text(note, "note", required=True)
    application, course = _decidable(TeachApplication, user, application_id, "application")
    _record(application, DecisionStatus.rejected, user, now, note=text)
    notify(
        db.session.get(User, application.user_id),
        "teach_application_rejected",
        title=f"Not yet: teaching {course.title}",
        body=f'{user.name}: "{text}" You may apply again.',
        dedupe_key=f"teach_application_rejected:{application.id}",
        now=now,
        commit=False,
    )
    db.session.commit()
    return application


# --- the "Available as Student-Teacher" toggle --------------------------------------------------


def teaching_courses(user: User) -> list[Course]:
    """The courses the person is an active S-T of (the creator's grant), by title."""
    return list(
        db.session.scalars(
            sa.select(Course)
            .join(StudentTeacher, StudentTeacher.course_id == Course.id)
            .where(StudentTeacher.user_id == user.id, StudentTeacher.is_active.is_(True))
            .order_by(Course.title)
        )
    )


def set_available(user: User, available, *, now: datetime) -> bool:
    """Switch "Available as Student-Teacher": off hides the person from new bookings of every course
    they teach; booked sessions stay, can be moved and are paid. The grant (``is_active``) and the
    holiday pause (availability) are separate switches.

    :raise ValidationError (``available`` not a boolean), Forbidden (not an active S-T).
    """
    if not isinstance(available, bool):
        raise ValidationError("Send true or false.", fields={"available": "Must be true or false."})
    if not teaching_courses(user):
        raise Forbidden("Only a certified Student-Teacher has this switch.")
    user = _lock(User, user.id)
    user.is_student_teacher = available
    user.updated_at = now
    db.session.commit()
    return available
