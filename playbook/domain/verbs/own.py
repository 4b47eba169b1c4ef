"""Own: the owner, the single voice to the customer, and the apology.

`own` and `comms` read a mention from Slack's text; a form's person picker gives the user id
itself (`Own`, `Comms`).
"""

from __future__ import annotations

from dataclasses import dataclass

from playbook.domain import parse
from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.model import Actor, Effect, Incident, Invite, Post, Reschedule, Target
from playbook.domain.text import esc, mention
from playbook.domain.verbs.base import Ctx, Result, line, owner_or_lead, quote, required

__all__ = ["Comms", "Own", "apology", "comms", "name_communicator", "own", "take_ownership"]


def own(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    user = parse.parse_user(arg.strip()) if arg.strip() else actor.user_id
    return take_ownership(inc, actor, user, ctx)


def take_ownership(inc: Incident, actor: Actor, user: str, ctx: Ctx) -> Result:
    """Make `user` the owner; handing over from someone else takes that owner or a lead."""
    if inc.owner == user:
        raise PlaybookError(f"{mention(user)} already owns {inc.key}.")
    if inc.owner is not None:
        owner_or_lead(inc, actor, "hand over ownership of")
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
        f"{mention(user)} is now the owner of {inc.key}.", [line(ctx, actor, "own", text)], effects
    )


def comms(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    if not arg.strip():
        raise ParseError("Name the communicator: `/incident comms @someone`.")
    return name_communicator(inc, actor, parse.parse_user(arg.strip()), ctx)


def name_communicator(inc: Incident, actor: Actor, user: str, ctx: Ctx) -> Result:
    inc.communicator = user
    return Result(
        f"{mention(user)} is now the single voice to the customer.",
        [
            line(
                ctx,
                actor,
                "comms",
                f"{mention(actor.user_id)} named {mention(user)} "
                "communicator: the one voice to the customer.",
            )
        ],
        [Invite((user,))],
    )


def apology(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(text, "what we said to the customer",
                    "`/incident apology &lt;what we said&gt;`")
    inc.apology_at = ctx.now
    return Result(
        "Recorded the apology.",
        [
            line(
                ctx,
                actor,
                "apology",
                f"{mention(actor.user_id)} apologised to the customer: {quote(text)}",
            )
        ],
    )


@dataclass(frozen=True)
class Own:
    """`own` with the person picked."""

    user: str

    @property
    def verb(self) -> str:
        return "own"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return take_ownership(inc, actor, self.user, ctx)


@dataclass(frozen=True)
class Comms:
    """`comms` with the person picked."""

    user: str

    @property
    def verb(self) -> str:
        return "comms"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return name_communicator(inc, actor, self.user, ctx)
