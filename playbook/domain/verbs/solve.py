"""Solve: the options and their risks, our recommendation, the customer's choice, the fix.

The form's fields and selects arrive as values (`AddOption`, `Recommend`, `Choose`); typed text
is read by the parsers into the same values first.
"""

from __future__ import annotations

from dataclasses import dataclass

from playbook.domain import parse
from playbook.domain.errors import NotFound, ParseError, PlaybookError
from playbook.domain.model import Actor, Checkin, Incident, Option, Reschedule, Status
from playbook.domain.parse.common import code
from playbook.domain.parse.phrases import OPTION_USAGE
from playbook.domain.text import date_token, esc, mention, plain
from playbook.domain.verbs.base import Ctx, Result, line, quote, required

__all__ = ["AddOption", "Choose", "Recommend", "add_option", "choose", "choose_option", "option",
           "recommend", "recommend_option", "resolve"]


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
    return add_option(inc, actor, text, risk, ctx)


def add_option(inc: Incident, actor: Actor, text: str, risk: str | None, ctx: Ctx) -> Result:
    """An option and its risk (None or empty: none named); the option itself is required."""
    text, risk = text.strip(), (risk or "").strip() or None
    if not text:
        where = " before its risk" if risk else ""
        raise ParseError(f"Describe the option{where}: {OPTION_USAGE}.")
    number = len(inc.options) + 1
    inc.options.append(Option(number, text, risk, actor.user_id, ctx.now))
    risk_text = f" (risk: {esc(risk)})" if risk else ""
    return Result(
        f"Added option {number}.",
        [
            line(
                ctx,
                actor,
                "option",
                f"{mention(actor.user_id)} added option {number}: {quote(text)}{risk_text}",
            )
        ],
    )


def recommend(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    n, why = parse.parse_numbered(plain(arg), "option")
    return recommend_option(inc, actor, n, why, ctx)


def recommend_option(inc: Incident, actor: Actor, n: int, why: str, ctx: Ctx) -> Result:
    """Option `n` as ours; the reason is required, since the customer weighs it."""
    why = why.strip()
    if not why:
        raise ParseError(f"Give the reason after the number: {code('recommend <n> <why>')}.")
    chosen = _option(inc, n)
    inc.recommended, inc.recommend_why = chosen.number, why
    return Result(
        f"Recorded option {n} as our recommendation.",
        [
            line(
                ctx,
                actor,
                "recommend",
                f"{mention(actor.user_id)} recommends option {n}: "
                f"{quote(chosen.text)}, because {quote(why)}",
            )
        ],
    )


def choose(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    return choose_option(inc, actor, parse.parse_ref(plain(arg).strip(), "", "option"), ctx)


def choose_option(inc: Incident, actor: Actor, n: int, ctx: Ctx) -> Result:
    picked = _option(inc, n)
    inc.chosen, inc.chosen_at = picked.number, ctx.now
    return Result(
        f"Recorded that the customer chose option {n}.",
        [line(ctx, actor, "choose", f"The customer chose option {n}: {quote(picked.text)}")],
    )


def resolve(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    text = required(text, "what fixed it", "`/incident resolve &lt;what fixed it&gt;`")
    if inc.resolved_at is not None:
        raise PlaybookError(f"{inc.key} is already resolved ({date_token(inc.resolved_at)}).")
    inc.resolution, inc.resolved_at, inc.status = text, ctx.now, Status.RESOLVED
    inc.checkins = [
        Checkin(n, ctx.now + after) for n, after in enumerate(ctx.policy.checkins, start=1)
    ]
    return Result(
        "Marked resolved. Now tell the customer, then log it: "
        "`/incident update &lt;what you said&gt;`.",
        [line(ctx, actor, "resolve", f"{mention(actor.user_id)} resolved it: {quote(text)}")],
        [Reschedule()],
    )


@dataclass(frozen=True)
class AddOption:
    """`option` from a form: the option and its risk in fields of their own."""

    text: str
    risk: str | None = None

    @property
    def verb(self) -> str:
        return "option"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return add_option(inc, actor, self.text, self.risk, ctx)


@dataclass(frozen=True)
class Recommend:
    """`recommend` with the option picked from a select and the reason as typed."""

    number: int
    why: str

    @property
    def verb(self) -> str:
        return "recommend"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return recommend_option(inc, actor, self.number, self.why, ctx)


@dataclass(frozen=True)
class Choose:
    """`choose` with the option picked from a select."""

    number: int

    @property
    def verb(self) -> str:
        return "choose"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return choose_option(inc, actor, self.number, ctx)
