"""Pruning what is only history: finished outbox rows, the ids of handled Slack events and
done intake rows.

Both tables take a row for nearly everything the bot does and nothing ever read the old ones
again, so they grew for ever. A row goes once it is older than the retention period and:

* outbox: finished (done or failed) and not leased. Pending rows are never touched (they are
  what was acknowledged and not carried out yet), nor a row a worker still holds a lease on.
  Finished rows are not needed by any chain: a row waits only for earlier *open* rows of its
  incident (playbook/store/outbox.py), so removing done ones changes no order.
* handled events: Slack retries an event within minutes and a form's key is resubmitted within
  seconds, so an id remembered for the retention period (at least an hour) has done its job.
* intake (playbook/store/intake.py): a raw command done for a day (`INTAKE_KEEP`), whatever the
  retention period: the incident it opened, or the refusal told, is the record. Pending ones
  are never touched.

Each call removes at most `batch` rows per table, oldest first, by primary key: the caller
commits after every batch, so a big backlog is cleared in many short transactions and never
holds the write lock (SQLite) or many row locks (PostgreSQL) for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from playbook.store.intake import IntakeRow
from playbook.store.tables import HandledEventRow, OutboxRow

__all__ = ["INTAKE_KEEP", "PRUNE_BATCH", "Pruned", "prune_batch"]

PRUNE_BATCH = 1000
"""Rows per table per transaction."""

INTAKE_KEEP = timedelta(days=1)
"""How long a done intake row is kept (for whoever looks into what happened in a burst)."""


@dataclass(frozen=True)
class Pruned:
    outbox: int = 0
    events: int = 0
    intake: int = 0

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(self.outbox + other.outbox, self.events + other.events,
                      self.intake + other.intake)

    @property
    def total(self) -> int:
        return self.outbox + self.events + self.intake


def prune_batch(session: Session, *, before: datetime, now: datetime,
                batch: int = PRUNE_BATCH) -> Pruned:
    """Delete up to `batch` finished outbox rows and `batch` handled event ids older than
    `before`, and `batch` intake rows done before `now - INTAKE_KEEP` (the caller commits).
    Fewer than `batch` of each means the backlog is gone."""
    o = OutboxRow.__table__
    finished = or_(o.c.done_at < before, o.c.failed_at < before)
    unleased = or_(o.c.claimed_until.is_(None), o.c.claimed_until < now)
    ids = list(session.scalars(select(o.c.id).where(and_(finished, unleased))
                               .order_by(o.c.id).limit(batch)))
    outbox = 0
    if ids:
        outbox = session.execute(delete(o).where(o.c.id.in_(ids), finished, unleased)).rowcount
    e = HandledEventRow.__table__
    events_ids = list(session.scalars(select(e.c.event_id).where(e.c.seen_at < before)
                                      .order_by(e.c.seen_at).limit(batch)))
    events = 0
    if events_ids:
        events = session.execute(delete(e).where(e.c.event_id.in_(events_ids),
                                                 e.c.seen_at < before)).rowcount
    i = IntakeRow.__table__
    done = i.c.done_at < now - INTAKE_KEEP  # NULL (pending) is never older than anything
    intake_ids = list(session.scalars(select(i.c.id).where(done).order_by(i.c.id).limit(batch)))
    intake = 0
    if intake_ids:
        intake = session.execute(delete(i).where(i.c.id.in_(intake_ids), done)).rowcount
    return Pruned(outbox, events, intake)
