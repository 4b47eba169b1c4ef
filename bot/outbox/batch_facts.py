"""What the outbox reads once per claimed batch instead of once per row.

Every row that writes to an incident's channel first asks whether the bot can still post there,
and every card refresh asks whether the incident is attached to an outage (whose card shows
it too). In a burst of reminders that was two extra queries per row. The worker reads both for
the whole batch in the transaction that claims it; the rows then consult these facts.

They are as fresh as the claim: a channel lost while the batch runs is found out by the next
call that fails (`bot.outbox.lifecycle.lost_by_error`), exactly as with a read per row a moment
later.
Anything in this thread that records a channel change calls `forget()`, so the rest of the
batch reads again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from playbook.domain.model import Incident
from playbook.store import lifecycle as lifecycle_store
from playbook.store import outages as outage_store


@dataclass(frozen=True)
class Facts:
    channels: frozenset[str]  # the channels asked about
    lost: frozenset[str]  # of those, the ones the bot can't post in
    incidents: frozenset[int]  # the incidents asked about
    in_outages: frozenset[int]  # of those, the ones attached to an outage

    @classmethod
    def read(cls, session: Session, incidents: Iterable[Incident]) -> Facts:
        incs = list(incidents)
        channels = frozenset(i.channel_id for i in incs if i.channel_id)
        ids = frozenset(i.id for i in incs if i.id is not None)
        return cls(channels, frozenset(lifecycle_store.lost_channels(session, channels)),
                   ids, frozenset(outage_store.outage_ids_of(session, ids)))


class BatchFacts(threading.local):
    """The current batch's facts, per outbox thread; None outside a batch (read per row)."""

    current: Facts | None = None

    def usable(self, channel_id: str) -> bool | None:
        """Whether the bot can post in `channel_id`; None: not known, ask the database."""
        facts = self.current
        if facts is None or channel_id not in facts.channels:
            return None
        return channel_id not in facts.lost

    def in_outage(self, incident_id: int) -> bool | None:
        """Whether the incident is attached to an outage; None: not known, ask the database."""
        facts = self.current
        if facts is None or incident_id not in facts.incidents:
            return None
        return incident_id in facts.in_outages

    def forget(self) -> None:
        self.current = None
