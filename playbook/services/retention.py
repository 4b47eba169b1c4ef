"""Use case: prune finished outbox rows and handled event ids past the retention period, and
intake rows done for a day.

One transaction per batch (`store.retention.prune_batch`), so a table with millions of old rows
is cleared in many short transactions between which commands and the outbox go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from playbook.store import retention
from playbook.store.retention import Pruned

__all__ = ["RetentionService"]

log = logging.getLogger(__name__)


class RetentionService:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 keep: timedelta, *, batch: int = retention.PRUNE_BATCH) -> None:
        self.sessions = sessions
        self.clock = clock
        self.keep = keep
        self.batch = batch

    def prune(self, *, max_batches: int = 10_000) -> Pruned:
        """Prune everything older than the retention period, a batch per transaction."""
        total = Pruned()
        for _ in range(max_batches):
            now = self.clock()
            with self.sessions.begin() as session:
                done = retention.prune_batch(session, before=now - self.keep, now=now,
                                             batch=self.batch)
            total += done
            if done.outbox < self.batch and done.events < self.batch and \
                    done.intake < self.batch:
                break
        if total.total:
            log.info("pruned %d finished outbox rows and %d handled event ids older than %s, "
                     "and %d done intake rows", total.outbox, total.events, self.keep,
                     total.intake)
        return total
