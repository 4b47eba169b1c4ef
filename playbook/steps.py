"""The five steps of the playbook: what each asks responders to record and when it is done.

The checklist is the single source for the status card, `/incident help`, the gate messages
and the close refusal, so a step's wording and its exit criteria can never drift apart.
Items marked `required` are the step's exit criteria (DESIGN.md's table); the others are
shown as good practice but never block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from playbook.model import STEPS, Incident, Step, StepRecord


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    how: str  # the command that supplies it (mrkdwn-ready: placeholders escaped)
    done: Callable[[Incident], bool]
    required: bool = False


@dataclass(frozen=True)
class StepDef:
    step: Step
    title: str
    aim: str  # one line: why this step matters, shown on the card
    items: tuple[ChecklistItem, ...]


def _informed(inc: Incident) -> bool:
    return inc.customer_informed_at is not None


STEP_DEFS: dict[Step, StepDef] = {
    Step.LISTEN: StepDef(
        Step.LISTEN,
        "Listen",
        "Let the customer say all of it, then write down what they said, not what we think.",
        (
            ChecklistItem(
                "words",
                "The customer's own words",
                "`/incident listen &lt;what they said&gt;`",
                lambda i: bool(i.customer_words),
                required=True,
            ),
            ChecklistItem(
                "impact",
                "What it costs their business",
                "`/incident impact &lt;the impact&gt;`",
                lambda i: i.impact is not None,
            ),
            ChecklistItem(
                "driver",
                "What is really upsetting them (a blocked goal, looking bad to their people, "
                "safety or security, broken trust)",
                "`/incident driver &lt;what is behind it&gt;`",
                lambda i: bool(i.drivers),
            ),
            ChecklistItem(
                "cadence",
                "How often they want to hear from us",
                "`/incident cadence 30m`",
                lambda i: i.cadence_agreed,
                required=True,
            ),
        ),
    ),
    Step.RESTATE: StepDef(
        Step.RESTATE,
        "Restate",
        "Say the problem back in the customer's exact terms, and have them agree.",
        (
            ChecklistItem(
                "restatement",
                "The problem in the customer's terms",
                "`/incident restate &lt;the problem, in their words&gt;`",
                lambda i: i.restatement is not None,
                required=True,
            ),
            ChecklistItem(
                "confirmed",
                "The customer confirmed it",
                "`/incident confirm`",
                lambda i: i.restatement_confirmed_at is not None,
                required=True,
            ),
        ),
    ),
    Step.OWN: StepDef(
        Step.OWN,
        "Own",
        "One person answers for the fix; one voice speaks to the customer.",
        (
            ChecklistItem(
                "owner",
                "One named owner",
                "`/incident own` (or `/incident own @someone`)",
                lambda i: i.owner is not None,
                required=True,
            ),
            ChecklistItem(
                "communicator",
                "One communicator, the single voice to the customer",
                "`/incident comms @someone`",
                lambda i: i.communicator is not None,
            ),
            ChecklistItem(
                "apology",
                "An apology given",
                "`/incident apology &lt;what we said&gt;`",
                lambda i: i.apology_at is not None,
            ),
        ),
    ),
    Step.SOLVE: StepDef(
        Step.SOLVE,
        "Solve",
        "Offer the options with their risks, recommend one, let the customer choose.",
        (
            ChecklistItem(
                "options",
                "Alternatives, each with its risk",
                "`/incident option &lt;what we could do&gt; risk: &lt;what could go wrong&gt;`",
                lambda i: bool(i.options),
            ),
            ChecklistItem(
                "recommendation",
                "Our recommendation and why",
                "`/incident recommend &lt;n&gt; &lt;why&gt;`",
                lambda i: i.recommended is not None,
            ),
            ChecklistItem(
                "chosen",
                "The option the customer chose",
                "`/incident choose &lt;n&gt;`",
                lambda i: i.chosen is not None,
                required=True,
            ),
            ChecklistItem(
                "resolution",
                "The resolution in place",
                "`/incident resolve &lt;what fixed it&gt;`",
                lambda i: i.resolution is not None,
                required=True,
            ),
        ),
    ),
    Step.FOLLOW_UP: StepDef(
        Step.FOLLOW_UP,
        "Follow up",
        "Tell the customer it is fixed, find the cause, and make sure it cannot happen again.",
        (
            ChecklistItem(
                "informed",
                "The customer told it is resolved",
                "`/incident update &lt;what you told them&gt;` after resolving",
                _informed,
                required=True,
            ),
            ChecklistItem(
                "rootcause",
                "The root cause",
                "`/incident rootcause &lt;why it happened&gt;`",
                lambda i: i.root_cause is not None,
                required=True,
            ),
            ChecklistItem(
                "lessons",
                "What we learned",
                "`/incident lesson &lt;the lesson&gt;`",
                lambda i: bool(i.lessons),
            ),
            ChecklistItem(
                "actions",
                "At least one prevention action with an owner",
                "`/incident action &lt;what we will change&gt; @owner`",
                lambda i: bool(i.actions),
                required=True,
            ),
        ),
    ),
}


def missing(inc: Incident, step: Step, *, required_only: bool = True) -> list[ChecklistItem]:
    """The items of `step` not yet done (only its exit criteria unless asked otherwise)."""
    return [
        item
        for item in STEP_DEFS[step].items
        if (item.required or not required_only) and not item.done(inc)
    ]


def criteria_met(inc: Incident, step: Step) -> bool:
    return not missing(inc, step)


def all_complete(inc: Incident) -> bool:
    return inc.step_record(Step.FOLLOW_UP) is not None


def next_step(step: Step) -> Step | None:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


def advance(inc: Incident, now: datetime, by: str | None) -> list[Step]:
    """Complete every step whose exit criteria now hold, in order; return those completed.

    Mutates `inc` (callers pass their working copy). Data recorded early for a later step
    counts as soon as the gates before it open, so nobody has to type it twice.
    """
    completed: list[Step] = []
    while inc.step_record(inc.step) is None and criteria_met(inc, inc.step):
        inc.steps.append(StepRecord(step=inc.step, completed_at=now, by=by))
        completed.append(inc.step)
        following = next_step(inc.step)
        if following is None:
            break
        inc.step = following
    return completed


def skip_current(inc: Incident, now: datetime, by: str, reason: str) -> Step:
    """Complete the current step without its criteria; the reason goes into the summary."""
    skipped = inc.step
    inc.steps.append(StepRecord(step=skipped, completed_at=now, by=by, skipped_reason=reason))
    following = next_step(skipped)
    if following is not None:
        inc.step = following
    return skipped


def outstanding(inc: Incident) -> list[tuple[Step, ChecklistItem]]:
    """Every exit criterion not yet met in the steps not yet completed (what close waits for)."""
    return [
        (step, item)
        for step in STEPS
        if inc.step_record(step) is None
        for item in missing(inc, step)
    ]
