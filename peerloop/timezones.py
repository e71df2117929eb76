"""Time zones: which names are valid, the picker's choices, and times shown in a person's zone.

Times are stored UTC-aware (``peerloop.db.UTCDateTime``) and shown in the
viewer's zone (``User.timezone``) with the zone's abbreviation:
"14 Nov 2026, 11:42 EST". Templates use the ``localtime`` filter
(``peerloop.templating``); services that write a time into a notification or
email body use ``format_local(dt, recipient.timezone)``.

``zoneinfo.available_timezones()`` walks the zone directory (~6.5 ms a call),
so the set is computed once per process. The picker lists only real places
(the ``zone.tab`` table of the tz database: one line per country and zone,
canonical names), grouped by region, each with its current UTC offset; not
``Factory``, ``localtime``, ``posixrules``, ``Etc/GMT+5`` nor legacy aliases
such as ``US/Eastern`` or ``Asia/Calcutta``. Any valid IANA name is still
accepted (the API, an existing account's zone).
"""

from __future__ import annotations

import functools
import importlib.resources
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from wtforms.fields.choices import SelectChoice

DEFAULT_ZONE = "UTC"
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")
REGION_LABELS = {"Indian": "Indian Ocean"}
MINUS = "\u2212"  # the typographic minus: "UTC−05:00"


# --- valid names -------------------------------------------------------------------


# Names zoneinfo loads that are not a place: "localtime" is whatever the server's clock is set to,
# "Factory" is the tz database's placeholder with the abbreviation "-00".
NOT_A_ZONE = frozenset({"Factory", "localtime", "posixrules"})


@functools.cache
def valid_timezones() -> frozenset[str]:
    """Every zone name zoneinfo can load here that names a place (computed once per process)."""
    return frozenset(
        name for name in zoneinfo.available_timezones() if name not in NOT_A_ZONE and not name.startswith("posix")
    )


def is_valid_timezone(name: object) -> bool:
    return isinstance(name, str) and name in valid_timezones()


def zone_for(name: str | None) -> zoneinfo.ZoneInfo:
    """The ZoneInfo for ``name``; UTC for None, an empty or an unknown name."""
    # ZoneInfo keeps its own cache of instances: this is a dictionary lookup.
    return zoneinfo.ZoneInfo(name if is_valid_timezone(name) else DEFAULT_ZONE)


# --- the picker ----------------------------------------------------------------------


def _zone_tab_text() -> str | None:
    """zone.tab from the directory zoneinfo reads first, else from the tzdata package."""
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / "zone.tab"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    try:
        return importlib.resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None


@functools.cache
def picker_zones() -> tuple[str, ...]:
    """The real places a person may pick, as zone names (sorted, computed once)."""
    valid = valid_timezones()
    text = _zone_tab_text()
    if text is not None:
        names = {
            columns[2]
            for line in text.splitlines()
            if line and not line.startswith("#") and len(columns := line.split("\t")) >= 3
        }
    else:  # no table anywhere: every Region/Place name (a few legacy aliases slip in)
        names = {n for n in valid if n.split("/", 1)[0] in REGIONS and "/" in n}
    return tuple(sorted(n for n in names if n in valid and n.split("/", 1)[0] in REGIONS))


def place_label(name: str) -> str:
    """A place's name: America/New_York -> "New York", America/Argentina/Buenos_Aires -> "Buenos Aires, Argentina"."""
    parts = [p.replace("_", " ") for p in name.split("/")[1:]] or [name]
    return ", ".join(reversed(parts))


def format_offset(offset: timedelta | None) -> str:
    """timedelta(hours=-5) -> "UTC−05:00"; zero -> "UTC+00:00"."""
    minutes = round((offset or timedelta(0)).total_seconds() / 60)
    sign = MINUS if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def _hour(now: datetime | None) -> datetime:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(minute=0, second=0, microsecond=0)


@functools.lru_cache(maxsize=4)
def _choices_at(hour: datetime) -> tuple[SelectChoice, ...]:
    choices = [SelectChoice(DEFAULT_ZONE, "UTC (Coordinated Universal Time)")]
    grouped: dict[str, list[SelectChoice]] = {}
    for name in picker_zones():
        region = name.split("/", 1)[0]
        offset = format_offset(hour.astimezone(zoneinfo.ZoneInfo(name)).utcoffset())
        group = REGION_LABELS.get(region, region)
        grouped.setdefault(group, []).append(SelectChoice(name, f"{place_label(name)} ({offset})", optgroup=group))
    for region in REGIONS:
        group = REGION_LABELS.get(region, region)
        choices.extend(sorted(grouped.get(group, []), key=lambda c: c.label.casefold()))
    return tuple(choices)


def picker_choices(current: str | None = None, *, now: datetime | None = None) -> list[SelectChoice]:
    """The picker's options: UTC first, then places grouped by region with their offset now.

    Offsets are worked out once an hour (at the top of the hour: around a DST
    change a label can be an hour late). ``current``, a valid zone that is not a
    listed place (an older account's "US/Eastern"), is kept selectable under "Other".
    """
    choices = list(_choices_at(_hour(now)))
    if current and current != DEFAULT_ZONE and is_valid_timezone(current) and current not in picker_zones():
        offset = format_offset(_hour(now).astimezone(zoneinfo.ZoneInfo(current)).utcoffset())
        choices.append(SelectChoice(current, f"{current} ({offset})", optgroup="Other"))
    return choices


# --- showing times -------------------------------------------------------------------


def to_local(dt: datetime, zone: str | None) -> datetime:
    """``dt`` in ``zone`` (UTC for an unknown zone). A naive ``dt`` is taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(zone_for(zone))


def abbreviation(local: datetime) -> str:
    """The zone's abbreviation ("EST", "IST", "CET"); zones with none get their offset ("UTC+03:00")."""
    name = local.tzname() or ""
    if not name or name[0] in "+-":
        return format_offset(local.utcoffset())
    return name


def format_local(value: datetime | date | None, zone: str | None, *, style: str = "long") -> str:
    """A time as people read it, in ``zone``, to the minute, with the abbreviation.

    ``long``: "14 Nov 2026, 11:42 EST" (pages and emails); ``console``:
    "2026-11-14 11:42 EST" (the consoles' tables sort by eye); ``short``: "Sat 14 Nov, 11:42 EST";
    ``time``: "11:42" (slot buttons, under a heading that names the day and zone). A ``date`` has
    no zone and is shown as it is ("14 Nov 2026" / "2026-11-14"); None is "".
    """
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value.isoformat() if style == "console" else f"{value.day} {value:%b %Y}"
    local = to_local(value, zone)
    if style == "console":
        return f"{local:%Y-%m-%d %H:%M} {abbreviation(local)}"
    if style == "time":  # a slot button: "15:00"
        return f"{local:%H:%M}"
    if style == "date":  # a day in the reader's zone: "14 Nov 2026" (certificates)
        return f"{local.day} {local:%b %Y}"
    if style == "short":  # a list of sessions: "Thu 3 Dec, 15:00 EST"
        return f"{local:%a} {local.day} {local:%b, %H:%M} {abbreviation(local)}"
    return f"{local.day} {local:%b %Y, %H:%M} {abbreviation(local)}"


def iso_utc(value: datetime) -> str:
    """The machine-readable instant for ``<time datetime>``: "2026-11-14T16:42:37Z"."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
