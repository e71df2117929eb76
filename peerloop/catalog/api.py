"""/api/courses, /api/courses/:id_or_slug, /api/courses/:id/sts."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user

from peerloop import clock, readcache
from peerloop.api import page_args, paginated
from peerloop.catalog import services
from peerloop.catalog.serializers import course_detail_json, course_summary_json
from peerloop.errors import NotFound

bp = Blueprint("catalog_api", __name__)


@bp.get("/courses")
@readcache.shared(params=("category", "level", "q", "sort", "page", "per_page"))
def courses():
    filters = services.parse_filters(request.args, default_per_page=20)
    items, total = services.search_courses(filters)
    return paginated([course_summary_json(c) for c in items], page=filters.page, per_page=filters.per_page, total=total)


@bp.get("/courses/<id_or_slug>")
@readcache.shared
def course(id_or_slug: str):
    course = services.get_course(id_or_slug, viewer=current_user)
    if course is None:
        raise NotFound("No such course.")
    return jsonify(course_detail_json(course))


@bp.get("/courses/<id_or_slug>/sts")
@readcache.shared(params=("page", "per_page"), timed=True)
def course_teachers(id_or_slug: str):
    """Who teaches the course (the creator too when they teach it), one page paged in SQL, each with
    ``next_available`` and its next free ``slots``."""
    from peerloop.scheduling.api import teacher_card_json

    course = services.get_course(id_or_slug, viewer=current_user, with_details=False)
    if course is None:
        raise NotFound("No such course.")
    page, per_page = page_args(request.args)
    cards = services.course_teachers(course, page=page, per_page=per_page, now=clock.now(), viewer=current_user)
    return paginated(
        [teacher_card_json(c) for c in cards], page=page, per_page=per_page, total=services.course_teacher_count(course)
    )
