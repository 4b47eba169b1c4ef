"""Restate: the problem said back in the customer's terms, and their confirmation of it."""

from __future__ import annotations

from playbook.domain.errors import GateError, PlaybookError
from playbook.domain.model import Actor, Incident
from playbook.domain.text import mention
from playbook.domain.verbs.base import Ctx, Result, line, quote, required

__all__ = ["confirm", "restate"]


def restate(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(
        text, "the problem in the customer's terms", "`/incident restate &lt;their terms&gt;`"
    )
    inc.restatement = text
    inc.restatement_confirmed_at = None
    return Result(
        "Recorded the restatement. Read it back in their words and let them correct it: their "
        "version wins, and nobody argues about whose fault it was. Once they agree it is "
        "right: `/incident confirm`.",
        [
            line(
                ctx,
                actor,
                "restate",
                f"{mention(actor.user_id)} restated the problem: {quote(text)}",
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
            line(
                ctx,
                actor,
                "confirm",
                f"{mention(actor.user_id)}: the customer confirmed the restatement.",
            )
        ],
    )
