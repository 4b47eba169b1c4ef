"""The `/incident` command table: every verb that works on an incident, built from the verb modules.

One module per group of verbs (`listen`, `restate`, `own`, `solve`, `promises`, `updates`,
`email`, `notes`, `followup`, `gates`, `handover`, `reopen`, `links`, `snooze`, `views`,
`leader`); each handler gets a working copy of the incident (copied by
`playbook.domain.rules`), the actor, its argument and the context, mutates the copy and
returns the confirmation, the timeline lines and the effects. Refusals are `PlaybookError`s
that say what is missing and how to supply it.

The table below is the one list of verbs: `/incident help`, the shell's dispatch and the tests
(an accept and a reject case for every verb) all read it, in this order.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

from playbook.domain.model import Actor, Incident, Step
from playbook.domain.playbook_file import Playbook
from playbook.domain.steps import STEP_TITLES, next_missing
from playbook.domain.text import esc, plain
from playbook.domain.verbs import (
    email,
    followup,
    gates,
    handover,
    leader,
    links,
    listen,
    notes,
    own,
    promises,
    reopen,
    restate,
    snooze,
    solve,
    updates,
    views,
)
from playbook.domain.verbs.base import Ctx, Handler, Request, Result

__all__ = [
    "ALIASES",
    "COMMANDS",
    "SHELL_COMMANDS",
    "CommandSpec",
    "Ctx",
    "Handler",
    "Request",
    "Result",
    "Said",
    "Written",
    "help_text",
    "split_verb",
    "suggest",
]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str
    what: str
    handler: Handler  # the argument as Slack sent it
    step: Step | None = None
    changes: bool = True  # False for read-only verbs (no timeline, no card refresh)
    after_close: bool = False  # still allowed once the incident is closed
    # Only adds a timeline line: the incident's state (and so its card) stays as it was.
    timeline_only: bool = False
    # Verbs whose argument is free text: the handler given the text as the person meant it
    # (a form's field as typed); `handler` reads Slack's escaped text into it.
    written: Handler | None = None


def _free_text(name: str, usage: str, what: str, verb: Handler, step: Step | None = None, *,
               after_close: bool = False, timeline_only: bool = False) -> CommandSpec:
    def from_slack(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
        return verb(inc, actor, plain(arg), ctx)

    return CommandSpec(name, usage, what, from_slack, step, after_close=after_close,
                       timeline_only=timeline_only, written=verb)


_SPECS = (
    _free_text("listen", "listen &lt;the customer's words&gt;", "record what the customer said",
               listen.listen, Step.LISTEN),
    _free_text("impact", "impact &lt;text&gt;", "the business impact", listen.impact,
               Step.LISTEN),
    _free_text("driver", "driver &lt;text&gt;", "what is really upsetting them", listen.driver,
               Step.LISTEN),
    _free_text("noticed", "noticed &lt;how they found out&gt;",
               "how the customer noticed (their monitoring, their boss, their own customers)",
               listen.noticed, Step.LISTEN),
    _free_text("context", "context &lt;what we told them&gt;",
               "the context we gave the customer about our side", listen.context, Step.LISTEN),
    CommandSpec(
        "cadence",
        "cadence &lt;30m|1h|every 2 hours&gt; [weekdays 9-18 Europe/Paris]",
        "the update interval agreed with the customer, optionally only in their working hours",
        listen.set_cadence,
        Step.LISTEN,
    ),
    _free_text("restate", "restate &lt;text&gt;", "the problem in the customer's terms",
               restate.restate, Step.RESTATE),
    CommandSpec("confirm", "confirm", "the customer confirmed the restatement", restate.confirm,
                Step.RESTATE),
    CommandSpec("own", "own [@user]", "name the owner (default: you)", own.own, Step.OWN),
    CommandSpec("comms", "comms @user", "name the single voice to the customer", own.comms,
                Step.OWN),
    _free_text("apology", "apology &lt;what we said&gt;", "record the apology", own.apology,
               Step.OWN),
    CommandSpec("option", "option [relief:] &lt;text&gt; [risk: &lt;text&gt;]",
                "an alternative and its risk; `relief:` marks one that stops the pain now "
                "rather than fixing the cause", solve.option, Step.SOLVE),
    CommandSpec("risk", "risk &lt;n&gt; &lt;text&gt;", "what could go wrong with option n",
                solve.risk, Step.SOLVE),
    CommandSpec("recommend", "recommend &lt;n&gt; &lt;why&gt;",
                "our recommendation (the option needs a stated risk; the owner or a lead may "
                "add `skip: &lt;reason&gt;`)", solve.recommend, Step.SOLVE),
    CommandSpec("choose", "choose &lt;n&gt;", "the option the customer chose", solve.choose,
                Step.SOLVE),
    CommandSpec("promise", "promise &lt;what&gt; by &lt;3pm|15:00|tomorrow 9am&gt; | in &lt;2h&gt;",
                "a commitment to the customer", promises.promise),
    CommandSpec("kept", "kept &lt;Pn&gt;", "mark a promise kept", promises.kept),
    _free_text("update", "update &lt;what we told the customer&gt;",
               "log a customer update (restarts the clock)", updates.update),
    _free_text("send", "send &lt;text&gt; [+next]",
               "post a customer-ready update to every customer destination (channel, email); "
               "`+next` adds when they hear from us next", updates.send),
    CommandSpec("customer-channel", "customer-channel #channel",
                "link the customer-facing channel", updates.customer_channel),
    CommandSpec("customer-email", "customer-email &lt;address&gt;[, …] | none",
                "the customer's email addresses for `send` (owner, communicator or lead)",
                email.customer_email),
    _free_text("leader-call", "leader-call &lt;what you told them&gt;",
               "leads: record that you contacted the customer personally", leader.leader_call),
    _free_text("park", "park &lt;topic&gt;", "park an off-topic demand for after the fix",
               notes.park),
    _free_text("relief", "relief &lt;what stopped the pain&gt;",
               "the customer has immediate relief (before the lasting fix)", solve.relief,
               Step.SOLVE),
    _free_text("resolve", "resolve &lt;resolution&gt;", "the lasting fix is in place",
               solve.resolve, Step.SOLVE),
    _free_text("rootcause", "rootcause &lt;text&gt;", "why it happened", followup.rootcause,
               Step.FOLLOW_UP),
    _free_text("lesson", "lesson &lt;text&gt;", "what we learned", followup.lesson,
               Step.FOLLOW_UP),
    CommandSpec("action", "action &lt;text&gt; [@owner]", "a prevention action",
                followup.action, Step.FOLLOW_UP),
    CommandSpec("checkin", "checkin [Cn] [how it went]",
                "record a follow-up check-in with the customer (works after close)",
                followup.checkin, Step.FOLLOW_UP, after_close=True),
    CommandSpec("done", "done &lt;An&gt;", "mark a prevention action done", followup.done,
                Step.FOLLOW_UP),
    CommandSpec("check", "check &lt;item&gt; [value]",
                "tick a checklist item your team's playbook added", gates.check),
    CommandSpec("close", "close", "close the incident (owner or lead)", gates.close),
    CommandSpec("handover", "handover @user [notes]",
                "pass ownership with a note of what is open (owner or lead)", handover.handover),
    CommandSpec("reopen", "reopen &lt;why&gt;", "reopen a closed incident (owner or lead)",
                reopen.reopen, after_close=True),
    CommandSpec("link", "link &lt;https://…&gt; [label]",
                "add a ticket, CRM or doc link (card, summary, channel bookmark)", links.link),
    _free_text("skip", "skip &lt;why&gt;",
               "complete the current step without its criteria (owner or lead)", gates.skip),
    CommandSpec("snooze", "snooze &lt;15m|30m|1h&gt; &lt;why&gt;",
                "quiet an overdue-update or no-owner reminder for up to 4 h; it comes back after",
                snooze.snooze),
    CommandSpec("severity", "severity &lt;sev1|sev2|sev3|sev4&gt;", "change the severity",
                gates.severity),
    _free_text("note", "note &lt;what happened&gt;",
               "add a note to the timeline (`/incident timeline` lists and corrects entries)",
               notes.note, after_close=True, timeline_only=True),
    CommandSpec("status", "status", "where we are", views.status, changes=False),
    CommandSpec("summary", "summary", "post the summary so far", views.summary, changes=False),
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
    "customeremail": "customer-email",
    "customer-emails": "customer-email",
    "sev": "severity",
    "hand-over": "handover",
    "handoff": "handover",
    "re-open": "reopen",
    "leadercall": "leader-call",
}


@dataclass(frozen=True)
class Said:
    """A verb and its argument as typed after `/incident` (Slack's escaped text)."""

    verb: str
    arg: str = ""

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return COMMANDS[self.verb].handler(inc, actor, self.arg, ctx)


@dataclass(frozen=True)
class Written:
    """A free-text verb with its text as a form's field holds it (not Slack-escaped)."""

    verb: str
    text: str

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        written = COMMANDS[self.verb].written
        if written is None:
            raise ValueError(f"{self.verb} takes more than free text: use its own request")
        return written(inc, actor, self.text, ctx)


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
