"""What happens when a reminder comes due: the words, who hears them, and what it changes.

`playbook.cadence` decides *when*; this module decides *what*. The scheduler claims a reminder
in the database and then calls `fire`, so everything returned here happens once per reminder.
A reminder that fires late (the process was down) says how late it is rather than pretending.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from playbook.cadence import Reminder, ReminderKind, clock_start, next_update_due
from playbook.model import (
    Incident,
    Outcome,
    Post,
    PromiseStatus,
    RefreshCard,
    Reschedule,
    Target,
    TimelineEntry,
)
from playbook.playbook_file import Playbook
from playbook.text import date_token, esc, fmt_duration, mention

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
         playbook: Playbook) -> Outcome | None:
    """The outcome of one claimed reminder, or None if the state no longer calls for it.

    The words come from `playbook` (the incident's own version): the team's reminder texts with
    the incident's details filled in.
    """
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
    else:  # pragma: no cover - a new kind must be handled above
        raise ValueError(f"unknown reminder kind {kind}")
    effects.append(Reschedule())
    return Outcome(incident=inc, reply="", timeline=entries, effects=effects)
