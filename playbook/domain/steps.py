"""The five steps of the playbook: what each asks responders to record and when it is done.

A step's checklist comes from the playbook in force for the incident
(`playbook.domain.playbook_file`; the built-in one is playbook/default_playbook.toml) and is the
single source for the status card, `/incident help`, the gate messages and the close refusal,
so a step's wording and its exit criteria can never drift apart. Items marked `required` are the
step's exit criteria (`required = true` in the built-in file, plus any a team's playbook adds);
the others are shown as good practice but never block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from playbook.domain.model import STEPS, Incident, Status, Step, StepRecord
from playbook.domain.text import esc

if TYPE_CHECKING:
    from playbook.domain.playbook_file import Playbook


STEP_TITLES: dict[Step, str] = {
    Step.LISTEN: "Listen",
    Step.RESTATE: "Restate",
    Step.OWN: "Own",
    Step.SOLVE: "Solve",
    Step.FOLLOW_UP: "Follow up",
}
"""The steps' names. Fixed like the steps themselves: summaries and stats compare across
incidents opened under different playbooks, so a step is called the same everywhere."""


def _informed(inc: Incident) -> bool:
    return inc.customer_informed_at is not None


# The built-in items: what records each one, the step it belongs to and whether it is one of
# the step's exit criteria (`required = true` in playbook/default_playbook.toml). A playbook
# file may reword these but not move them, and may not make a required one optional: the
# gates are the product.
_BUILTIN: dict[str, tuple[Step, bool, Callable[[Incident], bool]]] = {
    "words": (Step.LISTEN, True, lambda i: bool(i.customer_words)),
    "impact": (Step.LISTEN, False, lambda i: i.impact is not None),
    "driver": (Step.LISTEN, False, lambda i: bool(i.drivers)),
    "noticed": (Step.LISTEN, False, lambda i: i.noticed is not None),
    "context": (Step.LISTEN, False, lambda i: i.context_given is not None),
    "cadence": (Step.LISTEN, True, lambda i: i.cadence_agreed),
    "restatement": (Step.RESTATE, True, lambda i: i.restatement is not None),
    "confirmed": (Step.RESTATE, True, lambda i: i.restatement_confirmed_at is not None),
    "owner": (Step.OWN, True, lambda i: i.owner is not None),
    "communicator": (Step.OWN, False, lambda i: i.communicator is not None),
    "apology": (Step.OWN, False, lambda i: i.apology_at is not None),
    "options": (Step.SOLVE, False, lambda i: bool(i.options)),
    "recommendation": (Step.SOLVE, False, lambda i: i.recommended is not None),
    "relief": (Step.SOLVE, False, lambda i: i.relief_at is not None or i.resolved_at is not None),
    "chosen": (Step.SOLVE, True, lambda i: i.chosen is not None),
    "resolution": (Step.SOLVE, True, lambda i: i.resolution is not None),
    "informed": (Step.FOLLOW_UP, True, _informed),
    "rootcause": (Step.FOLLOW_UP, True, lambda i: i.root_cause is not None),
    "lessons": (Step.FOLLOW_UP, False, lambda i: bool(i.lessons)),
    "actions": (Step.FOLLOW_UP, True, lambda i: bool(i.actions)),
}
BUILTIN_ITEMS: dict[str, tuple[Step, bool]] = {
    key: (step, required) for key, (step, required, _) in _BUILTIN.items()
}


@dataclass(frozen=True)
class ChecklistItem:
    """One line of a step's checklist.

    Built-in items are done when the incident holds what their command records; items a
    playbook file adds are done once ticked with `/incident check <key> [value]`.
    """

    key: str
    label: str  # as written: escape it before posting
    how: str  # the command that supplies it (mrkdwn-ready: placeholders escaped)
    required: bool = False
    value: bool = False  # an added item that must be ticked with a typed value
    builtin: bool = True

    def done(self, inc: Incident) -> bool:
        check = _BUILTIN.get(self.key) if self.builtin else None
        if check is not None:
            return check[2](inc)
        return self.key in inc.checks


@dataclass(frozen=True)
class StepDef:
    step: Step
    aim: str  # the step's prompt, one line on the card (mrkdwn-ready)
    items: tuple[ChecklistItem, ...]

    @property
    def title(self) -> str:
        return STEP_TITLES[self.step]


def missing(inc: Incident, step: Step, playbook: Playbook, *,
            required_only: bool = True) -> list[ChecklistItem]:
    """The items of `step` not yet done (only its exit criteria unless asked otherwise)."""
    return [
        item
        for item in playbook.steps[step].items
        if (item.required or not required_only) and not item.done(inc)
    ]


def criteria_met(inc: Incident, step: Step, playbook: Playbook) -> bool:
    return not missing(inc, step, playbook)


def all_complete(inc: Incident) -> bool:
    return inc.step_record(Step.FOLLOW_UP) is not None


def next_step(step: Step) -> Step | None:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


def advance(inc: Incident, now: datetime, by: str | None, playbook: Playbook) -> list[Step]:
    """Complete every step whose exit criteria now hold, in order; return those completed.

    Mutates `inc` (callers pass their working copy). Data recorded early for a later step
    counts as soon as the gates before it open, so nobody has to type it twice.
    """
    completed: list[Step] = []
    while inc.step_record(inc.step) is None and criteria_met(inc, inc.step, playbook):
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


def outstanding(inc: Incident, playbook: Playbook) -> list[tuple[Step, ChecklistItem]]:
    """Every exit criterion not yet met in the steps not yet completed (what close waits for)."""
    return [
        (step, item)
        for step in STEPS
        if inc.step_record(step) is None
        for item in missing(inc, step, playbook)
    ]


def next_missing(inc: Incident, playbook: Playbook) -> str:
    """One line: what the current step still needs, with the command that supplies it."""
    if inc.status is Status.CLOSED:
        return f"{inc.key} is closed."
    if inc.step_record(Step.FOLLOW_UP):
        return "Every step is done: the owner or a lead can `/incident close`."
    gaps = missing(inc, inc.step, playbook)
    items = "; ".join(f"{esc(item.label.lower())} ({item.how})" for item in gaps)
    return f"*{STEP_TITLES[inc.step]}* still needs: {items}."
