"""The incident state machine: commands in, new state plus effects out.

`run_command` is the one entry point for every `/incident` verb that works on an incident; it
copies the incident, lets the verb's handler change the copy, then opens every gate whose exit
criteria now hold. Nothing here reads a clock or talks to Slack or a database.
"""

from __future__ import annotations

import copy
import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from playbook.domain import cadence, handover, links, reopen, snooze
from playbook.domain import verbs as commands
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
from playbook.domain.playbook_file import Playbook
from playbook.domain.steps import STEP_TITLES, advance, missing, next_step
from playbook.domain.text import date_token, esc, fmt_duration, mention
from playbook.domain.verbs import Ctx, Result

Handler = Callable[[Incident, Actor, str, Ctx], Result]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str
    what: str
    handler: Handler
    step: Step | None = None
    changes: bool = True  # False for read-only verbs (no timeline, no card refresh)
    after_close: bool = False  # still allowed once the incident is closed
    # Only adds a timeline line: the incident's state (and so its card) stays as it was.
    timeline_only: bool = False


_SPECS = (
    CommandSpec(
        "listen",
        "listen &lt;the customer's words&gt;",
        "record what the customer said",
        commands.listen,
        Step.LISTEN,
    ),
    CommandSpec(
        "impact", "impact &lt;text&gt;", "the business impact", commands.impact, Step.LISTEN
    ),
    CommandSpec(
        "driver",
        "driver &lt;text&gt;",
        "what is really upsetting them",
        commands.driver,
        Step.LISTEN,
    ),
    CommandSpec(
        "cadence",
        "cadence &lt;30m|1h|every 2 hours&gt; [weekdays 9-18 Europe/Paris]",
        "the update interval agreed with the customer, optionally only in their working hours",
        commands.set_cadence,
        Step.LISTEN,
    ),
    CommandSpec(
        "restate",
        "restate &lt;text&gt;",
        "the problem in the customer's terms",
        commands.restate,
        Step.RESTATE,
    ),
    CommandSpec(
        "confirm",
        "confirm",
        "the customer confirmed the restatement",
        commands.confirm,
        Step.RESTATE,
    ),
    CommandSpec("own", "own [@user]", "name the owner (default: you)", commands.own, Step.OWN),
    CommandSpec(
        "comms", "comms @user", "name the single voice to the customer", commands.comms, Step.OWN
    ),
    CommandSpec(
        "apology", "apology &lt;what we said&gt;", "record the apology", commands.apology, Step.OWN
    ),
    CommandSpec(
        "option",
        "option &lt;text&gt; [risk: &lt;text&gt;]",
        "an alternative and its risk",
        commands.option,
        Step.SOLVE,
    ),
    CommandSpec(
        "recommend",
        "recommend &lt;n&gt; &lt;why&gt;",
        "our recommendation",
        commands.recommend,
        Step.SOLVE,
    ),
    CommandSpec(
        "choose", "choose &lt;n&gt;", "the option the customer chose", commands.choose, Step.SOLVE
    ),
    CommandSpec(
        "promise",
        "promise &lt;what&gt; by &lt;3pm|15:00|tomorrow 9am&gt; | in &lt;2h&gt;",
        "a commitment to the customer",
        commands.promise,
    ),
    CommandSpec("kept", "kept &lt;Pn&gt;", "mark a promise kept", commands.kept),
    CommandSpec(
        "update",
        "update &lt;what we told the customer&gt;",
        "log a customer update (restarts the clock)",
        commands.update,
    ),
    CommandSpec(
        "send",
        "send &lt;text&gt;",
        "post a customer-ready update to the customer channel",
        commands.send,
    ),
    CommandSpec(
        "customer-channel",
        "customer-channel #channel",
        "link the customer-facing channel",
        commands.customer_channel,
    ),
    CommandSpec(
        "park", "park &lt;topic&gt;", "park an off-topic demand for after the fix", commands.park
    ),
    CommandSpec(
        "resolve",
        "resolve &lt;resolution&gt;",
        "the solution is in place",
        commands.resolve,
        Step.SOLVE,
    ),
    CommandSpec(
        "rootcause", "rootcause &lt;text&gt;", "why it happened", commands.rootcause, Step.FOLLOW_UP
    ),
    CommandSpec(
        "lesson", "lesson &lt;text&gt;", "what we learned", commands.lesson, Step.FOLLOW_UP
    ),
    CommandSpec(
        "action",
        "action &lt;text&gt; [@owner]",
        "a prevention action",
        commands.action,
        Step.FOLLOW_UP,
    ),
    CommandSpec(
        "checkin",
        "checkin [Cn] [how it went]",
        "record a follow-up check-in with the customer (works after close)",
        commands.checkin,
        Step.FOLLOW_UP,
        after_close=True,
    ),
    CommandSpec(
        "done", "done &lt;An&gt;", "mark a prevention action done", commands.done, Step.FOLLOW_UP
    ),
    CommandSpec(
        "check",
        "check &lt;item&gt; [value]",
        "tick a checklist item your team's playbook added",
        commands.check,
    ),
    CommandSpec("close", "close", "close the incident (owner or lead)", commands.close),
    CommandSpec(
        "handover",
        "handover @user [notes]",
        "pass ownership with a note of what is open (owner or lead)",
        handover.handover,
    ),
    CommandSpec(
        "reopen",
        "reopen &lt;why&gt;",
        "reopen a closed incident (owner or lead)",
        reopen.reopen,
        after_close=True,
    ),
    CommandSpec(
        "link",
        "link &lt;https://…&gt; [label]",
        "add a ticket, CRM or doc link (card, summary, channel bookmark)",
        links.link,
    ),
    CommandSpec(
        "skip",
        "skip &lt;why&gt;",
        "complete the current step without its criteria (owner or lead)",
        commands.skip,
    ),
    CommandSpec(
        "snooze",
        "snooze &lt;15m|30m|1h&gt; &lt;why&gt;",
        "quiet an overdue-update or no-owner reminder for up to 4 h; it comes back after",
        snooze.snooze,
    ),
    CommandSpec(
        "severity", "severity &lt;sev1|sev2|sev3|sev4&gt;", "change the severity", commands.severity
    ),
    CommandSpec(
        "note",
        "note &lt;what happened&gt;",
        "add a note to the timeline (`/incident timeline` lists and corrects entries)",
        commands.note,
        after_close=True,
        timeline_only=True,
    ),
    CommandSpec(
        "status",
        "status",
        "where we are",
        lambda i, a, s, c: Result(status_text(i, c)),
        changes=False,
    ),
    CommandSpec("summary", "summary", "post the summary so far", commands.summary, changes=False),
)

COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in _SPECS}

# Verbs the shell answers itself because they need the database or no incident at all.
SHELL_COMMANDS: dict[str, str] = {
    "help": "help: what you can do here",
    "open": "open [sev1-4] &lt;customer&gt;: &lt;what happened&gt;",
    "list": "list: open outages and incidents, overdue first",
    "stats": "stats [7d|30d|90d]: figures for leads",
    "timeline": "timeline [page] | timeline edit &lt;Tn&gt;: in an incident channel, its "
    "timeline with entry numbers; correct or remove an entry",
    "outage": "outage &lt;what is broken&gt;: open an outage many customers' incidents attach to",
    "attach": "attach OUT-n: (in an incident channel) attach this incident to an outage",
    "detach": "detach: (in an incident channel) detach it from its outage",
}

ALIASES = {
    "followup": "rootcause",
    "root-cause": "rootcause",
    "apologize": "apology",
    "apologise": "apology",
    "customerchannel": "customer-channel",
    "sev": "severity",
    "hand-over": "handover",
    "handoff": "handover",
    "re-open": "reopen",
}


def split_verb(text: str) -> tuple[str, str]:
    """Split `/incident` text into its lower-cased verb and the raw rest."""
    stripped = text.strip()
    if not stripped:
        return "", ""
    verb, _, rest = stripped.partition(" ")
    if "\n" in verb:
        verb, _, more = verb.partition("\n")
        rest = f"{more}\n{rest}" if rest else more
    verb = unicodedata.normalize("NFKC", verb).lower()
    return ALIASES.get(verb, verb), rest.strip()


def suggest(verb: str) -> str:
    names = [*COMMANDS, *SHELL_COMMANDS]
    close = difflib.get_close_matches(verb, names, n=1, cutoff=0.6)
    shown = esc(verb[:40])
    hint = f" Did you mean `/incident {close[0]}`?" if close else ""
    return f"I don't know `{shown}`.{hint} `/incident help` lists what you can do."


def run_command(
    incident: Incident, verb: str, arg: str, actor: Actor, *, now: datetime, policy: Policy
) -> Outcome:
    """Apply one verb to an incident. Raises `PlaybookError` with a user-facing message."""
    spec = COMMANDS.get(verb)
    if spec is None:
        raise ParseError(suggest(verb))
    if incident.status is Status.CLOSED and spec.changes and not spec.after_close:
        raise PlaybookError(f"{incident.key} is closed. `/incident summary` shows how it went; "
                            "if it came back, `/incident reopen &lt;why&gt;` reopens it.")
    work = copy.deepcopy(incident)
    ctx = Ctx(now=now, policy=policy)
    result = spec.handler(work, actor, arg, ctx)
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
    suffix = f"-{attempt + 1}" if attempt else ""
    return f"{prefix}-{slug}{suffix}"[:80]


def channel_name(inc: Incident, attempt: int = 0) -> str:
    """The incident's channel: `inc-<number>-<customer>`."""
    return slack_channel_name(f"inc-{inc.number}", inc.customer, "customer", attempt)


def channel_topic(inc: Incident) -> str:
    text = f"{inc.key} · {inc.severity} · {inc.customer}: {inc.description}"
    return text if len(text) <= 250 else text[:249] + "…"


def channel_purpose(inc: Incident) -> str:
    text = (
        f"Customer crisis {inc.key} for {inc.customer}. Listen, restate, own, solve, "
        "follow up: the pinned card shows where we are."
    )
    return text if len(text) <= 250 else text[:249] + "…"


# --- read-only views --------------------------------------------------------------------------


def next_missing(inc: Incident, playbook: Playbook) -> str:
    """One line: what the current step still needs, with the command that supplies it."""
    if inc.status is Status.CLOSED:
        return f"{inc.key} is closed."
    if inc.step_record(Step.FOLLOW_UP):
        return "Every step is done: the owner or a lead can `/incident close`."
    gaps = missing(inc, inc.step, playbook)
    items = "; ".join(f"{esc(item.label.lower())} ({item.how})" for item in gaps)
    return f"*{STEP_TITLES[inc.step]}* still needs: {items}."


def status_text(inc: Incident, ctx: Ctx) -> str:
    lines = [
        f"*{inc.key}* · {esc(inc.customer)} · {inc.severity} · {inc.status.value}",
        next_missing(inc, ctx.policy.playbook),
    ]
    lines.append(
        f"Owner: {mention(inc.owner) if inc.owner else 'nobody yet'} · "
        f"Communicator: {mention(inc.communicator) if inc.communicator else 'nobody yet'}"
    )
    if inc.cadence:
        due = cadence.next_update_due(inc)
        agreed = "agreed" if inc.cadence_agreed else "default until the customer agrees one"
        when = ""
        if due:
            late = cadence.overdue_by(inc, ctx.now)
            when = (
                f" · update *overdue by {fmt_duration(late)}*"
                if late
                else f" · next update due {date_token(due)}"
            )
        lines.append(f"Cadence: every {fmt_duration(inc.cadence)} ({agreed}){when}")
    open_promises = [p for p in inc.promises if p.status.value == "open"]
    for p in open_promises:
        lines.append(f"P{p.number}: {esc(p.text)} by {date_token(p.due_at)}")
    return "\n".join(lines)


def help_text(inc: Incident | None, playbook: Playbook) -> str:
    """What a person can do here; in an incident channel, what is missing next first.

    `playbook` is the incident's (or, outside one, the one in force).
    """
    head = []
    if inc is not None:
        head = [f"*{inc.key}* ({esc(inc.customer)}): {next_missing(inc, playbook)}", ""]
    by_step: dict[str, list[str]] = {}
    for spec in COMMANDS.values():
        group = STEP_TITLES[spec.step] if spec.step else "Any time"
        by_step.setdefault(group, []).append(f"`{spec.usage}`: {spec.what}")
    body = [f"*{group}*\n" + "\n".join(lines) for group, lines in by_step.items()]
    anywhere = "*Anywhere*\n" + "\n".join(f"`{usage}`" for usage in SHELL_COMMANDS.values())
    return "\n".join([*head, anywhere, *body])
