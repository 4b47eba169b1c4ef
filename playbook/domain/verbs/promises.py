"""Promises to the customer: made with a due time, then kept (or marked missed by a reminder).

Typed text reads ``<what> by <time>`` or ``<what> in <duration>``; a form gives the due time
from its date picker (`MakePromise`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from playbook.domain import parse
from playbook.domain.errors import NotFound, ParseError, PlaybookError
from playbook.domain.model import Actor, Incident, Promise, PromiseStatus, Reschedule
from playbook.domain.parse.due import PROMISE_FORMS, picked_due
from playbook.domain.text import date_token, mention, plain
from playbook.domain.verbs.base import Ctx, Result, line, quote

__all__ = ["MakePromise", "kept", "make_promise", "promise"]


def promise(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    what, due = parse.split_when(plain(arg), now=ctx.now, tz=actor.tz)
    return _record(inc, actor, what, due, ctx)


def make_promise(inc: Incident, actor: Actor, what: str, due: datetime | None,
                 ctx: Ctx) -> Result:
    """A promise whose due time was picked rather than typed; refused as typed text would be."""
    what = what.strip()
    if not what or due is None:
        raise ParseError(f"I couldn't tell when that is due. {PROMISE_FORMS}")
    return _record(inc, actor, what, picked_due(due, now=ctx.now), ctx)


def _record(inc: Incident, actor: Actor, what: str, due: datetime, ctx: Ctx) -> Result:
    number = len(inc.promises) + 1
    inc.promises.append(Promise(number, what, due, actor.user_id, ctx.now))
    return Result(
        f"Recorded promise P{number}, due {date_token(due)}. I'll remind the owner before then.",
        [
            line(
                ctx,
                actor,
                "promise",
                f"{mention(actor.user_id)} promised the customer "
                f"{quote(what)} by {date_token(due)} (P{number}).",
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
            line(
                ctx,
                actor,
                "kept",
                f"{mention(actor.user_id)} kept promise P{n}: {quote(found.text)}",
            )
        ],
        [Reschedule()],
    )


@dataclass(frozen=True)
class MakePromise:
    """`promise` from a form: what, as typed, and the due time from a date picker."""

    what: str
    due: datetime | None

    @property
    def verb(self) -> str:
        return "promise"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return make_promise(inc, actor, self.what, self.due, ctx)
