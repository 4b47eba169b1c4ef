"""The end-of-incident summary computed from a fully known incident."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from playbook.domain.cadence_walk import Adherence
from playbook.domain.model import (
    Action,
    CadenceChange,
    Checkin,
    CustomerUpdate,
    Incident,
    Option,
    ParkedTopic,
    Promise,
    PromiseStatus,
    Status,
    Step,
    StepRecord,
)
from playbook.domain.summary import Skip, StepSummary, summarize

DAY = datetime(2024, 5, 6, tzinfo=UTC)


def at(hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return DAY.replace(hour=int(h), minute=int(m))


def mins(n: int) -> timedelta:
    return timedelta(minutes=n)


SKIP_REASON = "customer unreachable; restatement sent by email"


def incident(final: bool = True) -> Incident:
    """A sev1 opened at 09:00 and closed at 11:00 (or, not final, caught at the solve step)."""
    inc = Incident(
        team_id="T1",
        number=3,
        customer="Acme",
        description="nightly exports fail",
        opened_by="U1",
        opened_at=at("09:00"),
        severity="sev1",
        customer_words=["our exports fail every night", "the board sees these numbers"],
        impact="finance cannot close the month",
        drivers=["blocked from a goal", "looks bad to their people"],
        cadence_changes=[CadenceChange(at("09:05"), mins(30), agreed=True, by="U1")],
        restatement="nightly exports to the warehouse fail, so month-end close is stuck",
        owner="U2",
        owner_set_at=at("09:28"),
        communicator="U3",
        apology_at=at("09:29"),
        options=[
            Option(1, "roll back last release", "loses yesterday's data", "U2", at("09:40")),
            Option(2, "hotfix the exporter", None, "U4", at("09:45")),
        ],
        recommended=2,
        recommend_why="keeps yesterday's data",
        chosen=2,
        chosen_at=at("10:05"),
        promises=[
            Promise(1, "root cause by 10:00", at("10:00"), "U2", at("09:35"), PromiseStatus.KEPT),
            Promise(2, "fix by 10:20", at("10:20"), "U2", at("09:50"), PromiseStatus.MISSED),
            Promise(3, "written report", at("15:00"), "U2", at("10:10")),
        ],
        parked=[ParkedTopic(1, "refund for May", "U3", at("09:50"))],
        updates=[
            CustomerUpdate(1, "we are on it", "U3", at("09:30")),
            CustomerUpdate(2, "cause found", "U3", at("10:00")),
        ],
        steps=[
            StepRecord(Step.LISTEN, at("09:10"), by="U1"),
            StepRecord(Step.RESTATE, at("09:20"), by="U2", skipped_reason=SKIP_REASON),
            StepRecord(Step.OWN, at("09:30"), by="U2"),
        ],
        reminders_fired=4,
        escalations_fired=1,
        status=Status.OPEN,
        step=Step.SOLVE,
    )
    if final:
        inc.resolution = "hotfix deployed"
        inc.resolved_at = at("10:30")
        inc.steps.append(StepRecord(Step.SOLVE, at("10:30"), by="U2"))
        inc.updates.append(CustomerUpdate(3, "fixed", "U3", at("10:45")))
        inc.customer_informed_at = at("10:45")
        inc.root_cause = "a schema change dropped a column"
        inc.lessons = ["run the export in staging"]
        inc.actions = [
            Action(1, "export check in CI", "U4", "U2", at("10:50"), done_at=at("10:55")),
            Action(2, "alert on export failure", None, "U2", at("10:52")),
        ]
        inc.checkins = [Checkin(1, at("10:30") + timedelta(days=1))]
        inc.steps.append(StepRecord(Step.FOLLOW_UP, at("11:00"), by="U2"))
        inc.status, inc.step, inc.closed_at = Status.CLOSED, Step.FOLLOW_UP, at("11:00")
    return inc


def test_steps_start_when_the_previous_completes() -> None:
    s = summarize(incident(), at("12:00"))
    assert s.steps == (
        StepSummary(Step.LISTEN, at("09:00"), at("09:10"), mins(10), None, "U1"),
        StepSummary(Step.RESTATE, at("09:10"), at("09:20"), mins(10), SKIP_REASON, "U2"),
        StepSummary(Step.OWN, at("09:20"), at("09:30"), mins(10), None, "U2"),
        StepSummary(Step.SOLVE, at("09:30"), at("10:30"), mins(60), None, "U2"),
        StepSummary(Step.FOLLOW_UP, at("10:30"), at("11:00"), mins(30), None, "U2"),
    )


def test_times_to_milestones_and_total() -> None:
    s = summarize(incident(), at("12:00"))
    assert s.time_to_owner == mins(28)
    assert s.time_to_restatement_confirmed is None  # skipped, never confirmed
    assert not s.restatement_confirmed
    assert s.time_to_resolution == mins(90)
    assert s.total_duration == timedelta(hours=2)  # to the close, not to `now`
    assert (s.opened_at, s.resolved_at, s.closed_at) == (at("09:00"), at("10:30"), at("11:00"))


def test_confirmed_restatement_is_timed() -> None:
    inc = incident()
    inc.restatement_confirmed_at = at("09:18")
    s = summarize(inc, at("12:00"))
    assert s.restatement_confirmed
    assert s.time_to_restatement_confirmed == mins(18)


def test_skips_carry_step_reason_and_who() -> None:
    s = summarize(incident(), at("12:00"))
    assert s.skips == (Skip(Step.RESTATE, SKIP_REASON, "U2"),)
    assert s.skips[0] == (Step.RESTATE, SKIP_REASON, "U2")


def test_promises_bucketed_by_status() -> None:
    s = summarize(incident(), at("12:00"))
    assert [p.number for p in s.promises_kept] == [1]
    assert [p.number for p in s.promises_missed] == [2]
    assert [p.number for p in s.promises_open] == [3]


def test_options_recommendation_and_choice() -> None:
    s = summarize(incident(), at("12:00"))
    assert [o.number for o in s.options] == [1, 2]
    assert s.recommended is not None and s.recommended.text == "hotfix the exporter"
    assert s.recommend_why == "keeps yesterday's data"
    assert s.chosen is s.options[1]
    assert s.resolution == "hotfix deployed"


def test_unknown_option_numbers_give_none() -> None:
    inc = incident(final=False)
    inc.recommended, inc.chosen = 7, None
    s = summarize(inc, at("10:15"))
    assert s.recommended is None and s.chosen is None


def test_follow_up_parked_and_checkins() -> None:
    s = summarize(incident(), at("12:00"))
    assert s.root_cause == "a schema change dropped a column"
    assert s.lessons == ("run the export in staging",)
    assert [a.number for a in s.actions] == [1, 2]
    assert [a.number for a in s.actions_open] == [2]
    assert [p.text for p in s.parked] == ["refund for May"]
    assert [c.number for c in s.checkins] == [1]


def test_listen_fields_and_counters() -> None:
    s = summarize(incident(), at("12:00"))
    assert s.key == "INC-3"
    assert (s.customer, s.severity, s.description) == ("Acme", "sev1", "nightly exports fail")
    assert s.customer_words == ("our exports fail every night", "the board sees these numbers")
    assert s.impact == "finance cannot close the month"
    assert s.drivers == ("blocked from a goal", "looks bad to their people")
    assert (s.owner, s.communicator) == ("U2", "U3")
    assert (s.reminders_fired, s.escalations_fired, s.updates) == (4, 1, 3)


def test_adherence_stops_when_the_customer_is_told() -> None:
    s = summarize(incident(), at("18:00"))
    # Clock 09:05 every 30m: 09:30 on time (09:35), 10:00 on time (10:00), 10:45 late (10:30).
    assert s.adherence == Adherence(2, 1, 0, 2 / 3, mins(45), mins(30), 3)


def test_final_summary_does_not_depend_on_when_it_is_asked() -> None:
    inc = incident()
    first = summarize(inc, at("12:00"))
    later = summarize(inc, at("12:00") + timedelta(days=3))
    assert first.is_final and first.status == Status.CLOSED
    assert later.as_of != first.as_of
    assert replace(later, as_of=first.as_of) == first


def test_summary_so_far_of_a_running_incident() -> None:
    s = summarize(incident(final=False), at("10:15"))
    assert not s.is_final and s.status == Status.OPEN
    assert s.total_duration == mins(75)
    assert s.time_to_resolution is None and s.closed_at is None
    solve, follow_up = s.steps[3], s.steps[4]
    assert solve == StepSummary(Step.SOLVE, at("09:30"), None, None, None, None)
    assert follow_up == StepSummary(Step.FOLLOW_UP, None, None, None, None, None)
    assert s.adherence == Adherence(2, 0, 0, 1.0, mins(30), mins(30), 2)
    assert s.as_of == at("10:15")


def test_running_incident_counts_missed_updates_so_far() -> None:
    s = summarize(incident(final=False), at("11:31"))
    # Last update 10:00: dues 10:30, 11:00 and 11:30 went by with nothing.
    assert (s.adherence.missed, s.adherence.ratio) == (3, pytest.approx(2 / 5))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        summarize(incident(), datetime(2024, 5, 6, 12, 0))
