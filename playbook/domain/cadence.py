"""When cadence, promise and check-in reminders fire (how well the cadence was kept is
`playbook.domain.cadence_walk`).

The scheduler in the shell is only a cache of the database: it asks this module what is due at
`now` and when to wake next, and the database claims each ``(incident, kind, due_at, ref)`` once.
That only works if every function here is a pure function of the incident's saved state: the
same state always yields the same ``due_at`` values, whatever `now` a (possibly late) wakeup
passes in. So nothing here reads a clock, and no due time is ever derived from `now` itself;
`now` only decides which of the state's reminders have been reached.

All datetimes are aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from playbook.domain import windows
from playbook.domain.model import Incident, Policy, PromiseStatus, Status
from playbook.domain.windows import Window

__all__ = [
    "TICK",
    "Reminder",
    "ReminderKind",
    "cadence_active",
    "chasing",
    "clock_start",
    "due_reminders",
    "next_update_due",
    "next_wakeup",
    "overdue_by",
    "require_aware",
    "snoozed_until",
    "upcoming",
]

TICK = timedelta(microseconds=1)  # datetime resolution: "strictly before t" == "<= t - TICK"


class ReminderKind(StrEnum):
    """What a reminder asks the shell to do; the value is stored with the claim."""

    NUDGE = "nudge"  # the next customer update is due soon: heads-up in the incident channel
    DUE = "due"  # the update is due now: reminder in the incident channel
    ESCALATE = "escalate"  # still overdue after the grace: owner DM + leads, repeated
    PROMISE_SOON = "promise-soon"  # a promise is due soon: remind the owner
    PROMISE_DUE = "promise-due"  # a promise reached its due time while open: mark it missed
    CHECKIN = "checkin"  # a post-resolution check-in with the customer is due
    OWNER_NAG = "owner-nag"  # nobody owns the incident yet: nag the channel (last: the leads)
    SNOOZE_END = "snooze-end"  # a snooze ran out: bring back what is still outstanding
    STALE = "stale"  # no activity for a stale period: tell the owner what is still missing
    LEADER_ASK = "leader-ask"  # top severity: ask the leads (DM) to contact the customer
    LEADER_DUE = "leader-due"  # the leader call is due and nobody made it: remind them (DM)
    LEADER_ESCALATE = "leader-escalate"  # still no call after the grace: the leads channel


_KIND_ORDER = {kind: i for i, kind in enumerate(ReminderKind)}


@dataclass(frozen=True)
class Reminder:
    """One reminder of the incident's current state.

    ``(kind, due_at, ref)`` is the claim key, so it must be stable: ``ref`` is the promise
    ("P2"), the check-in ("C1"), the escalation ordinal within the lapse ("1", "2", …), the
    owner nag's ordinal ("1".."3"), the snooze ("S1") or the stale period's ordinal, and
    empty for nudges and due reminders (their ``due_at`` already identifies the clock period).
    """

    kind: ReminderKind
    due_at: datetime
    ref: str = ""


def _sort_key(r: Reminder) -> tuple[datetime, int, int, str]:
    # Length before text so "P10" sorts after "P9": a stable, human order for equal times.
    return (r.due_at, _KIND_ORDER[r.kind], len(r.ref), r.ref)


def require_aware(dt: datetime, name: str) -> None:
    """Naive datetimes would compare wrongly (or raise deep inside); refuse them up front.
    `name` is the argument's name, as the error message gives it."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be an aware (UTC) datetime")


# --- the cadence clock ---------------------------------------------------------------------------


def cadence_active(incident: Incident) -> bool:
    """Whether the update clock is running.

    It runs once a cadence exists and until the customer has been told the problem is resolved
    (after that there is nothing more to update them about) or the incident is closed (closing
    without telling them needs a skip, and the channel is done either way).
    """
    return (
        bool(incident.cadence_changes)
        and incident.status != Status.CLOSED
        and incident.customer_informed_at is None
    )


def clock_start(incident: Incident) -> datetime | None:
    """When the current clock period began: the later of the last cadence change and update.

    Setting a cadence starts the clock and every logged update restarts it; an update logged
    before any cadence existed does not move a clock that started later. ``None`` when no
    cadence was ever set. (This does not look at status: see `cadence_active` for that.)
    """
    if not incident.cadence_changes:
        return None
    start = incident.cadence_changes[-1].at
    if incident.updates:
        start = max(start, max(u.at for u in incident.updates))
    return start


def next_update_due(incident: Incident) -> datetime | None:
    """When the next customer update is due, or ``None`` when the clock is not running."""
    if not cadence_active(incident):
        return None
    start = clock_start(incident)
    interval = incident.cadence
    if start is None or interval is None:  # pragma: no cover - implied by cadence_active
        return None
    return windows.advance(incident.window, start, interval)


def overdue_by(incident: Incident, now: datetime) -> timedelta | None:
    """How late the next update is at `now` (positive), or ``None`` when it is not late.

    With a cadence window, lateness is counted in window time (a weekend does not make an
    update two days late); an update that fell due at the window's close is late by a token
    microsecond until the window opens again, so it still reads as overdue.
    """
    require_aware(now, "now")
    due = next_update_due(incident)
    if due is None or now <= due:
        return None
    return max(windows.elapsed(incident.window, due, now), TICK)


def snoozed_until(incident: Incident, t: datetime) -> datetime | None:
    """The end of the snooze (chain) in force at `t`, or None when nothing is snoozed then.

    Snoozes that overlap or touch extend each other: the reminders come back at the end of
    the last one.
    """
    until: datetime | None = None
    for sn in sorted(incident.snoozes, key=lambda x: x.at):  # an interval merge, in one pass
        edge = t if until is None else until
        if sn.at <= edge < sn.until:
            until = sn.until
    return until


def _snoozed(incident: Incident, t: datetime) -> bool:
    return any(sn.at <= t < sn.until for sn in incident.snoozes)


def chasing(incident: Incident, policy: Policy, now: datetime) -> list[str]:
    """What the chasing reminders are about at `now`: ``"update"`` (overdue) and ``"owner"``
    (an open incident nobody owns). A snooze quiets exactly these; an empty list means there
    is nothing to snooze."""
    out = []
    if overdue_by(incident, now) is not None:
        out.append("update")
    if incident.owner is None and incident.status is Status.OPEN and policy.owner_nags:
        out.append("owner")
    return out


@dataclass(frozen=True)
class _Period:
    """The current clock period and the reminder times it implies (all from state alone).

    Offsets (``due_after``, ``first_after``, the repeat) are window time from ``start``; the
    instants are where that much window time has passed (`windows.advance`), so with a
    cadence window every reminder falls inside the customer's working hours.
    """

    start: datetime
    due: datetime
    nudge_at: datetime | None  # None when there is no room for a nudge in this period
    first_escalation: datetime
    escalate_repeat: timedelta | None  # None: escalate once per lapse
    window: Window | None
    first_after: timedelta  # window time from start to the first escalation


def _period(incident: Incident, policy: Policy) -> _Period | None:
    due = next_update_due(incident)
    start = clock_start(incident)
    interval = incident.cadence
    if due is None or start is None or interval is None:
        return None
    w = incident.window
    # A nudge at or before the clock start would fire the moment the clock starts (e.g. a
    # 5-minute nudge on a 5-minute cadence), which is noise; a zero lead time is no nudge.
    nudge_at: datetime | None = None
    if timedelta(0) < policy.nudge_before < interval:
        nudge_at = windows.advance(w, start, interval - policy.nudge_before)
    # A negative grace would escalate before the update is even due: treat it as none.
    first_after = interval + max(policy.escalate_after, timedelta(0))
    first = windows.advance(w, start, first_after)
    repeat = policy.escalate_repeat if policy.escalate_repeat > timedelta(0) else None
    return _Period(start, due, nudge_at, first, repeat, w, first_after)


def _latest_escalation(p: _Period, now: datetime) -> Reminder | None:
    """The last escalation at or before `now`: after downtime we send one, not a burst."""
    if now < p.first_escalation:
        return None
    k = 0
    if p.escalate_repeat is not None:
        k = (windows.elapsed(p.window, p.start, now) - p.first_after) // p.escalate_repeat
        k = max(k, 0)
    return _escalation(p, k)


def _escalation(p: _Period, k: int) -> Reminder:
    step = p.escalate_repeat or timedelta(0)
    at = windows.advance(p.window, p.start, p.first_after + k * step)
    return Reminder(ReminderKind.ESCALATE, at, str(k + 1))


def _escalations_after(p: _Period, now: datetime, end: datetime | None,
                       skip: Callable[[datetime], bool]) -> Iterator[Reminder]:
    """Escalations strictly after `now` and not `skip`ped (snoozed), up to `end`; only the
    next one when `end` is None."""
    if now < p.first_escalation:
        k = 0
    elif p.escalate_repeat is None:
        return
    else:
        latest = _latest_escalation(p, now)
        k = int(latest.ref) if latest is not None else 0
    while True:
        r = _escalation(p, k)
        if end is not None and r.due_at > end:
            return
        if r.due_at > now and not skip(r.due_at):
            yield r
            if end is None:
                return
        if p.escalate_repeat is None:
            return
        k += 1


def _promise_soon_at(policy: Policy, due_at: datetime, made_at: datetime) -> datetime | None:
    """When to remind the owner of a promise; none if that would be at or before it was made."""
    if policy.nudge_before <= timedelta(0):
        return None
    soon = due_at - policy.nudge_before
    return soon if soon > made_at else None


def _nags(incident: Incident, policy: Policy) -> list[Reminder]:
    """The owner nags of an open incident nobody owns, in order (none once an owner is set)."""
    if incident.owner is not None or incident.status is not Status.OPEN:
        return []
    times = sorted({t for t in policy.owner_nags if t > timedelta(0)})
    return [Reminder(ReminderKind.OWNER_NAG, incident.opened_at + t, str(i))
            for i, t in enumerate(times, start=1)]


def _snooze_ends(incident: Incident) -> list[Reminder]:
    """One reminder at the end of each snooze chain (a snooze not extended by another)."""
    if incident.status is Status.CLOSED:
        return []
    ends: dict[datetime, Reminder] = {}
    for sn in sorted(incident.snoozes, key=lambda x: x.number):
        if snoozed_until(incident, sn.until) is None:
            ends[sn.until] = Reminder(ReminderKind.SNOOZE_END, sn.until, f"S{sn.number}")
    return list(ends.values())


def last_activity(incident: Incident) -> datetime:
    return incident.last_activity_at or incident.opened_at


def stale_period(incident: Incident, policy: Policy) -> timedelta | None:
    """How long without activity makes this incident stale (None: it can't go stale)."""
    if incident.status is Status.OPEN:
        period = policy.stale_after
    elif incident.status is Status.RESOLVED:
        period = policy.stale_resolved
    else:
        return None
    return period if period > timedelta(0) else None


def _stale(incident: Incident, policy: Policy, k: int) -> Reminder | None:
    period = stale_period(incident, policy)
    if period is None or k < 1:
        return None
    return Reminder(ReminderKind.STALE, last_activity(incident) + k * period, str(k))


def _stale_k(incident: Incident, policy: Policy, now: datetime) -> int:
    """How many full stale periods have passed since the last activity at `now`."""
    period = stale_period(incident, policy)
    if period is None or now < last_activity(incident):
        return 0
    return (now - last_activity(incident)) // period


def _leader_times(incident: Incident, policy: Policy
                  ) -> tuple[datetime, datetime, datetime, timedelta | None] | None:
    """(asked, due, first escalation, repeat) of a leader call still owed; None when none is.

    All from the state (`leader_call_asked_at`, `leader_call_due_at`) and the policy's grace,
    like the cadence's: the same state always gives the same claim keys.
    """
    asked, due = incident.leader_call_asked_at, incident.leader_call_due_at
    if (asked is None or due is None or incident.leader_call_at is not None
            or incident.status is Status.CLOSED):
        return None
    first = due + max(policy.escalate_after, timedelta(0))
    repeat = policy.escalate_repeat if policy.escalate_repeat > timedelta(0) else None
    return asked, due, first, repeat


def _leader_escalation(first: datetime, repeat: timedelta | None, k: int) -> Reminder:
    return Reminder(ReminderKind.LEADER_ESCALATE, first + k * (repeat or timedelta(0)),
                    str(k + 1))


def _leader_due(incident: Incident, policy: Policy, now: datetime) -> list[Reminder]:
    """The leader-call reminders reached at `now`, latest-only like the cadence's: the ask
    only before the call is due, the due reminder once due, the latest escalation reached."""
    times = _leader_times(incident, policy)
    if times is None:
        return []
    asked, due, first, repeat = times
    out = []
    if asked <= now < due:
        out.append(Reminder(ReminderKind.LEADER_ASK, asked))
    if now >= due:
        out.append(Reminder(ReminderKind.LEADER_DUE, due))
    if now >= first:
        k = (now - first) // repeat if repeat is not None else 0
        out.append(_leader_escalation(first, repeat, k))
    return out


def _leader_future(incident: Incident, policy: Policy, now: datetime,
                   end: datetime | None) -> Iterator[Reminder]:
    """Leader-call reminders strictly after `now` (up to `end`; only the next escalation
    when `end` is None)."""
    times = _leader_times(incident, policy)
    if times is None:
        return
    asked, due, first, repeat = times
    for r in (Reminder(ReminderKind.LEADER_ASK, asked), Reminder(ReminderKind.LEADER_DUE, due)):
        if now < r.due_at and (end is None or r.due_at <= end):
            yield r
    k = 0 if now < first or repeat is None else (now - first) // repeat + 1
    if now >= first and repeat is None:
        return
    while True:
        r = _leader_escalation(first, repeat, k)
        if end is not None and r.due_at > end:
            return
        yield r
        if end is None or repeat is None:
            return
        k += 1


# --- what fires ---------------------------------------------------------------------------------


def due_reminders(incident: Incident, policy: Policy, now: datetime) -> list[Reminder]:
    """The reminders that should fire at `now`, sorted by ``due_at``.

    `now` may be late (a wakeup after downtime). Everything returned has ``due_at <= now`` and
    a ``due_at`` taken from the state alone, so a repeated or late call returns the same keys
    and the database claim makes each fire once:

    * NUDGE only while ``nudge_at <= now < due``: once the update is due the DUE reminder says
      it all, so a late wakeup never sends a stale "due soon".
    * DUE at the due time, for as long as the period lapses (one key per lapse).
    * ESCALATE: only the latest escalation reached, so a wakeup after downtime sends one.
    * PROMISE_SOON while ``soon <= now < due_at`` and PROMISE_DUE once reached, for each open
      promise: a promise is owed to the customer even after the cadence stops or the incident
      closes, and PROMISE_DUE is what marks an unkept one missed.
    * CHECKIN for each check-in not done once reached, also after close: check-ins are about
      the customer, not the channel.
    * OWNER_NAG: the latest nag reached while nobody owns the open incident.
    * SNOOZE_END: the latest snooze (chain) end reached, while not closed.
    * STALE: the latest full stale period reached since the last activity.
    * LEADER_ASK while ``asked <= now < due``, LEADER_DUE once due and LEADER_ESCALATE (the
      latest reached) for a leader call no lead has recorded yet, while not closed.

    NUDGE, DUE, ESCALATE and OWNER_NAG whose time falls inside a snooze are not sent at all
    (the latest-only rule means a snoozed one is not sent late either): the snooze's end
    brings back what is still outstanding instead.
    """
    require_aware(now, "now")
    out: list[Reminder] = []

    def keep(r: Reminder | None) -> None:
        if r is not None and not _snoozed(incident, r.due_at):
            out.append(r)

    p = _period(incident, policy)
    if p is not None:
        if p.nudge_at is not None and p.nudge_at <= now < p.due:
            keep(Reminder(ReminderKind.NUDGE, p.nudge_at))
        if now >= p.due:
            keep(Reminder(ReminderKind.DUE, p.due))
        keep(_latest_escalation(p, now))
    keep(max((r for r in _nags(incident, policy) if r.due_at <= now), default=None,
             key=lambda r: r.due_at))
    reached = [r for r in _snooze_ends(incident) if r.due_at <= now]
    if reached:
        out.append(max(reached, key=lambda r: r.due_at))
    stale = _stale(incident, policy, _stale_k(incident, policy, now))
    if stale is not None:
        out.append(stale)
    out += _leader_due(incident, policy, now)
    for pr in incident.promises:
        if pr.status != PromiseStatus.OPEN:
            continue
        ref = f"P{pr.number}"
        soon = _promise_soon_at(policy, pr.due_at, pr.made_at)
        if soon is not None and soon <= now < pr.due_at:
            out.append(Reminder(ReminderKind.PROMISE_SOON, soon, ref))
        if now >= pr.due_at:
            out.append(Reminder(ReminderKind.PROMISE_DUE, pr.due_at, ref))
    for c in incident.checkins:
        if c.done_at is None and now >= c.due_at:
            out.append(Reminder(ReminderKind.CHECKIN, c.due_at, f"C{c.number}"))
    return sorted(out, key=_sort_key)


def _future(
    incident: Incident, policy: Policy, now: datetime, end: datetime | None
) -> Iterator[Reminder]:
    """Reminders of the current state with ``now < due_at`` (``<= end`` when given).

    Escalations repeat without end, so with ``end=None`` only the next one is produced; that
    is enough for `next_wakeup`, which only wants the earliest.
    """

    def within(t: datetime) -> bool:
        return now < t and (end is None or t <= end)

    def snoozed(t: datetime) -> bool:
        return _snoozed(incident, t)

    p = _period(incident, policy)
    if p is not None:
        if p.nudge_at is not None and within(p.nudge_at) and not snoozed(p.nudge_at):
            yield Reminder(ReminderKind.NUDGE, p.nudge_at)
        if within(p.due) and not snoozed(p.due):
            yield Reminder(ReminderKind.DUE, p.due)
        yield from _escalations_after(p, now, end, snoozed)
    for r in _nags(incident, policy):
        if within(r.due_at) and not snoozed(r.due_at):
            yield r
    for r in _snooze_ends(incident):
        if within(r.due_at):
            yield r
    k = _stale_k(incident, policy, now) + 1
    while (stale := _stale(incident, policy, k)) is not None and within(stale.due_at):
        yield stale
        if end is None:
            break
        k += 1
    yield from _leader_future(incident, policy, now, end)
    for pr in incident.promises:
        if pr.status != PromiseStatus.OPEN:
            continue
        ref = f"P{pr.number}"
        soon = _promise_soon_at(policy, pr.due_at, pr.made_at)
        if soon is not None and within(soon):
            yield Reminder(ReminderKind.PROMISE_SOON, soon, ref)
        if within(pr.due_at):
            yield Reminder(ReminderKind.PROMISE_DUE, pr.due_at, ref)
    for c in incident.checkins:
        if c.done_at is None and within(c.due_at):
            yield Reminder(ReminderKind.CHECKIN, c.due_at, f"C{c.number}")


def upcoming(
    incident: Incident, policy: Policy, now: datetime, horizon: timedelta
) -> list[Reminder]:
    """The reminders the current state will fire after `now`, up to ``now + horizon``.

    Sorted by ``due_at``. This is the state's own plan (for a scheduler that queues jobs ahead,
    or for showing "next reminder at"): any change of state (an update, a new cadence) replaces
    it, which is why a due time computed earlier can disappear. Escalations are generated
    lazily, so a long horizon lists each repeat that falls inside it.
    """
    require_aware(now, "now")
    if horizon < timedelta(0):
        return []
    return sorted(_future(incident, policy, now, now + horizon), key=_sort_key)


def next_wakeup(incident: Incident, policy: Policy, now: datetime) -> datetime | None:
    """The earliest reminder time strictly after `now`, or ``None`` when nothing is pending.

    Strictly after, so a scheduler that sleeps until this time always makes progress; anything
    due at or before `now` is what `due_reminders` returns.
    """
    require_aware(now, "now")
    return min((r.due_at for r in _future(incident, policy, now, None)), default=None)
