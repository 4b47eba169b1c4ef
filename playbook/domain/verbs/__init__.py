"""One function per `/incident` command that changes or reads an incident.

Each handler gets a working copy of the incident (already deep-copied by `playbook.domain.rules`),
the actor, the raw argument text as Slack sent it, and the context; it mutates the copy and returns
the confirmation for the actor, the timeline lines and the effects. Refusals are
`PlaybookError`s that say what is missing and how to supply it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from playbook.domain import cadence, parse
from playbook.domain.errors import GateError, NotFound, ParseError, PermissionDenied, PlaybookError
from playbook.domain.model import (
    Action,
    Actor,
    CadenceChange,
    Checkin,
    CustomerUpdate,
    Effect,
    Incident,
    Invite,
    Option,
    ParkedTopic,
    Policy,
    Post,
    PostSummary,
    Promise,
    PromiseStatus,
    Reschedule,
    Status,
    Target,
    TimelineEntry,
)
from playbook.domain.steps import STEP_TITLES, all_complete, outstanding, skip_current
from playbook.domain.text import channel_link, date_token, esc, fmt_duration, mention, plain

MIN_CADENCE = timedelta(minutes=1)


@dataclass
class Ctx:
    now: datetime
    policy: Policy


@dataclass
class Result:
    """What a handler returns; `playbook.domain.rules` turns it into an `Outcome`."""

    reply: str
    timeline: list[TimelineEntry] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


def _line(ctx: Ctx, actor: Actor, kind: str, text: str) -> TimelineEntry:
    return TimelineEntry(at=ctx.now, kind=kind, text=text, actor=actor.user_id)


def _quote(text: str) -> str:
    return f"“{esc(text)}”"


def _text(arg: str, what: str, usage: str) -> str:
    text = plain(arg).strip()
    if not text:
        raise ParseError(f"Add {what}: {usage}")
    return text


def _owner_or_lead(inc: Incident, actor: Actor, doing: str) -> None:
    if actor.is_lead or (inc.owner is not None and actor.user_id == inc.owner):
        return
    who = f"the owner ({mention(inc.owner)}) or a lead" if inc.owner else "a lead"
    raise PermissionDenied(f"Only {who} can {doing} {inc.key}.")


def _next_due_text(inc: Incident) -> str:
    due = cadence.next_update_due(inc)
    return f"Next customer update due {date_token(due)}." if due else ""


# --- listen -----------------------------------------------------------------------------------


def listen(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    words = _text(arg, "what the customer said", "`/incident listen &lt;their words&gt;`")
    inc.customer_words.append(words)
    return Result(
        "Recorded the customer's words.",
        [
            _line(
                ctx,
                actor,
                "listen",
                f"{mention(actor.user_id)} noted the customer's words: {_quote(words)}",
            )
        ],
    )


def impact(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(arg, "the business impact", "`/incident impact &lt;what it costs them&gt;`")
    inc.impact = text
    return Result(
        "Recorded the business impact.",
        [_line(ctx, actor, "impact", f"{mention(actor.user_id)} noted the impact: {_quote(text)}")],
    )


def driver(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(
        arg, "what is really upsetting them", "`/incident driver &lt;what is behind it&gt;`"
    )
    inc.drivers.append(text)
    return Result(
        "Recorded what is behind the customer's frustration.",
        [
            _line(
                ctx,
                actor,
                "driver",
                f"{mention(actor.user_id)} noted what is upsetting them: {_quote(text)}",
            )
        ],
    )


def set_cadence(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(arg, "the interval the customer agreed to", "`/incident cadence 30m`")
    interval, window = parse.parse_cadence(text, default_tz=actor.tz)
    if interval < MIN_CADENCE:
        raise ParseError(
            "The update interval must be at least 1 minute, e.g. `/incident cadence 30m`."
        )
    inc.cadence_changes.append(
        CadenceChange(at=ctx.now, interval=interval, agreed=True, by=actor.user_id,
                      window=window)
    )
    due = _next_due_text(inc)
    hours = (f", {window.describe()} (reminders pause outside those hours)"
             if window else "")
    return Result(
        f"Cadence set: the customer hears from us every {fmt_duration(interval)}{hours}. {due}",
        [
            _line(
                ctx,
                actor,
                "cadence",
                f"{mention(actor.user_id)} agreed an update every "
                f"{fmt_duration(interval)}{f', {window.describe()}' if window else ''} with "
                "the customer.",
            )
        ],
        [Reschedule()],
    )


# --- restate ----------------------------------------------------------------------------------


def restate(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(
        arg, "the problem in the customer's terms", "`/incident restate &lt;their terms&gt;`"
    )
    inc.restatement = text
    inc.restatement_confirmed_at = None
    return Result(
        "Recorded the restatement. Once the customer agrees it is right: `/incident confirm`.",
        [
            _line(
                ctx,
                actor,
                "restate",
                f"{mention(actor.user_id)} restated the problem: {_quote(text)}",
            )
        ],
    )


def confirm(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    if inc.restatement is None:
        raise GateError(
            "Nothing to confirm yet: first say the problem back in the customer's "
            "terms with `/incident restate &lt;their terms&gt;`."
        )
    if inc.restatement_confirmed_at is not None:
        raise PlaybookError("The customer already confirmed the restatement.")
    inc.restatement_confirmed_at = ctx.now
    return Result(
        "Marked the restatement as confirmed by the customer.",
        [
            _line(
                ctx,
                actor,
                "confirm",
                f"{mention(actor.user_id)}: the customer confirmed the restatement.",
            )
        ],
    )


# --- own --------------------------------------------------------------------------------------


def own(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    user = parse.parse_user(arg.strip()) if arg.strip() else actor.user_id
    if inc.owner == user:
        raise PlaybookError(f"{mention(user)} already owns {inc.key}.")
    if inc.owner is not None:
        _owner_or_lead(inc, actor, "hand over ownership of")
    previous = inc.owner
    inc.owner = user
    if inc.owner_set_at is None:
        inc.owner_set_at = ctx.now
    text = (
        f"{mention(actor.user_id)} handed ownership from {mention(previous)} to {mention(user)}."
        if previous
        else f"{mention(user)} owns {inc.key}."
    )
    effects: list[Effect] = [Invite((user,)), Reschedule()]
    if user != actor.user_id:
        effects.append(
            Post(
                Target.USER,
                f"{mention(actor.user_id)} made you the owner of {inc.key} ({esc(inc.customer)}).",
                user=user,
            )
        )
    return Result(
        f"{mention(user)} is now the owner of {inc.key}.", [_line(ctx, actor, "own", text)], effects
    )


def comms(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    if not arg.strip():
        raise ParseError("Name the communicator: `/incident comms @someone`.")
    user = parse.parse_user(arg.strip())
    inc.communicator = user
    return Result(
        f"{mention(user)} is now the single voice to the customer.",
        [
            _line(
                ctx,
                actor,
                "comms",
                f"{mention(actor.user_id)} named {mention(user)} "
                "communicator: the one voice to the customer.",
            )
        ],
        [Invite((user,))],
    )


def apology(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(arg, "what we said to the customer", "`/incident apology &lt;what we said&gt;`")
    inc.apology_at = ctx.now
    return Result(
        "Recorded the apology.",
        [
            _line(
                ctx,
                actor,
                "apology",
                f"{mention(actor.user_id)} apologised to the customer: {_quote(text)}",
            )
        ],
    )


# --- solve ------------------------------------------------------------------------------------


def _option(inc: Incident, n: int) -> Option:
    found = next((o for o in inc.options if o.number == n), None)
    if found is None:
        known = ", ".join(str(o.number) for o in inc.options) or "none yet"
        raise NotFound(
            f"There is no option {n} (options: {known}). "
            "Add one with `/incident option &lt;text&gt; risk: &lt;risk&gt;`."
        )
    return found


def option(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text, risk = parse.parse_option(plain(arg))
    number = len(inc.options) + 1
    inc.options.append(Option(number, text, risk, actor.user_id, ctx.now))
    risk_text = f" (risk: {esc(risk)})" if risk else ""
    return Result(
        f"Added option {number}.",
        [
            _line(
                ctx,
                actor,
                "option",
                f"{mention(actor.user_id)} added option {number}: {_quote(text)}{risk_text}",
            )
        ],
    )


def recommend(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    n, why = parse.parse_numbered(plain(arg), "option")
    chosen = _option(inc, n)
    inc.recommended, inc.recommend_why = chosen.number, why
    return Result(
        f"Recorded option {n} as our recommendation.",
        [
            _line(
                ctx,
                actor,
                "recommend",
                f"{mention(actor.user_id)} recommends option {n}: "
                f"{_quote(chosen.text)}, because {_quote(why)}",
            )
        ],
    )


def choose(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    n = parse.parse_ref(plain(arg).strip(), "", "option")
    picked = _option(inc, n)
    inc.chosen, inc.chosen_at = picked.number, ctx.now
    return Result(
        f"Recorded that the customer chose option {n}.",
        [_line(ctx, actor, "choose", f"The customer chose option {n}: {_quote(picked.text)}")],
    )


def promise(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    what, due = parse.split_when(plain(arg), now=ctx.now, tz=actor.tz)
    number = len(inc.promises) + 1
    inc.promises.append(Promise(number, what, due, actor.user_id, ctx.now))
    return Result(
        f"Recorded promise P{number}, due {date_token(due)}. I'll remind the owner before then.",
        [
            _line(
                ctx,
                actor,
                "promise",
                f"{mention(actor.user_id)} promised the customer "
                f"{_quote(what)} by {date_token(due)} (P{number}).",
            )
        ],
        [Reschedule()],
    )


def kept(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    n = parse.parse_ref(arg.strip(), "P", "promise")
    found = next((p for p in inc.promises if p.number == n), None)
    if found is None:
        raise NotFound(f"There is no promise P{n}; the card lists the open ones.")
    if found.status is not PromiseStatus.OPEN:
        raise PlaybookError(f"P{n} is already marked {found.status.value}.")
    found.status, found.settled_at = PromiseStatus.KEPT, ctx.now
    return Result(
        f"Marked P{n} as kept.",
        [
            _line(
                ctx,
                actor,
                "kept",
                f"{mention(actor.user_id)} kept promise P{n}: {_quote(found.text)}",
            )
        ],
        [Reschedule()],
    )


def _log_update(inc: Incident, actor: Actor, text: str, ctx: Ctx, *, sent: bool) -> str:
    inc.updates.append(CustomerUpdate(len(inc.updates) + 1, text, actor.user_id, ctx.now, sent))
    if inc.resolved_at is not None and inc.customer_informed_at is None:
        inc.customer_informed_at = ctx.now
        return "Logged the update: the customer knows it is resolved."
    return f"Logged the customer update. {_next_due_text(inc)}"


def update(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(arg, "what we told the customer", "`/incident update &lt;what we told them&gt;`")
    reply = _log_update(inc, actor, text, ctx, sent=False)
    return Result(
        reply,
        [
            _line(
                ctx,
                actor,
                "update",
                f"{mention(actor.user_id)} updated the customer: {_quote(text)}",
            )
        ],
        [Reschedule()],
    )


def send(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(
        arg, "the message for the customer", "`/incident send &lt;customer-ready text&gt;`"
    )
    if inc.customer_channel_id is None:
        raise GateError(
            "No customer channel is linked yet: `/incident customer-channel "
            "#channel`. To log an update you gave another way: `/incident update`."
        )
    voices = {u for u in (inc.communicator, inc.owner) if u}
    if not voices:
        raise PermissionDenied(
            "Name the single voice to the customer first: "
            "`/incident comms @someone` (or take ownership: `/incident own`)."
        )
    if actor.user_id not in voices:
        who = " or ".join(mention(u) for u in sorted(voices))
        raise PermissionDenied(
            f"Only {who} speaks to the customer for {inc.key}; "
            "ask them to send it, so the customer hears one voice."
        )
    reply = _log_update(inc, actor, text, ctx, sent=True)
    due = cadence.next_update_due(inc)
    outgoing = esc(text) + (f"\n_Next update from us by {date_token(due)}._" if due else "")
    return Result(
        f"Sent to {channel_link(inc.customer_channel_id)}. {reply}",
        [_line(ctx, actor, "send", f"{mention(actor.user_id)} sent the customer: {_quote(text)}")],
        [Post(Target.CUSTOMER, outgoing), Reschedule()],
    )


def customer_channel(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    if not arg.strip():
        raise ParseError("Name the customer-facing channel: `/incident customer-channel #channel`.")
    channel = parse.parse_channel(arg.strip())
    if channel == inc.channel_id:
        raise PlaybookError(
            "That is this incident's own channel; link the channel the customer "
            "is in (for example a Slack Connect channel)."
        )
    inc.customer_channel_id = channel
    return Result(
        f"Linked {channel_link(channel)}. Only `/incident send` posts there.",
        [
            _line(
                ctx,
                actor,
                "customer-channel",
                f"{mention(actor.user_id)} linked the customer channel {channel_link(channel)}.",
            )
        ],
    )


def park(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(arg, "the topic to park", "`/incident park &lt;topic&gt;`")
    number = len(inc.parked) + 1
    inc.parked.append(ParkedTopic(number, text, actor.user_id, ctx.now))
    return Result(
        "Parked it; it comes back in the summary once the problem is fixed.",
        [
            _line(
                ctx,
                actor,
                "park",
                f"{mention(actor.user_id)} parked a topic for after the fix: {_quote(text)}",
            )
        ],
    )


def resolve(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(arg, "what fixed it", "`/incident resolve &lt;what fixed it&gt;`")
    if inc.resolved_at is not None:
        raise PlaybookError(f"{inc.key} is already resolved ({date_token(inc.resolved_at)}).")
    inc.resolution, inc.resolved_at, inc.status = text, ctx.now, Status.RESOLVED
    inc.checkins = [
        Checkin(n, ctx.now + after) for n, after in enumerate(ctx.policy.checkins, start=1)
    ]
    return Result(
        "Marked resolved. Now tell the customer, then log it: "
        "`/incident update &lt;what you said&gt;`.",
        [_line(ctx, actor, "resolve", f"{mention(actor.user_id)} resolved it: {_quote(text)}")],
        [Reschedule()],
    )


# --- follow-up --------------------------------------------------------------------------------


def rootcause(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(arg, "the root cause", "`/incident rootcause &lt;why it happened&gt;`")
    inc.root_cause = text
    return Result(
        "Recorded the root cause.",
        [
            _line(
                ctx,
                actor,
                "rootcause",
                f"{mention(actor.user_id)} recorded the root cause: {_quote(text)}",
            )
        ],
    )


def lesson(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    text = _text(arg, "the lesson", "`/incident lesson &lt;what we learned&gt;`")
    inc.lessons.append(text)
    return Result(
        "Recorded the lesson.",
        [_line(ctx, actor, "lesson", f"{mention(actor.user_id)} noted a lesson: {_quote(text)}")],
    )


def action(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    rest, owner = parse.split_trailing_user(arg.strip())
    text = _text(
        rest, "the prevention action", "`/incident action &lt;what we will change&gt; @owner`"
    )
    number = len(inc.actions) + 1
    inc.actions.append(Action(number, text, owner, actor.user_id, ctx.now))
    who = f" (owner {mention(owner)})" if owner else ""
    hint = "" if owner else " Give it an owner by adding `@someone` at the end."
    return Result(
        f"Added prevention action A{number}.{hint}",
        [
            _line(
                ctx,
                actor,
                "action",
                f"{mention(actor.user_id)} added action A{number}: {_quote(text)}{who}",
            )
        ],
    )


def checkin(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    pending = [c for c in inc.checkins if c.done_at is None]
    if not pending:
        raise PlaybookError(f"{inc.key} has no check-in waiting; they are scheduled when it is "
                            "resolved.")
    first, _, rest = plain(arg).strip().partition(" ")
    if first[:1] in ("C", "c") and first[1:].isdigit():
        n = parse.parse_ref(first, "C", "check-in")
        found = next((c for c in inc.checkins if c.number == n), None)
        if found is None:
            raise NotFound(f"There is no check-in C{n}; this incident has "
                           f"{len(inc.checkins)}.")
        if found.done_at is not None:
            raise PlaybookError(f"C{n} is already done.")
        notes = rest.strip()
    else:
        found, notes = pending[0], plain(arg).strip()
    found.done_at, found.done_by = ctx.now, actor.user_id
    said = f": {_quote(notes)}" if notes else "."
    return Result(
        f"Recorded check-in C{found.number} with {esc(inc.customer)}.",
        [_line(ctx, actor, "checkin", f"{mention(actor.user_id)} checked in with the customer "
               f"(C{found.number}){said}")],
        [Reschedule()],
    )


def done(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    n = parse.parse_ref(arg.strip(), "A", "action")
    found = next((a for a in inc.actions if a.number == n), None)
    if found is None:
        raise NotFound(f"There is no action A{n}; `/incident status` lists them.")
    if found.done_at is not None:
        raise PlaybookError(f"A{n} is already done.")
    found.done_at = ctx.now
    return Result(
        f"Marked A{n} done.",
        [
            _line(
                ctx,
                actor,
                "done",
                f"{mention(actor.user_id)} completed action A{n}: {_quote(found.text)}",
            )
        ],
    )


def close(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    _owner_or_lead(inc, actor, "close")
    if not all_complete(inc):
        gaps = "\n".join(
            f"• {STEP_TITLES[step]}: {esc(item.label.lower())}: {item.how}"
            for step, item in outstanding(inc, ctx.policy.playbook)
        )
        raise GateError(
            f"{inc.key} can't be closed yet. Still missing:\n{gaps}\n"
            "The owner or a lead can skip a step with `/incident skip &lt;why&gt;`."
        )
    inc.status, inc.closed_at = Status.CLOSED, ctx.now
    return Result(
        f"Closed {inc.key}. The summary is posted here and to the leads.",
        [_line(ctx, actor, "close", f"{mention(actor.user_id)} closed {inc.key}.")],
        [Reschedule(), PostSummary(Target.INCIDENT), PostSummary(Target.LEADS)],
    )


def skip(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    reason = _text(arg, "why the step is skipped", "`/incident skip &lt;why&gt;`")
    _owner_or_lead(inc, actor, "skip a step of")
    if all_complete(inc):
        raise PlaybookError("Every step is already complete; nothing to skip.")
    skipped = skip_current(inc, ctx.now, actor.user_id, reason)
    title = STEP_TITLES[skipped]
    return Result(
        f"Skipped *{title}*. The reason goes into the summary.",
        [
            _line(
                ctx,
                actor,
                "skip",
                f"{mention(actor.user_id)} skipped *{title}* without its "
                f"criteria: {_quote(reason)}",
            )
        ],
    )


def severity(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    level = arg.strip().lower()
    known = ctx.policy.playbook.severity(level)
    if known is None:
        names = ", ".join(f"`{s}`" for s in ctx.policy.playbook.severity_names)
        raise ParseError(f"Use one of {names}, e.g. `/incident severity sev1`.")
    if level == inc.severity:
        raise PlaybookError(f"{inc.key} is already {level}.")
    raised = level < inc.severity  # sev1 is the most severe
    inc.severity = level
    effects: list[Effect] = []
    if not inc.cadence_agreed:
        interval = ctx.policy.default_cadence(level)
        inc.cadence_changes.append(CadenceChange(ctx.now, interval, agreed=False, by=actor.user_id))
        effects.append(Reschedule())
    verb = "raised" if raised else "lowered"
    if raised:
        effects.append(
            Post(
                Target.LEADS,
                f"{mention(actor.user_id)} raised {inc.key} "
                f"({esc(inc.customer)}) to {level}: {esc(known.description)}.",
            )
        )
    return Result(
        f"Severity {verb} to {level}.",
        [_line(ctx, actor, "severity", f"{mention(actor.user_id)} {verb} severity to {level}.")],
        effects,
    )


def check(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    """Tick an item the team's playbook added (with its typed value when it asks for one)."""
    playbook = ctx.policy.playbook
    key, _, rest = plain(arg).strip().partition(" ")
    key, value = key.lower(), rest.strip()
    ours = ", ".join(f"`{i.key}`" for i in playbook.custom_items)
    if not key:
        raise ParseError(
            f"Say which item: `/incident check &lt;item&gt; [value]`. This playbook's: {ours}."
            if ours else "This incident's playbook has no items to tick with `check`."
        )
    found = playbook.item(key)
    if found is None:
        where = f"Items you can tick here: {ours}." if ours else \
            "This incident's playbook has no items to tick with `check`."
        raise NotFound(f"There is no checklist item `{esc(key[:30])}`. {where}")
    step, item = found
    if item.builtin:
        raise ParseError(f"*{esc(item.label)}* is recorded with {item.how}.")
    if item.value and not value:
        raise ParseError(f"*{esc(item.label)}* needs a value: `/incident check {item.key} "
                         "&lt;value&gt;`.")
    again = item.key in inc.checks
    inc.checks[item.key] = value
    shown = f": {_quote(value)}" if value else ""
    return Result(
        f"{'Updated' if again else 'Ticked'} *{esc(item.label)}* ({STEP_TITLES[step]}){shown}.",
        [_line(ctx, actor, "check",
               f"{mention(actor.user_id)} ticked *{esc(item.label)}*{shown}")],
    )


def summary(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    return Result("Posting the summary in the channel.", [], [PostSummary(Target.INCIDENT)])


def note(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    """A line for the timeline in the responder's words; it changes nothing else."""
    text = _text(arg, "what to note", "`/incident note &lt;what happened&gt;`")
    if len(text) > 3000:
        raise ParseError("Keep a note under 3000 characters; split longer ones.")
    return Result(
        "Noted on the timeline. `/incident timeline` lists the entries, to correct one.",
        [_line(ctx, actor, "note", esc(text))],
    )
