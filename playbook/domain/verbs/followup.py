"""Follow up: why it happened, what we learned, prevention actions, check-ins with the customer.

`action` reads an optional trailing mention as the action's owner; a form picks the owner
(`AddAction`).
"""

from __future__ import annotations

from dataclasses import dataclass

from playbook.domain import parse
from playbook.domain.errors import NotFound, PlaybookError
from playbook.domain.model import Action, Actor, Incident, Reschedule
from playbook.domain.text import esc, mention, plain
from playbook.domain.verbs.base import Ctx, Result, line, quote, required

__all__ = ["AddAction", "action", "add_action", "checkin", "done", "lesson", "rootcause"]


def rootcause(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(text, "the root cause", "`/incident rootcause &lt;why it happened&gt;`")
    inc.root_cause = text
    return Result(
        "Recorded the root cause.",
        [
            line(
                ctx,
                actor,
                "rootcause",
                f"{mention(actor.user_id)} recorded the root cause: {quote(text)}",
            )
        ],
    )


def lesson(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(text, "the lesson", "`/incident lesson &lt;what we learned&gt;`")
    inc.lessons.append(text)
    return Result(
        "Recorded the lesson.",
        [line(ctx, actor, "lesson", f"{mention(actor.user_id)} noted a lesson: {quote(text)}")],
    )


def action(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    rest, owner = parse.split_trailing_user(arg.strip())
    return add_action(inc, actor, plain(rest), owner, ctx)


def add_action(inc: Incident, actor: Actor, text: str, owner: str | None, ctx: Ctx) -> Result:
    """A prevention action, with its owner's user id when one was named."""
    text = required(
        text, "the prevention action", "`/incident action &lt;what we will change&gt; @owner`"
    )
    number = len(inc.actions) + 1
    inc.actions.append(Action(number, text, owner, actor.user_id, ctx.now))
    who = f" (owner {mention(owner)})" if owner else ""
    hint = "" if owner else " Give it an owner by adding `@someone` at the end."
    return Result(
        f"Added prevention action A{number}.{hint}",
        [
            line(
                ctx,
                actor,
                "action",
                f"{mention(actor.user_id)} added action A{number}: {quote(text)}{who}",
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
    said = f": {quote(notes)}" if notes else "."
    return Result(
        f"Recorded check-in C{found.number} with {esc(inc.customer)}.",
        [line(ctx, actor, "checkin", f"{mention(actor.user_id)} checked in with the customer "
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
            line(
                ctx,
                actor,
                "done",
                f"{mention(actor.user_id)} completed action A{n}: {quote(found.text)}",
            )
        ],
    )


@dataclass(frozen=True)
class AddAction:
    """`action` from a form: the action as typed and its owner from a person picker."""

    text: str
    owner: str | None = None

    @property
    def verb(self) -> str:
        return "action"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return add_action(inc, actor, self.text, self.owner, ctx)
