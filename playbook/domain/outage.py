"""Outages: one underlying problem that hurts many customers at once.

An outage (OUT-N, numbered per team) has its own channel and card. Each upset customer still
gets their own incident, with its own owner, cadence and promises, and *attaches* it to the
outage. What the outage adds is fan-out, without blurring those per-customer promises:

* an outage update is offered to every attached incident as a *draft*; a draft is not a
  customer update until someone in that incident logs it (each customer's clock stays its own);
* resolving the outage prompts every attached incident that is not resolved yet to resolve;
* the outage card lists the attached customers, overdue first.

Everything here is pure: the shell loads the outage, the incident of the channel and the
attached incidents, passes them in with `now`, and saves what comes back.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from playbook.domain import cadence
from playbook.domain.errors import NotFound, ParseError, PlaybookError
from playbook.domain.model import Actor, Incident, Status, TimelineEntry
from playbook.domain.text import date_token, esc, fmt_duration, mention, plain

TITLE_MAX = 200


class OutageStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class DraftStatus(StrEnum):
    PENDING = "pending"  # offered, waiting for someone in the incident to log or dismiss it
    LOGGED = "logged"  # logged as a customer update of that incident
    DISMISSED = "dismissed"  # this customer does not get it


@dataclass
class OutageUpdate:
    number: int
    text: str
    by: str
    at: datetime


@dataclass
class Outage:
    team_id: str
    number: int
    title: str
    opened_by: str
    opened_at: datetime
    id: int | None = None
    status: OutageStatus = OutageStatus.OPEN
    channel_id: str | None = None
    channel_name: str | None = None
    card_ts: str | None = None
    resolution: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    updates: list[OutageUpdate] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"OUT-{self.number}"


@dataclass
class Draft:
    """An outage update offered to one attached incident (text as typed, unescaped)."""

    outage_id: int
    incident_id: int
    update_number: int
    text: str
    created_at: datetime
    id: int | None = None
    status: DraftStatus = DraftStatus.PENDING
    settled_by: str | None = None
    settled_at: datetime | None = None
    channel_id: str | None = None
    message_ts: str | None = None


@dataclass(frozen=True)
class CustomerRow:
    """One attached customer as the outage card shows it."""

    incident_id: int
    key: str
    customer: str
    owner: str | None
    status: Status
    next_due: datetime | None
    overdue_by: timedelta | None


@dataclass
class OutageCtx:
    """What a verb may look at. `find` looks an outage up by its number (None: no such one)."""

    now: datetime
    actor: Actor
    team_id: str
    outage: Outage | None = None  # the outage whose channel this is
    incident: Incident | None = None  # the incident whose channel this is
    attached: list[Incident] = field(default_factory=list)  # incidents attached to `outage`
    current: Outage | None = None  # the outage `incident` is attached to now
    find: Callable[[int], Outage | None] = lambda number: None


@dataclass
class OutageResult:
    """What a verb decided; the shell saves it and turns it into outbox rows."""

    reply: str
    outage: Outage | None = None  # new or changed outage to save
    link: tuple[str, int, int] | None = None  # ("attach" | "detach", outage id, incident id)
    incident_lines: list[TimelineEntry] = field(default_factory=list)  # for ctx.incident
    outage_posts: list[str] = field(default_factory=list)  # lines for the outage channel
    drafts: list[Draft] = field(default_factory=list)
    prompts: list[int] = field(default_factory=list)  # incident ids asked to resolve


Handler = Callable[[str, OutageCtx], OutageResult]


@dataclass(frozen=True)
class OutageVerb:
    name: str
    usage: str
    what: str
    handler: Handler
    changes: bool = True


_REF = re.compile(r"^(?:out-?)?(\d{1,9})$", re.IGNORECASE)
_ATTACH_USAGE = "`/incident attach OUT-3`"


def parse_ref(arg: str) -> int:
    """`OUT-3`, `out-3`, `OUT3` or `3` -> 3."""
    found = _REF.match(plain(arg).strip())
    if not found:
        shown = esc(plain(arg).strip()[:30]) or "nothing"
        raise ParseError(f"Name the outage by its number, like {_ATTACH_USAGE} "
                         f"(you wrote {shown}). `/incident list` shows the open ones.")
    return int(found.group(1))


def _text(arg: str, what: str, usage: str) -> str:
    text = plain(arg).strip()
    if not text:
        raise ParseError(f"Add {what}: {usage}")
    return text


def _in_outage(ctx: OutageCtx, verb: str) -> Outage:
    if ctx.outage is None or ctx.outage.id is None:
        raise PlaybookError(f"`/incident {verb}` for an outage works in the outage's channel.")
    return ctx.outage


def _in_incident(ctx: OutageCtx, verb: str) -> Incident:
    if ctx.incident is None or ctx.incident.id is None:
        raise PlaybookError(f"`/incident {verb}` works in a customer incident's channel: each "
                            "customer's incident attaches to the outage.")
    return ctx.incident


def _live(incidents: list[Incident]) -> list[Incident]:
    return [i for i in incidents if i.status is not Status.CLOSED and i.id is not None]


# --- verbs ------------------------------------------------------------------------------------


def open_outage(arg: str, ctx: OutageCtx) -> OutageResult:
    title = _text(arg, "what is broken", "`/incident outage &lt;what is broken&gt;`")
    if len(title) > TITLE_MAX:
        raise ParseError(f"Keep the outage title under {TITLE_MAX} characters; details go in "
                         "updates.")
    out = Outage(team_id=ctx.team_id, number=0, title=" ".join(title.split()),
                 opened_by=ctx.actor.user_id, opened_at=ctx.now)
    return OutageResult("Opening the outage channel…", outage=out)


def attach(arg: str, ctx: OutageCtx) -> OutageResult:
    inc = _in_incident(ctx, "attach")
    assert inc.id is not None
    number = parse_ref(arg)
    out = ctx.find(number)
    if out is None or out.id is None:
        raise NotFound(f"There is no OUT-{number}. `/incident list` shows the open outages.")
    if ctx.current is not None and ctx.current.id == out.id:
        raise PlaybookError(f"{inc.key} is already attached to {out.key}.")
    if ctx.current is not None:
        raise PlaybookError(f"{inc.key} is attached to {ctx.current.key}; "
                            "`/incident detach` it first.")
    if inc.status is Status.CLOSED:
        raise PlaybookError(f"{inc.key} is closed; attach an open incident.")
    if out.status is not OutageStatus.OPEN:
        raise PlaybookError(f"{out.key} is resolved; attach to an open outage or run this "
                            "customer's incident on its own.")
    who = mention(ctx.actor.user_id)
    line = (f"🔗 {who} attached {inc.key} to {out.key} ({esc(out.title)}): outage updates "
            "arrive here as drafts to log or dismiss.")
    return OutageResult(
        f"Attached {inc.key} to {out.key}. Outage updates will arrive here as drafts; your "
        "customer's cadence and promises stay this incident's own.",
        link=("attach", out.id, inc.id),
        incident_lines=[TimelineEntry(ctx.now, "outage", line, ctx.actor.user_id)],
        outage_posts=[f"🔗 {who} attached {inc.key} ({esc(inc.customer)})."])


def detach(arg: str, ctx: OutageCtx) -> OutageResult:
    inc = _in_incident(ctx, "detach")
    assert inc.id is not None
    out = ctx.current
    if out is None or out.id is None:
        raise PlaybookError(f"{inc.key} is not attached to an outage; "
                            f"{_ATTACH_USAGE} attaches it.")
    who = mention(ctx.actor.user_id)
    return OutageResult(
        f"Detached {inc.key} from {out.key}: no more drafts from it here.",
        link=("detach", out.id, inc.id),
        incident_lines=[TimelineEntry(ctx.now, "outage",
                                      f"✂️ {who} detached {inc.key} from {out.key}.",
                                      ctx.actor.user_id)],
        outage_posts=[f"✂️ {who} detached {inc.key} ({esc(inc.customer)})."])


def fan_out(out: Outage, attached: list[Incident], text: str, by: str,
            now: datetime) -> tuple[OutageUpdate, list[Draft]]:
    """Record an outage update and the draft it becomes for each live attached incident."""
    assert out.id is not None
    update = OutageUpdate(len(out.updates) + 1, text, by, now)
    drafts = [Draft(outage_id=out.id, incident_id=inc.id, update_number=update.number,
                    text=text, created_at=now)
              for inc in _live(attached) if inc.id is not None]
    return update, drafts


def post_update(arg: str, ctx: OutageCtx) -> OutageResult:
    out = _in_outage(ctx, "update")
    text = _text(arg, "what customers should hear",
                 "`/incident update &lt;what customers should hear&gt;`")
    changed = copy.deepcopy(out)
    update, drafts = fan_out(changed, ctx.attached, text, ctx.actor.user_id, ctx.now)
    changed.updates.append(update)
    by_id = {i.id: i for i in ctx.attached}
    names = ", ".join(f"{by_id[d.incident_id].key} ({esc(by_id[d.incident_id].customer)})"
                      for d in drafts)
    if drafts:
        reply = (f"Offered update {update.number} to {len(drafts)} customer"
                 f"{'s' if len(drafts) != 1 else ''} as a draft: {names}. Each counts as a "
                 "customer update once someone logs it in that incident.")
    else:
        reply = (f"Recorded update {update.number}, but no open customer incident is attached "
                 f"yet: in a customer's incident channel, `/incident attach {out.key}`.")
    return OutageResult(
        reply, outage=changed, drafts=drafts,
        outage_posts=[f"📣 {mention(ctx.actor.user_id)} posted outage update {update.number}: "
                      f"“{esc(text)}”" + (f"\nOffered as a draft to {names}." if drafts else "")])


def resolve(arg: str, ctx: OutageCtx) -> OutageResult:
    out = _in_outage(ctx, "resolve")
    text = _text(arg, "what fixed it", "`/incident resolve &lt;what fixed it&gt;`")
    if out.status is OutageStatus.RESOLVED:
        when = f" ({date_token(out.resolved_at)})" if out.resolved_at else ""
        raise PlaybookError(f"{out.key} is already resolved{when}.")
    changed = copy.deepcopy(out)
    changed.status, changed.resolution = OutageStatus.RESOLVED, text
    changed.resolved_at, changed.resolved_by = ctx.now, ctx.actor.user_id
    prompts = resolve_prompts(ctx.attached)
    reply = (f"Marked {out.key} resolved. Asked {len(prompts)} attached incident"
             f"{'s' if len(prompts) != 1 else ''} to resolve too; each customer still needs to "
             "be told by their own incident.") if prompts else (
        f"Marked {out.key} resolved. No attached incident is waiting to resolve.")
    return OutageResult(
        reply, outage=changed, prompts=prompts,
        outage_posts=[f"✅ {mention(ctx.actor.user_id)} resolved {out.key}: “{esc(text)}”"])


def resolve_prompts(attached: list[Incident]) -> list[int]:
    """The attached incidents that should be asked to resolve: open ones, not yet resolved."""
    return [i.id for i in _live(attached) if i.resolved_at is None and i.id is not None]


def status(arg: str, ctx: OutageCtx) -> OutageResult:
    out = _in_outage(ctx, "status")
    return OutageResult(status_text(out, ctx.attached, ctx.now))


SHELL_VERBS: dict[str, OutageVerb] = {v.name: v for v in (
    OutageVerb("outage", "outage &lt;what is broken&gt;",
               "open an outage that many customers' incidents attach to", open_outage),
    OutageVerb("attach", "attach OUT-n", "attach this incident to an outage (incident channel)",
               attach),
    OutageVerb("detach", "detach", "detach this incident from its outage (incident channel)",
               detach),
)}

CHANNEL_VERBS: dict[str, OutageVerb] = {v.name: v for v in (
    OutageVerb("update", "update &lt;what customers should hear&gt;",
               "offer an update to every attached customer as a draft", post_update),
    OutageVerb("resolve", "resolve &lt;what fixed it&gt;",
               "resolve the outage and ask each attached incident to resolve", resolve),
    OutageVerb("status", "status", "the attached customers, overdue first", status,
               changes=False),
)}
"""Verbs typed in an outage's channel."""


# --- views ------------------------------------------------------------------------------------


def customer_rows(attached: list[Incident], now: datetime) -> list[CustomerRow]:
    """Attached customers for the card: overdue first (most overdue on top), then by next due,
    closed ones last."""
    rows = []
    for inc in attached:
        if inc.id is None:
            continue
        live = inc.status is not Status.CLOSED
        rows.append(CustomerRow(inc.id, inc.key, inc.customer, inc.owner, inc.status,
                                cadence.next_update_due(inc) if live else None,
                                cadence.overdue_by(inc, now) if live else None))

    def order(r: CustomerRow) -> tuple[int, float]:
        if r.overdue_by is not None:
            return (0, -r.overdue_by.total_seconds())
        if r.next_due is not None:
            return (1, r.next_due.timestamp())
        return (2 if r.status is not Status.CLOSED else 3, 0.0)
    return sorted(rows, key=order)


def overdue(attached: list[Incident], now: datetime) -> list[CustomerRow]:
    return [r for r in customer_rows(attached, now) if r.overdue_by is not None]


def row_text(r: CustomerRow) -> str:
    owner = f"owner {mention(r.owner)}" if r.owner else "no owner yet"
    if r.status is Status.CLOSED:
        when = "closed"
    elif r.overdue_by is not None and r.next_due is not None:
        when = (f"⚠️ *update overdue by {fmt_duration(r.overdue_by)}* "
                f"(was due {date_token(r.next_due)})")
    elif r.next_due is not None:
        when = f"next update due {date_token(r.next_due)}"
    else:
        when = "no update due"
    resolved = " · resolved" if r.status is Status.RESOLVED else ""
    return f"*{r.key}* · {esc(r.customer)} · {owner} · {when}{resolved}"


def status_text(out: Outage, attached: list[Incident], now: datetime) -> str:
    rows = customer_rows(attached, now)
    late = sum(1 for r in rows if r.overdue_by is not None)
    head = f"*{out.key}* · {esc(out.title)} · {out.status.value}"
    lines = [head, f"{len(rows)} customer{'s' if len(rows) != 1 else ''} attached"
             + (f", *{late} overdue*" if late else "") + "."]
    lines += [f"• {row_text(r)}" for r in rows]
    if not rows:
        lines.append(f"Attach one from its incident channel: `/incident attach {out.key}`.")
    return "\n".join(lines)


def help_text(out: Outage) -> str:
    lines = [f"*{out.key}* ({esc(out.title)}): this is the outage's channel. Each customer's "
             "incident keeps its own channel, cadence and promises.", "", "*In this channel*"]
    lines += [f"`{v.usage}`: {v.what}" for v in CHANNEL_VERBS.values()]
    lines += ["", "*In a customer's incident channel*", f"`attach {out.key}`, `detach`"]
    return "\n".join(lines)
