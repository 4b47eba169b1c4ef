"""Listen: the customer's words, the business impact, what drives them, and the cadence agreed.

`listen`, `impact` and `driver` take free text as the person meant it; `cadence` reads an
interval and optional working hours (`AgreeCadence` is the form's version of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from playbook.domain import parse
from playbook.domain.errors import ParseError
from playbook.domain.model import Actor, CadenceChange, Incident, Reschedule
from playbook.domain.text import fmt_duration, mention, plain
from playbook.domain.verbs.base import Ctx, Result, line, next_due_text, quote, required

__all__ = ["MIN_CADENCE", "AgreeCadence", "agree_cadence", "context", "driver", "impact",
           "listen", "noticed", "set_cadence"]

MIN_CADENCE = timedelta(minutes=1)
_CADENCE_USAGE = "`/incident cadence 30m`"


def listen(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    words = required(text, "what the customer said", "`/incident listen &lt;their words&gt;`")
    inc.customer_words.append(words)
    return Result(
        "Recorded the customer's words. If there is more, let them finish: ask whether there "
        "is anything else before answering, and don't argue with how they feel.",
        [
            line(
                ctx,
                actor,
                "listen",
                f"{mention(actor.user_id)} noted the customer's words: {quote(words)}",
            )
        ],
    )


def impact(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(text, "the business impact", "`/incident impact &lt;what it costs them&gt;`")
    inc.impact = text
    return Result(
        "Recorded the business impact.",
        [line(ctx, actor, "impact", f"{mention(actor.user_id)} noted the impact: {quote(text)}")],
    )


def driver(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(
        text, "what is really upsetting them", "`/incident driver &lt;what is behind it&gt;`"
    )
    inc.drivers.append(text)
    return Result(
        "Recorded what is behind the customer's frustration.",
        [
            line(
                ctx,
                actor,
                "driver",
                f"{mention(actor.user_id)} noted what is upsetting them: {quote(text)}",
            )
        ],
    )


def noticed(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    """How the problem reached the customer: it tells us whose pain to relieve first."""
    text = required(text, "how the customer noticed",
                    "`/incident noticed &lt;their monitoring, their boss, their customers…&gt;`")
    inc.noticed = text
    return Result(
        "Recorded how the customer noticed. It often shows what would relieve them soonest.",
        [line(ctx, actor, "noticed",
              f"{mention(actor.user_id)} noted how the customer noticed: {quote(text)}")],
    )


def context(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    """What we told the customer about our side (it will take time; relief first)."""
    text = required(text, "the context we gave the customer",
                    "`/incident context &lt;what we told them about our side&gt;`")
    inc.context_given = text
    return Result(
        "Recorded the context we gave the customer.",
        [line(ctx, actor, "context",
              f"{mention(actor.user_id)} gave the customer our context: {quote(text)}")],
    )


def set_cadence(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    return _cadence(inc, actor, plain(arg), ctx)


def agree_cadence(inc: Incident, actor: Actor, interval: str, hours: str, ctx: Ctx) -> Result:
    """The cadence from a form: the interval and the working hours in fields of their own.

    Without an interval the refusal asks for one, even when hours were given.
    """
    required(interval, "the interval the customer agreed to", _CADENCE_USAGE)
    return _cadence(inc, actor, f"{interval} {hours}", ctx)


def _cadence(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(text, "the interval the customer agreed to", _CADENCE_USAGE)
    interval, window = parse.parse_cadence(text, default_tz=actor.tz)
    if interval < MIN_CADENCE:
        raise ParseError(
            "The update interval must be at least 1 minute, e.g. `/incident cadence 30m`."
        )
    inc.cadence_changes.append(
        CadenceChange(at=ctx.now, interval=interval, agreed=True, by=actor.user_id,
                      window=window)
    )
    due = next_due_text(inc)
    hours = (f", {window.describe()} (reminders pause outside those hours)"
             if window else "")
    return Result(
        f"Cadence set: the customer hears from us every {fmt_duration(interval)}{hours}. {due}",
        [
            line(
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


@dataclass(frozen=True)
class AgreeCadence:
    """`cadence` from a form: the interval field and the working-hours fields, as typed."""

    interval: str
    hours: str = ""

    @property
    def verb(self) -> str:
        return "cadence"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return agree_cadence(inc, actor, self.interval, self.hours, ctx)
