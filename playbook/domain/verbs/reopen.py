"""Reopening a closed incident: `/incident reopen <why>`.

For a crisis that came back (owner or lead, reason required): the fix did not hold, or the
customer is still affected. The incident returns to *Solve* (a new resolution is needed and the
customer must be told again), the earlier period's resolution is kept on the `Reopening`, and
the cadence clock restarts from the reopen time: the time the incident spent closed is not an
update we owed, so figures skip it (`playbook.domain.periods`).
"""

from __future__ import annotations

from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.model import (
    Actor,
    CadenceChange,
    Incident,
    Post,
    RefreshCard,
    ReopenChannel,
    Reopening,
    Reschedule,
    Status,
    Step,
    Target,
    TimelineEntry,
)
from playbook.domain.text import esc, mention, plain
from playbook.domain.verbs.base import Ctx, Result, owner_or_lead

__all__ = ["REASON_MAX", "reopen"]

REASON_MAX = 2000
_SOLVED_AGAIN = (Step.SOLVE, Step.FOLLOW_UP)


def reopen(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    """Reopen a closed incident: back to Solve, clock restarted, channel and card back."""
    reason = plain(arg).strip()
    if inc.status is not Status.CLOSED:
        raise PlaybookError(f"{inc.key} is not closed ({inc.status.value}), so there is nothing "
                            "to reopen; carry on in this channel.")
    owner_or_lead(inc, actor, "reopen")
    if not reason:
        raise ParseError("Say why it is reopened: `/incident reopen &lt;what came back&gt;`.")
    if len(reason) > REASON_MAX:
        raise ParseError(f"Keep the reason under {REASON_MAX} characters.")
    assert inc.closed_at is not None
    inc.reopenings.append(Reopening(
        number=len(inc.reopenings) + 1, at=ctx.now, by=actor.user_id, reason=reason,
        closed_at=inc.closed_at, resolved_at=inc.resolved_at,
        customer_informed_at=inc.customer_informed_at, resolution=inc.resolution))
    inc.status, inc.closed_at = Status.OPEN, None
    inc.resolution = inc.resolved_at = inc.customer_informed_at = None
    inc.steps = [r for r in inc.steps if r.step not in _SOLVED_AGAIN]
    if inc.step_record(Step.OWN) is not None:
        inc.step = Step.SOLVE
    else:  # closed past earlier steps by skips that were undone? resume at the first open one
        inc.step = next(s for s in Step if inc.step_record(s) is None)
    interval = inc.cadence or ctx.policy.default_cadence(inc.severity)
    window = inc.cadence_changes[-1].window if inc.cadence_changes else None
    inc.cadence_changes.append(CadenceChange(ctx.now, interval, agreed=inc.cadence_agreed,
                                             by=actor.user_id, window=window))
    n = len(inc.reopenings)
    line = (f"🔁 {mention(actor.user_id)} reopened {inc.key} (reopening {n}): “{esc(reason)}”. "
            "Back to *Solve*: record the new resolution, then tell the customer.")
    return Result(
        f"Reopened {inc.key}. The card is back and the update clock restarted now.",
        [TimelineEntry(ctx.now, "reopen", line, actor.user_id)],
        [ReopenChannel(), RefreshCard(), Reschedule(),
         Post(Target.LEADS, f"🔁 {mention(actor.user_id)} reopened {inc.key} "
                            f"({esc(inc.customer)}): “{esc(reason)}”")],
    )
