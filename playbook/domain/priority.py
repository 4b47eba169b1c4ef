"""Who waits for whom among the bot's Slack side effects: one priority per outbox row kind.

Why one map, here: the same order decides two things that must agree. The outbox claims its
rows in this order (playbook/store/outbox.py sets each row's priority as it is queued, and the
claims take heads lowest first), and the Slack call scheduler shares each rate-limited bucket
by it (bot/slack/pacing.py). Two copies would drift: a kind could be claimed first and then
wait behind cards for its bucket, or the reverse.

The order (lower goes first): replies to a person and reminders/escalations; customer updates
and outage drafts; channels, invites and pins; card refreshes (coalesced: only the latest
state matters); topics and bookmarks. A kind missing from the map is treated as MEMBERS:
real work, never ahead of a person.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = ["DEFAULT_PRIORITY", "KIND_PRIORITY", "Priority", "priority_of"]


class Priority(IntEnum):
    """Who waits for whom: a lower number goes first (also the value stored per outbox row)."""

    PERSON = 0    # a reply to a person, a reminder, an escalation
    CUSTOMER = 1  # customer updates, outage drafts
    MEMBERS = 2   # channels, invites, pins
    CARD = 3      # card refreshes (coalesced: the latest state wins)
    COSMETIC = 4  # topics, bookmarks


# The priority of each outbox row kind (the handlers: bot/outbox/runner.py, bot/outbox/card.py
# for "home", bot/outbox/outages.py for "outage_*").
KIND_PRIORITY: Final[dict[str, Priority]] = {
    "tell": Priority.PERSON, "timeline": Priority.PERSON, "post": Priority.PERSON,
    "capture": Priority.PERSON, "recurrence": Priority.PERSON, "summary": Priority.PERSON,
    "resolve_prompt": Priority.PERSON, "channel_lost": Priority.PERSON,
    "channel_back": Priority.PERSON, "brief": Priority.PERSON,
    "leads_channel": Priority.PERSON,  # an admin waits for the outcome of their change
    "draft": Priority.CUSTOMER, "draft_settled": Priority.CUSTOMER,
    "email": Priority.CUSTOMER, "outage_post": Priority.CUSTOMER,
    "create_channel": Priority.MEMBERS, "invite": Priority.MEMBERS,
    "reopen_channel": Priority.MEMBERS, "outage_open": Priority.MEMBERS,
    "refresh_card": Priority.CARD, "outage_card": Priority.CARD, "home": Priority.CARD,
    "bookmark": Priority.COSMETIC,
}
# A kind not in the map: real work, behind people and customers.
DEFAULT_PRIORITY: Final = Priority.MEMBERS


def priority_of(kind: str | None) -> Priority:
    """The priority of an outbox row kind (no row at all: a person is waiting)."""
    if kind is None:
        return Priority.PERSON
    return KIND_PRIORITY.get(kind, DEFAULT_PRIORITY)
