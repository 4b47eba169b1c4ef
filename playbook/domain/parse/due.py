"""Due times: a time of day (``3pm``, ``tomorrow 9am``), ``in 2h``, a date picker's ISO time,
and ``<what> by <time>`` split into the two."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from playbook.domain.errors import ParseError
from playbook.domain.parse.common import PastError, SureError, code, echo, norm, plain_errors
from playbook.domain.parse.durations import read_duration
from playbook.domain.text import esc

__all__ = ["PROMISE_FORMS", "parse_due", "picked_due", "split_when"]

_CLOCK = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?\s*(am|pm|a\.m\.|p\.m\.)?")
_DAYS = (("today", 0), ("tonight", 0), ("tomorrow", 1), ("tmrw", 1))
_DUE_FORMS = "Try `15:00`, `3pm`, `by 3:30pm`, `tomorrow 9am` or `in 2h`."


@plain_errors
def parse_due(text: str, *, now: datetime, tz: str) -> datetime:
    """Read when something is due, as an aware UTC datetime strictly after `now`.

    Accepted: a time of day (``15:00``, ``3pm``, ``3 pm``, ``3:30pm``, ``noon``, ``midnight``,
    meaning the end of today), optionally after "by" and/or "at", optionally with ``today`` or
    ``tomorrow`` before or after it (``tomorrow 9am``, ``by tomorrow at 09:00``, ``3pm
    tomorrow``); or ``in`` and any `parse_duration` form (``in 2h``, ``in 90 minutes``).

    Times of day are read in the IANA zone `tz` (the typing person's Slack zone). A time today
    that has already passed is refused with a suggestion of ``tomorrow …``, never rolled over
    silently: a promise quietly moved by a day is worse than a question. In a daylight-saving
    gap (02:30 on the night clocks jump from 02:00 to 03:00) the due time is the first instant
    that exists after it (03:00); an ambiguous time (clocks going back) is its first occurrence.
    """
    return read_due(text, now=now, tz=tz)


def read_due(text: str, *, now: datetime, tz: str) -> datetime:
    """`parse_due` keeping the `PastError`/`SureError` refinements, which `split_when` ranks."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    s = norm(text)
    if not s:
        raise ParseError(f"When is it due? {_DUE_FORMS}")
    if s.startswith("in "):
        delta = read_duration(s[len("in ") :])
        try:
            return (now + delta).astimezone(UTC)
        except OverflowError:
            raise SureError(f"{echo(text)} is too far away.") from None

    garbage = ParseError(f"I couldn't read {echo(text)} as a time. {_DUE_FORMS}")
    rest = s.removeprefix("by ")
    if (iso := _read_iso(rest, tz, text)) is not None:
        if iso <= now:
            raise PastError(f"{echo(text)} has already passed.")
        return iso
    day_offset: int | None = None
    day_word = ""
    for word, offset in _DAYS:
        if rest == word:
            raise SureError(
                f"{word.capitalize()} at what time? Add one, like {code(word + ' 9am')} "
                f"or {code(word + ' 17:00')}."
            )
        if rest.startswith(word + " "):
            day_offset, day_word = offset, word
            rest = rest[len(word) + 1 :].removeprefix("at ")
            break
    else:
        rest = rest.removeprefix("at ")
        for word, offset in _DAYS:
            if rest.endswith(" " + word):
                day_offset, day_word = offset, word
                rest = rest[: -len(word) - 1]
                break

    clock = _read_clock(rest)
    if clock is None:
        raise garbage
    clock_time, end_of_day = clock
    if end_of_day and day_offset == 1:
        raise SureError(
            f"{echo(text)} could mean tonight or tomorrow night. Say {code('tomorrow 23:59')}, "
            f"or {code('midnight')} for the end of today."
        )

    zone = _zone(tz, text)
    try:
        local_day = now.astimezone(zone).date() + timedelta(days=(day_offset or 0) + end_of_day)
        wall = datetime.combine(local_day, clock_time)
        due = _localize(wall, zone)
        if due <= now:
            # A wall time the clocks pass twice (the night they fall back): the first pass may
            # be behind us while the second is still to come.
            due = max(due, wall.replace(tzinfo=zone, fold=1).astimezone(UTC))
    except OverflowError:
        raise SureError(f"{echo(text)} is too far away.") from None
    if due <= now:
        when = f"{rest} {day_word}" if day_word else f"{rest} today"
        raise PastError(
            f"{code(when)} has already passed (I read times in {esc(zone.key)}). "
            f"If you mean tomorrow, say {code('tomorrow ' + rest)}."
        )
    return due


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[t ](\d{2}):(\d{2})(?::\d{2})?\s*(z|utc|[+-]\d{2}:?\d{2})?"
)


def _read_iso(text: str, tz: str, typed: str) -> datetime | None:
    """`2026-11-23T15:00Z` (from a date picker, or pasted): a date and time, zone optional.

    Without an offset the time is read in `tz`, like every other typed time.
    """
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, offset = match.groups()
    try:
        naive = datetime(int(year), int(month), int(day), int(hour), int(minute))  # noqa: DTZ001 - zone applied below
    except ValueError:
        raise SureError(f"{echo(typed)} is not a real date and time.") from None
    if offset is None:
        return _localize(naive, _zone(tz, typed))
    if offset in ("z", "utc"):
        return naive.replace(tzinfo=UTC)
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    shift = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if shift > timedelta(hours=14):
        raise SureError(f"{echo(typed)} has an impossible UTC offset.")
    return (naive - sign * shift).replace(tzinfo=UTC)


def _read_clock(text: str) -> tuple[time, int] | None:
    """A time of day and whether it is the end of the day (midnight); None if it is no time.

    A bare hour ("5") is refused rather than guessed: 5am and 5pm are both plausible.
    """
    if text in ("noon", "12 noon", "midday"):
        return time(12, 0), 0
    if text in ("midnight", "12 midnight"):
        return time(0, 0), 1
    m = _CLOCK.fullmatch(text)
    if m is None:
        return None
    hour, minute, meridiem = int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if m.group(2) is None and meridiem is None:
        raise SureError(
            f"Is {echo(text)} in the morning or the afternoon? Say {code(text + 'am')}, "
            f"{code(text + 'pm')}, or use the 24-hour clock like {code('15:00')}."
        )
    if meridiem is not None:
        valid = 1 <= hour <= 12
        hour = hour % 12 + (12 if meridiem.startswith("p") else 0)
    else:
        valid = hour <= 23
    if not valid or minute > 59:
        raise SureError(
            f"{echo(text)} is not a time of day. Use 1–12 with am/pm, like `3pm` or "
            f"`3:30pm`, or the 24-hour clock, like `15:00`."
        )
    return time(hour, minute), 0


def _zone(tz: str, typed: str) -> ZoneInfo:
    """The IANA zone `tz`, or a refusal naming it (a bad zone is fixed in the Slack profile)."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, KeyError, ValueError, OSError):
        raise SureError(
            f"I don't know the time zone {echo(tz)}, so I can't read {echo(typed)}. Set your "
            f"time zone in your Slack profile, or give a duration like `in 2h`."
        ) from None


def _localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time, resolving DST gaps and overlaps predictably.

    Ambiguous (clocks go back): fold=0, the first occurrence. Nonexistent (clocks jump ahead):
    the first instant after the gap, i.e. the transition itself, found by bisection between the
    two readings PEP 495 gives for a gap time (fold=1 lands before the jump, fold=0 after it).
    """
    late = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if late.astimezone(zone).replace(tzinfo=None) == naive:
        return late
    early = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = 0, int((late - early).total_seconds())
    while lo < hi:  # smallest offset whose wall time is at or past `naive`
        mid = (lo + hi) // 2
        wall = (early + timedelta(seconds=mid)).astimezone(zone).replace(tzinfo=None)
        if wall >= naive:
            hi = mid
        else:
            lo = mid + 1
    return early + timedelta(seconds=lo)


_WHEN_SPLIT = re.compile(r"(?<=\s)(?:by|in)(?=\s)", re.IGNORECASE)
PROMISE_FORMS = (
    f"Use {code('promise <what> by <3pm|15:00|tomorrow 9am>')} or "
    f"{code('promise <what> in <2h>')}, e.g. {code('promise root cause in writing by 3pm')}."
)


@plain_errors
def split_when(text: str, *, now: datetime, tz: str) -> tuple[str, datetime]:
    """Split ``<what> by <time>`` or ``<what> in <duration>`` into (what, due).

    The split is at the *last* " by " or " in " whose tail (keyword included) reads as a due
    time with a non-empty head, so "root cause in writing by 3pm" keeps "in writing" in the
    promise. When nothing splits, the refusal is the most specific one available: a time that
    has already passed, then a tail that was clearly a time but unusable (``by 13pm``), and only
    then the general form.
    """
    past: ParseError | None = None
    sure: ParseError | None = None
    for m in reversed(list(_WHEN_SPLIT.finditer(text))):
        what = text[: m.start()].strip()
        if not what:
            continue
        try:
            return what, read_due(text[m.start() :], now=now, tz=tz)
        except PastError as err:
            past = past or err
        except SureError as err:
            sure = sure or err
        except ParseError:
            pass
    if past is not None:
        raise past
    if sure is not None:
        raise sure
    raise ParseError(f"I couldn't tell when that is due. {PROMISE_FORMS}")


def picked_due(due: datetime, *, now: datetime) -> datetime:
    """A due time picked in a form, to the minute (what a date picker holds), in UTC.

    Refused as the same time typed after ``by`` would be, so a form and `/incident promise`
    agree on what has already passed.
    """
    if due.tzinfo is None or due.utcoffset() is None:
        raise ValueError("a picked due time must be an aware datetime")
    minute = due.astimezone(UTC).replace(second=0, microsecond=0)
    if minute <= now:
        raise ParseError(f"{echo('by ' + minute.strftime('%Y-%m-%dT%H:%MZ'))} has already passed.")
    return minute
