"""Owner nags, snoozes and stale nudges, on plain data (the pure rules and what firing says).

The last test is an oracle: a simulated scheduler wakes only at `next_wakeup`, claims each
reminder key once as the database does, and what it fired is compared with what the rules
promise, for random snoozes and owner times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.domain import reminders, rules, verbs
from playbook.domain.cadence import (
    ReminderKind,
    chasing,
    due_reminders,
    next_wakeup,
    snoozed_until,
    upcoming,
)
from playbook.domain.cadence_walk import adherence
from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.model import Actor, Incident, Policy, Post, Snooze, Status, Target
from playbook.domain.verbs.snooze import parse_snooze
from tests.playbooks import default_policy

K = ReminderKind
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
ALICE = Actor("U0ALICE")
BOB = Actor("U0BOB")
POLICY = default_policy()  # nags at 5, 10 and 20 min; stale after 2 d (3 d once resolved)


def mins(n: float) -> timedelta:
    return timedelta(minutes=n)


def opened(policy: Policy = POLICY) -> Incident:
    inc = rules.open_incident(team_id="T1", customer="Acme", description="exports fail",
                              severity="sev2", actor=ALICE, now=T0, policy=policy).incident
    inc.id, inc.number, inc.channel_id = 1, 4, "C0INC"
    return inc


def run(inc: Incident, line: str, at: datetime, actor: Actor = ALICE,
        policy: Policy = POLICY) -> Incident:
    verb, arg = verbs.split_verb(line)
    return rules.run_command(inc, verb, arg, actor, now=at, policy=policy).incident


def of(kind: ReminderKind, rs: list) -> list:
    return [(r.due_at, r.ref) for r in rs if r.kind is kind]


# --- owner nags -------------------------------------------------------------------------------


def test_nags_grow_apart_until_the_last_one_and_then_stop() -> None:
    inc = opened()
    assert of(K.OWNER_NAG, upcoming(inc, POLICY, T0, timedelta(hours=2))) == [
        (T0 + mins(5), "1"), (T0 + mins(10), "2"), (T0 + mins(20), "3")]
    assert of(K.OWNER_NAG, due_reminders(inc, POLICY, T0 + mins(4))) == []
    assert of(K.OWNER_NAG, due_reminders(inc, POLICY, T0 + mins(12))) == [(T0 + mins(10), "2")]
    # after downtime only the latest is sent, never a burst
    assert of(K.OWNER_NAG, due_reminders(inc, POLICY, T0 + mins(90))) == [(T0 + mins(20), "3")]
    assert [t for t, _ in of(K.OWNER_NAG, upcoming(inc, POLICY, T0 + mins(20),
                                                    timedelta(days=1)))] == []


def test_setting_an_owner_ends_the_nags() -> None:
    inc = run(opened(), "own", T0 + mins(7))
    assert of(K.OWNER_NAG, due_reminders(inc, POLICY, T0 + mins(12))) == []
    assert of(K.OWNER_NAG, upcoming(inc, POLICY, T0 + mins(7), timedelta(hours=1))) == []
    assert reminders.fire(inc, due_reminders(opened(), POLICY, T0 + mins(10))[0],
                          T0 + mins(10), POLICY) is None, "a claimed nag after `own` says nothing"


def test_only_the_last_nag_tells_the_leads_channel() -> None:
    inc = opened()
    first = reminders.fire(inc, *[r for r in due_reminders(inc, POLICY, T0 + mins(5))
                                  if r.kind is K.OWNER_NAG], T0 + mins(5), POLICY)
    assert first is not None
    assert "Nobody owns INC-4" in first.timeline[0].text and "1 of 3" in first.timeline[0].text
    assert not [e for e in first.effects if isinstance(e, Post)]
    last_r = next(r for r in due_reminders(inc, POLICY, T0 + mins(20)) if r.kind is K.OWNER_NAG)
    last = reminders.fire(inc, last_r, T0 + mins(20), POLICY)
    assert last is not None and last.incident.reminders_fired == 1
    assert [e.target for e in last.effects if isinstance(e, Post)] == [Target.LEADS]
    assert "told the leads channel" in last.timeline[0].text


def test_without_a_leads_channel_the_last_nag_says_so() -> None:
    policy = default_policy(has_leads_channel=False)
    inc = opened(policy)
    r = next(r for r in due_reminders(inc, policy, T0 + mins(20)) if r.kind is K.OWNER_NAG)
    out = reminders.fire(inc, r, T0 + mins(20), policy)
    assert out is not None
    assert not [e for e in out.effects if isinstance(e, Post)]
    assert "CRISISBOT_LEADS_CHANNEL" in out.timeline[0].text


def test_no_nags_once_resolved_or_when_turned_off() -> None:
    assert of(K.OWNER_NAG, due_reminders(run(opened(), "resolve fixed", T0 + mins(1)), POLICY,
                                         T0 + mins(30))) == []
    assert of(K.OWNER_NAG, due_reminders(opened(), default_policy(owner_nags=()),
                                         T0 + mins(30))) == []


# --- snooze -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "duration", "reason"), [
    ("30m on a call with them", mins(30), "on a call with them"),
    ("1h waiting for their IT lead", mins(60), "waiting for their IT lead"),
    ("1h 30m long call", mins(90), "long call"),
    ("15 min standup", mins(15), "standup"),
    ("45m", mins(45), ""),
])
def test_snooze_forms_accepted(typed: str, duration: timedelta, reason: str) -> None:
    assert parse_snooze(typed) == (duration, reason)


@pytest.mark.parametrize(("typed", "says"), [
    ("", "how long"),
    ("soon please", "how long"),
    ("30m", "why"),
    ("5h on a long call", "4 h"),
    ("0m nothing", "how long"),
])
def test_snooze_refusals_say_what_to_do(typed: str, says: str) -> None:
    inc = opened()
    with pytest.raises(ParseError) as err:
        run(inc, f"snooze {typed}", T0 + mins(6))
    assert says in err.value.message and "/incident snooze" in err.value.message


def test_snooze_needs_something_chasing() -> None:
    inc = run(opened(), "own", T0 + mins(1))
    with pytest.raises(PlaybookError, match="Nothing to snooze"):
        run(inc, "snooze 30m quiet please", T0 + mins(2))


def test_a_snooze_defers_the_nags_and_brings_the_reminder_back_when_it_ends() -> None:
    inc = run(opened(), "snooze 30m on a call with the customer", T0 + mins(6), actor=BOB)
    assert inc.snoozes == [Snooze(1, T0 + mins(6), T0 + mins(36), BOB.user_id,
                                  "on a call with the customer")]
    assert snoozed_until(inc, T0 + mins(20)) == T0 + mins(36)
    # nags 2 and 3 fall inside the snooze: not sent, not even late
    for m in range(6, 36):  # (nag 1, sent before the snooze, stays "due": it is claimed)
        assert of(K.OWNER_NAG, due_reminders(inc, POLICY, T0 + mins(m))) in (
            [], [(T0 + mins(5), "1")])
    assert next_wakeup(inc, POLICY, T0 + mins(6)) == T0 + mins(36)
    assert of(K.SNOOZE_END, due_reminders(inc, POLICY, T0 + mins(36))) == [(T0 + mins(36), "S1")]
    end = next(r for r in due_reminders(inc, POLICY, T0 + mins(36)) if r.kind is K.SNOOZE_END)
    back = reminders.fire(inc, end, T0 + mins(36), POLICY)
    assert back is not None
    text = back.timeline[0].text
    assert "snooze" in text and "on a call with the customer" in text
    assert "Nobody owns INC-4" in text
    # the last nag was snoozed, so the end of the snooze tells the leads instead
    assert [e.target for e in back.effects if isinstance(e, Post)] == [Target.LEADS]


def test_a_snooze_end_with_nothing_left_to_chase_says_nothing() -> None:
    inc = run(opened(), "snooze 30m on a call", T0 + mins(6))
    inc = run(inc, "own", T0 + mins(10))
    end = next(r for r in due_reminders(inc, POLICY, T0 + mins(36)) if r.kind is K.SNOOZE_END)
    assert reminders.fire(inc, end, T0 + mins(36), POLICY) is None


def test_a_snooze_quiets_the_overdue_update_and_its_escalations_but_not_adherence() -> None:
    inc = run(run(opened(), "own", T0), "cadence 30m", T0)
    before = adherence(inc, T0 + mins(100))
    late = T0 + mins(31)
    assert chasing(inc, POLICY, late) == ["update"]
    snoozed = run(inc, "snooze 1h customer asked us to wait for their test", late)
    # escalation at 45 and 75 would fall inside the snooze
    assert of(K.ESCALATE, due_reminders(inc, POLICY, T0 + mins(50))) == [(T0 + mins(45), "1")]
    assert of(K.ESCALATE, due_reminders(snoozed, POLICY, T0 + mins(50))) == []
    assert of(K.ESCALATE, due_reminders(snoozed, POLICY, T0 + mins(80))) == []
    assert of(K.SNOOZE_END, due_reminders(snoozed, POLICY, T0 + mins(91))) == [
        (T0 + mins(91), "S1")]
    end = [r for r in due_reminders(snoozed, POLICY, T0 + mins(91)) if r.kind is K.SNOOZE_END]
    out = reminders.fire(snoozed, end[0], T0 + mins(91), POLICY)
    assert out is not None and "customer update is overdue" in out.timeline[0].text
    # the escalations carry on after it at their usual times
    assert of(K.ESCALATE, upcoming(snoozed, POLICY, T0 + mins(91), mins(30))) == [
        (T0 + mins(105), "3")]
    assert adherence(snoozed, T0 + mins(100)) == before, "the customer still waited"


def test_overlapping_snoozes_come_back_once_at_the_end_of_the_last() -> None:
    inc = run(opened(), "snooze 30m call", T0 + mins(6))
    inc = run(inc, "snooze 1h longer call", T0 + mins(20))
    assert snoozed_until(inc, T0 + mins(7)) == T0 + mins(80)
    ends = of(K.SNOOZE_END, upcoming(inc, POLICY, T0 + mins(6), timedelta(hours=3)))
    assert ends == [(T0 + mins(80), "S2")]


# --- stale incidents ------------------------------------------------------------------------------


def owned_at(t: datetime) -> Incident:
    return run(opened(), "own", t)


def test_stale_after_two_days_without_activity_then_again_each_period() -> None:
    inc = owned_at(T0 + mins(1))
    quiet_from = T0 + mins(1)
    assert of(K.STALE, due_reminders(inc, POLICY, quiet_from + timedelta(days=2) - mins(1))) == []
    assert of(K.STALE, due_reminders(inc, POLICY, quiet_from + timedelta(days=2))) == [
        (quiet_from + timedelta(days=2), "1")]
    assert of(K.STALE, due_reminders(inc, POLICY, quiet_from + timedelta(days=3))) == [
        (quiet_from + timedelta(days=2), "1")], "once per period"
    assert of(K.STALE, due_reminders(inc, POLICY, quiet_from + timedelta(days=4, hours=1))) == [
        (quiet_from + timedelta(days=4), "2")]


def test_activity_restarts_the_stale_clock() -> None:
    inc = run(owned_at(T0), "park a refund", T0 + timedelta(days=1))
    assert of(K.STALE, due_reminders(inc, POLICY, T0 + timedelta(days=2, hours=1))) == []
    assert of(K.STALE, upcoming(inc, POLICY, T0 + timedelta(days=2), timedelta(days=2))) == [
        (T0 + timedelta(days=3), "1")]


def test_resolved_but_not_closed_goes_stale_after_three_days() -> None:
    inc = run(owned_at(T0), "resolve restarted the workers", T0 + mins(5))
    resolved = T0 + mins(5)
    assert of(K.STALE, due_reminders(inc, POLICY, resolved + timedelta(days=2, hours=1))) == []
    assert of(K.STALE, due_reminders(inc, POLICY, resolved + timedelta(days=3))) == [
        (resolved + timedelta(days=3), "1")]


def test_the_stale_nudge_goes_to_the_owner_and_names_what_is_missing() -> None:
    inc = run(owned_at(T0), "resolve restarted the workers", T0 + mins(5))
    when = T0 + mins(5) + timedelta(days=3)
    r = next(r for r in due_reminders(inc, POLICY, when) if r.kind is K.STALE)
    out = reminders.fire(inc, r, when, POLICY)
    assert out is not None
    assert [(e.target, "/incident restate" in e.text) for e in out.effects
            if isinstance(e, Post)] == [(Target.OWNER, True)]
    assert "no activity for 3 d" in out.timeline[0].text
    closed = run(inc, "skip no follow-up possible", when, actor=ALICE)
    closed.status = Status.CLOSED
    assert of(K.STALE, due_reminders(closed, POLICY, when + timedelta(days=9))) == []


# --- oracle -------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(snoozes=st.lists(st.tuples(st.integers(0, 60), st.sampled_from([15, 30, 60])),
                        max_size=3),
       owner_at=st.one_of(st.none(), st.integers(1, 90)))
def test_oracle_nags_and_snoozes(snoozes: list[tuple[int, int]], owner_at: int | None) -> None:
    """A scheduler that wakes at `next_wakeup` and claims each key once fires: every nag not
    inside a snooze and due before an owner was set, exactly once at its time; nothing chasing
    while snoozed; and each snooze chain's end once, at that end."""
    policy = default_policy(stale_after=timedelta(0), stale_resolved=timedelta(0))
    inc = opened(policy)
    claimed: dict[tuple, int] = {}
    wake: datetime | None = T0
    for m in range(0, 121):
        now = T0 + mins(m)
        for start, length in snoozes:
            if start == m and chasing(inc, policy, now):
                inc = run(inc, f"snooze {length}m busy", now, policy=policy)
                wake = now
        if owner_at == m:
            inc = run(inc, "own", now, policy=policy)
            wake = now
        if wake is not None and now >= wake:
            for r in due_reminders(inc, policy, now):
                key = (r.kind, r.due_at, r.ref)
                if key not in claimed:
                    claimed[key] = m
                    assert r.due_at == now, f"{r} fired late at minute {m}"
            wake = next_wakeup(inc, policy, now)

    def in_snooze(t: datetime) -> bool:
        return any(s.at <= t < s.until for s in inc.snoozes)

    nags = {key: m for key, m in claimed.items() if key[0] is K.OWNER_NAG}
    expected = {(K.OWNER_NAG, T0 + mins(n), str(i)) for i, n in enumerate((5, 10, 20), start=1)
                if (owner_at is None or owner_at > n) and not in_snooze(T0 + mins(n))}
    assert set(nags) == expected
    ends = {key[1] for key in claimed if key[0] is K.SNOOZE_END}
    chain_ends = {s.until for s in inc.snoozes if snoozed_until(inc, s.until) is None
                  and s.until <= T0 + mins(120)}
    assert ends == chain_ends
