"""The cadence walk: every due time and judged update of an incident, and adherence counted
from them (README "Cadence adherence").

One walk serves both readers: `adherence` (the summary's and the stats' figures) counts what
`cadence_timeline` lists, and the chart (bot/chart.py) draws the same list, so a figure and its
picture can never disagree. Pure: `until` is passed in.

All datetimes are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from playbook.domain import windows
from playbook.domain.cadence import TICK, cadence_active, require_aware
from playbook.domain.model import CadenceChange, CustomerUpdate, Incident
from playbook.domain.periods import paused_spans
from playbook.domain.windows import Window

__all__ = [
    "MAX_MISSED_MARKS",
    "Adherence",
    "CadenceTimeline",
    "Due",
    "DueState",
    "Gap",
    "MissedRun",
    "adherence",
    "cadence_timeline",
]

MAX_MISSED_MARKS = 200
"""A run of more missed dues than this is listed as one `MissedRun`, not one `Due` each: a
long-forgotten 1-minute cadence would otherwise list hundreds of thousands."""


class DueState(StrEnum):
    ON_TIME = "on-time"  # answered by an update at or before it
    LATE = "late"  # answered by an update after it
    MISSED = "missed"  # a further full interval went by with no update at all
    NEXT = "next"  # the clock is still running and this one is not reached yet


@dataclass(frozen=True)
class Due:
    at: datetime
    state: DueState


@dataclass(frozen=True)
class MissedRun:
    """`count` missed dues, one every `interval` after `base` (of window time, with a window).

    The instants are only worked out when asked for, so counting a long lapse costs nothing.
    """

    base: datetime
    interval: timedelta
    window: Window | None
    count: int

    def at(self, k: int) -> datetime:
        """The `k`-th missed due (1 is the first)."""
        return windows.advance(self.window, self.base, k * self.interval)

    @property
    def first(self) -> datetime:
        return self.at(1)

    @property
    def last(self) -> datetime:
        return self.at(self.count)


@dataclass(frozen=True)
class Gap:
    """The time between two clock events (clock start or update) and the interval in force.

    `length` is window time (time outside a cadence window is no wait); `over` compares the
    wall-clock stretch with the interval, as it is drawn.
    """

    start: datetime
    end: datetime
    interval: timedelta
    length: timedelta

    @property
    def over(self) -> bool:
        return self.end - self.start > self.interval


@dataclass
class CadenceTimeline:
    """The update clock from the first cadence up to the window's end, as `adherence` counts it.

    ``window_end`` is None when no cadence was in force in the window. ``gaps`` are the
    measured ones (clock start to first update, then update to update); ``open_gap`` is the
    stretch from the last of those to the window's end, which adherence does not call a gap
    (its lapses are the missed dues) but which is overdue when it ran over. ``interval`` is the
    cadence in force at the window's end.
    """

    window_end: datetime | None
    dues: list[Due] = field(default_factory=list)
    missed_runs: list[MissedRun] = field(default_factory=list)
    judged: list[tuple[CustomerUpdate, bool]] = field(default_factory=list)  # (update, on time)
    unjudged: list[CustomerUpdate] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    open_gap: Gap | None = None
    changes: list[CadenceChange] = field(default_factory=list)
    interval: timedelta | None = None

    def count(self, state: DueState) -> int:
        extra = sum(r.count for r in self.missed_runs) if state is DueState.MISSED else 0
        return sum(1 for d in self.dues if d.state is state) + extra


def _lapsed_between(base: datetime, interval: timedelta, t: datetime,
                    window: Window | None = None) -> int:
    """How many ``k >= 1`` have ``base + k*interval < t``: the full intervals that went by.

    With a window, "base + k*interval" is where k intervals of window time have passed
    (`windows.advance`), so nights and weekends outside it add no missed updates.
    """
    if interval <= timedelta(0) or t <= base:
        return 0
    if window is None:
        return (t - base - TICK) // interval
    spent = windows.elapsed(window, base, t)
    if spent <= timedelta(0):
        return 0
    n = (spent - TICK) // interval
    # exactly k intervals of window time by t: lapsed too if t lies past that instant (the
    # window had closed on it)
    if spent % interval == timedelta(0) and windows.advance(window, base, spent) < t:
        n += 1
    return n


def cadence_timeline(incident: Incident, until: datetime, *,
                     marks: int = MAX_MISSED_MARKS) -> CadenceTimeline:
    """Every due time and judged update from the first cadence up to `until`.

    The window ends at the earliest of `until`, the moment the customer was told of the
    resolution (that update is the last one counted: the cadence is over) and the close.
    Events are walked in time order; at the same instant a cadence change goes before an
    update, so an update logged together with a new cadence is judged against the new one.

    * A cadence change restarts the clock with its interval; dues of the old clock strictly
      before the change that no update answered are missed (the first one included).
    * An update answers the due ``clock start + interval``: on time at or before it, late
      after it; each further full interval that went by before it (``due + k*interval <
      update``, k >= 1) is one missed due.
    * The open stretch after the last event counts its dues strictly before the window's end
      as missed (the first as well: no update came for it); while the clock still runs, the
      next due is listed as `DueState.NEXT`.
    * With a cadence window (the customer's working hours), dues and intervals are in window
      time, as the reminders are: time outside the window misses nothing, and gaps are
      measured in window time too. A snooze changes none of this: the customer still waited.
    * A reopened incident owed no updates from the end of an earlier period (customer told it
      was resolved, else the close) until the reopen, whose cadence change restarts the clock
      (`playbook.domain.periods.paused_spans`); updates in between are not judged.

    Runs of more than `marks` missed dues are kept as one `MissedRun` instead of a `Due` each.
    """
    require_aware(until, "until")
    end = until
    for t in (incident.customer_informed_at, incident.closed_at):
        if t is not None and t < end:
            end = t
    changes = sorted(incident.cadence_changes, key=lambda c: c.at)
    if not changes or changes[0].at > end:
        return CadenceTimeline(None, unjudged=list(incident.updates))

    pauses = paused_spans(incident)

    def paused(t: datetime) -> bool:
        return any(start < t <= stop for start, stop in pauses)

    out = CadenceTimeline(end, changes=[c for c in changes if c.at <= end])
    events: list[tuple[datetime, int, CadenceChange | CustomerUpdate | None]] = [
        (c.at, 0, c) for c in out.changes
        if not any(start < c.at < stop for start, stop in pauses)
    ]
    for u in incident.updates:
        if changes[0].at <= u.at <= end and not paused(u.at):
            events.append((u.at, 1, u))
        else:
            out.unjudged.append(u)
    events += [(start, 2, None) for start, _ in pauses if start <= end]
    events.sort(key=lambda e: (e[0], e[1]))

    def missed(base: datetime, interval: timedelta, window: Window | None, n: int) -> None:
        if n <= 0:
            return
        run = MissedRun(base, interval, window, n)
        if n > marks:
            out.missed_runs.append(run)
        else:
            out.dues.extend(Due(run.at(k), DueState.MISSED) for k in range(1, n + 1))

    reset: datetime = changes[0].at
    interval: timedelta = changes[0].interval
    window: Window | None = changes[0].window
    previous: datetime = changes[0].at  # the clock's first start, then the last update
    stopped = False  # between a period's end and the reopen: nothing is owed
    for at, _, event in events:
        if event is None:
            missed(reset, interval, window, _lapsed_between(reset, interval, at, window))
            stopped = True
            continue
        if isinstance(event, CadenceChange):
            if stopped:
                stopped, previous = False, at
            else:  # nothing lapsed for the first change
                missed(reset, interval, window, _lapsed_between(reset, interval, at, window))
            reset, interval, window = at, event.interval, event.window
            continue
        due = windows.advance(window, reset, interval)
        on_time = at <= due
        out.dues.append(Due(due, DueState.ON_TIME if on_time else DueState.LATE))
        out.judged.append((event, on_time))
        if not on_time:
            missed(due, interval, window, _lapsed_between(due, interval, at, window))
        out.gaps.append(Gap(previous, at, interval, windows.elapsed(window, previous, at)))
        previous = reset = at
    if not stopped:
        lapsed = _lapsed_between(reset, interval, end, window)
        missed(reset, interval, window, lapsed)
        if end - previous > interval:
            out.open_gap = Gap(previous, end, interval, windows.elapsed(window, previous, end))
        if end == until and cadence_active(incident) and interval > timedelta(0):
            out.dues.append(Due(windows.advance(window, reset, (lapsed + 1) * interval),
                                DueState.NEXT))
    out.interval = interval
    out.dues.sort(key=lambda d: d.at)
    return out


@dataclass(frozen=True)
class Adherence:
    """How well the agreed update cadence was kept (README "Cadence adherence").

    ``updates`` is the number of updates judged against the clock (``on_time + late``); updates
    logged before any cadence existed had nothing to be judged against. ``interval`` is the
    cadence in force at the end of the counted window. ``longest_gap`` is only ever measured
    between real events (clock start to first update, then update to update): an open stretch
    up to `until` is not a gap that happened, and it already shows up as missed updates.
    """

    on_time: int
    late: int
    missed: int
    ratio: float | None
    longest_gap: timedelta | None
    interval: timedelta | None
    updates: int


def adherence(incident: Incident, until: datetime) -> Adherence:
    """On-time, late and missed updates from the first cadence up to `until`, counted from
    `cadence_timeline` (whose docstring gives the rules)."""
    tl = cadence_timeline(incident, until, marks=0)
    if tl.window_end is None:
        return Adherence(0, 0, 0, None, None, None, 0)
    on_time, late = tl.count(DueState.ON_TIME), tl.count(DueState.LATE)
    missed = tl.count(DueState.MISSED)
    total = on_time + late + missed
    ratio = on_time / total if total else None
    longest = max((g.length for g in tl.gaps), default=None)
    return Adherence(on_time, late, missed, ratio, longest, tl.interval, on_time + late)
