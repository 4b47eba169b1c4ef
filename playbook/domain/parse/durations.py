"""Durations: ``30m``, ``1h 30m``, ``90 min``, ``1.5h``, ``every 2 hours``."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from playbook.domain.errors import ParseError
from playbook.domain.parse.common import SureError, echo, norm, plain_errors

__all__ = ["MAX_DURATION", "parse_duration", "read_duration"]

MAX_DURATION = timedelta(days=366)
"""Longest duration accepted: beyond a year a cadence or promise is a typo, not a plan."""

# unit word -> (seconds, rank); ranks must strictly decrease ("1h30m", not "30m1h" or "1h2h").
_UNITS: dict[str, tuple[int, int]] = {}
for _names, _seconds, _rank in (
    (("w", "wk", "wks", "week", "weeks"), 7 * 86400, 4),
    (("d", "day", "days"), 86400, 3),
    (("h", "hr", "hrs", "hour", "hours"), 3600, 2),
    (("m", "min", "mins", "minute", "minutes"), 60, 1),
):
    for _name in _names:
        _UNITS[_name] = (_seconds, _rank)

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([a-z]+)\.?")
_DURATION_SEPARATOR = re.compile(r"\s*(?:,\s*|and\s+)?")
_LONE_UNIT = re.compile(r"(?:(?:an?|one)\s+)?(minute|hour|day|week)")
_DURATION_FORMS = "Try `30m`, `1h`, `1h30m`, `90 min` or `every 2 hours`."


@plain_errors
def parse_duration(text: str) -> timedelta:
    """Read a duration such as ``30m``, ``1h 30m``, ``90 min``, ``1.5h`` or ``every 2 hours``.

    Accepted: numbers (decimals too) with units of minutes (``m``, ``min``, ``mins``,
    ``minute(s)``), hours (``h``, ``hr(s)``, ``hour(s)``), days (``d``, ``day(s)``) and weeks
    (``w``, ``week(s)``), largest unit first, optionally joined by spaces, commas or "and"; a
    leading "every"; and a bare unit (``every hour``, ``an hour``) meaning one of it. Case and
    spacing do not matter. The result is rounded to whole seconds and must be more than zero and
    at most `MAX_DURATION`. Seconds are not a unit here: nothing in the playbook runs that fast.
    """
    return read_duration(text)


def read_duration(text: str) -> timedelta:
    """`parse_duration` keeping the `SureError` refinement, for the parsers that build on it."""
    body = norm(text)
    if not body:
        raise ParseError(f"I need a duration. {_DURATION_FORMS}")
    if body.startswith("every "):
        body = body[len("every ") :]
    lone = _LONE_UNIT.fullmatch(body)
    if lone is not None:
        return timedelta(seconds=_UNITS[lone.group(1)][0])

    garbage = ParseError(f"I couldn't read {echo(text)} as a duration. {_DURATION_FORMS}")
    total = Decimal(0)
    last_rank = 99
    pos = 0
    while pos < len(body):
        separator = _DURATION_SEPARATOR.match(body, pos) if pos else None
        if separator is not None:
            pos = separator.end()
        part = _DURATION_PART.match(body, pos)
        if part is None:
            raise garbage
        unit = _UNITS.get(part.group(2))
        if unit is None or unit[1] >= last_rank:
            raise garbage
        number = part.group(1)
        if len(number.partition(".")[0]) > 12:  # far beyond a year whatever the unit
            raise SureError(f"{echo(text)} is too long: the most I accept is 366 days.")
        total += Decimal(number) * unit[0]
        last_rank = unit[1]
        pos = part.end()

    if total > Decimal(MAX_DURATION.days * 86400):
        raise SureError(f"{echo(text)} is too long: the most I accept is 366 days.")
    seconds = int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if seconds <= 0:
        raise SureError(
            f"A duration must be longer than zero (I got {echo(text)}). {_DURATION_FORMS}"
        )
    return timedelta(seconds=seconds)
