"""A leader reaches out: for the top severity a lead contacts the customer personally.

Hearing from someone in charge tells a customer in crisis that the problem has the company's
full attention. `ask` sets when that call is due (at open, or when the severity is raised to a
level that asks for one); the reminders (`playbook.domain.cadence`, kinds ``leader-*``) ask the
leads, remind them at the due time and escalate after the grace, until `leader_call` records it.
"""

from __future__ import annotations

from datetime import datetime

from playbook.domain.errors import PermissionDenied, PlaybookError
from playbook.domain.model import Actor, Incident, Policy, Reschedule
from playbook.domain.text import date_token, mention
from playbook.domain.verbs.base import Ctx, Result, line, quote, required

__all__ = ["ask", "leader_call"]


def ask(inc: Incident, policy: Policy, now: datetime) -> bool:
    """Set (or clear) the leader call for the incident's current severity; True if it changed.

    Only while no lead has called yet: a call made stays recorded whatever happens next. A
    severity that asks for none clears an open ask; one that asks keeps an ask already running.
    """
    if inc.leader_call_at is not None:
        return False
    within = policy.leader_call_within(inc.severity)
    if within is None:
        changed = inc.leader_call_due_at is not None
        inc.leader_call_asked_at = inc.leader_call_due_at = None
        return changed
    if inc.leader_call_due_at is not None:
        return False
    inc.leader_call_asked_at, inc.leader_call_due_at = now, now + within
    return True


def leader_call(inc: Incident, actor: Actor, text: str, ctx: Ctx) -> Result:
    """A lead records having contacted the customer personally (leads only)."""
    note = required(text, "what you told the customer",
                    "`/incident leader-call &lt;what you told them&gt;`")
    if not actor.is_lead:
        raise PermissionDenied(
            "Only a lead can record a leader call: it stands for someone in charge speaking "
            "to the customer personally. Ask a lead to call them, then to run "
            "`/incident leader-call &lt;what they told them&gt;`.")
    if inc.leader_call_at is not None:
        raise PlaybookError(
            f"{mention(inc.leader_call_by)} already contacted the customer "
            f"({date_token(inc.leader_call_at)}). `/incident note &lt;what happened&gt;` adds "
            "another call to the timeline.")
    inc.leader_call_at, inc.leader_call_by, inc.leader_call_note = ctx.now, actor.user_id, note
    return Result(
        "Recorded your call to the customer. Thank you: the leads' reminders for it stop.",
        [line(ctx, actor, "leader-call",
              f"📞 {mention(actor.user_id)} (lead) contacted the customer personally: "
              f"{quote(note)}")],
        [Reschedule()],
    )
