"""The end-of-incident summary as plain data.

Leads read the summary in Slack and as a Markdown report (`crisisbot report`), and responders
ask for "the summary so far" mid-incident. Computing every figure here, once, keeps those
renderers dumb and consistent with each other: they format fields, they never derive them.
The summary is a pure function of the incident and `now` (only used for the figures of an
incident still running), so it reads no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from playbook.domain.cadence_walk import Adherence, adherence
from playbook.domain.model import (
    STEPS,
    Action,
    CapturedMessage,
    Checkin,
    Handover,
    Incident,
    Link,
    Option,
    ParkedTopic,
    Promise,
    PromiseStatus,
    Reopening,
    Snooze,
    Status,
    Step,
)
from playbook.domain.periods import (
    Period,
    first_relief_at,
    first_resolved_at,
    open_time,
    periods,
)
from playbook.domain.timeline import Line

__all__ = ["Skip", "StepSummary", "Summary", "customer_has", "summarize"]


@dataclass(frozen=True)
class StepSummary:
    """One playbook step: when it opened, when it completed, and whether it was skipped.

    A step opens when the previous one completes (the first at open), so ``started_at`` is
    ``None`` for a step not reached yet. ``duration`` is only set once the step is completed:
    a step still in progress has no duration yet (a renderer can show ``now - started_at``).
    ``by`` is who completed it (or skipped it).
    """

    step: Step
    started_at: datetime | None
    completed_at: datetime | None
    duration: timedelta | None
    skipped_reason: str | None
    by: str | None


class Skip(NamedTuple):
    """A gate passed without its criteria: the reason goes into the summary."""

    step: Step
    reason: str
    by: str | None


@dataclass(frozen=True)
class Summary:
    """Everything a summary or report shows, computed once.

    Durations are measured from ``opened_at`` and are ``None`` while the milestone has not
    happened. ``total_duration`` is the time spent open: to ``closed_at``, or to ``as_of``
    (the `now` it was computed at) for an incident still open, without the stretches a
    reopened incident spent closed (``periods`` lists each opened→closed stretch);
    ``time_to_resolution`` counts to the first resolution. Promises are bucketed by their
    recorded status: the bot marks a promise missed at its due time, so an open one is one
    still owed.
    ``actions`` lists every prevention action and ``actions_open`` those not done yet.
    ``is_final`` is true once the incident is closed: before that it is "the summary so far".
    ``timeline`` is the corrected timeline (`playbook.domain.timeline.corrected`): removed entries
    left out, corrected ones at their corrected time with their corrected text.
    """

    key: str
    customer: str
    severity: str
    description: str
    customer_words: tuple[str, ...]
    impact: str | None
    drivers: tuple[str, ...]
    restatement: str | None
    restatement_confirmed: bool
    owner: str | None
    communicator: str | None
    status: Status
    opened_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    time_to_owner: timedelta | None
    time_to_restatement_confirmed: timedelta | None
    time_to_resolution: timedelta | None
    total_duration: timedelta
    steps: tuple[StepSummary, ...]
    adherence: Adherence
    cadence_window: str | None  # the customer's hours the cadence applies in (None: always)
    snoozes: tuple[Snooze, ...]  # reminders quieted, by whom, until when and why
    reminders_fired: int
    escalations_fired: int
    updates: int
    promises_kept: tuple[Promise, ...]
    promises_missed: tuple[Promise, ...]
    promises_open: tuple[Promise, ...]
    options: tuple[Option, ...]
    recommended: Option | None
    recommend_why: str | None
    chosen: Option | None
    resolution: str | None
    root_cause: str | None
    lessons: tuple[str, ...]
    actions: tuple[Action, ...]
    actions_open: tuple[Action, ...]
    parked: tuple[ParkedTopic, ...]
    skips: tuple[Skip, ...]
    checkins: tuple[Checkin, ...]
    is_final: bool
    as_of: datetime
    timeline: tuple[Line, ...] = field(default_factory=tuple)
    # added with handovers, reopening and links (fields are only ever added: export.py)
    periods: tuple[Period, ...] = ()
    reopenings: tuple[Reopening, ...] = ()
    handovers: tuple[Handover, ...] = ()
    links: tuple[Link, ...] = ()
    messages: tuple[CapturedMessage, ...] = ()
    # added with relief, how they noticed and the leader call (issue 19). `time_to_relief`
    # counts from open to when the pain first stopped: the relief recorded, or the fix if no
    # relief came before it. `customer_has` is "fix", "relief" or "none".
    noticed: str | None = None
    context_given: str | None = None
    relief: str | None = None
    relief_at: datetime | None = None
    relief_by: str | None = None
    time_to_relief: timedelta | None = None
    customer_has: str = "none"
    leader_call_due_at: datetime | None = None
    leader_call_at: datetime | None = None
    leader_call_by: str | None = None
    leader_call_note: str | None = None


def _since(start: datetime, t: datetime | None) -> timedelta | None:
    return None if t is None else t - start


def _option(incident: Incident, number: int | None) -> Option | None:
    if number is None:
        return None
    return next((o for o in incident.options if o.number == number), None)


def _steps(incident: Incident) -> tuple[StepSummary, ...]:
    """Per-step timings: each step starts when the previous one completed (the first at open)."""
    out: list[StepSummary] = []
    started: datetime | None = incident.opened_at
    for step in STEPS:
        record = incident.step_record(step)
        completed = record.completed_at if record else None
        duration = completed - started if completed is not None and started is not None else None
        out.append(
            StepSummary(
                step=step,
                started_at=started,
                completed_at=completed,
                duration=duration,
                skipped_reason=record.skipped_reason if record else None,
                by=record.by if record else None,
            )
        )
        started = completed
    return tuple(out)


def summarize(incident: Incident, now: datetime, timeline: Sequence[Line] = ()) -> Summary:
    """Build the summary of `incident` as it stands at `now`, with its corrected `timeline`.

    `now` matters only for an incident not closed yet (total duration, adherence so far); a
    closed incident's summary is the same whenever it is asked for.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware (UTC) datetime")
    opened = incident.opened_at
    end = incident.closed_at if incident.closed_at is not None else now
    steps = _steps(incident)

    def promises(status: PromiseStatus) -> tuple[Promise, ...]:
        return tuple(p for p in incident.promises if p.status == status)

    return Summary(
        key=incident.key,
        customer=incident.customer,
        severity=incident.severity,
        description=incident.description,
        customer_words=tuple(incident.customer_words),
        impact=incident.impact,
        drivers=tuple(incident.drivers),
        restatement=incident.restatement,
        restatement_confirmed=incident.restatement_confirmed_at is not None,
        owner=incident.owner,
        communicator=incident.communicator,
        status=incident.status,
        opened_at=opened,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        time_to_owner=_since(opened, incident.owner_set_at),
        time_to_restatement_confirmed=_since(opened, incident.restatement_confirmed_at),
        time_to_resolution=_since(opened, first_resolved_at(incident)),
        total_duration=open_time(incident, end),
        steps=steps,
        adherence=adherence(incident, end),
        cadence_window=incident.window.spec if incident.window is not None else None,
        snoozes=tuple(incident.snoozes),
        reminders_fired=incident.reminders_fired,
        escalations_fired=incident.escalations_fired,
        updates=len(incident.updates),
        promises_kept=promises(PromiseStatus.KEPT),
        promises_missed=promises(PromiseStatus.MISSED),
        promises_open=promises(PromiseStatus.OPEN),
        options=tuple(incident.options),
        recommended=_option(incident, incident.recommended),
        recommend_why=incident.recommend_why,
        chosen=_option(incident, incident.chosen),
        resolution=incident.resolution,
        root_cause=incident.root_cause,
        lessons=tuple(incident.lessons),
        actions=tuple(incident.actions),
        actions_open=tuple(a for a in incident.actions if a.done_at is None),
        parked=tuple(incident.parked),
        skips=tuple(
            Skip(s.step, s.skipped_reason, s.by) for s in steps if s.skipped_reason is not None
        ),
        checkins=tuple(incident.checkins),
        is_final=incident.status == Status.CLOSED,
        as_of=now,
        timeline=tuple(timeline),
        periods=tuple(periods(incident)),
        reopenings=tuple(incident.reopenings),
        handovers=tuple(incident.handovers),
        links=tuple(incident.links),
        messages=tuple(incident.captures),
        noticed=incident.noticed,
        context_given=incident.context_given,
        relief=incident.relief,
        relief_at=incident.relief_at,
        relief_by=incident.relief_by,
        time_to_relief=_since(opened, first_relief_at(incident)),
        customer_has=customer_has(incident),
        leader_call_due_at=incident.leader_call_due_at,
        leader_call_at=incident.leader_call_at,
        leader_call_by=incident.leader_call_by,
        leader_call_note=incident.leader_call_note,
    )


def customer_has(incident: Incident) -> str:
    """What the customer has now: the lasting "fix", "relief" only, or "none" yet."""
    if incident.resolved_at is not None:
        return "fix"
    return "relief" if incident.relief_at is not None else "none"
