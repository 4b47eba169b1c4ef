"""What each reminder says and changes, with plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playbook.domain import rules, verbs
from playbook.domain.cadence import Reminder, ReminderKind, due_reminders, next_update_due
from playbook.domain.model import Actor, Policy, Post, PromiseStatus, Target
from playbook.domain.reminders import fire
from playbook.services.builtin import builtin_playbook
from tests.playbooks import default_policy

PB = builtin_playbook()
POLICY = Policy(playbook=PB)

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE")


def incident(*lines: str):
    inc = rules.open_incident(
        team_id="T1",
        customer="Acme <b>",
        description="down",
        severity="sev2",
        actor=ALICE,
        now=T0,
        policy=default_policy(),
    ).incident
    inc.id, inc.number = 1, 3
    for line in lines:
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, ALICE, now=T0, policy=default_policy()).incident
    return inc


def test_due_reminder_names_the_people_and_counts() -> None:
    inc = incident("own", "comms <@U0BOB>", "cadence 30m")
    due = next_update_due(inc)
    outcome = fire(inc, Reminder(ReminderKind.DUE, due), due, POLICY)
    assert outcome is not None
    text = outcome.timeline[0].text
    assert "<@U0BOB>" in text and "<@U0ALICE>" in text and "/incident update" in text
    assert "late" not in text
    assert outcome.incident.reminders_fired == 1


def test_a_late_reminder_says_how_late() -> None:
    inc = incident("cadence 30m")
    due = next_update_due(inc)
    outcome = fire(inc, Reminder(ReminderKind.DUE, due), due + timedelta(minutes=47), POLICY)
    assert outcome is not None and "47 min late" in outcome.timeline[0].text


def test_escalation_goes_to_owner_and_leads_with_escaped_customer() -> None:
    inc = incident("own", "cadence 30m")
    due = next_update_due(inc)
    outcome = fire(
        inc,
        Reminder(ReminderKind.ESCALATE, due + timedelta(minutes=15), "1"),
        due + timedelta(minutes=15), POLICY)
    assert outcome is not None
    targets = [e.target for e in outcome.effects if isinstance(e, Post)]
    assert targets == [Target.OWNER, Target.LEADS]
    assert all("Acme &lt;b&gt;" in e.text for e in outcome.effects if isinstance(e, Post))
    assert outcome.incident.escalations_fired == 1


def test_promise_due_marks_it_missed_once() -> None:
    inc = incident("promise call back in 1h")
    due = inc.promises[0].due_at
    reminder = next(
        r for r in due_reminders(inc, default_policy(), due) if r.kind is ReminderKind.PROMISE_DUE
    )
    outcome = fire(inc, reminder, due, POLICY)
    assert outcome is not None
    assert outcome.incident.promises[0].status is PromiseStatus.MISSED
    assert fire(outcome.incident, reminder, due, POLICY) is None, "a settled promise fires nothing"


def test_kept_promise_fires_nothing() -> None:
    inc = incident("promise call back in 1h", "kept P1")
    reminder = Reminder(ReminderKind.PROMISE_SOON, inc.promises[0].due_at, "P1")
    assert fire(inc, reminder, inc.promises[0].due_at, POLICY) is None


def test_checkin_reminds_the_owner() -> None:
    inc = incident("own", "resolve fixed")
    checkin = inc.checkins[0]
    outcome = fire(inc, Reminder(ReminderKind.CHECKIN, checkin.due_at, "C1"), checkin.due_at,
                   POLICY)
    assert outcome is not None
    assert any(isinstance(e, Post) and e.target is Target.OWNER for e in outcome.effects)
    assert "check in" in outcome.timeline[0].text
