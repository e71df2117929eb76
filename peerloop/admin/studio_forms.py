"""The studio's course builder: one form per section, with plain labels and prices in currency units.

Each section form is a Flask-WTF form (``ConsoleForm``), so the global CSRF
protection accepts it. Lists (what you'll learn, curriculum, …) are
``FieldList`` rows of plain WTForms forms: each row carries the id of the row it
edits (rows of another course are ignored), a ``position`` (the order, moved by
the up and down buttons or by the script), and a Remove box. The one empty row
at the end of a list adds a row when filled in, and is skipped when left empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse

from wtforms import Form
from wtforms.fields import (
    BooleanField,
    Field,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import TextInput

from peerloop.admin.base import ConsoleForm
from peerloop.catalog.management import CURRENCIES, MAX_PRICE_CENTS
from peerloop.catalog.models import Level, PrerequisiteType

MAX_SESSIONS = 50
MAX_ROWS = 100  # rows of one list a single post may carry (more are ignored)
MAX_TAGS = 20

# --- money in the currency's units ------------------------------------------------

_AMOUNT_RE = re.compile(r"^(\d+)(?:\.(\d*))?$")
_GROUPED_RE = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d*)?$")


def parse_price(text: str | None) -> int:
    """Cents for a price typed in the currency's units: "399" → 39900, "399.5" → 39950, "1,299.99" → 129999.

    :raise ValueError: with a message for the creator (empty, not a number, negative,
        more than two decimals, above the maximum).
    """
    value = (text or "").strip().replace(" ", "")
    for symbol in ("$", "€", "£"):
        value = value.removeprefix(symbol)
    if not value:
        raise ValueError("Enter a price, like 399 or 49.99 (0 while the course is free).")
    if value.startswith("-") or value.startswith("−"):
        raise ValueError("A price cannot be negative.")
    if _GROUPED_RE.match(value):
        value = value.replace(",", "")
    match = _AMOUNT_RE.match(value)
    if not match:
        raise ValueError("Enter the price as a number, like 399 or 49.99.")
    if len(match.group(2) or "") > 2:
        raise ValueError("Use at most two decimal places, like 49.99.")
    try:
        cents = int((Decimal(value) * 100).to_integral_exact())
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only plain decimals
        raise ValueError("Enter the price as a number, like 399 or 49.99.") from exc
    if cents > MAX_PRICE_CENTS:
        raise ValueError(f"At most {format_units(MAX_PRICE_CENTS)}.")
    return cents


def format_units(cents: int | None) -> str:
    """39900 → "399.00": the price as a creator types it."""
    if cents is None:
        return ""
    whole, part = divmod(int(cents), 100)
    return f"{whole}.{part:02d}"


def money_with_cents(cents: int | None, currency: str | None) -> str:
    """39900, "USD" → "$399.00": the price confirmed to the creator in full, cents included."""
    if cents is None:
        return ""
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency or "USD", f"{currency} ")
    whole, part = divmod(int(cents), 100)
    return f"{symbol}{whole:,}.{part:02d}"


class PriceField(Field):
    """A price typed in the currency's units; ``data`` is integer cents."""

    widget = TextInput()

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return format_units(self.data)

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            self.data = parse_price(valuelist[0])

    def populate_obj(self, obj, name):
        obj.price_cents = self.data


# --- choices ------------------------------------------------------------------------

LEVEL_LABELS = {Level.beginner: "Beginner", Level.intermediate: "Intermediate", Level.advanced: "Advanced"}
PREREQUISITE_LABELS = {
    PrerequisiteType.required: "Required",
    PrerequisiteType.nice_to_have: "Nice to have",
    PrerequisiteType.not_required: "Not required",
}


# Coercions that never raise: an unknown value stays as it came and is then "Not a valid choice."
def _level(value):
    try:
        return Level(value) if value else None
    except ValueError:
        return value


def _prerequisite_type(value):
    try:
        return PrerequisiteType(value) if value else None
    except ValueError:
        return value


def _session_number(value):
    if value in (None, "", "none"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def session_choices(count: int) -> list[SelectChoice]:
    return [SelectChoice("", "Self-paced (no live session)")] + [
        SelectChoice(str(n), f"Session {n}") for n in range(1, count + 1)
    ]


class WebAddress:
    """A full http(s) web address (never ``javascript:`` or a bare word)."""

    message = "Use a full web address starting with https://"

    def __call__(self, form, field):
        parsed = urlparse((field.data or "").strip())
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValidationError(self.message)


# --- list rows ------------------------------------------------------------------------


class RowForm(Form):
    """One row of a list. Subclasses name their text fields and which of them must be filled."""

    id = HiddenField()
    position = HiddenField()
    remove = BooleanField("Remove")

    text_fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    required_message = "Fill this in, or tick Remove."

    def is_blank(self) -> bool:
        return not self.id.data and all(not (self[name].data or "").strip() for name in self.text_fields)

    def is_skipped(self) -> bool:
        """An empty new row, or a row to remove: nothing to check."""
        return bool(self.remove.data) or self.is_blank()

    def validate(self, extra_validators=None):
        if self.is_skipped():
            for field in self:
                field.errors = []
            return True
        ok = super().validate(extra_validators)
        for name in self.required:
            field = self[name]
            if not (field.data or "").strip() and not field.errors:
                field.errors = [self.required_message]
                ok = False
        return ok


class ObjectiveRow(RowForm):
    objective = TextAreaField("What students will be able to do", validators=[Length(max=500)])
    text_fields = required = ("objective",)


class IncludeRow(RowForm):
    item = StringField("Included", validators=[Length(max=200)])
    text_fields = required = ("item",)


class PrerequisiteRow(RowForm):
    type = SelectField(
        "How much it matters",
        choices=[SelectChoice(t.value, label) for t, label in PREREQUISITE_LABELS.items()],
        coerce=_prerequisite_type,
        default=PrerequisiteType.required.value,
    )
    content = TextAreaField("Requirement", validators=[Length(max=300)])
    text_fields = required = ("content",)


class AudienceRow(RowForm):
    description = TextAreaField("Who it is for", validators=[Length(max=300)])
    text_fields = required = ("description",)


class TestimonialRow(RowForm):
    quote = TextAreaField("What they said", validators=[Length(max=2000)])
    student_name = StringField("Their name", validators=[Length(max=100)])
    student_role = StringField("Their role (optional)", validators=[Optional(), Length(max=100)])
    is_featured = BooleanField("Show on the course page", default=True)
    text_fields = ("quote", "student_name", "student_role")
    required = ("quote", "student_name")


class ModuleRow(RowForm):
    session_number = SelectField("Taught in", coerce=_session_number, validate_choice=True)
    title = StringField("Module title", validators=[Length(max=200)])
    duration = StringField("How long", validators=[Length(max=50)], description="e.g. 20 min")
    description = TextAreaField("What it covers", validators=[Length(max=5000)])
    learning_objectives = TextAreaField("Learning goals (optional)", validators=[Optional(), Length(max=5000)])
    topics_covered = TextAreaField("Topics (optional)", validators=[Optional(), Length(max=5000)])
    hands_on_exercise = TextAreaField("Hands-on exercise (optional)", validators=[Optional(), Length(max=5000)])
    video_url = StringField("Video link (optional)", validators=[Optional(), Length(max=500), WebAddress()])
    document_url = StringField("Document link (optional)", validators=[Optional(), Length(max=500), WebAddress()])
    has_assessment = BooleanField("Ends with a short check of what was learned")
    text_fields = (
        "title",
        "duration",
        "description",
        "learning_objectives",
        "topics_covered",
        "hands_on_exercise",
        "video_url",
        "document_url",
    )
    required = ("title", "duration", "description")


def _rows(row_form, label: str):
    return FieldList(FormField(row_form), label=label, max_entries=MAX_ROWS)


# --- the sections ---------------------------------------------------------------------


class BasicsForm(ConsoleForm):
    title = StringField("Course title", validators=[DataRequired("Enter a title."), Length(max=200)])
    slug = StringField(
        "Web address",
        validators=[DataRequired("Choose a web address."), Length(max=200)],
        description="Lower-case words and hyphens, e.g. intro-to-claude-code",
    )
    tagline = StringField(
        "Tagline", validators=[Optional(), Length(max=150)], description="One sentence under the title."
    )
    description = TextAreaField(
        "Description",
        validators=[DataRequired("Describe the course."), Length(max=20000)],
        description="Leave an empty line between paragraphs.",
    )
    category_id = SelectField("Category", validate_choice=True)
    level = SelectField(
        "Level",
        choices=[SelectChoice(level.value, label) for level, label in LEVEL_LABELS.items()],
        coerce=_level,
    )
    search_tags = StringField(
        "Tags", validators=[Optional(), Length(max=1200)], description="Words students search for, separated by commas."
    )
    thumbnail_url = StringField(
        "Cover image link",
        validators=[Optional(), Length(max=500), WebAddress()],
        description="A full web address starting with https:// (optional).",
    )


class PriceForm(ConsoleForm):
    price = PriceField("Price", description="What a student pays, in the currency below, e.g. 399 or 49.99.")
    currency = SelectField("Currency", choices=[SelectChoice(c) for c in sorted(CURRENCIES)])
    session_count = IntegerField(
        "Number of live sessions",
        validators=[Optional(), NumberRange(min=0, max=MAX_SESSIONS, message="Between 0 and 50 live sessions.")],
        description="1-on-1 video sessions included in the price.",
    )
    duration = StringField(
        "How long it takes",
        validators=[DataRequired("Say how long it takes, e.g. 2 weeks."), Length(max=50)],
        description="e.g. 2 weeks",
    )
    duration_weeks = IntegerField(
        "Length in weeks (optional)",
        validators=[Optional(), NumberRange(min=0, max=520, message="Between 0 and 520 weeks.")],
    )
    total_duration = StringField(
        "Total time (optional)", validators=[Optional(), Length(max=50)], description="e.g. 2.5 hours"
    )
    format = StringField(
        "Format (optional)", validators=[Optional(), Length(max=100)], description="e.g. Live 1-on-1 video + exercises"
    )
    lifetime_access = BooleanField("Students keep the materials for life")
    has_certificate = BooleanField("A certificate on completion")
    certificate_name = StringField("Certificate name (optional)", validators=[Optional(), Length(max=120)])
    is_retired = BooleanField(
        "Retired: no new students can enroll",
        description="Students already enrolled keep their course and their sessions.",
    )


class LearnForm(ConsoleForm):
    objectives = _rows(ObjectiveRow, "What you'll learn")
    includes = _rows(IncludeRow, "What's included")


class CurriculumForm(ConsoleForm):
    modules = FieldList(FormField(ModuleRow), label="Modules", max_entries=200)


class AudienceForm(ConsoleForm):
    prerequisites = _rows(PrerequisiteRow, "Before you start")
    target_audience = _rows(AudienceRow, "Who this is for")


class TestimonialsForm(ConsoleForm):
    testimonials = _rows(TestimonialRow, "What students say")


class NewCourseForm(ConsoleForm):
    """The first page of a new course: what the catalog needs; the rest is built section by section."""

    title = BasicsForm.title
    slug = BasicsForm.slug
    tagline = BasicsForm.tagline
    description = BasicsForm.description
    category_id = BasicsForm.category_id
    level = BasicsForm.level
    price = PriceForm.price
    currency = PriceForm.currency
    session_count = PriceForm.session_count
    duration = PriceForm.duration


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    form: type
    lists: tuple[str, ...] = ()
    intro: str = ""


SECTIONS = (
    Section("basics", "Basics", BasicsForm, intro="What the course is called and how students find it."),
    Section(
        "price",
        "Price and sessions",
        PriceForm,
        intro="What a student pays and how many live 1-on-1 sessions that buys.",
    ),
    Section(
        "learn",
        "What you'll learn",
        LearnForm,
        ("objectives", "includes"),
        intro="The outcomes a student can expect, and what the price includes.",
    ),
    Section(
        "curriculum",
        "Curriculum",
        CurriculumForm,
        ("modules",),
        intro="The modules, grouped by the live session that teaches them.",
    ),
    Section(
        "audience",
        "Requirements and audience",
        AudienceForm,
        ("prerequisites", "target_audience"),
        intro="What a student needs before starting, and who the course is for.",
    ),
    Section(
        "testimonials",
        "Testimonials",
        TestimonialsForm,
        ("testimonials",),
        intro="What earlier students said. Shown on the course page when ticked.",
    ),
)
SECTIONS_BY_KEY = {section.key: section for section in SECTIONS}

# Where a service's field message (keyed by column or "relation.column") shows in the builder.
FIELD_OF_MESSAGE = {"price_cents": "price", "category": "category_id"}
