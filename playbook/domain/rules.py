"""The incident state machine: commands in, new state plus effects out.

`run_command` (typed text) and `run_request` (a form's typed values) are the entry points for
every verb of the command table (`playbook.domain.verbs`) that works on an incident: they copy
the incident, let the verb's handler change the copy, then open every gate whose exit criteria
now hold. Opening an incident and naming its channel live here too. Nothing here reads a clock
or talks to Slack or a database.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from datetime import datetime

from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.model import (
    Actor,
    CadenceChange,
    CreateChannel,
    Effect,
    Incident,
    Outcome,
    Policy,
    RefreshCard,
    Reschedule,
    Status,
    Step,
    TimelineEntry,
)
from playbook.domain.steps import STEP_TITLES, advance, next_step
from playbook.domain.text import esc, mention
from playbook.domain.verbs import COMMANDS, Ctx, Request, Said, suggest
from playbook.domain.verbs.leader import ask as ask_leader_call


def run_command(
    incident: Incident, verb: str, arg: str, actor: Actor, *, now: datetime, policy: Policy
) -> Outcome:
    """Apply one verb to an incident. Raises `PlaybookError` with a user-facing message."""
    return run_request(incident, Said(verb, arg), actor, now=now, policy=policy)


def run_request(
    incident: Incident, request: Request, actor: Actor, *, now: datetime, policy: Policy
) -> Outcome:
    """Apply one verb whose values are already typed (or `Said`): the same gates either way."""
    spec = COMMANDS.get(request.verb)
    if spec is None:
        raise ParseError(suggest(request.verb))
    if incident.status is Status.CLOSED and spec.changes and not spec.after_close:
        raise PlaybookError(f"{incident.key} is closed. `/incident summary` shows how it went; "
                            "if it came back, `/incident reopen &lt;why&gt;` reopens it.")
    work = copy.deepcopy(incident)
    result = request.apply(work, actor, Ctx(now=now, policy=policy))
    timeline = list(result.timeline)
    effects: list[Effect] = list(result.effects)
    if spec.changes:
        # Stale nudges count from here (a note is activity too). No Reschedule needed: activity
        # only moves the stale time later, and a wake-up that finds nothing due just computes
        # the next one.
        work.last_activity_at = now
    if spec.changes and not spec.timeline_only:
        for step in advance(work, now, actor.user_id, policy.playbook):
            following = next_step(step)
            then = (
                f" Next: *{STEP_TITLES[following]}*."
                if following and work.step == following
                else ""
            )
            if step is Step.FOLLOW_UP:
                then = " Every step is done: the owner or a lead can `/incident close`."
            timeline.append(
                TimelineEntry(
                    now, "step", f"✅ *{STEP_TITLES[step]}* is complete.{then}", actor.user_id
                )
            )
        effects.append(RefreshCard())
    return Outcome(incident=work, reply=result.reply, timeline=timeline, effects=effects)


# --- opening ----------------------------------------------------------------------------------


def open_incident(
    *,
    team_id: str,
    customer: str,
    description: str,
    severity: str | None,
    actor: Actor,
    now: datetime,
    policy: Policy,
    responders: tuple[str, ...] = (),
    private: bool = False,
) -> Outcome:
    """A new incident (number 0 until the store assigns one) and the effects of opening it."""
    playbook = policy.playbook
    level = (severity or "").lower() or None
    if level is not None and playbook.severity(level) is None:
        names = ", ".join(f"`{s}`" for s in playbook.severity_names)
        raise ParseError(f"Unknown severity `{esc(level[:20])}`: use {names}.")
    inc = Incident(
        team_id=team_id,
        number=0,
        customer=customer,
        description=description,
        opened_by=actor.user_id,
        opened_at=now,
        severity=level or playbook.default_severity,
        playbook_version=playbook.version,
        last_activity_at=now,
    )
    inc.cadence_changes.append(
        CadenceChange(now, policy.default_cadence(inc.severity), agreed=False, by=None)
    )
    ask_leader_call(inc, policy, now)  # the ask itself goes out as a reminder, numbered
    invite = tuple(dict.fromkeys((actor.user_id, *responders)))
    entry = TimelineEntry(
        now,
        "open",
        f"{mention(actor.user_id)} opened the incident for "
        f"{esc(customer)} ({inc.severity}): “{esc(description)}”",
        actor.user_id,
    )
    return Outcome(
        incident=inc,
        reply="Opening the incident channel…",
        timeline=[entry],
        effects=[CreateChannel(private=private, invite=invite), RefreshCard(), Reschedule()],
    )


_SLUG = re.compile(r"[^a-z0-9]+")


def slack_channel_name(prefix: str, name: str, fallback: str, attempt: int = 0) -> str:
    """A valid, readable Slack channel name: lowercase [a-z0-9_-], at most 80 characters,
    e.g. `inc-7-acme-hotels`; `attempt` > 0 (after `name_taken`) adds `-2`, `-3`, ..."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _SLUG.sub("-", ascii_name.lower()).strip("-")[:40].strip("-") or fallback
    return numbered(f"{prefix}-{slug}", attempt)


def numbered(name: str, attempt: int = 0) -> str:
    """`name` for the first try, then `name-2`, `name-3`... after `name_taken` (80 at most)."""
    return (f"{name}-{attempt + 1}" if attempt else name)[:80]


def channel_name(inc: Incident, attempt: int = 0) -> str:
    """The incident's channel: `inc-<number>-<customer>`."""
    return slack_channel_name(f"inc-{inc.number}", inc.customer, "customer", attempt)


def plain_channel_name(inc: Incident, attempt: int = 0) -> str:
    """The incident's channel without the customer, for when Slack refuses the readable one."""
    return numbered(f"inc-{inc.number}", attempt)


def channel_topic(inc: Incident) -> str:
    text = f"{inc.key} · {inc.severity} · {inc.customer}: {inc.description}"
    return text if len(text) <= 250 else text[:249] + "…"


def channel_purpose(inc: Incident) -> str:
    text = (
        f"Customer crisis {inc.key} for {inc.customer}. Listen, restate, own, solve, "
        "follow up: the pinned card shows where we are."
    )
    return text if len(text) <= 250 else text[:249] + "…"
