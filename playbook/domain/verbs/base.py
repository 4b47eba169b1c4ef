"""What every verb module shares: the handler's context and result, and the small helpers
that make their replies and timeline lines read alike.

A verb is a function ``(incident, actor, argument, ctx) -> Result`` that changes the working copy
it is given (`playbook.domain.rules` copies the incident first). Verbs whose argument is free
text take it as the person meant it (`playbook.domain.text.plain` of what Slack sent, or a
form's field as typed); the others read Slack's text themselves and have a typed twin that a
form's pickers call with values (`Request`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from playbook.domain import cadence
from playbook.domain.errors import ParseError, PermissionDenied
from playbook.domain.model import Actor, Effect, Incident, Policy, TimelineEntry
from playbook.domain.parse.next_step import names_next_step
from playbook.domain.text import date_token, esc, mention

__all__ = [
    "Ctx",
    "Handler",
    "Request",
    "Result",
    "line",
    "next_due_text",
    "next_update_hint",
    "next_update_line",
    "owner_or_lead",
    "quote",
    "required",
]


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


Handler = Callable[[Incident, Actor, str, Ctx], Result]


class Request(Protocol):
    """One verb with its values already typed (a form's date picker, person picker, fields).

    `playbook.domain.rules.run_request` runs it with the same gates as typed text, so a form
    and `/incident` refuse and record alike.
    """

    @property
    def verb(self) -> str: ...

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result: ...


def line(ctx: Ctx, actor: Actor, kind: str, text: str) -> TimelineEntry:
    return TimelineEntry(at=ctx.now, kind=kind, text=text, actor=actor.user_id)


def quote(text: str) -> str:
    return f"“{esc(text)}”"


def required(text: str, what: str, usage: str) -> str:
    """Free text that must not be empty, trimmed; the refusal says what to add and how."""
    trimmed = text.strip()
    if not trimmed:
        raise ParseError(f"Add {what}: {usage}")
    return trimmed


def owner_or_lead(inc: Incident, actor: Actor, doing: str) -> None:
    if actor.is_lead or (inc.owner is not None and actor.user_id == inc.owner):
        return
    who = f"the owner ({mention(inc.owner)}) or a lead" if inc.owner else "a lead"
    raise PermissionDenied(f"Only {who} can {doing} {inc.key}.")


def next_due_text(inc: Incident) -> str:
    due = cadence.next_update_due(inc)
    return f"Next customer update due {date_token(due)}." if due else ""


def next_update_line(inc: Incident, tz: str) -> str | None:
    """``Next update by 15:30 UTC`` for the running cadence, in zone `tz` (None: no clock).

    Plain text for the person to paste into what they tell the customer (a message in Slack
    gets a date token instead, see `updates.send`); the day is named when it is not today's.
    """
    due = cadence.next_update_due(inc)
    if due is None:
        return None
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = due.astimezone(zone)
    now_local = inc.updates[-1].at.astimezone(zone) if inc.updates else local
    day = "" if local.date() == now_local.date() else local.strftime("%a %d %b ")
    name = local.tzname() or "UTC"
    if local.utcoffset() == UTC.utcoffset(None) and name in ("GMT", "Etc/UTC"):
        name = "UTC"
    return f"Next update by {day}{local:%H:%M} {name}"


def next_update_hint(inc: Incident, actor: Actor, text: str) -> str:
    """A nudge (never a refusal) when an update names neither a next step nor a next contact
    time: customers left guessing call back anxious. Empty when the text names one or no
    cadence is running."""
    if names_next_step(text):
        return ""
    ready = next_update_line(inc, actor.tz)
    if ready is None:
        return ""
    return (f" Tip: this update doesn't say what happens next or when they hear from us again. "
            f"Next time add a line such as: `{esc(ready)}`")
