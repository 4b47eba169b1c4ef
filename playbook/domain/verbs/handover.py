"""Handing an incident over: `/incident handover @user <notes>` (or the card's modal).

A handover is more than `own @user`: the new owner is walking into a crisis mid-flight, so the
note they get lists what is open right now (promises owed, an overdue or next customer update,
the playbook items still missing, what the current step needs next) along with the outgoing
owner's own notes. Only the owner or a lead may hand over; the timeline names both people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from playbook.domain import cadence, parse
from playbook.domain.errors import ParseError, PermissionDenied, PlaybookError
from playbook.domain.model import (
    Actor,
    Handover,
    Incident,
    Invite,
    Post,
    PromiseStatus,
    Reschedule,
    Target,
    TimelineEntry,
)
from playbook.domain.steps import STEP_TITLES, next_missing, outstanding
from playbook.domain.text import channel_link, date_token, esc, fmt_duration, mention, plain
from playbook.domain.verbs.base import Ctx, Result

if TYPE_CHECKING:
    from playbook.domain.playbook_file import Playbook

__all__ = ["HandOver", "hand_over", "handover", "handover_note", "open_items", "split_handover"]

USAGE = "`/incident handover @someone &lt;what they need to know&gt;`"
NOTES_MAX = 2000

_LEADING_USER = re.compile(r"\s*(<@[UW][A-Z0-9]+(?:\|[^<>]*)?>)")


def split_handover(arg: str) -> tuple[str, str | None]:
    """``(user id, notes or None)`` from `/incident handover` text as Slack sends it."""
    text = arg.strip()
    if not text:
        raise ParseError(f"Name the new owner: {USAGE}.")
    m = _LEADING_USER.match(text)
    if m is None:
        first = text.split(None, 1)[0]
        if first.startswith(("@", "<@", "<!")):
            parse.parse_user(first)  # raises the helpful "pick from the autocomplete" error
        raise ParseError(f"Start with the new owner: {USAGE}.")
    return parse.parse_user(m.group(1)), _notes(plain(text[m.end():]))


def _notes(text: str) -> str | None:
    notes = text.strip() or None
    if notes is not None and len(notes) > NOTES_MAX:
        raise ParseError(f"Keep the handover notes under {NOTES_MAX} characters "
                         f"(they are {len(notes)}); the channel history has the rest.")
    return notes


def open_items(inc: Incident, now: datetime, playbook: Playbook) -> list[str]:
    """What is open right now, one mrkdwn line each (user text escaped)."""
    lines: list[str] = []
    owed = [p for p in inc.promises if p.status is PromiseStatus.OPEN]
    for p in owed:
        late = " (*past due*)" if p.due_at <= now else ""
        lines.append(f"Promise P{p.number}: “{esc(p.text)}” due {date_token(p.due_at)}{late}")
    late_by = cadence.overdue_by(inc, now)
    due = cadence.next_update_due(inc)
    if late_by is not None and due is not None:
        lines.append(f"Customer update *overdue by {fmt_duration(late_by)}* "
                     f"(was due {date_token(due)})")
    elif due is not None:
        lines.append(f"Next customer update due {date_token(due)}")
    gaps = outstanding(inc, playbook)
    if gaps:
        lines.append("Still missing: " + "; ".join(
            f"{STEP_TITLES[step]}: {esc(item.label.lower())}" for step, item in gaps))
    lines.append(f"Next: {next_missing(inc, playbook)}")
    return lines


def handover_note(inc: Incident, now: datetime, playbook: Playbook, *, from_user: str,
                  to_user: str, by: str, notes: str | None) -> str:
    """The note the new owner gets by DM (and the channel sees on the timeline)."""
    who = mention(by) if by == from_user else f"{mention(by)} (for {mention(from_user)})"
    where = f" in {channel_link(inc.channel_id)}" if inc.channel_id else ""
    head = (f"🤝 {who} handed *{inc.key}* ({esc(inc.customer)}, {inc.severity}) over to "
            f"{mention(to_user)}{where}. You own it now.")
    body = [head]
    if notes:
        body.append(f"*Their notes:* “{esc(notes)}”")
    body.append("*What is open:*")
    body.extend(f"• {line}" for line in open_items(inc, now, playbook))
    return "\n".join(body)


def handover(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    to_user, notes = split_handover(arg)
    return hand_over(inc, actor, to_user, notes, ctx)


def hand_over(inc: Incident, actor: Actor, to_user: str, notes: str | None, ctx: Ctx) -> Result:
    """Pass ownership with a note; only the owner or a lead may, and not to themselves."""
    if not to_user:
        raise ParseError(f"Name the new owner: {USAGE}.")
    notes = _notes(notes or "")
    if inc.owner is None:
        raise PlaybookError(f"Nobody owns {inc.key} yet, so there is nothing to hand over: "
                            f"`/incident own {mention(to_user)}` names the owner.")
    if not (actor.is_lead or actor.user_id == inc.owner):
        raise PermissionDenied(f"Only the owner ({mention(inc.owner)}) or a lead can hand "
                               f"{inc.key} over.")
    if to_user == inc.owner:
        raise PlaybookError(f"{mention(to_user)} already owns {inc.key}; pick the person who "
                            "takes over.")
    if to_user == actor.user_id:
        raise PlaybookError("You can't hand an incident over to yourself. To take it over as a "
                            "lead, use `/incident own`; otherwise name the new owner.")
    previous = inc.owner
    inc.owner = to_user
    inc.handovers.append(Handover(len(inc.handovers) + 1, previous, to_user, actor.user_id,
                                  ctx.now, notes))
    note = handover_note(inc, ctx.now, ctx.policy.playbook, from_user=previous,
                         to_user=to_user, by=actor.user_id, notes=notes)
    said = f": “{esc(notes)}”" if notes else "."
    line = (f"{mention(actor.user_id)} handed ownership from {mention(previous)} to "
            f"{mention(to_user)}{said}")
    return Result(
        f"Handed {inc.key} over to {mention(to_user)}. I invited them here and sent them the "
        "handover note.",
        [TimelineEntry(ctx.now, "handover", line, actor.user_id)],
        [Invite((to_user,)), Post(Target.USER, note, user=to_user), Reschedule()],
    )


@dataclass(frozen=True)
class HandOver:
    """`handover` from a form: the new owner from a person picker, the notes as typed."""

    to_user: str
    notes: str = ""

    @property
    def verb(self) -> str:
        return "handover"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return hand_over(inc, actor, self.to_user, self.notes, ctx)
