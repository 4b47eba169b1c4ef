"""The pre-refactor adherence algorithm, kept as a test oracle.

`playbook.domain.cadence_walk.adherence` now counts what `cadence_timeline` lists. This is the
independent algorithm it replaced (`adherence` and its private helpers from `playbook/cadence.py`
at f6d9434): it counts on the fly, without listing dues. The property test in
tests/unit/test_cadence_walk.py asserts that both give the same figures, so a change to the walk
that moves a count is caught by something other than the walk itself. Not used by the bot; keep
it as it was (only the windows helpers and the `Adherence` record are shared).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from playbook.domain import windows
from playbook.domain.cadence_walk import Adherence
from playbook.domain.model import CadenceChange, CustomerUpdate, Incident
from playbook.domain.windows import Window

__all__ = ["reference_adherence"]

_TICK = timedelta(microseconds=1)  # datetime resolution: "strictly before t" == "<= t - _TICK"


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware (UTC) datetime")


def _lapsed_between(base: datetime, interval: timedelta, t: datetime,
                    window: Window | None = None) -> int:
    """How many ``k >= 1`` have ``base + k*interval < t``: the full intervals that went by.

    With a window, "base + k*interval" is where k intervals of window time have passed
    (`windows.advance`), so nights and weekends outside it add no missed updates.
    """
    if interval <= timedelta(0) or t <= base:
        return 0
    if window is None:
        return (t - base - _TICK) // interval
    spent = windows.elapsed(window, base, t)
    if spent <= timedelta(0):
        return 0
    n = (spent - _TICK) // interval
    # exactly k intervals of window time by t: lapsed too if t lies past that instant (the
    # window had closed on it)
    if spent % interval == timedelta(0) and windows.advance(window, base, spent) < t:
        n += 1
    return n


def reference_adherence(incident: Incident, until: datetime) -> Adherence:
    """Count on-time, late and missed updates from the first cadence up to `until` (the rules
    are in `playbook.domain.cadence_walk.cadence_timeline`)."""
    _require_aware(until)
    end = until
    for t in (incident.customer_informed_at, incident.closed_at):
        if t is not None and t < end:
            end = t
    changes = sorted(incident.cadence_changes, key=lambda c: c.at)
    if not changes or changes[0].at > end:
        return Adherence(0, 0, 0, None, None, None, 0)

    # A reopened incident owed no updates from the end of an earlier period (customer told it
    # was resolved, else the close) until the reopen, whose cadence change restarts the clock.
    pauses = [(min(t for t in (r.customer_informed_at, r.closed_at) if t is not None), r.at)
              for r in incident.reopenings]

    def paused(t: datetime) -> bool:
        return any(start < t <= stop for start, stop in pauses)

    events: list[tuple[datetime, int, CadenceChange | CustomerUpdate | None]] = [
        (c.at, 0, c) for c in changes
        if c.at <= end and not any(start < c.at < stop for start, stop in pauses)
    ]
    events += [(u.at, 1, u) for u in incident.updates
               if changes[0].at <= u.at <= end and not paused(u.at)]
    events += [(start, 2, None) for start, _ in pauses if start <= end]
    events.sort(key=lambda e: (e[0], e[1]))

    on_time = late = missed = 0
    reset: datetime = changes[0].at
    interval: timedelta = changes[0].interval
    window: Window | None = changes[0].window
    previous: datetime = changes[0].at  # the clock's first start, then the last update
    longest: timedelta | None = None
    stopped = False  # between a period's end and the reopen: nothing is owed
    for at, _, event in events:
        if event is None:
            missed += _lapsed_between(reset, interval, at, window)
            stopped = True
            continue
        if isinstance(event, CadenceChange):
            if stopped:
                stopped, previous = False, at
            else:
                missed += _lapsed_between(reset, interval, at, window)  # 0 for the first change
            reset, interval, window = at, event.interval, event.window
            continue
        due = windows.advance(window, reset, interval)
        if at <= due:
            on_time += 1
        else:
            late += 1
            missed += _lapsed_between(due, interval, at, window)
        gap = windows.elapsed(window, previous, at)
        longest = gap if longest is None or gap > longest else longest
        previous = reset = at
    if not stopped:
        missed += _lapsed_between(reset, interval, end, window)

    total = on_time + late + missed
    ratio = on_time / total if total else None
    return Adherence(on_time, late, missed, ratio, longest, interval, on_time + late)
