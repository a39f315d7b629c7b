"""systemd calendar expressions (``OnCalendar=``, systemd.time(7)), checked before they reach a timer file.

``check_calendar`` accepts the forms systemd documents: a shorthand (``daily``, ``hourly``…) or
``[WEEKDAYS] [DATE] [TIME] [TIMEZONE]`` with ``*``, lists (``,``), ranges (``..``), repetitions (``/``) and
last days of a month (``~``). It refuses anything else, a newline first: the value becomes a line of a unit
file. The host's ``systemd-analyze calendar`` has the last word (components/app/host/schedules.sh): an older
systemd may not know a form this accepts.
"""

from __future__ import annotations

import re
import zoneinfo

SHORTHANDS = frozenset(
    ("minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually", "quarterly", "semiannually")
)
_DAYS = "mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DAY_RANGE = rf"(?:{_DAYS})(?:\.\.(?:{_DAYS}))?"
WEEKDAYS = re.compile(rf"{_DAY_RANGE}(?:,{_DAY_RANGE})*", re.IGNORECASE)
# One component of a date or time: `*`, a value, a range `a..b`, each with an optional repetition `/n`.
_NUM = r"[0-9]{1,4}"
_VALUE = rf"(?:\*|{_NUM}(?:\.\.{_NUM})?)(?:/{_NUM})?"
_LIST = rf"{_VALUE}(?:,{_VALUE})*"
_SEC = r"[0-9]{1,2}(?:\.[0-9]{1,6})?"
_SEC_VALUE = rf"(?:\*|{_SEC}(?:\.\.{_SEC})?)(?:/{_SEC})?"
DATE = re.compile(rf"(?:{_LIST}-)?{_LIST}[-~]{_LIST}")
TIME = re.compile(rf"{_LIST}:{_LIST}(?::{_SEC_VALUE}(?:,{_SEC_VALUE})*)?")
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}")
EXAMPLES = "'daily', 'Mon..Fri 02:30', '*-*-* *:0/15' or '*-*-01 04:00 UTC'"


def _zone_problem(zone: str) -> str | None:
    if not _ZONE.fullmatch(zone):
        return f"{zone!r} is not a time zone"
    if zone != "UTC" and (zones := zoneinfo.available_timezones()) and zone not in zones:
        return f"{zone!r} is not a time zone this machine knows (tz database)"
    return None


def calendar_problem(value: str) -> str | None:
    """Why ``value`` is not a systemd calendar expression (None: it is one)."""
    if not re.fullmatch(r"[ -~]+", value) or not value.strip():
        return f"must be a calendar expression on one line of printable ASCII, such as {EXAMPLES}"
    tokens = value.split()
    if len(tokens) == 1 and tokens[0].lower() in SHORTHANDS:
        return None
    rest = list(tokens)
    found = []
    for kind, pattern in (("weekdays", WEEKDAYS), ("date", DATE), ("time", TIME)):
        if rest and pattern.fullmatch(rest[0]):
            found.append(kind)
            rest.pop(0)
    if not found:
        return f"{value!r} is not a calendar expression (weekdays, date, time), such as {EXAMPLES}"
    if len(rest) == 1:
        return _zone_problem(rest[0])
    if rest:
        return f"{value!r} is not a calendar expression: {rest[0]!r} is not a weekday, date, time or time zone in its place"
    return None


def check_calendar(value: str) -> str:
    """``value`` when it is a calendar expression; ValueError saying why not."""
    problem = calendar_problem(value)
    if problem:
        raise ValueError(problem)
    return value
