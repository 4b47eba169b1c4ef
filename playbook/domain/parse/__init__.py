"""Reading what people type after ``/incident``: durations, due times, people, channels, numbers.

Input is the command text exactly as Slack sends it with ``should_escape: true``: mentions as
``<@U123|name>`` (``W…`` on Enterprise Grid), channels as ``<#C123|name>`` (the label may be
empty or absent), user groups as ``<!subteam^S123|@name>``, links as ``<https://x|label>``, and
a literal ``&``, ``<`` or ``>`` as ``&amp;``, ``&lt;``, ``&gt;``. So every ``<`` in the input
opens a Slack token, which lets the parsers skip colons or keywords inside links and labels.

Free text handed back (a customer name, what happened, an option, a promise) is returned *as
Slack sent it*, still escaped: callers run `playbook.domain.text.unescape` before storing it and
`playbook.domain.text.esc` when posting it.

Every refusal is a `ParseError` whose message is Slack mrkdwn written for the person: it says
what was wrong and shows the accepted forms. Anything the person typed that is echoed back is
unescaped, flattened to one line, cut to about 100 characters and escaped again, so it can never
ping anyone or break the message's formatting. For any ``str`` input these functions raise
nothing but `ParseError` (a naive `now`, a programming error, is a `ValueError`).

Pure: no Slack, no database, and no clock reads; `now` is always passed in.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from playbook.domain.errors import ParseError
from playbook.domain.text import esc, unescape
from playbook.domain.windows import Window

__all__ = [
    "MAX_DURATION",
    "normalize_customer",
    "parse_cadence",
    "parse_channel",
    "parse_due",
    "parse_duration",
    "parse_numbered",
    "parse_open",
    "parse_option",
    "parse_ref",
    "parse_user",
    "parse_window",
    "split_trailing_user",
    "split_when",
]

MAX_DURATION = timedelta(days=366)
"""Longest duration accepted: beyond a year a cadence or promise is a typo, not a plan."""

_ECHO_LIMIT = 100

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _SureError(ParseError):
    """The text clearly *was* a time or duration, but an unusable one (13pm, 0m, 400 days).

    `split_when` surfaces these instead of its generic usage text, because "13pm is not a time
    of day" helps more than "say when it's due". Never escapes this module: public functions
    re-raise it as a plain `ParseError`.
    """


class _PastError(_SureError):
    """A time of day today that has already passed; the most useful refusal of all."""


def _plain_errors(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Re-raise the private refinements above as plain `ParseError`s at the public boundary."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except ParseError as err:
            if type(err) is ParseError:
                raise
            raise ParseError(err.message) from None

    return wrapper


def _echo(typed: str) -> str:
    """What the person typed, safe to quote in a message: one line, short, escaped, in code."""
    flat = " ".join(unescape(typed).split()).replace("`", "'")
    if len(flat) > _ECHO_LIMIT:
        flat = flat[: _ECHO_LIMIT - 1].rstrip() + "…"
    return f"`{esc(flat)}`"


def _code(form: str) -> str:
    """One of our own usage forms in code style; escaped because forms contain ``<what>``."""
    return f"`{esc(form)}`"


def _norm(text: str) -> str:
    """Case- and spacing-insensitive form of a time or duration phrase."""
    return " ".join(unescape(text).split()).casefold()


def _token_spans(text: str) -> list[tuple[int, int]]:
    """Where Slack's ``<...>`` tokens (mentions, channels, links) sit in escaped text."""
    return [m.span() for m in re.finditer(r"<[^<>]*>", text)]


def _outside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return not any(start <= pos < end for start, end in spans)


# --- durations --------------------------------------------------------------------------------

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


@_plain_errors
def parse_duration(text: str) -> timedelta:
    """Read a duration such as ``30m``, ``1h 30m``, ``90 min``, ``1.5h`` or ``every 2 hours``.

    Accepted: numbers (decimals too) with units of minutes (``m``, ``min``, ``mins``,
    ``minute(s)``), hours (``h``, ``hr(s)``, ``hour(s)``), days (``d``, ``day(s)``) and weeks
    (``w``, ``week(s)``), largest unit first, optionally joined by spaces, commas or "and"; a
    leading "every"; and a bare unit (``every hour``, ``an hour``) meaning one of it. Case and
    spacing do not matter. The result is rounded to whole seconds and must be more than zero and
    at most `MAX_DURATION`. Seconds are not a unit here: nothing in the playbook runs that fast.
    """
    return _parse_duration(text)


def _parse_duration(text: str) -> timedelta:
    body = _norm(text)
    if not body:
        raise ParseError(f"I need a duration. {_DURATION_FORMS}")
    if body.startswith("every "):
        body = body[len("every ") :]
    lone = _LONE_UNIT.fullmatch(body)
    if lone is not None:
        return timedelta(seconds=_UNITS[lone.group(1)][0])

    garbage = ParseError(f"I couldn't read {_echo(text)} as a duration. {_DURATION_FORMS}")
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
            raise _SureError(f"{_echo(text)} is too long: the most I accept is 366 days.")
        total += Decimal(number) * unit[0]
        last_rank = unit[1]
        pos = part.end()

    if total > Decimal(MAX_DURATION.days * 86400):
        raise _SureError(f"{_echo(text)} is too long: the most I accept is 366 days.")
    seconds = int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if seconds <= 0:
        raise _SureError(
            f"A duration must be longer than zero (I got {_echo(text)}). {_DURATION_FORMS}"
        )
    return timedelta(seconds=seconds)


# --- due times --------------------------------------------------------------------------------

_CLOCK = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?\s*(am|pm|a\.m\.|p\.m\.)?")
_DAYS = (("today", 0), ("tonight", 0), ("tomorrow", 1), ("tmrw", 1))
_DUE_FORMS = "Try `15:00`, `3pm`, `by 3:30pm`, `tomorrow 9am` or `in 2h`."


@_plain_errors
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
    return _parse_due(text, now=now, tz=tz)


def _parse_due(text: str, *, now: datetime, tz: str) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    s = _norm(text)
    if not s:
        raise ParseError(f"When is it due? {_DUE_FORMS}")
    if s.startswith("in "):
        delta = _parse_duration(s[len("in ") :])
        try:
            return (now + delta).astimezone(UTC)
        except OverflowError:
            raise _SureError(f"{_echo(text)} is too far away.") from None

    garbage = ParseError(f"I couldn't read {_echo(text)} as a time. {_DUE_FORMS}")
    rest = s.removeprefix("by ")
    if (iso := _read_iso(rest, tz, text)) is not None:
        if iso <= now:
            raise _PastError(f"{_echo(text)} has already passed.")
        return iso
    day_offset: int | None = None
    day_word = ""
    for word, offset in _DAYS:
        if rest == word:
            raise _SureError(
                f"{word.capitalize()} at what time? Add one, like {_code(word + ' 9am')} "
                f"or {_code(word + ' 17:00')}."
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
        raise _SureError(
            f"{_echo(text)} could mean tonight or tomorrow night. Say {_code('tomorrow 23:59')}, "
            f"or {_code('midnight')} for the end of today."
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
        raise _SureError(f"{_echo(text)} is too far away.") from None
    if due <= now:
        when = f"{rest} {day_word}" if day_word else f"{rest} today"
        raise _PastError(
            f"{_code(when)} has already passed (I read times in {esc(zone.key)}). "
            f"If you mean tomorrow, say {_code('tomorrow ' + rest)}."
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
        raise _SureError(f"{_echo(typed)} is not a real date and time.") from None
    if offset is None:
        return _localize(naive, _zone(tz, typed))
    if offset in ("z", "utc"):
        return naive.replace(tzinfo=UTC)
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    shift = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if shift > timedelta(hours=14):
        raise _SureError(f"{_echo(typed)} has an impossible UTC offset.")
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
        raise _SureError(
            f"Is {_echo(text)} in the morning or the afternoon? Say {_code(text + 'am')}, "
            f"{_code(text + 'pm')}, or use the 24-hour clock like {_code('15:00')}."
        )
    if meridiem is not None:
        valid = 1 <= hour <= 12
        hour = hour % 12 + (12 if meridiem.startswith("p") else 0)
    else:
        valid = hour <= 23
    if not valid or minute > 59:
        raise _SureError(
            f"{_echo(text)} is not a time of day. Use 1–12 with am/pm, like `3pm` or "
            f"`3:30pm`, or the 24-hour clock, like `15:00`."
        )
    return time(hour, minute), 0


def _zone(tz: str, typed: str) -> ZoneInfo:
    """The IANA zone `tz`, or a refusal naming it (a bad zone is fixed in the Slack profile)."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, KeyError, ValueError, OSError):
        raise _SureError(
            f"I don't know the time zone {_echo(tz)}, so I can't read {_echo(typed)}. Set your "
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
_PROMISE_FORMS = (
    f"Use {_code('promise <what> by <3pm|15:00|tomorrow 9am>')} or "
    f"{_code('promise <what> in <2h>')}, e.g. {_code('promise root cause in writing by 3pm')}."
)


@_plain_errors
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
            return what, _parse_due(text[m.start() :], now=now, tz=tz)
        except _PastError as err:
            past = past or err
        except _SureError as err:
            sure = sure or err
        except ParseError:
            pass
    if past is not None:
        raise past
    if sure is not None:
        raise sure
    raise ParseError(f"I couldn't tell when that is due. {_PROMISE_FORMS}")


# --- people, channels, numbers ----------------------------------------------------------------

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^<>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^<>]*))?>")


@_plain_errors
def parse_user(token: str) -> str:
    """The user ID (``U…`` or ``W…``) of a mention token such as ``<@U123|name>``.

    A bare ``@name`` is refused: it is not linked to anyone, and guessing by display name picks
    the wrong person when two share one. The autocomplete inserts a real mention.
    """
    t = token.strip()
    if not t:
        raise ParseError("Who? Type @ and pick the person from the autocomplete.")
    m = _USER.fullmatch(t)
    if m is not None:
        return m.group(1)
    group = _SUBTEAM.fullmatch(t)
    if group is not None:
        label = _echo(group.group(1)) if group.group(1) else "That"
        raise ParseError(
            f"{label} is a user group; pick one person from the autocomplete when you type @."
        )
    raise ParseError(f"Pick the person from the autocomplete when you type @ (I got {_echo(t)}).")


@_plain_errors
def parse_channel(token: str) -> str:
    """The channel ID (``C…``, or ``G…`` for older private channels) of a channel token.

    Slack sends ``<#C123|name>``, ``<#C123|>`` or ``<#C123>``; a bare ``#name`` is refused for
    the same reason as a bare ``@name``: names change and are not unique across Slack Connect.
    """
    t = token.strip()
    if not t:
        raise ParseError("Which channel? Type # and pick the channel from the autocomplete.")
    m = _CHANNEL.fullmatch(t)
    if m is not None:
        return m.group(1)
    raise ParseError(f"Pick the channel from the autocomplete when you type # (I got {_echo(t)}).")


def split_trailing_user(text: str) -> tuple[str, str | None]:
    """Split an optional trailing mention off free text: ``action <text> [@owner]``.

    Returns (text without the mention, user ID) or (text, None). Only a mention at the very end
    counts, so people named in the middle of the sentence stay part of it.
    """
    s = text.rstrip()
    if s.endswith(">"):
        start = s.rfind("<@")
        if start != -1:
            m = _USER.fullmatch(s, start)
            if m is not None:
                return s[:start].strip(), m.group(1)
    return s.strip(), None


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


@_plain_errors
def parse_ref(token: str, prefix: str, noun: str) -> int:
    """The number of a promise (``P2``), action (``A1``) or option (``2``, with prefix ``""``).

    The prefix is optional and case-insensitive, so ``p2`` and ``2`` both mean ``P2``. Numbers
    start at 1, as shown on the status card.
    """
    forms = ", ".join(f"`{prefix}{n}`" for n in (1, 2)) + ", …"
    t = token.strip()
    if not t:
        raise ParseError(f"Which {noun}? Use {forms} as shown on the card.")
    m = re.fullmatch(rf"(?:{re.escape(prefix)})?([0-9]{{1,9}})", t, re.IGNORECASE | re.ASCII)
    if m is None or int(m.group(1)) < 1:
        raise ParseError(
            f"{_echo(t)} is not {_article(noun)} {noun} number; use {forms} as shown on the card."
        )
    return int(m.group(1))


@_plain_errors
def parse_numbered(text: str, noun: str, *, command: str = "recommend") -> tuple[int, str]:
    """Read ``<n> <why>`` (as in ``recommend 2 fastest safe fix``) into (n, why).

    The reason is required: a recommendation without one cannot be weighed by the customer.
    `command` only shapes the usage shown in refusals.
    """
    usage = _code(f"{command} <n> <why>")
    s = text.strip()
    if not s:
        raise ParseError(f"Which {noun}, and why? Use {usage}, with the number shown on the card.")
    first, *more = s.split(maxsplit=1)
    why = more[0].strip() if more else ""
    m = re.fullmatch(r"#?([0-9]{1,9})[.):]?", first)
    if m is None or int(m.group(1)) < 1:
        raise ParseError(
            f"{_echo(first)} is not {_article(noun)} {noun} number. Use {usage}, with the "
            f"number shown on the card."
        )
    if not why:
        raise ParseError(f"Give the reason after the number: {usage}.")
    return int(m.group(1)), why


# --- open and option --------------------------------------------------------------------------

_SEVERITY = re.compile(r"sev-?([0-9]+)(:?)", re.IGNORECASE | re.ASCII)
_OPEN_USAGE = (
    f"{_code('/incident open [sev1-4] <customer>: <what happened>')}, e.g. "
    f"{_code('/incident open Acme: all lobby screens show a setup error')}"
)


@_plain_errors
def parse_open(text: str) -> tuple[str | None, str, str]:
    """Read ``[sevN] <customer>: <what happened>`` into (severity, customer, what).

    The severity is an optional first word ``sev1``…``sev9`` (also ``SEV-2``), returned as
    ``"sev2"``; what levels exist is the playbook's business. The customer ends at the first
    colon outside Slack tokens (a link ``<https://…>`` has colons of its own); it keeps its case
    with whitespace collapsed. What happened is kept as typed, trimmed.
    """
    s = text.strip()
    if not s:
        raise ParseError(f"Tell me the customer and what happened: {_OPEN_USAGE}.")
    severity: str | None = None
    first = s.split(maxsplit=1)[0]
    sev = _SEVERITY.fullmatch(first)
    if sev is not None:
        if sev.group(2):  # "sev2: …": the colon came straight after the severity
            raise ParseError(f"Who is the customer? Use {_OPEN_USAGE}.")
        digits = sev.group(1)
        level = int(digits) if len(digits) <= 2 else 0
        if not 1 <= level <= 9:
            raise ParseError(f"{_echo(first)} is not a severity I know. Use {_OPEN_USAGE}.")
        severity = f"sev{level}"
        s = s[len(first) :].strip()

    spans = _token_spans(s)
    colon = next((i for i, ch in enumerate(s) if ch == ":" and _outside(i, spans)), -1)
    if colon == -1:
        raise ParseError(f"Put a colon after the customer's name: {_OPEN_USAGE}.")
    customer = " ".join(s[:colon].split())
    what = s[colon + 1 :].strip()
    if not customer:
        raise ParseError(f"Who is the customer? Use {_OPEN_USAGE}.")
    if not what:
        raise ParseError(f"What happened to {_echo(customer)}? Use {_OPEN_USAGE}.")
    return severity, customer, what


_RISK = re.compile(r"(?<!\w)risk\s*:", re.IGNORECASE)
_OPTION_USAGE = (
    f"{_code('option <text> [risk: <text>]')}, e.g. "
    f"{_code('option roll back to 4.2 risk: loses today’s settings')}"
)
_BRACKETS = {"(": ")", "[": "]"}


@_plain_errors
def parse_option(text: str) -> tuple[str, str | None]:
    """Read ``<text> [risk: <text>]`` into (option, risk or None).

    The risk starts at the last ``risk:`` (any case, as a word of its own, outside Slack
    tokens), so an option may itself mention risk. ``(risk: …)`` in brackets and a dash or comma
    before ``risk:`` are tidied away. ``risk:`` with nothing after it is refused rather than
    dropped, since the person evidently meant to name one.
    """
    s = text.strip()
    spans = _token_spans(s)
    marks = [m for m in _RISK.finditer(s) if _outside(m.start(), spans)]
    if not marks:
        if not s:
            raise ParseError(f"Describe the option: {_OPTION_USAGE}.")
        return s, None
    mark = marks[-1]
    option = s[: mark.start()].rstrip()
    risk = s[mark.end() :].strip()
    if option[-1:] in _BRACKETS and risk.endswith(_BRACKETS[option[-1]]):
        option, risk = option[:-1].rstrip(), risk[:-1].rstrip()
    option = option.rstrip(" ,;:-–—").rstrip()
    if not option:
        raise ParseError(f"Describe the option before its risk: {_OPTION_USAGE}.")
    if not risk:
        raise ParseError(f"Say what the risk is after `risk:`, or leave it out: {_OPTION_USAGE}.")
    return option, risk


# --- matching ---------------------------------------------------------------------------------


def normalize_customer(name: str) -> str:
    """A key for recognising the same customer again ("third time in 90 days").

    People type the same customer differently, so the key is the NFKC form, case-folded, with
    punctuation and symbols (Unicode categories P* and S*) removed and whitespace collapsed:
    "Acme, Inc.", "ACME inc" and "Acme Inc™" all become "acme inc". Deliberately nothing
    cleverer (no suffix lists, no fuzzy matching): a false match would tell a team about a
    history that isn't theirs. Pass unescaped text.
    """
    # Symbols go before NFKC too, which would otherwise spell "™" as "TM"; and again after it,
    # since compatibility forms can decompose into punctuation ("½" -> "1⁄2").
    folded = unicodedata.normalize("NFKC", _drop_punctuation(name)).casefold()
    return " ".join(_drop_punctuation(folded).split())


def _drop_punctuation(s: str) -> str:
    return "".join(ch for ch in s if unicodedata.category(ch)[0] not in "PS")


# --- cadence windows --------------------------------------------------------------------------

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
            raise _SureError(f"{_echo(typed)}: with am/pm the hour is 1 to 12.")
        h = h % 12 + (12 if meridiem == "pm" else 0)
    if m > 59 or h > 24 or (h == 24 and m):
        raise _SureError(f"{_echo(typed)} is not a time of day: hours run 0 to 24.")
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
        raise _SureError(
            f"The hours {_echo(token)} end before they start. Windows run within one day "
            "(`9-18`, `08:00-20:00`); overnight windows aren't supported."
        )
    return start, end


@functools.lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    import zoneinfo

    names = {name.casefold(): name for name in zoneinfo.available_timezones()}
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
    body = re.sub(r"([0-9](?:am|pm)?)\s+to\s+([0-9])", r"\1-\2", _norm(text))
    body = re.sub(r"\s*(-|–|—|,)\s*", r"\1", body)
    body = re.sub(r"\bevery day\b", "daily", body)
    body = re.sub(r"([0-9])\s+(am|pm)\b", r"\1\2", body)
    return body.split()


def _is_window_token(token: str) -> bool:
    return (_window_days(token) is not None or _HOURS.fullmatch(token) is not None
            or token == "every" or "/" in token or token in ("utc", "gmt"))


@_plain_errors
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
            raise _SureError(
                f"I don't know the time zone {_echo(token)}. Use an IANA name such as "
                "`Europe/Paris`, `America/New_York` or `UTC`."
            )
        else:
            raise _SureError(f"I couldn't read {_echo(token)} in the hours "
                             f"{_echo(text)}. {_WINDOW_FORMS}")
    if hours is None:
        raise _SureError(f"Say which hours, like `9-18`: {_WINDOW_FORMS}")
    tz = zone or default_tz
    if _window_zone(tz) is None:
        raise _SureError(f"I don't know the time zone {_echo(tz)}. Add one such as "
                         "`Europe/Paris` at the end.")
    return Window(days if days is not None else frozenset(range(7)), hours[0], hours[1],
                  _window_zone(tz) or tz)


@_plain_errors
def parse_cadence(text: str, *, default_tz: str = "UTC") -> tuple[timedelta, Window | None]:
    """A cadence: a `parse_duration` form, optionally followed by a `parse_window` form.

    ``1h``, ``every 2 hours``, ``1h weekdays 9-18 Europe/Paris``, ``30m mon-fri 09:00-17:30``.
    The window starts at the first word (after the first) that can only belong to one: days,
    hours, a zone.
    """
    words = _norm(text).split()
    if not words:
        raise ParseError(f"I need an interval: {_CADENCE_FORMS}.")
    cut = next((i for i in range(1, len(words)) if _is_window_token(words[i])
                and not (words[i] == "every" and i + 1 < len(words)
                         and words[i + 1] not in ("day",))), len(words))
    duration = _parse_duration(" ".join(words[:cut]))
    window = parse_window(" ".join(words[cut:]), default_tz=default_tz) if cut < len(words) \
        else None
    return duration, window
