"""Verbs that only read: where the incident stands, and the summary so far."""

from __future__ import annotations

from playbook.domain import cadence
from playbook.domain.model import Actor, Incident, PostSummary, Target
from playbook.domain.steps import next_missing
from playbook.domain.text import date_token, esc, fmt_duration, mention
from playbook.domain.verbs.base import Ctx, Result

__all__ = ["status", "status_text", "summary"]


def status_text(inc: Incident, ctx: Ctx) -> str:
    lines = [
        f"*{inc.key}* · {esc(inc.customer)} · {inc.severity} · {inc.status.value}",
        next_missing(inc, ctx.policy.playbook),
    ]
    lines.append(
        f"Owner: {mention(inc.owner) if inc.owner else 'nobody yet'} · "
        f"Communicator: {mention(inc.communicator) if inc.communicator else 'nobody yet'}"
    )
    if inc.cadence:
        due = cadence.next_update_due(inc)
        agreed = "agreed" if inc.cadence_agreed else "default until the customer agrees one"
        when = ""
        if due:
            late = cadence.overdue_by(inc, ctx.now)
            when = (
                f" · update *overdue by {fmt_duration(late)}*"
                if late
                else f" · next update due {date_token(due)}"
            )
        lines.append(f"Cadence: every {fmt_duration(inc.cadence)} ({agreed}){when}")
    open_promises = [p for p in inc.promises if p.status.value == "open"]
    for p in open_promises:
        lines.append(f"P{p.number}: {esc(p.text)} by {date_token(p.due_at)}")
    return "\n".join(lines)


def status(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    return Result(status_text(inc, ctx))


def summary(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    return Result("Posting the summary in the channel.", [], [PostSummary(Target.INCIDENT)])
