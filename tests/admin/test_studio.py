"""The creators' studio at /studio: each creator sees and edits only their own courses.

Another creator's course is a 404 by list, search, edit or details URL, and a
tampered form can neither hand a course to someone else nor publish it.
"""

from __future__ import annotations

from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from peerloop.catalog.models import Course
from peerloop.extensions import db


class FormReader(HTMLParser):
    """The fields a browser would submit from the first ``admin-form`` on a page.

    Inline-model templates are escaped text in Flask-Admin pages, so only real
    fields are read.
    """

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self.in_form = False
        self.done = False
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.done:
            return
        if tag == "form" and "admin-form" in (attrs.get("class") or ""):
            self.in_form = True
        if not self.in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") == "checkbox":
                if "checked" in attrs:
                    self.values[name] = attrs.get("value") or "y"
            else:
                self.values[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select, self._select_first = name, None
        elif tag == "option" and self._select:
            value = attrs.get("value") or ""
            if self._select_first is None:
                self._select_first = value
            if "selected" in attrs:
                self.values[self._select] = value

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            # Browsers drop the one newline that follows <textarea>.
            text = self.values[self._textarea]
            self.values[self._textarea] = (
                text.removeprefix("\r\n") if text.startswith("\r\n") else text.removeprefix("\n")
            )
            self._textarea = None
        elif tag == "select" and self._select:
            self.values.setdefault(self._select, self._select_first or "")
            self._select = None
        elif tag == "form" and self.in_form:
            self.in_form, self.done = False, True


def form_values(html: str) -> dict[str, str]:
    reader = FormReader()
    reader.feed(html)
    assert reader.values, "no admin form on the page"
    return reader.values


def fresh(course: Course) -> Course:
    db.session.expire_all()
    return db.session.get(Course, course.id)


@pytest.fixture
def studio(make, login_as):
    """Creators A and B with a course each; A is logged in."""
    a = make.creator(name="Alice Author", handle="alice_author")
    b = make.creator(name="Bob Builder", handle="bob_builder")
    a_course = make.course(creator=a, title="Alpha Course by Alice", slug="alpha-course")
    b_course = make.course(creator=b, title="Bravo Course by Bob", slug="bravo-course", tagline="Bob's tagline")
    login_as(a)
    return SimpleNamespace(a=a, b=b, a_course=a_course, b_course=b_course)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


# --- the course pages render (the suite turns warnings into errors) --------------------


@pytest.mark.parametrize(
    "form",
    ["studio new", "basics", "price", "learn", "curriculum", "audience", "testimonials", "console edit"],
)
def test_course_forms_render(client, make, login_as, form):
    creator = make.creator()
    course = make.course(creator=creator, details=True)
    login_as(make.admin() if form == "console edit" else creator)
    url = {
        "studio new": "/studio/courses/new/",
        "console edit": f"/admin/console_courses/edit/?id={course.id}",
    }.get(form, f"/studio/courses/{course.id}/{form}/")

    assert client.get(url).status_code == 200


def test_flask_admins_edit_url_opens_the_builder(client, studio):
    response = client.get(f"/studio/courses/edit/?id={studio.a_course.id}")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/studio/courses/{studio.a_course.id}/basics/")


# --- isolation ------------------------------------------------------------------------


def test_course_list_shows_only_the_creators_own_courses(client, studio):
    body = page(client, "/studio/courses/")

    assert studio.a_course.title in body
    assert studio.b_course.title not in body


def test_studio_dashboard_shows_only_the_creators_own_courses(client, studio):
    body = page(client, "/studio/")

    assert studio.a_course.title in body
    assert studio.b_course.title not in body


def test_course_list_search_does_not_find_another_creators_course(client, studio):
    # The search box echoes the words searched for, so look for B's course row, not its title.
    body = page(client, "/studio/courses/?search=Bravo")

    assert str(studio.b_course.id) not in body
    assert "There are no items in the table." in body


def test_course_list_search_finds_the_creators_own_course(client, studio):
    body = page(client, "/studio/courses/?search=Alpha")

    assert str(studio.a_course.id) in body
    assert str(studio.b_course.id) not in body


def test_edit_page_of_another_creators_course_is_404(client, studio):
    response = client.get(f"/studio/courses/edit/?id={studio.b_course.id}")

    assert response.status_code == 404
    assert studio.b_course.title not in response.get_data(as_text=True)


def test_details_page_of_another_creators_course_is_404(client, studio):
    response = client.get(f"/studio/courses/details/?id={studio.b_course.id}")

    assert response.status_code == 404
    assert studio.b_course.title not in response.get_data(as_text=True)


def test_posting_an_edit_to_another_creators_course_is_404_and_changes_nothing(client, studio):
    # A takes their own, valid section form and points it at B's course.
    data = form_values(page(client, f"/studio/courses/{studio.a_course.id}/basics/"))
    data.update(title="Hijacked", slug="hijacked", tagline="Hijacked")

    response = client.post(f"/studio/courses/{studio.b_course.id}/basics/", data=data)

    assert response.status_code == 404
    course = fresh(studio.b_course)
    assert (course.title, course.slug, course.tagline) == ("Bravo Course by Bob", "bravo-course", "Bob's tagline")
    assert course.creator_id == studio.b.id


@pytest.mark.parametrize("path", ["edit/?id=nope", "details/?id=nope", "nope/basics/", "nope/preview"])
def test_a_non_uuid_id_is_a_404_not_a_500(client, studio, path):
    response = client.get(f"/studio/courses/{path}")

    assert response.status_code == 404


# --- creating and editing through the forms ----------------------------------------


def new_course_form(client, category_id, **overrides) -> dict:
    data = form_values(page(client, "/studio/courses/new/"))
    data.update(
        title="Gamma Course",
        slug="gamma-course",
        tagline="Learn gamma",
        description="All about gamma.",
        category_id=str(category_id),
        level="intermediate",
        price="250",
        currency="USD",
        duration="3 weeks",
        session_count="3",
    )
    data.update(overrides)
    return data


def test_new_course_form_offers_categories_by_id_and_levels_by_value(client, studio):
    body = page(client, "/studio/courses/new/")

    assert f'<option value="{studio.a_course.category_id}"' in body
    for level in ("beginner", "intermediate", "advanced"):
        assert f'<option value="{level}"' in body
    for label in ("Course title", "Price (USD)", "Number of live sessions"):
        assert label in body


def test_new_course_belongs_to_its_creator_and_is_a_draft_despite_tampered_fields(client, studio):
    data = new_course_form(
        client, studio.a_course.category_id, creator_id=str(studio.b.id), creator=str(studio.b.id), is_active="y"
    )

    response = client.post("/studio/courses/new/", data=data)

    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    course = db.session.query(Course).filter_by(slug="gamma-course").one()
    assert response.headers["Location"].endswith(f"/studio/courses/{course.id}/learn/")
    assert course.creator_id == studio.a.id
    assert course.is_active is False
    assert course.title == "Gamma Course"
    assert course.level.value == "intermediate"
    assert course.category_id == studio.a_course.category_id
    assert course.price_cents == 25000
    assert "Saved as a draft." in page(client, response.headers["Location"])


def test_new_draft_is_not_in_the_public_catalog(client, studio):
    client.post("/studio/courses/new/", data=new_course_form(client, studio.a_course.category_id))

    assert "Gamma Course" not in page(client, "/courses")
    assert "Gamma Course" in page(client, "/studio/courses/")


def test_editing_own_course_saves_changes_and_ignores_a_tampered_owner(client, studio):
    edit_url = f"/studio/courses/{studio.a_course.id}/basics/"
    data = form_values(page(client, edit_url))
    assert data["title"] == studio.a_course.title  # the form was read, not guessed
    data.update(title="Alpha Course, second edition", tagline="Now with more alpha", creator=str(studio.b.id))
    data["creator_id"] = str(studio.b.id)
    data["is_active"] = "y"

    response = client.post(edit_url, data=data)

    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    course = fresh(studio.a_course)
    assert course.title == "Alpha Course, second edition"
    assert course.tagline == "Now with more alpha"
    assert course.creator_id == studio.a.id
    assert course.slug == "alpha-course"


@pytest.mark.parametrize("section", ["basics", "price"])
def test_editing_cannot_unpublish_or_publish_through_a_tampered_is_active(client, make, login_as, section):
    creator = login_as(make.creator())
    draft = make.course(creator=creator, title="Still a draft", slug="still-a-draft", is_active=False)
    live = make.course(creator=creator, title="Live one", slug="live-one", is_active=True)
    for course, expected in ((draft, False), (live, True)):
        edit_url = f"/studio/courses/{course.id}/{section}/"
        data = form_values(page(client, edit_url))
        data["is_active"] = "" if expected else "y"

        response = client.post(edit_url, data=data)

        assert response.status_code == 302
        assert fresh(course).is_active is expected


def test_creating_a_course_with_a_taken_slug_shows_a_form_error(client, studio):
    data = new_course_form(client, studio.a_course.category_id, title="Copycat", slug=studio.b_course.slug)

    response = client.post("/studio/courses/new/", data=data)

    assert response.status_code == 400  # the form again, with the message
    body = response.get_data(as_text=True)
    assert "Another course already uses that slug." in body
    assert "IntegrityError" not in body
    db.session.expire_all()
    assert db.session.query(Course).filter_by(title="Copycat").count() == 0
    assert fresh(studio.b_course).creator_id == studio.b.id


def test_editing_a_course_to_a_taken_slug_shows_a_form_error(client, studio):
    edit_url = f"/studio/courses/{studio.a_course.id}/basics/"
    data = form_values(page(client, edit_url))
    data["slug"] = studio.b_course.slug

    response = client.post(edit_url, data=data)

    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "Another course already uses that slug." in body
    assert "IntegrityError" not in body
    assert fresh(studio.a_course).slug == "alpha-course"


def test_creating_a_course_with_a_bad_slug_shows_a_form_error(client, studio):
    data = new_course_form(client, studio.a_course.category_id, slug="Not A Slug!")

    response = client.post("/studio/courses/new/", data=data)

    assert response.status_code == 400
    assert "Use lower-case letters, numbers and single hyphens." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.query(Course).filter_by(title="Gamma Course").count() == 0


def test_creating_a_course_without_csrf_token_is_refused(client, studio):
    data = new_course_form(client, studio.a_course.category_id)
    del data["csrf_token"]

    response = client.post("/studio/courses/new/", data=data)

    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.query(Course).filter_by(slug="gamma-course").count() == 0


def test_saving_a_section_without_csrf_token_is_refused(client, studio):
    edit_url = f"/studio/courses/{studio.a_course.id}/basics/"
    data = form_values(page(client, edit_url))
    del data["csrf_token"]
    data["title"] = "No token"

    assert client.post(edit_url, data=data).status_code == 400
    assert fresh(studio.a_course).title == "Alpha Course by Alice"


# --- list rows and odd values (found by probing on PostgreSQL) ------------------------


@pytest.mark.parametrize(
    ("section", "extra", "message"),
    [
        ("basics", {"thumbnail_url": "javascript:alert(1)"}, "full web address"),
        ("basics", {"search_tags": "x" * 51}, "at most 50 characters"),
        ("learn", {"objectives-0-objective": "   "}, "Fill this in, or tick Remove."),
        (
            "curriculum",
            {
                "modules-0-title": "M",
                "modules-0-description": "D",
                "modules-0-duration": "20 min",
                "modules-0-session_number": "-1",
            },
            "Not a valid choice",
        ),
        (
            "curriculum",
            {
                "modules-0-title": "M",
                "modules-0-description": "D",
                "modules-0-duration": "20 min",
                "modules-0-video_url": "javascript:alert(1)",
            },
            "full web address",
        ),
        (
            "curriculum",
            {"modules-0-title": "M", "modules-0-description": "", "modules-0-duration": "20 min"},
            "Fill this in, or tick Remove.",
        ),
        (
            "audience",
            {"prerequisites-0-content": "Needs a laptop", "prerequisites-0-type": "mandatory"},
            "Not a valid choice",
        ),
        (
            "testimonials",
            {"testimonials-0-quote": "Great", "testimonials-0-student_name": ""},
            "Fill this in, or tick Remove.",
        ),
    ],
)
def test_bad_rows_and_fields_are_form_errors_and_save_nothing(client, studio, section, extra, message):
    url = f"/studio/courses/{studio.a_course.id}/{section}/"
    if section == "learn":  # an existing row emptied
        page(client, url)
        data = form_values(page(client, url))
        client.post(url, data={**data, "objectives-0-objective": "Learn alpha"})
    data = form_values(page(client, url))
    before = fresh(studio.a_course)
    counts = (len(before.objectives), len(before.modules), len(before.prerequisites), len(before.testimonials))
    data.update(extra)

    response = client.post(url, data=data)

    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in body, body[:3000]
    assert "SQL" not in body and "psycopg" not in body
    after = fresh(studio.a_course)
    assert (len(after.objectives), len(after.modules), len(after.prerequisites), len(after.testimonials)) == counts
    assert after.thumbnail_url is None


def test_tags_are_trimmed_lower_cased_and_kept_once(client, studio):
    url = f"/studio/courses/{studio.a_course.id}/basics/"
    data = form_values(page(client, url))
    data["search_tags"] = "  Claude Code , claude code,Terminal,, "

    assert client.post(url, data=data).status_code == 302
    course = fresh(studio.a_course)
    assert sorted(t.tag for t in course.tags) == ["claude code", "terminal"]
    assert 'value="claude code, terminal"' in page(client, url)
