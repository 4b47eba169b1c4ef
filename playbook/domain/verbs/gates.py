"""The playbook's gates and levels: closing, skipping a step, the severity, the team's own items.

Closing and skipping take the owner or a lead; both leave their reason where the summary shows
it.
"""

from __future__ import annotations

from playbook.domain.errors import GateError, NotFound, ParseError, PlaybookError
from playbook.domain.model import (
    Actor,
    CadenceChange,
    Effect,
    Incident,
    Post,
    PostSummary,
    Reschedule,
    Status,
    Target,
)
from playbook.domain.steps import STEP_TITLES, all_complete, outstanding, skip_current
from playbook.domain.text import date_token, esc, mention, plain
from playbook.domain.verbs.base import Ctx, Result, line, owner_or_lead, quote, required
from playbook.domain.verbs.leader import ask as ask_leader_call

__all__ = ["check", "close", "severity", "skip"]


def close(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    owner_or_lead(inc, actor, "close")
    if not all_complete(inc):
        gaps = "\n".join(
            f"• {STEP_TITLES[step]}: {esc(item.label.lower())}: {item.how}"
            for step, item in outstanding(inc, ctx.policy.playbook)
        )
        raise GateError(
            f"{inc.key} can't be closed yet. Still missing:\n{gaps}\n"
            "The owner or a lead can skip a step with `/incident skip &lt;why&gt;`."
        )
    inc.status, inc.closed_at = Status.CLOSED, ctx.now
    return Result(
        f"Closed {inc.key}. The summary is posted here and to the leads.",
        [line(ctx, actor, "close", f"{mention(actor.user_id)} closed {inc.key}.")],
        [Reschedule(), PostSummary(Target.INCIDENT), PostSummary(Target.LEADS)],
    )


def skip(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    reason = required(text, "why the step is skipped", "`/incident skip &lt;why&gt;`")
    owner_or_lead(inc, actor, "skip a step of")
    if all_complete(inc):
        raise PlaybookError("Every step is already complete; nothing to skip.")
    skipped = skip_current(inc, ctx.now, actor.user_id, reason)
    title = STEP_TITLES[skipped]
    return Result(
        f"Skipped *{title}*. The reason goes into the summary.",
        [
            line(
                ctx,
                actor,
                "skip",
                f"{mention(actor.user_id)} skipped *{title}* without its "
                f"criteria: {quote(reason)}",
            )
        ],
    )


def severity(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    level = arg.strip().lower()
    known = ctx.policy.playbook.severity(level)
    if known is None:
        names = ", ".join(f"`{s}`" for s in ctx.policy.playbook.severity_names)
        raise ParseError(f"Use one of {names}, e.g. `/incident severity sev1`.")
    if level == inc.severity:
        raise PlaybookError(f"{inc.key} is already {level}.")
    raised = level < inc.severity  # sev1 is the most severe
    inc.severity = level
    effects: list[Effect] = []
    if not inc.cadence_agreed:
        interval = ctx.policy.default_cadence(level)
        inc.cadence_changes.append(CadenceChange(ctx.now, interval, agreed=False, by=actor.user_id))
        effects.append(Reschedule())
    call = ""
    if ask_leader_call(inc, ctx.policy, ctx.now):
        effects.append(Reschedule())
        if inc.leader_call_due_at is not None:
            call = (f" At {level} a lead should contact the customer personally by "
                    f"{date_token(inc.leader_call_due_at)}: I'm asking the leads.")
    verb = "raised" if raised else "lowered"
    if raised:
        effects.append(
            Post(
                Target.LEADS,
                f"{mention(actor.user_id)} raised {inc.key} "
                f"({esc(inc.customer)}) to {level}: {esc(known.description)}.",
            )
        )
    return Result(
        f"Severity {verb} to {level}.{call}",
        [line(ctx, actor, "severity", f"{mention(actor.user_id)} {verb} severity to {level}.")],
        effects,
    )


def check(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    """Tick an item the team's playbook added (with its typed value when it asks for one)."""
    playbook = ctx.policy.playbook
    key, _, rest = plain(arg).strip().partition(" ")
    key, value = key.lower(), rest.strip()
    ours = ", ".join(f"`{i.key}`" for i in playbook.custom_items)
    if not key:
        raise ParseError(
            f"Say which item: `/incident check &lt;item&gt; [value]`. This playbook's: {ours}."
            if ours else "This incident's playbook has no items to tick with `check`."
        )
    found = playbook.item(key)
    if found is None:
        where = f"Items you can tick here: {ours}." if ours else \
            "This incident's playbook has no items to tick with `check`."
        raise NotFound(f"There is no checklist item `{esc(key[:30])}`. {where}")
    step, item = found
    if item.builtin:
        raise ParseError(f"*{esc(item.label)}* is recorded with {item.how}.")
    if item.value and not value:
        raise ParseError(f"*{esc(item.label)}* needs a value: `/incident check {item.key} "
                         "&lt;value&gt;`.")
    again = item.key in inc.checks
    inc.checks[item.key] = value
    shown = f": {quote(value)}" if value else ""
    return Result(
        f"{'Updated' if again else 'Ticked'} *{esc(item.label)}* ({STEP_TITLES[step]}){shown}.",
        [line(ctx, actor, "check",
              f"{mention(actor.user_id)} ticked *{esc(item.label)}*{shown}")],
    )
