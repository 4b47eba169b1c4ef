"""Solve: the options and their risks, our recommendation, the customer's choice, the fix.

The form's fields and selects arrive as values (`AddOption`, `Recommend`, `Choose`); typed text
is read by the parsers into the same values first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playbook.domain import parse
from playbook.domain.errors import GateError, NotFound, ParseError, PlaybookError
from playbook.domain.model import Actor, Checkin, Incident, Option, Reschedule, Status
from playbook.domain.parse.common import code
from playbook.domain.parse.phrases import OPTION_USAGE
from playbook.domain.text import date_token, esc, mention, plain
from playbook.domain.verbs.base import Ctx, Result, line, owner_or_lead, quote, required

__all__ = ["AddOption", "Choose", "Recommend", "add_option", "choose", "choose_option", "option",
           "recommend", "recommend_option", "relief", "resolve", "risk"]

# `option relief: <text>` marks relief (stops the pain now); `fix:` (or nothing) a fix
_KIND_PREFIX = re.compile(r"\s*(relief|fix)\s*:\s*", re.IGNORECASE)
# `recommend <n> <why> skip: <reason>`: recommend an option with no stated risk anyway
_SKIP = re.compile(r"\s+skip\s*:\s*", re.IGNORECASE)


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
    kind = _KIND_PREFIX.match(text)
    is_relief = kind is not None and kind.group(1).lower() == "relief"
    if kind is not None:
        text = text[kind.end():]
    return add_option(inc, actor, text, risk, ctx, relief=is_relief)


def add_option(inc: Incident, actor: Actor, text: str, risk: str | None, ctx: Ctx, *,
               relief: bool = False) -> Result:
    """An option and its risk (None or empty: none named); the option itself is required.

    `relief`: it stops the pain now rather than removing the cause (the lasting fix).
    """
    text, risk = text.strip(), (risk or "").strip() or None
    if not text:
        where = " before its risk" if risk else ""
        raise ParseError(f"Describe the option{where}: {OPTION_USAGE}.")
    number = len(inc.options) + 1
    inc.options.append(Option(number, text, risk, actor.user_id, ctx.now, relief=relief))
    risk_text = f" (risk: {esc(risk)})" if risk else ""
    kind = "relief" if relief else "fix"
    ask = "" if risk else (f" What could go wrong with it? `/incident risk {number} "
                           "&lt;the risk&gt;` records it before anyone recommends it.")
    return Result(
        f"Added option {number} ({kind}).{ask}",
        [
            line(
                ctx,
                actor,
                "option",
                f"{mention(actor.user_id)} added option {number} ({kind}): "
                f"{quote(text)}{risk_text}",
            )
        ],
    )


def risk(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    """State (or restate) what could go wrong with option `n`."""
    n, text = parse.parse_numbered(plain(arg), "option")
    text = required(text, "what could go wrong", "`/incident risk &lt;n&gt; &lt;the risk&gt;`")
    chosen = _option(inc, n)
    chosen.risk = text
    return Result(
        f"Recorded the risk of option {n}.",
        [line(ctx, actor, "risk",
              f"{mention(actor.user_id)} named the risk of option {n}: {quote(text)}")],
    )


def recommend(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    n, why = parse.parse_numbered(plain(arg), "option")
    parts = _SKIP.split(why, maxsplit=1)
    skip = parts[1].strip() if len(parts) == 2 else None
    if skip == "":
        raise ParseError("Say why it is recommended without a stated risk after `skip:`: "
                         f"{code('recommend <n> <why> skip: <reason>')}.")
    return recommend_option(inc, actor, n, parts[0], ctx, skip_reason=skip)


def recommend_option(inc: Incident, actor: Actor, n: int, why: str, ctx: Ctx, *,
                     skip_reason: str | None = None) -> Result:
    """Option `n` as ours; the reason is required, since the customer weighs it.

    An option with no stated risk is refused: being honest about what could go wrong is part
    of recommending it. The owner or a lead may pass that gate with a reason (`skip_reason`),
    which goes on the timeline like a skipped step's.
    """
    why = why.strip()
    if not why:
        raise ParseError(f"Give the reason after the number: {code('recommend <n> <why>')}.")
    chosen = _option(inc, n)
    if chosen.risk is None and skip_reason is None:
        raise GateError(
            f"Option {n} has no stated risk yet. Before recommending it, what could go wrong "
            f"with it, and what would we watch for? Add it with `/incident risk {n} "
            "&lt;the risk&gt;` (or add the option again with `risk: …`). If there truly is none "
            "worth naming, the owner or a lead can go ahead: `/incident recommend "
            f"{n} &lt;why&gt; skip: &lt;reason&gt;`."
        )
    if chosen.risk is None:
        owner_or_lead(inc, actor, "recommend an option with no stated risk for")
    inc.recommended, inc.recommend_why = chosen.number, why
    skipped = (f" It has no stated risk: {mention(actor.user_id)} went ahead because "
               f"{quote(skip_reason)}." if skip_reason and chosen.risk is None else "")
    return Result(
        f"Recorded option {n} as our recommendation.",
        [
            line(
                ctx,
                actor,
                "recommend",
                f"{mention(actor.user_id)} recommends option {n}: "
                f"{quote(chosen.text)}, because {quote(why)}{skipped}",
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
    earlier = ("" if inc.relief_at is not None else
               " If the customer had relief earlier (the pain stopped before this fix), record "
               "when with `/incident relief &lt;what stopped it&gt;`: time to relief counts too.")
    return Result(
        "Marked resolved. Now tell the customer, then log it: "
        f"`/incident update &lt;what you said&gt;`.{earlier}",
        [line(ctx, actor, "resolve", f"{mention(actor.user_id)} resolved it: {quote(text)}")],
        [Reschedule()],
    )


def relief(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    """Immediate relief reached the customer: the pain stopped, the lasting fix still to come."""
    text = required(text, "what stopped the pain",
                    "`/incident relief &lt;what stopped the pain&gt;`")
    if inc.relief_at is not None:
        raise PlaybookError(
            f"Relief is already recorded ({date_token(inc.relief_at)}): {quote(inc.relief or '')}."
            " To add to it: `/incident note &lt;what happened&gt;`.")
    if inc.resolved_at is not None:
        raise PlaybookError(
            f"{inc.key} is already resolved ({date_token(inc.resolved_at)}): the lasting fix is "
            "in place. `/incident note &lt;what happened&gt;` adds a line to the timeline.")
    inc.relief, inc.relief_at, inc.relief_by = text, ctx.now, actor.user_id
    return Result(
        "Recorded that the customer has relief. Keep working on the lasting fix; "
        "`/incident resolve &lt;what fixed it&gt;` records it.",
        [line(ctx, actor, "relief",
              f"{mention(actor.user_id)}: the customer has relief: {quote(text)}")],
    )


@dataclass(frozen=True)
class AddOption:
    """`option` from a form: the option, its risk and whether it is relief or a fix."""

    text: str
    risk: str | None = None
    relief: bool = False

    @property
    def verb(self) -> str:
        return "option"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return add_option(inc, actor, self.text, self.risk, ctx, relief=self.relief)


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
