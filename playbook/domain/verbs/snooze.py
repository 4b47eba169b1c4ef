"""Snoozing the chasing reminders: "we know, we're on a call with them, remind us in 30 min".

Rules (README "Reminders"): anyone in the incident channel may snooze, for 1 minute to
`MAX_SNOOZE`, and must say why; the snooze and its reason go on the timeline and into the
summary. A snooze quiets the reminders that chase the team (the update due and its
escalations, the "nobody owns it" nags) until it ends, then the reminder comes back if it is
still needed (`playbook.domain.cadence` SNOOZE_END). It never touches promises, check-ins or stale
nudges, and it changes nothing in cadence adherence: the customer still waited. Snoozing when
nothing is chasing is refused, so a snooze always means something on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from playbook.domain import cadence, parse
from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.model import Actor, Incident, Reschedule, Snooze, TimelineEntry
from playbook.domain.text import date_token, esc, fmt_duration, mention, plain
from playbook.domain.verbs.base import Ctx, Result

__all__ = ["CHOICES", "MAX_SNOOZE", "MIN_SNOOZE", "SnoozeFor", "parse_snooze", "snooze",
           "snooze_for"]

CHOICES: tuple[int, ...] = (15, 30, 60)  # minutes offered on reminder buttons
MIN_SNOOZE = timedelta(minutes=1)
MAX_SNOOZE = timedelta(hours=4)
USAGE = "`/incident snooze 30m &lt;why&gt;`, e.g. `/incident snooze 30m on a call with them`"
_ABOUT = {"update": "the overdue customer update", "owner": "the missing owner"}


def parse_snooze(arg: str) -> tuple[timedelta, str]:
    """``30m <reason>`` (any `parse.parse_duration` form of up to three words first)."""
    words = plain(arg).split()
    if not words:
        raise ParseError(f"Say for how long and why: {USAGE}.")
    for n in (3, 2, 1):
        if n > len(words):
            continue
        try:
            duration = parse.parse_duration(" ".join(words[:n]))
        except ParseError:
            continue
        return duration, " ".join(words[n:])
    raise ParseError(f"Start with how long to snooze, like `15m`, `30m` or `1h`: {USAGE}.")


def snooze(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    duration, reason = parse_snooze(arg)
    return snooze_for(inc, actor, duration, reason, ctx)


def snooze_for(inc: Incident, actor: Actor, duration: timedelta | None, reason: str,
               ctx: Ctx) -> Result:
    """Quiet what is chasing for `duration` (None: not picked); the reason is required."""
    if duration is None:
        raise ParseError(f"Start with how long to snooze, like `15m`, `30m` or `1h`: {USAGE}.")
    reason = " ".join(reason.split())
    if not MIN_SNOOZE <= duration <= MAX_SNOOZE:
        raise ParseError(f"A snooze lasts from 1 minute to {fmt_duration(MAX_SNOOZE)} "
                         f"(you asked for {fmt_duration(duration)}): {USAGE}.")
    if not reason.strip():
        raise ParseError(f"Say why you are snoozing, so the timeline shows it: {USAGE}.")
    about = cadence.chasing(inc, ctx.policy, ctx.now)
    if not about:
        due = cadence.next_update_due(inc)
        when = f" The next update is due {date_token(due)}." if due else ""
        raise PlaybookError(f"Nothing to snooze: no update is overdue and {inc.key} has an "
                            f"owner.{when}")
    until = ctx.now + duration
    inc.snoozes.append(Snooze(len(inc.snoozes) + 1, ctx.now, until, actor.user_id, reason))
    what = " and ".join(_ABOUT[a] for a in about)
    return Result(
        f"Snoozed the reminders about {what} until {date_token(until)}. They come back then "
        "if still needed.",
        [TimelineEntry(ctx.now, "snooze",
                       f"💤 {mention(actor.user_id)} snoozed the reminders about {what} for "
                       f"{fmt_duration(duration)}, until {date_token(until)}: “{esc(reason)}”",
                       actor.user_id)],
        [Reschedule()],
    )


@dataclass(frozen=True)
class SnoozeFor:
    """`snooze` from a form: the length picked from a select, the reason as typed."""

    duration: timedelta | None
    reason: str

    @property
    def verb(self) -> str:
        return "snooze"

    def apply(self, inc: Incident, actor: Actor, ctx: Ctx) -> Result:
        return snooze_for(inc, actor, self.duration, self.reason, ctx)
