"""Cron expressions as crontab(5) reads them, checked and expanded into the sets of values they
allow; the scheduler turns a :class:`Crontab` into its triggers.

The five fields are minute (0–59), hour (0–23), day of month (1–31), month (1–12 or jan–dec)
and weekday (0–7, 0 and 7 both Sunday, or sun–sat). Each field is ``*``, a number or a name, a
range ``a-b``, any of these with a step ``/n``, or a comma-separated list of them. When both the
day of month and the weekday are restricted, a day matching *either* is a day to run (crontab's
rule); a field that starts with ``*`` (``*``, ``*/2``) does not restrict, as cron reads it.

Every value is range-checked and a schedule that can never fire (``0 0 31 2 *``) is refused,
with a message naming the field and what it allows. croniter expands the checked fields (names,
ranges, steps, weekday 7 as 0). Pure: nothing here reads the clock or schedules anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February as in a leap year


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # "hour"
    plural: str  # "hours"
    low: int
    high: int
    names: tuple[str, ...] = ()  # names for low, low + 1, …
    note: str = ""

    @property
    def allowed(self) -> str:
        text = f"{self.plural} are {self.low}–{self.high}"
        if self.note:
            text += f" ({self.note})"
        if self.names:
            text += f" or {self.names[0]}–{self.names[-1]}"
        return text


FIELDS = (
    _Field("minute", "minutes", 0, 59),
    _Field("hour", "hours", 0, 23),
    _Field("day of month", "days of month", 1, 31),
    _Field("month", "months", 1, 12, MONTHS),
    _Field("weekday", "weekdays", 0, 7, WEEKDAYS, "0 and 7 are Sunday"),
)
_ATOM = r"(?:\*|[0-9]+|[A-Za-z]+)"
_ELEMENT = re.compile(rf"^({_ATOM})(?:-({_ATOM}))?(?:/([0-9]+))?$")


class CronError(ValueError):
    """A cron expression that crontab would refuse, or that can never fire."""


@dataclass(frozen=True, slots=True)
class Crontab:
    """A checked cron expression: the values each field allows, sorted. ``weekdays`` counts
    from Sunday = 0. ``either_day``: day of month and weekday are both restricted, and a day
    matching either one is a day to run."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]
    days_restricted: bool
    weekdays_restricted: bool

    @property
    def either_day(self) -> bool:
        return self.days_restricted and self.weekdays_restricted


def parse(expression: str) -> Crontab:
    """Check and expand a five-field cron expression; raises CronError saying what is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(
            f"a cron expression has 5 fields (minute hour day-of-month month weekday), "
            f"this one has {len(fields)}"
        )
    for text, field in zip(fields, FIELDS, strict=True):
        for element in text.split(","):
            _check(element, field)
    # Loaded here, with the first cron expression: a config of "every" schedules never needs it.
    from croniter import CroniterError, croniter

    try:
        expanded, _ = croniter.expand(" ".join(fields))
    except CroniterError as e:  # what our checks let through and croniter still refuses
        raise CronError(str(e)) from e
    values = [
        tuple(range(f.low, 7 if f.name == "weekday" else f.high + 1))
        if e == ["*"]
        else tuple(sorted({int(v) % 7 if f.name == "weekday" else int(v) for v in e}))
        for e, f in zip(expanded, FIELDS, strict=True)
    ]
    crontab = Crontab(
        expression=" ".join(fields),
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=values[4],
        days_restricted=not fields[2].startswith("*"),
        weekdays_restricted=not fields[4].startswith("*"),
    )
    _check_possible(crontab)
    return crontab


def _check(element: str, field: _Field) -> None:
    m = _ELEMENT.match(element)
    if not m:
        raise CronError(
            f"{element!r} is not crontab syntax in the {field.name} field: use a number, "
            f"a name, *, a range a-b, a step /n, or a list of these"
        )
    first, last, step = m.groups()
    if step is not None and int(step) == 0:
        raise CronError(f"step 0 in the {field.name} field: a step is at least 1")
    if first == "*":
        if last is not None:
            raise CronError(f"{element!r} is not crontab syntax in the {field.name} field")
        return
    low = _value(first, field)
    if last is not None:
        high = _value(last, field)
        if high < low:
            raise CronError(
                f"range {first}-{last} runs backwards in the {field.name} field: "
                f"write the smaller value first"
            )


def _value(atom: str, field: _Field) -> int:
    if atom.isdigit():
        value = int(atom)
        if not field.low <= value <= field.high:
            raise CronError(f"{field.name} {value} is out of range: {field.allowed}")
        return value
    name = atom.lower()
    if name not in field.names:
        raise CronError(f"{atom!r} is not a {field.name}: {field.allowed}")
    return field.low + field.names.index(name)


def _check_possible(crontab: Crontab) -> None:
    """Refuse a schedule whose days of month exist in none of its months (``31 2``); a
    weekday that may stand instead (``31 2 fri``) can always fire."""
    if not crontab.days_restricted or crontab.either_day:
        return
    if any(day <= MONTH_DAYS[month - 1] for month in crontab.months for day in crontab.days):
        return
    months = ",".join(str(m) for m in crontab.months)
    days = ",".join(str(d) for d in crontab.days)
    raise CronError(f"can never run: no month among {months} has a day {days}")
