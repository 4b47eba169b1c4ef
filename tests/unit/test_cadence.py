"""The reminder rules and cadence adherence, on plain data.

The unit cases pin each rule to a wall-clock example; the oracle tests then run a simulated
scheduler minute by minute (waking only at `next_wakeup`, claiming each reminder key once like
the database does) and compare what fired with an independent enumeration of clock periods.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.domain.cadence import (
    Reminder,
    ReminderKind,
    cadence_active,
    clock_start,
    due_reminders,
    next_update_due,
    next_wakeup,
    overdue_by,
    upcoming,
)
from playbook.domain.cadence_walk import Adherence, adherence
from playbook.domain.model import (
    CadenceChange,
    Checkin,
    CustomerUpdate,
    Incident,
    Policy,
    Promise,
    PromiseStatus,
    Status,
)
from tests.playbooks import default_policy

DAY = datetime(2024, 5, 6, tzinfo=UTC)
# nudge 5m, escalate after 15m, repeat every 30m; owner nags and stale nudges are tested in
# test_nag_snooze.py
POLICY = default_policy(owner_nags=(), stale_after=timedelta(0), stale_resolved=timedelta(0))
K = ReminderKind


def at(hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return DAY.replace(hour=int(h), minute=int(m))


def mins(n: int) -> timedelta:
    return timedelta(minutes=n)


def update(n: int, when: datetime) -> CustomerUpdate:
    return CustomerUpdate(number=n, text=f"update {n}", by="U1", at=when)


def make(
    cadence: int | None = 30,
    set_at: str = "10:00",
    updates: tuple[str, ...] = (),
    **fields: object,
) -> Incident:
    """An incident opened at 09:50 with a cadence set at `set_at` and updates at given times."""
    inc = Incident(
        team_id="T1",
        number=3,
        customer="Acme",
        description="exports fail",
        opened_by="U1",
        opened_at=at("09:50"),
    )
    if cadence is not None:
        inc.cadence_changes.append(CadenceChange(at(set_at), mins(cadence), agreed=True))
    inc.updates.extend(update(i + 1, at(u)) for i, u in enumerate(updates))
    for name, value in fields.items():
        setattr(inc, name, value)
    return inc


def kinds(rs: list[Reminder]) -> list[tuple[ReminderKind, datetime, str]]:
    return [(r.kind, r.due_at, r.ref) for r in rs]


# --- the clock ----------------------------------------------------------------------------------


def test_clock_starts_at_cadence_and_restarts_at_each_update() -> None:
    assert clock_start(make(cadence=None, updates=("10:05",))) is None
    assert clock_start(make(updates=("09:55",))) == at("10:00")  # update before the cadence
    assert clock_start(make(updates=("10:10", "10:20"))) == at("10:20")
    assert next_update_due(make(updates=("10:10", "10:20"))) == at("10:50")


def test_cadence_active_until_customer_told_or_closed() -> None:
    assert not cadence_active(make(cadence=None))
    assert cadence_active(make())
    assert cadence_active(make(status=Status.RESOLVED))  # resolved, customer not told yet
    assert not cadence_active(make(customer_informed_at=at("11:00")))
    assert not cadence_active(make(status=Status.CLOSED))


def test_overdue_by_is_positive_lateness_only() -> None:
    inc = make()
    assert overdue_by(inc, at("10:20")) is None
    assert overdue_by(inc, at("10:30")) is None
    assert overdue_by(inc, at("10:40")) == mins(10)
    assert overdue_by(make(cadence=None), at("23:00")) is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        due_reminders(make(), POLICY, datetime(2024, 5, 6, 10, 30))


# --- nudge, due, escalation ---------------------------------------------------------------------


def test_nudge_fires_five_minutes_before_due_and_never_after_it() -> None:
    inc = make()
    assert due_reminders(inc, POLICY, at("10:24")) == []
    assert kinds(due_reminders(inc, POLICY, at("10:25"))) == [(K.NUDGE, at("10:25"), "")]
    almost = at("10:30") - timedelta(seconds=1)
    assert kinds(due_reminders(inc, POLICY, almost)) == [(K.NUDGE, at("10:25"), "")]
    # Once due, the due reminder covers it: a late wakeup sends no stale nudge.
    assert kinds(due_reminders(inc, POLICY, at("10:30"))) == [(K.DUE, at("10:30"), "")]
    assert next_wakeup(inc, POLICY, at("10:00")) == at("10:25")
    assert next_wakeup(inc, POLICY, at("10:25")) == at("10:30")


def test_due_then_first_escalation_after_grace_then_every_repeat() -> None:
    inc = make()
    assert kinds(due_reminders(inc, POLICY, at("10:44"))) == [(K.DUE, at("10:30"), "")]
    assert next_wakeup(inc, POLICY, at("10:30")) == at("10:45")
    assert kinds(due_reminders(inc, POLICY, at("10:45"))) == [
        (K.DUE, at("10:30"), ""),
        (K.ESCALATE, at("10:45"), "1"),
    ]
    assert next_wakeup(inc, POLICY, at("10:45")) == at("11:15")
    assert kinds(due_reminders(inc, POLICY, at("11:14")))[-1] == (K.ESCALATE, at("10:45"), "1")
    assert kinds(due_reminders(inc, POLICY, at("11:15")))[-1] == (K.ESCALATE, at("11:15"), "2")


def test_after_downtime_only_the_latest_escalation_is_returned() -> None:
    got = due_reminders(make(), POLICY, at("12:20"))
    # Escalations were due at 10:45, 11:15, 11:45 and 12:15: one message, not a burst.
    assert kinds(got) == [(K.DUE, at("10:30"), ""), (K.ESCALATE, at("12:15"), "4")]
    assert next_wakeup(make(), POLICY, at("12:20")) == at("12:45")


def test_same_state_gives_same_keys_whenever_asked() -> None:
    inc = make()
    keys = {
        (r.kind, r.due_at)
        for minute in range(30, 45)
        for r in due_reminders(inc, POLICY, at("10:00") + mins(minute))
    }
    assert keys == {(K.DUE, at("10:30"))}


def test_escalation_once_when_repeat_is_zero() -> None:
    policy = replace(POLICY, escalate_repeat=timedelta(0))
    inc = make()
    assert kinds(due_reminders(inc, policy, at("13:00")))[-1] == (K.ESCALATE, at("10:45"), "1")
    assert next_wakeup(inc, policy, at("10:45")) is None


def test_upcoming_lists_the_plan_within_the_horizon_with_lazy_escalations() -> None:
    got = upcoming(make(), POLICY, at("10:00"), timedelta(hours=3))
    assert kinds(got) == [
        (K.NUDGE, at("10:25"), ""),
        (K.DUE, at("10:30"), ""),
        (K.ESCALATE, at("10:45"), "1"),
        (K.ESCALATE, at("11:15"), "2"),
        (K.ESCALATE, at("11:45"), "3"),
        (K.ESCALATE, at("12:15"), "4"),
        (K.ESCALATE, at("12:45"), "5"),
    ]
    # Strictly after now, and at most now + horizon (the edge included).
    assert kinds(upcoming(make(), POLICY, at("10:25"), mins(5))) == [(K.DUE, at("10:30"), "")]
    assert upcoming(make(), POLICY, at("10:00"), mins(-1)) == []


def test_cadence_change_restarts_the_clock_and_drops_the_old_due() -> None:
    inc = make()
    assert Reminder(K.DUE, at("10:30")) in upcoming(inc, POLICY, at("10:05"), timedelta(hours=2))
    inc.cadence_changes.append(CadenceChange(at("10:10"), mins(60), agreed=True))
    plan = upcoming(inc, POLICY, at("10:10"), timedelta(hours=2))
    assert all(r.due_at != at("10:30") for r in plan)
    assert kinds(plan)[:2] == [(K.NUDGE, at("11:05"), ""), (K.DUE, at("11:10"), "")]
    assert due_reminders(inc, POLICY, at("10:31")) == []
    assert next_wakeup(inc, POLICY, at("10:10")) == at("11:05")


def test_update_just_before_due_means_no_due_reminder() -> None:
    inc = make(updates=("10:29",))
    assert due_reminders(inc, POLICY, at("10:30")) == []
    assert next_update_due(inc) == at("10:59")
    assert next_wakeup(inc, POLICY, at("10:29")) == at("10:54")


def test_update_just_after_due_starts_the_next_period_at_the_update() -> None:
    inc = make()
    fired = due_reminders(inc, POLICY, at("10:30"))
    claimed = {(r.kind, r.due_at, r.ref) for r in fired}
    assert claimed == {(K.DUE, at("10:30"), "")}
    inc.updates.append(update(1, at("10:31")))
    # The DUE already fired stays fired (its claim remains); the new period is the update's.
    assert due_reminders(inc, POLICY, at("10:31")) == []
    assert next_update_due(inc) == at("11:01")
    later = due_reminders(inc, POLICY, at("11:01"))
    assert kinds(later) == [(K.DUE, at("11:01"), "")]
    assert not claimed & {(r.kind, r.due_at, r.ref) for r in later}


@pytest.mark.parametrize(("interval", "nudge"), [(5, 5), (3, 5), (30, 30), (30, 0)])
def test_no_nudge_without_room_for_one(interval: int, nudge: int) -> None:
    policy = replace(POLICY, nudge_before=mins(nudge))
    inc = make(cadence=interval)
    plan = upcoming(inc, policy, at("10:00"), timedelta(hours=2))
    assert K.NUDGE not in {r.kind for r in plan}
    for minute in range(interval + 1):
        now = at("10:00") + mins(minute)
        assert K.NUDGE not in {r.kind for r in due_reminders(inc, policy, now)}


def test_nudge_on_a_short_cadence_with_room() -> None:
    inc = make(cadence=6)
    assert kinds(due_reminders(inc, POLICY, at("10:01"))) == [(K.NUDGE, at("10:01"), "")]


# --- promises and check-ins ---------------------------------------------------------------------


def promise(n: int, made: str, due: str, status: PromiseStatus = PromiseStatus.OPEN) -> Promise:
    return Promise(n, "more information", at(due), "U1", at(made), status=status)


def test_promise_soon_then_due() -> None:
    inc = make(cadence=None, promises=[promise(2, "10:00", "11:00")])
    assert due_reminders(inc, POLICY, at("10:54")) == []
    assert kinds(due_reminders(inc, POLICY, at("10:55"))) == [(K.PROMISE_SOON, at("10:55"), "P2")]
    assert kinds(due_reminders(inc, POLICY, at("11:00"))) == [(K.PROMISE_DUE, at("11:00"), "P2")]
    assert kinds(due_reminders(inc, POLICY, at("12:00"))) == [(K.PROMISE_DUE, at("11:00"), "P2")]
    assert next_wakeup(inc, POLICY, at("10:00")) == at("10:55")
    assert next_wakeup(inc, POLICY, at("10:55")) == at("11:00")
    assert next_wakeup(inc, POLICY, at("11:00")) is None


def test_promise_made_inside_the_nudge_window_gets_no_soon_reminder() -> None:
    inc = make(cadence=None, promises=[promise(1, "10:57", "11:00")])
    assert kinds(upcoming(inc, POLICY, at("10:57"), mins(60))) == [
        (K.PROMISE_DUE, at("11:00"), "P1")
    ]
    assert due_reminders(inc, POLICY, at("10:58")) == []


def test_settled_promises_remind_nobody() -> None:
    inc = make(
        cadence=None,
        promises=[
            promise(1, "10:00", "11:00", PromiseStatus.KEPT),
            promise(2, "10:00", "11:00", PromiseStatus.MISSED),
        ],
    )
    assert due_reminders(inc, POLICY, at("12:00")) == []
    assert next_wakeup(inc, POLICY, at("10:00")) is None


def test_checkins_continue_after_close_and_the_cadence_does_not() -> None:
    tomorrow = at("10:00") + timedelta(days=1)
    inc = make(
        status=Status.CLOSED,
        closed_at=at("11:00"),
        checkins=[
            Checkin(1, tomorrow),
            Checkin(2, tomorrow, done_at=tomorrow, done_by="U1"),
            Checkin(3, tomorrow + timedelta(days=6)),
        ],
    )
    assert due_reminders(inc, POLICY, at("12:00")) == []
    assert next_wakeup(inc, POLICY, at("11:00")) == tomorrow
    assert kinds(due_reminders(inc, POLICY, tomorrow)) == [(K.CHECKIN, tomorrow, "C1")]
    assert next_wakeup(inc, POLICY, tomorrow) == tomorrow + timedelta(days=6)


def test_nothing_for_the_cadence_once_the_customer_is_told_it_is_resolved() -> None:
    inc = make(updates=("10:20", "10:40"), status=Status.RESOLVED, customer_informed_at=at("10:40"))
    assert next_update_due(inc) is None
    assert overdue_by(inc, at("15:00")) is None
    assert due_reminders(inc, POLICY, at("15:00")) == []
    assert upcoming(inc, POLICY, at("10:40"), timedelta(days=1)) == []
    assert next_wakeup(inc, POLICY, at("10:40")) is None


# --- the oracle: a simulated scheduler against an enumeration of clock periods -----------------

END = 300  # simulated minutes
T0 = at("10:00")

Key = tuple[ReminderKind, datetime, str]


@dataclass(frozen=True)
class Scenario:
    interval: int
    nudge: int
    after: int
    repeat: int
    updates: tuple[int, ...]  # minutes after T0
    changes: tuple[tuple[int, int], ...]  # (minute, new interval)
    informed: int | None  # the minute the customer is told it is resolved (with an update)
    promise: tuple[int, int] | None  # (made at minute, due after minutes)

    @property
    def policy(self) -> Policy:
        return default_policy(
            nudge_before=mins(self.nudge),
            escalate_after=mins(self.after),
            escalate_repeat=mins(self.repeat),
            owner_nags=(),
            stale_after=timedelta(0),
            stale_resolved=timedelta(0),
        )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    updates = draw(st.lists(st.integers(1, END), unique=True, max_size=12))
    changes = draw(
        st.lists(
            st.tuples(st.integers(1, END), st.sampled_from([5, 10, 20, 30, 60])),
            unique_by=lambda c: c[0],
            max_size=2,
        )
    )
    return Scenario(
        interval=draw(st.sampled_from([5, 10, 15, 30, 45, 60])),
        nudge=draw(st.sampled_from([0, 1, 5, 10, 30])),
        after=draw(st.sampled_from([0, 5, 15])),
        repeat=draw(st.sampled_from([0, 10, 30])),
        updates=tuple(sorted(updates)),
        changes=tuple(sorted(changes)),
        informed=draw(st.none() | st.integers(1, END)),
        promise=draw(st.none() | st.tuples(st.integers(0, END), st.integers(1, 120))),
    )


def minute(t: datetime) -> int:
    return (t - T0) // mins(1)


def expected(sc: Scenario) -> dict[Key, int]:
    """Every reminder a punctual scheduler fires, with the minute it fires, from first principles.

    Events at a minute are logged before the scheduler's tick at that minute, so an update at
    exactly the due time means no DUE, and one at the nudge time means no nudge.
    """
    stop = sc.informed if sc.informed is not None else END + 1
    starts = sorted({0, *sc.updates, *(m for m, _ in sc.changes)} | {stop})
    out: dict[Key, int] = {}
    for s, boundary in pairwise(starts):
        if s >= stop:
            break
        interval = next(
            (iv for m, iv in reversed(sc.changes) if m <= s),
            sc.interval,
        )
        fire_by = min(boundary - 1, END)  # the last tick of this period
        due = s + interval
        nudge_at = due - sc.nudge
        if sc.nudge > 0 and s < nudge_at <= fire_by:
            out[(K.NUDGE, T0 + mins(nudge_at), "")] = nudge_at
        if due <= fire_by:
            out[(K.DUE, T0 + mins(due), "")] = due
        k, esc = 0, due + sc.after
        while esc <= fire_by:
            out[(K.ESCALATE, T0 + mins(esc), str(k + 1))] = esc
            if sc.repeat == 0:
                break
            k, esc = k + 1, esc + sc.repeat
    if sc.promise is not None:
        made, dur = sc.promise
        soon, pdue = made + dur - sc.nudge, made + dur
        if sc.nudge > 0 and soon > made and soon <= END:
            out[(K.PROMISE_SOON, T0 + mins(soon), "P1")] = soon
        if pdue <= END:
            out[(K.PROMISE_DUE, T0 + mins(pdue), "P1")] = pdue
    return out


def apply_events(inc: Incident, sc: Scenario, t: int) -> bool:
    """Log what happens at minute `t` (as the rules would); True when the state changed."""
    now = T0 + mins(t)
    changed = False
    if t == 0:
        inc.cadence_changes.append(CadenceChange(now, mins(sc.interval), agreed=True))
        changed = True
    for m, iv in sc.changes:
        if m == t:
            inc.cadence_changes.append(CadenceChange(now, mins(iv), agreed=True))
            changed = True
    if t in sc.updates or t == sc.informed:
        inc.updates.append(update(len(inc.updates) + 1, now))
        changed = True
    if t == sc.informed:
        inc.status, inc.customer_informed_at = Status.RESOLVED, now
    if sc.promise is not None and sc.promise[0] == t:
        inc.promises.append(Promise(1, "a fix", now + mins(sc.promise[1]), "U1", now))
        changed = True
    return changed


def simulate(sc: Scenario, down: range = range(0)) -> tuple[dict[Key, int], list[int]]:
    """Run a scheduler that sleeps until `next_wakeup` and is dead during `down` (minutes).

    Returns the claimed keys with the minute each was claimed, and, per wakeup, how many
    escalations `due_reminders` returned.
    """
    inc = Incident("T1", 1, "Acme", "down", "U1", T0)
    policy = sc.policy
    claimed: dict[Key, int] = {}
    escalations_per_wake: list[int] = []
    wake: datetime | None = None
    for t in range(END + 1):
        now = T0 + mins(t)
        changed = apply_events(inc, sc, t)
        # Whatever the scheduler does, these hold at every instant.
        assert all(r.due_at <= now for r in due_reminders(inc, policy, now))
        nxt = next_wakeup(inc, policy, now)
        assert nxt is None or nxt > now
        if t in down:
            continue
        restarted = bool(down) and t == down.stop
        if restarted or (wake is not None and now >= wake):
            fired = due_reminders(inc, policy, now)
            escalations_per_wake.append(sum(r.kind == K.ESCALATE for r in fired))
            for r in fired:
                key = (r.kind, r.due_at, r.ref)
                if key in claimed:  # the database claim: each key once
                    continue
                claimed[key] = t
                if r.kind == K.PROMISE_DUE:  # the shell marks it missed
                    inc.promises[0].status = PromiseStatus.MISSED
                    changed = True
            wake = next_wakeup(inc, policy, now)
        elif changed:
            wake = next_wakeup(inc, policy, now)
    return claimed, escalations_per_wake


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_oracle_punctual_scheduler_fires_exactly_the_expected_reminders(sc: Scenario) -> None:
    claimed, _ = simulate(sc)
    want = expected(sc)
    # Exactly one DUE per lapse, none skipped, each fired at its due minute; same for the
    # nudges, each escalation and the promise reminders.
    assert claimed == want
    for key, fired_at in claimed.items():
        assert fired_at == minute(key[1])


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(0, END), st.integers(1, 120))
def test_oracle_after_downtime_one_due_per_lapse_and_no_escalation_burst(
    sc: Scenario, down_from: int, down_for: int
) -> None:
    down = range(down_from, min(down_from + down_for, END + 1))
    claimed, escalations_per_wake = simulate(sc, down)
    assert all(n <= 1 for n in escalations_per_wake)
    live = [t for t in range(END + 1) if t not in down]
    fired_dues = {key: t for key, t in claimed.items() if key[0] == K.DUE}
    want_dues: dict[Key, int] = {}
    for key in expected(sc):
        if key[0] != K.DUE:
            continue
        # Fired at the first live minute of the lapse, if the lapse lasted until one.
        due = minute(key[1])
        end_of_lapse = next(
            (t for t in sorted({*sc.updates, *(m for m, _ in sc.changes)}) if t > due),
            END + 1,
        )
        if sc.informed is not None:
            end_of_lapse = min(end_of_lapse, sc.informed)
        first_live = next((t for t in live if due <= t < end_of_lapse), None)
        if first_live is not None:
            want_dues[key] = first_live
    assert fired_dues == want_dues
    for key, t in claimed.items():
        assert minute(key[1]) <= t
        if key[0] == K.NUDGE:  # never a stale nudge
            assert t < minute(key[1]) + sc.nudge


# --- adherence ----------------------------------------------------------------------------------


def test_adherence_of_the_design_example() -> None:
    got = adherence(make(updates=("10:25", "10:55", "11:37")), at("11:40"))
    assert got == Adherence(
        on_time=2,
        late=1,
        missed=0,
        ratio=2 / 3,
        longest_gap=mins(42),
        interval=mins(30),
        updates=3,
    )


ADHERENCE_CASES = [
    # (name, incident, until, on_time, late, missed, longest gap in minutes, judged updates)
    ("design example", make(updates=("10:25", "10:55", "11:37")), "11:40", 2, 1, 0, 42, 3),
    ("open stretch after it", make(updates=("10:25", "10:55", "11:37")), "12:30", 2, 1, 1, 42, 3),
    ("two intervals missed", make(updates=("11:35",)), "11:40", 0, 1, 2, 95, 1),
    ("update on a later due", make(updates=("11:30",)), "11:40", 0, 1, 1, 90, 1),
    ("on time exactly at due", make(updates=("10:30", "11:00")), "11:10", 2, 0, 0, 30, 2),
    ("no update yet, not due", make(), "10:30", 0, 0, 0, None, 0),
    ("no update, three dues", make(), "11:31", 0, 0, 3, None, 0),
    ("update before cadence", make(updates=("09:55", "10:25")), "10:40", 1, 0, 0, 25, 1),
    ("update with the cadence", make(updates=("10:00",)), "10:10", 1, 0, 0, 0, 1),
    (
        "told of resolution ends it",
        make(updates=("10:20", "10:45"), customer_informed_at=at("10:45")),
        "14:00",
        2,
        0,
        0,
        25,
        2,
    ),
    (
        "closed without telling",
        make(updates=("10:20",), status=Status.CLOSED, closed_at=at("11:05")),
        "14:00",
        1,
        0,
        1,
        20,
        1,
    ),
    (
        "updates after the window",
        make(updates=("10:20", "13:00"), customer_informed_at=at("10:20")),
        "14:00",
        1,
        0,
        0,
        20,
        1,
    ),
]


@pytest.mark.parametrize(
    ("inc", "until", "on_time", "late", "missed", "gap", "judged"),
    [case[1:] for case in ADHERENCE_CASES],
    ids=[case[0] for case in ADHERENCE_CASES],
)
def test_adherence_golden(
    inc: Incident,
    until: str,
    on_time: int,
    late: int,
    missed: int,
    gap: int | None,
    judged: int,
) -> None:
    got = adherence(inc, at(until))
    assert (got.on_time, got.late, got.missed, got.updates) == (on_time, late, missed, judged)
    assert got.longest_gap == (None if gap is None else mins(gap))
    assert got.interval == mins(30)
    total = on_time + late + missed
    assert got.ratio == (on_time / total if total else None)


def test_adherence_with_a_cadence_change_midway() -> None:
    inc = make(updates=("10:20", "12:10"))
    # 30m from 10:00; at 11:30 the customer agrees to hourly. Dues 10:50 and 11:20 of the old
    # clock passed with no update: two missed. The 12:10 update is on time for 12:30.
    inc.cadence_changes.append(CadenceChange(at("11:30"), mins(60), agreed=True))
    got = adherence(inc, at("12:20"))
    assert got == Adherence(2, 0, 2, 0.5, mins(110), mins(60), 2)


def test_adherence_when_the_new_cadence_is_set_after_a_late_stretch() -> None:
    inc = make(updates=("10:20",))
    inc.cadence_changes.append(CadenceChange(at("10:50"), mins(15), agreed=True))
    # Old due 10:50 is not strictly before the change: not missed. New clock: 11:05 due.
    got = adherence(inc, at("11:20"))
    assert (got.on_time, got.late, got.missed, got.interval) == (1, 0, 1, mins(15))


def test_adherence_without_a_cadence() -> None:
    got = adherence(make(cadence=None, updates=("10:20", "11:40")), at("14:00"))
    assert got == Adherence(0, 0, 0, None, None, None, 0)
