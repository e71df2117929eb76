"""Public pages: home, the catalog, course pages, terms and refund policy."""

from __future__ import annotations

import math

from flask import Blueprint, abort, current_app, render_template, request, send_from_directory
from flask_login import current_user
from markupsafe import Markup

from peerloop import clock, readcache
from peerloop.catalog import services
from peerloop.errors import ValidationError
from peerloop.payments.money import rates_from_config, split_payment
from peerloop.payments.services import live_enrollment

bp = Blueprint("catalog", __name__)


@bp.get("/")
@readcache.shared
def home():
    return render_template(
        "catalog/home.html", featured=services.featured_courses(6), categories=services.categories_with_courses()
    )


@bp.get("/courses")
@readcache.shared(params=("category", "level", "q", "sort", "page", "per_page"))
def courses():
    status = 200
    problems: dict[str, str] = {}
    try:
        filters = services.parse_filters(request.args)
    except ValidationError as error:
        # Show the catalog anyway, unfiltered, with what was wrong.
        problems, status = error.fields, 400
        filters = services.CourseFilters()
    items, total = services.search_courses(filters)
    pages = max(1, math.ceil(total / filters.per_page))
    return render_template(
        "catalog/courses.html",
        courses=items,
        total=total,
        filters=filters,
        pages=pages,
        problems=problems,
        categories=services.categories(),
        levels=["beginner", "intermediate", "advanced"],
    ), status


@bp.get("/courses/<slug>")
@readcache.shared(timed=True)  # its teachers' free times
def course(slug: str):
    course = services.get_course(slug, viewer=current_user, with_details=False)
    if course is None:
        abort(404)
    return render_template(
        "catalog/course.html",
        course=course,
        body=course_body(course),
        teachers=services.course_teachers(course, now=clock.now(), viewer=current_user, slot_limit=4),
        can_manage=services.can_manage_course(current_user, course),
        enrollment=(live_enrollment(current_user.id, course.id) if current_user.is_authenticated else None),
    )


def course_body(course) -> dict[str, Markup]:
    """The course page's description, curriculum, prerequisites and creator card: the same for
    everyone, so a published course's are made once per change and shared by every visitor (a
    draft's only its creator and admins see, and are never stored)."""

    def render() -> dict[str, str]:
        # Read again, after the fragment's version: a change committed since the page loaded the
        # course must not be stored under the version that follows it.
        fresh = services.course_with_details(course.id)
        rates = rates_from_config(current_app.config)
        context = {
            "course": fresh,
            "prerequisites": services.prerequisites_by_type(fresh),
            "sessions": services.modules_by_session(fresh),
            "split_rates": rates,
            # "Where your money goes": this price divided by the configured split, as a payment will be.
            "price_split": split_payment(fresh.price_cents, rates=rates),
        }
        env = current_app.jinja_env
        return {
            "main": env.get_template("catalog/_course_main.html").render(context),
            "creator": env.get_template("catalog/_course_creator.html").render(context),
        }

    pieces = readcache.fragment(f"course-body:{course.id}", render) if course.is_listed else render()
    return {name: Markup(html) for name, html in pieces.items()}


TEACHERS_PER_PAGE = 24


@bp.get("/courses/<slug>/teachers")
@readcache.shared(params=("page",), timed=True)
def teachers(slug: str):
    """Every teacher of a course (its creator when they teach it, then its active S-Ts), 24 a page."""
    course = services.get_course(slug, viewer=current_user, with_details=False)
    if course is None:
        abort(404)
    total = services.course_teacher_count(course)
    pages = max(1, math.ceil(total / TEACHERS_PER_PAGE))
    page = request.args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and 1 <= int(page) <= pages else None
    if page is None:
        abort(404)
    cards = services.course_teachers(
        course, page=page, per_page=TEACHERS_PER_PAGE, now=clock.now(), viewer=current_user, slot_limit=1
    )
    return render_template("catalog/teachers.html", course=course, teachers=cards, total=total, page=page, pages=pages)


@bp.get("/terms")
def terms():
    return render_template("pages/terms.html")


@bp.get("/refund-policy")
def refund_policy():
    return render_template("pages/refund_policy.html")


@bp.get("/how-it-works")
def how_it_works():
    return render_template("pages/how_it_works.html")


@bp.get("/become-a-creator")
def become_creator():
    return render_template("pages/become_creator.html")


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links; pages link the SVG too."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/x-icon", max_age=86400)
