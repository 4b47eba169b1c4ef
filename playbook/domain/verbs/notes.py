"""Words kept for later: a topic parked until the fix, a note on the timeline."""

from __future__ import annotations

from playbook.domain.errors import ParseError
from playbook.domain.model import Actor, Incident, ParkedTopic
from playbook.domain.text import esc, mention
from playbook.domain.verbs.base import Ctx, Result, line, quote, required

__all__ = ["note", "park"]


def park(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(text, "the topic to park", "`/incident park &lt;topic&gt;`")
    number = len(inc.parked) + 1
    inc.parked.append(ParkedTopic(number, text, actor.user_id, ctx.now))
    return Result(
        "Parked it; it comes back in the summary once the problem is fixed.",
        [
            line(
                ctx,
                actor,
                "park",
                f"{mention(actor.user_id)} parked a topic for after the fix: {quote(text)}",
            )
        ],
    )


def note(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    """A line for the timeline in the responder's words; it changes nothing else."""
    text = required(text, "what to note", "`/incident note &lt;what happened&gt;`")
    if len(text) > 3000:
        raise ParseError("Keep a note under 3000 characters; split longer ones.")
    return Result(
        "Noted on the timeline. `/incident timeline` lists the entries, to correct one.",
        [line(ctx, actor, "note", esc(text))],
    )
