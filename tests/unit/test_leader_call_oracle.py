"""The leader call's reminders against a simulated scheduler (the oracle style of
tests/unit/test_cadence.py): a punctual scheduler that sleeps until `next_wakeup` and claims
each key once fires exactly the ask, the due reminder and each escalation, each at its minute;
after downtime it sends one of each at most per wake, never a stale ask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from playbook.domain.cadence import ReminderKind as K
from playbook.domain.cadence import due_reminders, next_wakeup
from playbook.domain.model import Incident, Policy
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
END = 240
Key = tuple[K, datetime, str]


def mins(n: int) -> timedelta:
    return timedelta(minutes=n)


def policy(after: int, repeat: int) -> Policy:
    return default_policy(escalate_after=mins(after), escalate_repeat=mins(repeat),
                          owner_nags=(), stale_after=timedelta(0), stale_resolved=timedelta(0))


def expected(within: int, after: int, repeat: int, call: int | None) -> dict[Key, int]:
    """Every leader reminder a punctual scheduler fires, with its minute, from first
    principles (a call logged at a minute comes before that minute's tick)."""
    stop = call if call is not None else END + 1
    out: dict[Key, int] = {}
    if stop > 0:
        out[(K.LEADER_ASK, T0, "")] = 0
    if within < stop and within <= END:
        out[(K.LEADER_DUE, T0 + mins(within), "")] = within
    k, at = 0, within + after
    while at < stop and at <= END:
        out[(K.LEADER_ESCALATE, T0 + mins(at), str(k + 1))] = at
        if repeat == 0:
            break
        k, at = k + 1, at + repeat
    return out


def simulate(within: int, after: int, repeat: int, call: int | None,
             down: range = range(0)) -> tuple[dict[Key, int], list[int]]:
    inc = Incident("T1", 1, "Acme", "down", "U1", T0, severity="sev1")
    inc.leader_call_asked_at, inc.leader_call_due_at = T0, T0 + mins(within)
    pol = policy(after, repeat)
    claimed: dict[Key, int] = {}
    per_wake: list[int] = []
    wake: datetime | None = T0
    for t in range(END + 1):
        now = T0 + mins(t)
        if t == call:
            inc.leader_call_at, inc.leader_call_by = now, "U0LEAD"
            wake = next_wakeup(inc, pol, now) if t not in down else wake
        assert all(r.due_at <= now for r in due_reminders(inc, pol, now))
        nxt = next_wakeup(inc, pol, now)
        assert nxt is None or nxt > now
        if t in down:
            continue
        restarted = bool(down) and t == down.stop
        if restarted or (wake is not None and now >= wake):
            fired = [r for r in due_reminders(inc, pol, now) if r.kind.value.startswith("leader")]
            per_wake.append(sum(r.kind is K.LEADER_ESCALATE for r in fired))
            for r in fired:
                claimed.setdefault((r.kind, r.due_at, r.ref), t)  # the database claim
            wake = next_wakeup(inc, pol, now)
    return claimed, per_wake


scenario = st.tuples(st.sampled_from([5, 10, 30, 60]), st.sampled_from([0, 5, 15]),
                     st.sampled_from([0, 10, 30]), st.none() | st.integers(1, END))


@settings(max_examples=200, deadline=None)
@given(scenario)
def test_oracle_punctual_scheduler_fires_each_leader_reminder_once_at_its_time(
        sc: tuple[int, int, int, int | None]) -> None:
    claimed, _ = simulate(*sc)
    assert claimed == expected(*sc)


@settings(max_examples=200, deadline=None)
@given(scenario, st.integers(0, END), st.integers(1, 120))
@example((30, 15, 30, None), 0, 60)  # down from open until past due: no late ask
@example((10, 5, 10, None), 12, 40)  # down across several escalations: only the latest
def test_oracle_after_downtime_no_burst_and_no_stale_ask(
        sc: tuple[int, int, int, int | None], down_from: int, down_for: int) -> None:
    within = sc[0]
    down = range(down_from, min(down_from + down_for, END + 1))
    claimed, per_wake = simulate(*sc, down=down)
    assert all(n <= 1 for n in per_wake)
    for (kind, due, _), t in claimed.items():
        assert (due - T0) // mins(1) <= t
        if kind is K.LEADER_ASK:
            assert t < within, "an ask is never sent once the call is already due"
    # downtime only ever drops reminders (latest-only), it never makes up new keys
    assert set(claimed) <= set(expected(*sc))
