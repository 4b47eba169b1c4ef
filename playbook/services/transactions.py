"""One transaction per use case, retried from a fresh read when an incident changed under it;
and group commit (`GroupCommit`): use cases that arrive together share one transaction.

Saves are optimistic (`playbook.store.incidents.save_incident` checks the version it loaded), so
two people acting on one incident at once both land: the loser's whole use case runs again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain.errors import PlaybookError

__all__ = ["SAVE_RETRIES", "GroupCommit", "retry_stale"]

log = logging.getLogger(__name__)
T = TypeVar("T")

SAVE_RETRIES = 25
"""How many times a use case is run again after losing a save to a concurrent change."""


def retry_stale(sessions: sessionmaker[Session], clock: Callable[[], datetime],
                work: Callable[[Session, datetime], T], *,
                refusal: str = "Too many people changed this incident at once; please try again.",
                ) -> T:
    """`work` in a transaction of its own, again from the start while a save finds the
    incident changed since it was read (`store.StaleIncident`); `refusal` is the message of
    the `PlaybookError` raised once the retries are used up."""
    for attempt in range(SAVE_RETRIES):
        try:
            with sessions.begin() as session:
                return work(session, clock())
        except store.StaleIncident:
            log.debug("concurrent change; retrying (attempt %d)", attempt + 1)
            # jittered backoff so racing writers stop colliding in lockstep
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise PlaybookError(refusal)


class _Pending(Generic[T]):
    """One caller's use case in the group-commit queue, and what became of it."""

    __slots__ = ("claims", "done", "error", "lead", "order", "result", "work")

    def __init__(self, work: Callable[[Session, datetime], T], order: str,
                 claims: bool) -> None:
        self.work = work
        self.order = order
        self.claims = claims
        self.done = threading.Event()  # set when committed (or failed), or when `lead` is handed
        self.lead = False  # this caller is to run the next batch
        self.result: T | None = None
        # until it ran: a leader stopped by KeyboardInterrupt must not answer "recorded"
        self.error: BaseException | None = RuntimeError("the transaction did not run")

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set with `done` when no error


class GroupCommit:
    """Use cases that arrive together are written in one transaction, and each caller gets its
    answer only after that transaction committed.

    Why: on a burst of `/incident open`, every ack used to run a transaction of its own. On
    SQLite the writers then queue for the one write lock, each handing it to the next thread
    through the GIL (a convoy: a transaction of one millisecond held the lock for tens while
    other threads ran), and every commit pays BEGIN, COMMIT and a connection checkout. Here the
    first caller leads: it takes every use case queued by then (at most `max_batch`), runs them
    one after the other in one `sessions.begin()` transaction, commits, and wakes their
    callers; whoever queued meanwhile is handed the lead for the next batch. An answer is never
    given before its commit, so an ack still means "recorded": a crash before the commit loses
    the batch, but none of it was acknowledged.

    If any use case of a batch raises (a refusal, a stale save, the database), the batch is
    rolled back and each of its use cases runs again alone (`retry_stale`), so one refusal
    never fails the others and each caller sees its own result or error. `work` must therefore
    be safe to run again from the start, which every `retry_stale` use case already is.

    Lock order. A batch holds every row lock its use cases took until its one commit, so two
    batches (two processes on one PostgreSQL) that lock the rows of workspaces A and B in
    opposite orders deadlock: PostgreSQL notices after its `deadlock_timeout` (1 s by default)
    and cancels one, which then runs again use case by use case. So each use case names what
    it locks (`order`: an open locks its team's incident counter) and a batch runs them sorted
    by it: every batch takes those locks in one order. A use case that `claims` a unique key
    another transaction may be inserting too (a form's dedupe key: the second insert waits for
    the first's commit) runs first of its `order`, and a batch takes at most one such use case
    per `order` (the next waits for the next batch): otherwise one batch could hold the
    counter while waiting for the claim, and another the claim while waiting for the counter.
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime], *,
                 max_batch: int = 64) -> None:
        self.sessions = sessions
        self.clock = clock
        self.max_batch = max(1, max_batch)
        self._lock = threading.Lock()
        self._queue: list[_Pending[Any]] = []
        self._leading = False  # a batch is running, or the lead has been handed on
        self.batches = 0  # committed batches (for tests and benchmarks)

    def run(self, work: Callable[[Session, datetime], T], *, order: str = "",
            claims: bool = False) -> T:
        """`work(session, now)` committed, possibly together with others; its result.

        `order`: what it locks (a team id), `claims`: it inserts a unique key another
        transaction may be inserting at the same time (see the class)."""
        item: _Pending[T] = _Pending(work, order, claims)
        with self._lock:
            self._queue.append(item)
            lead = not self._leading
            self._leading = True
        if not lead:
            item.done.wait()
            lead = item.lead
        if lead:
            self._run_batch()
        return item.outcome()

    def _take(self) -> list[_Pending[Any]]:
        """The next batch, in lock order (see the class); what it leaves stays queued in turn.
        The queue's first use case, the leader's own, is always taken."""
        batch: list[_Pending[Any]] = []
        left: list[_Pending[Any]] = []
        claimed: set[str] = set()
        with self._lock:
            for item in self._queue:
                if len(batch) >= self.max_batch or (item.claims and item.order in claimed):
                    left.append(item)
                    continue
                if item.claims:
                    claimed.add(item.order)
                batch.append(item)
            self._queue[:] = left
        batch.sort(key=lambda item: (item.order, not item.claims))  # stable: else in turn
        return batch

    def _run_batch(self) -> None:
        batch = self._take()
        try:
            self._execute(batch)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                if successor is None:
                    self._leading = False
            for item in batch:
                item.done.set()
            if successor is not None:
                successor.lead = True
                successor.done.set()

    def _execute(self, batch: list[_Pending[Any]]) -> None:
        if len(batch) > 1:
            try:
                with self.sessions.begin() as session:
                    results = [item.work(session, self.clock()) for item in batch]
            except Exception as err:
                log.debug("a batch of %d failed (%s); running each alone", len(batch), err)
            else:
                self.batches += 1
                for item, result in zip(batch, results, strict=True):
                    item.result, item.error = result, None
                return
        for item in batch:
            try:
                item.result, item.error = retry_stale(self.sessions, self.clock, item.work), None
            except BaseException as err:  # handed to its own caller, raised there
                item.error = err
        self.batches += 1
