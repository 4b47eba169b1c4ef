"""Cadences and the working hours they apply in: ``1h weekdays 9-18 Europe/Paris``."""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from playbook.domain.errors import ParseError
from playbook.domain.parse.common import SureError, echo, norm, plain_errors
from playbook.domain.parse.durations import read_duration
from playbook.domain.windows import Window

__all__ = ["parse_cadence", "parse_window"]

_DAY_WORDS: dict[str, int] = {}
for _i, _name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                            "sunday")):
    for _form in (_name, _name[:3], _name[:2] if _name[:2] in ("tu", "th", "sa", "su") else None):
        if _form:
            _DAY_WORDS[_form] = _i
_DAY_WORDS.update({"tues": 1, "wednes": 2, "thur": 3, "thurs": 3})
_DAY_SETS: dict[str, frozenset[int]] = {
    "daily": frozenset(range(7)),
    "everyday": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "workdays": frozenset(range(5)),
    "weekends": frozenset((5, 6)),
}
_DAY_RANGE = re.compile(r"([a-z]+)(?:-([a-z]+))?")
_HOUR = r"([0-9]{1,2})(?::([0-9]{2}))?\s*(am|pm)?"
_HOURS = re.compile(rf"{_HOUR}\s*(?:-|–|—|to)\s*{_HOUR}")
_WINDOW_FORMS = ("Try `weekdays 9-18 Europe/Paris`, `mon-fri 09:00-17:30 America/New_York` or "
                 "`daily 8-20 UTC`.")
_CADENCE_FORMS = "`/incident cadence 1h` or `/incident cadence 1h weekdays 9-18 Europe/Paris`"


def _window_days(token: str) -> frozenset[int] | None:
    """``weekdays``, ``daily``, ``mon-fri``, ``mon,wed,fri``, ``tue-thu,sat``; None if not days."""
    if token in _DAY_SETS:
        return _DAY_SETS[token]
    days: set[int] = set()
    for part in token.split(","):
        m = _DAY_RANGE.fullmatch(part)
        if m is None or m.group(1) not in _DAY_WORDS or (m.group(2) and
                                                         m.group(2) not in _DAY_WORDS):
            return None
        first = _DAY_WORDS[m.group(1)]
        last = _DAY_WORDS[m.group(2)] if m.group(2) else first
        day = first
        days.add(day)
        while day != last:  # fri-mon wraps over the weekend
            day = (day + 1) % 7
            days.add(day)
    return frozenset(days)


def _minutes(hour: str, minute: str | None, meridiem: str | None, typed: str) -> int:
    h, m = int(hour), int(minute or 0)
    if meridiem:
        if not 1 <= h <= 12:
            raise SureError(f"{echo(typed)}: with am/pm the hour is 1 to 12.")
        h = h % 12 + (12 if meridiem == "pm" else 0)
    if m > 59 or h > 24 or (h == 24 and m):
        raise SureError(f"{echo(typed)} is not a time of day: hours run 0 to 24.")
    return h * 60 + m


def _window_hours(token: str) -> tuple[int, int] | None:
    m = _HOURS.fullmatch(token)
    if m is None:
        return None
    start = _minutes(m.group(1), m.group(2), m.group(3), token)
    end = _minutes(m.group(4), m.group(5), m.group(6), token)
    if end == 0:
        end = 24 * 60  # "18-0": until midnight
    if start >= 24 * 60 or end <= start:
        raise SureError(
            f"The hours {echo(token)} end before they start. Windows run within one day "
            "(`9-18`, `08:00-20:00`); overnight windows aren't supported."
        )
    return start, end


@functools.lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    names = {name.casefold(): name for name in available_timezones()}
    names.setdefault("utc", "UTC")
    return names


def _window_zone(token: str) -> str | None:
    """The canonical IANA name for `token` (any case), or None when there is no such zone."""
    name = _zone_names().get(token.casefold())
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, KeyError, ValueError, OSError):
        return None
    return name


def _window_tokens(text: str) -> list[str]:
    body = re.sub(r"([0-9](?:am|pm)?)\s+to\s+([0-9])", r"\1-\2", norm(text))
    body = re.sub(r"\s*(-|–|—|,)\s*", r"\1", body)
    body = re.sub(r"\bevery day\b", "daily", body)
    body = re.sub(r"([0-9])\s+(am|pm)\b", r"\1\2", body)
    return body.split()


def _is_window_token(token: str) -> bool:
    return (_window_days(token) is not None or _HOURS.fullmatch(token) is not None
            or token == "every" or "/" in token or token in ("utc", "gmt"))


@plain_errors
def parse_window(text: str, *, default_tz: str = "UTC") -> Window:
    """Read the hours a cadence applies in: ``weekdays 9-18 Europe/Paris``.

    Three parts in any order, separated by spaces: the days (``weekdays``, ``weekends``,
    ``daily``/``every day``, a range ``mon-fri``, a list ``mon,wed,fri``; omitted: every day),
    the hours (required: ``9-18``, ``09:00-17:30``, ``8am-6pm``; an end of ``24`` or ``0`` is
    midnight; within one day) and an IANA zone (``Europe/Paris``, any case; omitted:
    `default_tz`, the typing person's Slack zone). An unknown zone is refused by name.
    """
    tokens = _window_tokens(text)
    if not tokens:
        raise ParseError(f"Which hours? {_WINDOW_FORMS}")
    days: frozenset[int] | None = None
    hours: tuple[int, int] | None = None
    zone: str | None = None
    for token in tokens:
        if (found_days := _window_days(token)) is not None and days is None:
            days = found_days
        elif (found_hours := _window_hours(token)) is not None and hours is None:
            hours = found_hours
        elif zone is None and (found_zone := _window_zone(token)) is not None:
            zone = found_zone
        elif "/" in token or (token.isalpha() and zone is None and days is not None
                              and hours is not None):
            raise SureError(
                f"I don't know the time zone {echo(token)}. Use an IANA name such as "
                "`Europe/Paris`, `America/New_York` or `UTC`."
            )
        else:
            raise SureError(f"I couldn't read {echo(token)} in the hours "
                             f"{echo(text)}. {_WINDOW_FORMS}")
    if hours is None:
        raise SureError(f"Say which hours, like `9-18`: {_WINDOW_FORMS}")
    tz = zone or default_tz
    if _window_zone(tz) is None:
        raise SureError(f"I don't know the time zone {echo(tz)}. Add one such as "
                         "`Europe/Paris` at the end.")
    return Window(days if days is not None else frozenset(range(7)), hours[0], hours[1],
                  _window_zone(tz) or tz)


@plain_errors
def parse_cadence(text: str, *, default_tz: str = "UTC") -> tuple[timedelta, Window | None]:
    """A cadence: a `parse_duration` form, optionally followed by a `parse_window` form.

    ``1h``, ``every 2 hours``, ``1h weekdays 9-18 Europe/Paris``, ``30m mon-fri 09:00-17:30``.
    The window starts at the first word (after the first) that can only belong to one: days,
    hours, a zone.
    """
    words = norm(text).split()
    if not words:
        raise ParseError(f"I need an interval: {_CADENCE_FORMS}.")
    cut = next((i for i in range(1, len(words)) if _is_window_token(words[i])
                and not (words[i] == "every" and i + 1 < len(words)
                         and words[i + 1] not in ("day",))), len(words))
    duration = read_duration(" ".join(words[:cut]))
    window = parse_window(" ".join(words[cut:]), default_tz=default_tz) if cut < len(words) \
        else None
    return duration, window
