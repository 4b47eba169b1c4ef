"""What happens when a reminder comes due: the words, who hears them, and what it changes.

`playbook.domain.cadence` decides *when*; this module decides *what*. The scheduler claims a
reminder in the database and then calls `fire`, so everything returned here happens once per
reminder. A reminder that fires late (the process was down) says how late it is rather than
pretending.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from playbook.domain import cadence, windows
from playbook.domain.cadence import Reminder, ReminderKind, clock_start, next_update_due
from playbook.domain.model import (
    Incident,
    Outcome,
    Policy,
    Post,
    PromiseStatus,
    RefreshCard,
    Reschedule,
    Status,
    Target,
    TimelineEntry,
)
from playbook.domain.playbook_file import Playbook
from playbook.domain.steps import STEP_TITLES, outstanding
from playbook.domain.text import date_token, esc, fmt_duration, mention

# A reminder this much after its time was held up (downtime, a slow replica): say so.
LATE_NOTICE = timedelta(minutes=1)


def _who(inc: Incident) -> str:
    people = dict.fromkeys(u for u in (inc.communicator, inc.owner) if u)
    return " ".join(mention(u) for u in people) or "Nobody owns this yet (`/incident own`)."


def _late(reminder: Reminder, now: datetime) -> str:
    late = now - reminder.due_at
    if late < LATE_NOTICE:
        return ""
    return (f" _(This reminder is {fmt_duration(late)} late: the bot could not send it at its "
            "time.)_")


def _since_last(inc: Incident, now: datetime) -> str:
    start = clock_start(inc)
    if start is None:
        return ""
    if inc.updates and inc.updates[-1].at == start:
        return f"{fmt_duration(now - start)} since the last customer update"
    return f"{fmt_duration(now - start)} since the update interval was set, with no update yet"


def fire(incident: Incident, reminder: Reminder, now: datetime,
         policy: Policy) -> Outcome | None:
    """The outcome of one claimed reminder, or None if the state no longer calls for it.

    The words come from `policy.playbook` (the incident's own version): the team's reminder
    texts with the incident's details filled in.
    """
    playbook = policy.playbook
    inc = copy.deepcopy(incident)
    entries: list[TimelineEntry] = []
    effects: list = [RefreshCard()]
    late = _late(reminder, now)
    kind = reminder.kind

    def line(text: str) -> None:
        entries.append(TimelineEntry(now, kind.value, text))

    if kind is ReminderKind.NUDGE:
        due = next_update_due(inc)
        if due is None:
            return None
        inc.reminders_fired += 1
        line(playbook.reminder("nudge", key=inc.key, due=date_token(due), who=_who(inc)) + late)
    elif kind is ReminderKind.DUE:
        inc.reminders_fired += 1
        line(playbook.reminder("due", key=inc.key, since=_since_last(inc, now),
                               cadence=fmt_duration(inc.cadence or timedelta()),
                               who=_who(inc)) + late)
    elif kind is ReminderKind.ESCALATE:
        inc.escalations_fired += 1
        text = playbook.reminder(
            "escalate", key=inc.key, customer=esc(inc.customer), severity=inc.severity,
            since=_since_last(inc, now), cadence=fmt_duration(inc.cadence or timedelta()),
            owner=mention(inc.owner) if inc.owner else "nobody",
            communicator=mention(inc.communicator) if inc.communicator else "nobody") + late
        line(f"{text} Escalated to the owner and the leads.")
        if inc.owner:
            effects.append(Post(Target.OWNER, text))
        effects.append(Post(Target.LEADS, text))
    elif kind in (ReminderKind.PROMISE_SOON, ReminderKind.PROMISE_DUE):
        number = int(reminder.ref.lstrip("Pp") or 0)
        promise = next((p for p in inc.promises if p.number == number), None)
        if promise is None or promise.status is not PromiseStatus.OPEN:
            return None
        if kind is ReminderKind.PROMISE_SOON:
            inc.reminders_fired += 1
            text = playbook.reminder("promise_soon", promise=f"P{number}",
                                     customer=esc(inc.customer), due=date_token(promise.due_at),
                                     text=esc(promise.text)) + late
            effects.append(Post(Target.OWNER, text) if inc.owner else Post(Target.INCIDENT, text))
        else:
            promise.status, promise.settled_at = PromiseStatus.MISSED, now
            line(playbook.reminder("promise_missed", promise=f"P{number}",
                                   text=esc(promise.text), who=_who(inc)) + late)
    elif kind is ReminderKind.CHECKIN:
        number = int(reminder.ref.lstrip("Cc") or 0)
        checkin = next((c for c in inc.checkins if c.number == number), None)
        if checkin is None or checkin.done_at is not None:
            return None
        inc.reminders_fired += 1
        text = playbook.reminder("checkin", customer=esc(inc.customer), key=inc.key,
                                 number=str(number), count=str(len(inc.checkins)),
                                 checkin=f"C{number}") + late
        line(text)
        if inc.owner:
            effects.append(Post(Target.OWNER, text))
    elif kind is ReminderKind.OWNER_NAG:
        if inc.owner is not None or inc.status is not Status.OPEN:
            return None
        inc.reminders_fired += 1
        total = len({t for t in policy.owner_nags if t > timedelta(0)})
        text = _nobody_owns(inc, now)
        if reminder.ref != str(total):
            line(f"{text} _(reminder {reminder.ref} of {total})_{late}")
        else:
            line(f"{text}{late} {_tell_leads(inc, policy, text, effects)}")
    elif kind is ReminderKind.SNOOZE_END:
        number = int(reminder.ref.lstrip("Ss") or 0)
        snooze = next((sn for sn in inc.snoozes if sn.number == number), None)
        if snooze is None:
            return None
        parts = []
        due = next_update_due(inc)
        if due is not None and now > due and windows.is_open(inc.window, now):
            parts.append(f"The customer update is overdue (it was due {date_token(due)}): "
                         f"{_since_last(inc, now)}. {_who(inc)}: update the customer, then "
                         "`/incident update &lt;what you said&gt;`.")
        if inc.owner is None and inc.status is Status.OPEN and policy.owner_nags:
            parts.append(_nobody_owns(inc, now))
        if not parts:
            return None
        inc.reminders_fired += 1
        text = (f"⏰ The snooze {mention(snooze.by)} set ({_quote(snooze.reason)}) is over. "
                + " ".join(parts) + late)
        if inc.owner is None and _last_nag_was_snoozed(inc, policy, now):
            text += " " + _tell_leads(inc, policy, _nobody_owns(inc, now), effects)
        line(text)
    elif kind is ReminderKind.STALE:
        if inc.status is Status.CLOSED:
            return None
        inc.reminders_fired += 1
        quiet = fmt_duration(now - cadence.last_activity(inc))
        text = (f"💤 {inc.key} ({esc(inc.customer)}) has had no activity for {quiet}. "
                f"{_still_missing(inc, playbook)}{late}")
        line(f"{text} Owner: {mention(inc.owner) if inc.owner else 'nobody yet'}.")
        if inc.owner:
            effects.append(Post(Target.OWNER, text))
    elif kind in (ReminderKind.LEADER_ASK, ReminderKind.LEADER_DUE,
                  ReminderKind.LEADER_ESCALATE):
        if (inc.leader_call_at is not None or inc.leader_call_due_at is None
                or inc.status is Status.CLOSED):
            return None
        inc.reminders_fired += 1
        text = _leader_text(inc, kind, now) + late
        if kind is ReminderKind.LEADER_ESCALATE:
            inc.escalations_fired += 1
            line(f"{text} Escalated to the leads channel.")
            effects.append(Post(Target.LEADS, text))
        else:
            line(f"{text} Asked the leads by DM.")
            effects.append(Post(Target.LEAD_DMS, text))
    else:  # pragma: no cover - a new kind must be handled above
        raise ValueError(f"unknown reminder kind {kind}")
    effects.append(Reschedule())
    return Outcome(incident=inc, reply="", timeline=entries, effects=effects)


def _leader_text(inc: Incident, kind: ReminderKind, now: datetime) -> str:
    """The leader-call ask, reminder or escalation (our words; the customer's name escaped)."""
    due = inc.leader_call_due_at
    assert due is not None
    about = f"{inc.key} ({esc(inc.customer)}, {inc.severity})"
    record = "When you have, `/incident leader-call &lt;what you told them&gt;`."
    if kind is ReminderKind.LEADER_ASK:
        return (f"📞 {about} needs a lead to contact the customer personally by "
                f"{date_token(due)}: hearing from someone in charge tells them this has our "
                f"full attention. You don't need the details, the owner "
                f"({mention(inc.owner) if inc.owner else 'nobody yet'}) has them. {record}")
    if kind is ReminderKind.LEADER_DUE:
        return (f"📞 The leader call for {about} is due now and no lead has recorded one. "
                f"Please contact the customer personally. {record}")
    return (f"🚨 {about}: no lead has contacted the customer personally, "
            f"{fmt_duration(now - due)} after it was due. {record}")


def _quote(text: str) -> str:
    return f"“{esc(text)}”"


def _nobody_owns(inc: Incident, now: datetime) -> str:
    return (f"👋 Nobody owns {inc.key} ({esc(inc.customer)}, {inc.severity}) yet, "
            f"{fmt_duration(now - inc.opened_at)} after it was opened. One person should answer "
            "for it: `/incident own` (or *Take ownership* on the card).")


def _tell_leads(inc: Incident, policy: Policy, text: str, effects: list) -> str:
    """Escalate "nobody owns it" to the leads channel; say plainly when there is none."""
    if policy.has_leads_channel:
        effects.append(Post(Target.LEADS, text))
        return "I've told the leads channel."
    return ("No leads channel is configured (`CRISISBOT_LEADS_CHANNEL`), so only this channel "
            "hears about it.")


def _last_nag_was_snoozed(inc: Incident, policy: Policy, now: datetime) -> bool:
    """The final nag (the one that tells the leads) fell inside a snooze and is past."""
    times = sorted(t for t in policy.owner_nags if t > timedelta(0))
    if not times:
        return False
    last = inc.opened_at + times[-1]
    return last <= now and any(sn.at <= last < sn.until for sn in inc.snoozes)


STALE_ITEMS_SHOWN = 6


def _still_missing(inc: Incident, playbook: Playbook) -> str:
    """What the incident still needs, with the command for each (what close waits for)."""
    gaps = outstanding(inc, playbook)
    if not gaps:
        return "Every step is done: the owner or a lead can `/incident close`."
    shown = "; ".join(f"{STEP_TITLES[step]}: {esc(item.label.lower())} ({item.how})"
                      for step, item in gaps[:STALE_ITEMS_SHOWN])
    more = f"; and {len(gaps) - STALE_ITEMS_SHOWN} more" if len(gaps) > STALE_ITEMS_SHOWN else ""
    then = " Then `/incident close`." if inc.status is Status.RESOLVED else ""
    return f"Still missing: {shown}{more}.{then}"
