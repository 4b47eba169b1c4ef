"""Cadence windows: the customer's working hours, in which the update clock runs.

A cadence agreed as "every hour, weekdays 9-18 Europe/Paris" means the customer expects an
update each hour *of their working day*: at 17:30 on Friday the next one is due at 09:30 on
Monday, not at 18:30 on Friday. So the clock is measured in window time: `elapsed` counts only
the in-window part of a span and `advance` finds the earliest instant at which a given amount of
window time has passed. Reminders computed this way fall inside the window (or on its closing
edge), and adherence measured this way only counts time inside it.

Windows are read in their IANA zone with `zoneinfo`, day by day, so a daylight-saving change
moves the UTC instants of the window but never its local hours. A local start or end that does
not exist (inside a spring-forward gap) is the moment the clocks jump; an ambiguous one (clocks
going back) is its first occurrence.

Pure: no clock reads; all datetimes are aware and results are UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "DAY_NAMES",
    "Window",
    "advance",
    "elapsed",
    "is_open",
    "next_open",
    "open_until",
]

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The farthest `advance` looks ahead (a 1-hour weekly window and a year-long cadence is absurd,
# but it must end): beyond this many days the answer is this far away.
_MAX_DAYS = 40_000
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """Days of the week (0 = Monday), local start and end in minutes (``end`` up to 1440)."""

    days: frozenset[int]
    start: int
    end: int
    tz: str

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise ValueError(f"bad window days {sorted(self.days)}")
        if not 0 <= self.start < self.end <= 24 * 60:
            raise ValueError(f"bad window hours {self.start}-{self.end}")

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.tz)

    def days_text(self) -> str:
        """``daily``, ``weekdays``, ``weekends`` or ranges such as ``mon-thu,sat``."""
        days = sorted(self.days)
        if len(days) == 7:
            return "daily"
        if days == [0, 1, 2, 3, 4]:
            return "weekdays"
        if days == [5, 6]:
            return "weekends"
        runs: list[list[int]] = []
        for d in days:
            if runs and runs[-1][-1] == d - 1:
                runs[-1].append(d)
            else:
                runs.append([d])
        return ",".join(DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}"
                        for r in runs)

    def hours_text(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"

    @property
    def spec(self) -> str:
        """The canonical form, stored in the database and read back by `parse.parse_window`."""
        return f"{self.days_text()} {self.hours_text()} {self.tz}"

    def describe(self) -> str:
        return self.spec


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    extra, minutes = divmod(minutes, 24 * 60)  # 24:00 is the next day's midnight
    naive = datetime.combine(day + timedelta(days=extra), time(minutes // 60, minutes % 60))
    late = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if late.astimezone(zone).replace(tzinfo=None) == naive:
        return late
    # Inside a spring-forward gap: the window starts (or ends) when the clocks jump, the
    # first local instant at or after the wall time (as `parse.parse_due` reads such times).
    early = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = 0, int((late - early).total_seconds())
    while lo < hi:
        mid = (lo + hi) // 2
        if (early + timedelta(seconds=mid)).astimezone(zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid + 1
    return early + timedelta(seconds=lo)


def _spans(w: Window, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The window's open spans (UTC, in order) from the day before `start`'s local date on."""
    zone = w.zone
    day = start.astimezone(zone).date() - _DAY
    for _ in range(_MAX_DAYS):
        if day.weekday() in w.days:
            a, b = _local_instant(day, w.start, zone), _local_instant(day, w.end, zone)
            if b > a:
                yield a, b
        day += _DAY


def _require_aware(*ts: datetime) -> None:
    for t in ts:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError("window times must be aware datetimes")


def elapsed(w: Window | None, a: datetime, b: datetime) -> timedelta:
    """How much window time lies between `a` and `b` (zero when ``b <= a``)."""
    _require_aware(a, b)
    if b <= a:
        return timedelta(0)
    if w is None:
        return b - a
    total = timedelta(0)
    for s, e in _spans(w, a):
        if s >= b:
            break
        lo, hi = max(s, a), min(e, b)
        if hi > lo:
            total += hi - lo
    return total


def advance(w: Window | None, a: datetime, d: timedelta) -> datetime:
    """The earliest instant ``t >= a`` with ``elapsed(w, a, t) >= d``.

    With no window that is ``a + d``. With one, it lies inside an open span or on its end: an
    hour left at 17:30 on a 9-18 Friday is 09:30 on Monday, and exactly 30 minutes left is
    18:00 on Friday (the end of the day's window), not Monday morning.
    """
    _require_aware(a)
    if w is None:
        return a + d
    if d <= timedelta(0):
        return a
    remaining = d
    last = a
    for s, e in _spans(w, a):
        if e <= a:
            continue
        lo = max(s, a)
        room = e - lo
        if remaining <= room:
            return (lo + remaining).astimezone(UTC)
        remaining -= room
        last = e
    return last + remaining  # pragma: no cover - beyond _MAX_DAYS


def is_open(w: Window | None, t: datetime) -> bool:
    """Whether `t` is inside the window (start inclusive, end exclusive); always without one."""
    _require_aware(t)
    if w is None:
        return True
    for s, e in _spans(w, t):
        if s > t:
            return False
        if s <= t < e:
            return True
    return False  # pragma: no cover


def next_open(w: Window | None, t: datetime) -> datetime:
    """When the window is next open at or after `t` (`t` itself when it is open now)."""
    _require_aware(t)
    if w is None:
        return t
    for s, e in _spans(w, t):
        if t < e:
            return max(s, t)
    return t  # pragma: no cover


def open_until(w: Window | None, t: datetime) -> datetime | None:
    """When the window open at `t` closes (None when it is closed at `t`, or there is none)."""
    _require_aware(t)
    if w is None:
        return None
    for s, e in _spans(w, t):
        if s > t:
            return None
        if s <= t < e:
            return e
    return None  # pragma: no cover
