"""Drains the outbox: claims rows in the database, runs them, retries them, reports failures.

Each outbox row is claimed in the database (so replicas never run the same row), executed by
the runner (bot/outbox/runner.py), then finished, retried with backoff or, when Slack's answer
will not change, given up and reported to the person who asked. Effects of one incident run
in order (the store never hands out a row while an earlier one of the same incident is
pending), so a channel exists before anything is posted to it.
"""

from __future__ import annotations

import heapq
import logging
import os
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.outbox.batch_facts import Facts
from bot.outbox.context import EffectContext
from bot.outbox.paced import Deferred
from bot.outbox.runner import CHANGES_INCIDENT, LOAD, EffectRunner, Load
from bot.slack.errors import code_of, is_permanent, is_revoked
from playbook import store
from playbook.domain.model import Incident
from playbook.services.incidents import Service
from playbook.store import lifecycle as lifecycle_store
from playbook.store import outbox

log = logging.getLogger(__name__)

# How many times one outbox row is tried before it is given up and reported.
MAX_ROW_ATTEMPTS = 6
# How long a thread waits at the end of its batch for the finisher to mark its rows done
# (past it the rows stay ours, renewed by the heartbeat, until the finisher gets through).
FINISH_WAIT = 10.0
# The finisher waits this long after the first chain to finish, so the chains the other threads
# finish meanwhile go in the same transaction (fewer write transactions for the database's one
# writer on SQLite; a post never waits for it).
FINISH_LINGER = 0.005
# After a failed finishing transaction (the database away): try again this much later.
FINISH_RETRY = 0.5
# While a team is paused: how often its held effects are looked at again.
PAUSED_RECHECK = timedelta(minutes=5)
# Who we are among the workers that lease rows: host, process and a token drawn at process
# start. A lease names the thread too ("<host>:<pid>:<boot>/<thread>"), so even two threads of
# one process can never finish each other's rows.
def _host() -> str:
    """This host as the lease names it: the name plus the pid namespace, so two containers
    given one hostname (compose `hostname:`, host networking) never read each other's pids."""
    try:
        return f"{os.uname().nodename}.{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return os.uname().nodename


HOST = _host()
BOOT = secrets.token_hex(4)


def worker_name() -> str:
    return f"{HOST}:{os.getpid()}:{BOOT}"


def _alive(pid: int) -> bool:
    """Whether process `pid` of this host still runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to judge
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_dead_predecessor(holder: str) -> bool:
    """Whether the worker that leased rows as `holder` is a dead process of this host: its
    process is gone, or it had our pid but another start token (we replaced it: a container
    restarted in place gets the same pid). Leases of other hosts are never judged here: they
    run out (and the heartbeat of a live worker keeps renewing them)."""
    host, _, rest = holder.split("/", 1)[0].partition(":")
    pid_text, _, boot = rest.partition(":")
    if host != HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return boot != BOOT
    return not _alive(pid)


def build_worker(service: Service, client: WebClient, settings: Settings,
                 clock: Callable[[], datetime], *, threads: int) -> OutboxWorker:
    """The worker, its runner and the handlers' context, over `service`'s database."""
    runner = EffectRunner(EffectContext.create(service, client, settings, clock))
    return OutboxWorker(runner, service.sessions, clock, threads=threads)


class OutboxWorker:
    """Background threads that drain the outbox; `wake()` after every commit that added rows.

    Each round one transaction leases the queued rows of up to `batch` incidents (each
    incident's rows as one chain, in order, see `playbook.store.outbox`) and reads those incidents;
    the chains run one after another, every row against the incident read once, and each
    chain's rows are finished in one more transaction as soon as it ran (only while they are
    still ours; a heartbeat thread renews the leases meanwhile). Threads work on different
    incidents, so
    one incident's rows never overlap or reorder. Of several card refreshes queued in a chain
    only the last one is carried out (it shows the newest state; the others are finished with
    it). A row that fails is retried later with backoff and the rest of its chain is released
    to wait behind it; one that cannot succeed is given up and reported.

    In priority order (playbook/domain/priority.py): all threads but one take the heads above
    card refreshes first, highest priority first (replies and reminders, then customer updates,
    then channels and invites), leaving each chain's trailing refreshes queued (an incident's
    order is unchanged: a refresh still holds up what was queued after it); when none waits
    they take the rest, still by priority (card refreshes before topics and bookmarks). The
    last thread takes rows oldest first, so refreshes keep moving in a burst and nothing waits
    forever behind a stream of posts.
    """

    def __init__(self, runner: EffectRunner, sessions: sessionmaker[Session],
                 clock: Callable[[], datetime], *,
                 threads: int = 4, poll: float = 2.0,
                 lease: timedelta = timedelta(minutes=1), batch: int = 10) -> None:
        self.runner = runner
        self.sessions = sessions
        self.clock = clock
        self.threads = threads
        self.poll = poll
        self.batch = batch
        # How long a claimed row is ours without news from us: the heartbeat renews it every
        # quarter of it while we hold rows. A replica of another host that dies delays its rows
        # this long; a process of this host that replaces a dead one frees them at once.
        self.lease = lease
        self.name = worker_name()
        # ids each of our claimants (threads) holds, and the ones the heartbeat found lost
        self._held: dict[str, set[int]] = {}
        self._lost: set[int] = set()
        self._held_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        # when the rows we re-queued for a rate tier are due (a heap): idle threads wake then
        # rather than at the next poll
        self._dues: list[datetime] = []
        self._threads: list[threading.Thread] = []
        # chains run, waiting to be marked done by the finisher thread: (claimant, done ids,
        # the chain's ids, set when finished)
        self._finishing: list[tuple[str, list[int], list[int], threading.Event]] = []
        self._finishing_ready = threading.Condition()
        self._finisher: threading.Thread | None = None
        # The heartbeat and the finisher take turns: each updates rows of several of our
        # threads in one transaction, and two such transactions locking the same rows in
        # different orders deadlocked on PostgreSQL (a second each before it was detected).
        # Taking turns also keeps the heartbeat from reading rows just finished as lost.
        self._marking = threading.Lock()

    def start(self) -> None:
        """Start the threads (again, after `stop`), first freeing the leases of the dead
        process this one replaces, so its rows run now rather than when their leases end."""
        self._stop.clear()
        self._threads = []
        try:
            self.take_over_dead()
        except Exception:
            log.exception("could not look for a dead predecessor's leases")
        beat = threading.Thread(target=self._heartbeat, name="outbox-heartbeat", daemon=True)
        beat.start()
        self._threads.append(beat)
        self._finisher = threading.Thread(target=self._finish_loop, name="outbox-finisher",
                                          daemon=True)
        self._finisher.start()
        for n in range(self.threads):
            # all but one thread take posts before card refreshes; the last one takes rows
            # oldest first, so card refreshes keep moving while posts queue
            thread = threading.Thread(target=self._loop, args=(n < self.threads - 1,),
                                      name=f"outbox-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._finisher is not None:  # after the threads: it finishes what they ran
            with self._finishing_ready:
                self._finishing_ready.notify()
            self._finisher.join(timeout=5)
            self._finisher = None

    def wake(self) -> None:
        self._wake.set()

    def take_over_dead(self) -> int:
        """Free the rows leased by dead processes of this host; returns how many."""
        with self.sessions.begin() as session:
            dead = [h for h in outbox.lease_holders(session) if is_dead_predecessor(h)]
            freed = outbox.take_over(session, dead) if dead else 0
        if freed:
            log.warning("outbox: took over %d row(s) leased by %s, which died", freed,
                        ", ".join(sorted(dead)))
        return freed

    def _heartbeat(self) -> None:
        """Renew the leases of everything our threads hold, every quarter lease."""
        while not self._stop.wait(max(self.lease.total_seconds() / 4, 0.05)):
            try:
                self.beat()
            except Exception:
                log.exception("outbox heartbeat failed; will retry")

    def beat(self) -> None:
        """Renew our leases once; rows found taken over are marked lost (never run, never
        finished by us)."""
        with self._marking:  # (never while the finisher marks rows done: see __init__)
            with self._held_lock:
                held = {who: set(ids) for who, ids in self._held.items() if ids}
            if not held:
                return
            with self.sessions.begin() as session:
                kept = {who: outbox.extend(session, sorted(held[who]), worker=who,
                                           now=self.clock(), lease=self.lease)
                        for who in sorted(held)}
            with self._held_lock:
                # (a row we gave back meanwhile, re-queued or released, is not lost: only the
                # ones our threads still hold)
                lost = {i for who, ids in held.items() for i in ids - kept[who]
                        if i in self._held.get(who, ())}
                self._lost |= lost
        if lost:
            log.warning("outbox: lost the lease of row(s) %s; leaving them to their new "
                        "worker", sorted(lost))

    def _holding(self, who: str, ids: list[int]) -> None:
        with self._held_lock:
            self._held.setdefault(who, set()).update(ids)

    def _let_go(self, who: str, ids: list[int]) -> None:
        with self._held_lock:
            self._held.get(who, set()).difference_update(ids)
            self._lost.difference_update(ids)

    def is_lost(self, item_id: int) -> bool:
        with self._held_lock:
            return item_id in self._lost

    def _loop(self, urgent: bool = False) -> None:
        while not self._stop.is_set():
            try:
                worked = self.drain_once(urgent=urgent)
            except Exception:
                log.exception("outbox worker failed; will retry")
                worked = 0
            if not worked:
                self._wake.wait(self._idle_wait())
                self._wake.clear()

    def _idle_wait(self) -> float:
        """Until the next poll, or until the earliest row we re-queued is due."""
        now = self.clock()
        with self._held_lock:
            if self._dues and self._dues[0] <= now:
                while self._dues and self._dues[0] <= now:
                    heapq.heappop(self._dues)
                return 0.0
            if not self._dues:
                return self.poll
            left = (self._dues[0] - now).total_seconds()
        return min(self.poll, left + 0.005)

    def _due_at(self, when: datetime) -> None:
        with self._held_lock:
            heapq.heappush(self._dues, when)

    def drain_once(self, limit: int | None = None, *, urgent: bool = False) -> int:
        """Claim and run the queued rows of a few incidents; return how many rows were handled.

        `urgent`: posts first, card refreshes only when no post is waiting.
        """
        now = self.clock()
        who = f"{self.name}/{threading.current_thread().name}"
        claim = {"now": now, "worker": who, "lease": self.lease,
                 "limit": limit or self.batch}
        with self.sessions.begin() as session:
            # urgent threads: what a person waits for first, then the rest by priority; the
            # last thread oldest first (nothing waits forever behind a stream of posts)
            chains = outbox.claim_chains(session, **claim, urgent=True) if urgent else []
            if not chains:
                chains = outbox.claim_chains(session, **claim, by_priority=urgent)
        if not chains:
            return 0
        # What the rows need is read after the claim committed, without the write lock: on
        # SQLite the claim holds the database's one writer (the reminders' firing and the other
        # threads' claims wait for it) only for the claim itself.
        try:
            with store.reading(self.sessions) as session:
                incidents = store.load_incidents(
                    session, {c[0].incident_id for c in chains if c[0].incident_id is not None})
                facts = Facts.read(session, incidents.values())
                # team -> why its sends are paused: read once per batch, with the incidents
                teams = {item.team_id for chain in chains for item in chain}
                found = lifecycle_store.paused_reasons(session, teams)
                paused: dict[str, str | None] = {team: found.get(team) for team in teams}
        except Exception:
            self._give_back(who, [item.id for chain in chains for item in chain])
            raise
        self._wake.set()  # more may be queued: let an idle thread look while we work
        self._holding(who, [item.id for chain in chains for item in chain])
        self.runner.ctx.facts.current = facts
        waiting = list(chains)
        finishing: list[threading.Event] = []
        try:
            while waiting:
                chain = waiting.pop(0)
                done: list[int] = []
                try:
                    self._run_chain(chain, incidents, done, paused, who)
                finally:
                    # each chain is marked done as soon as it ran (a worker that dies later in
                    # the batch leaves only what it had not done yet to run again), by the
                    # finisher while this thread runs the next chain
                    finishing.append(self._finish(who, done, [item.id for item in chain]))
        finally:
            if waiting:  # an error ended the batch: give back the chains not started, at once
                self._give_back(who, [item.id for chain in waiting for item in chain])
            for finished in finishing:  # our rows are done when we return
                finished.wait(FINISH_WAIT)
            self.runner.ctx.facts.forget()
            self._let_go(who, [item.id for chain in chains for item in chain])
        return sum(len(chain) for chain in chains)

    def _finish(self, who: str, done: list[int], chain: list[int]) -> threading.Event:
        """Mark `done` finished and let go of `chain`: handed to the finisher thread when it
        runs (the caller goes on with its next chain), else here and now."""
        finished = threading.Event()
        if done and self._finisher is not None and self._finisher.is_alive():
            with self._finishing_ready:
                self._finishing.append((who, done, chain, finished))
                self._finishing_ready.notify()
            finishing = set(done)
            self._let_go(who, [i for i in chain if i not in finishing])
            return finished
        try:
            if done:
                with self.sessions.begin() as session:
                    outbox.finish(session, done, self.clock(), worker=who)
        finally:
            self._let_go(who, chain)
            finished.set()
        return finished

    def _finish_loop(self) -> None:
        """The finisher: marks done what the threads ran, all that waits in one transaction,
        so a post never waits for the database's writer to mark the one before it done. After
        `stop` it finishes what is left, then ends."""
        while True:
            with self._finishing_ready:
                while not self._finishing and not self._stop.is_set():
                    self._finishing_ready.wait(self.poll)
            if not self._stop.is_set():
                self._stop.wait(FINISH_LINGER)  # let the other threads' chains join this one
            with self._finishing_ready:
                batch, self._finishing = self._finishing, []
            if not batch:
                return  # stopped, nothing left
            by_worker: dict[str, list[int]] = {}
            for who, done, _chain, _event in batch:
                by_worker.setdefault(who, []).extend(done)
            try:
                with self._marking:
                    with self.sessions.begin() as session:
                        now = self.clock()
                        for who in sorted(by_worker):
                            outbox.finish(session, sorted(by_worker[who]), now, worker=who)
                    for who, _done, chain, _finished in batch:  # (before the heartbeat looks)
                        self._let_go(who, chain)
            except Exception:
                if self._stop.is_set():
                    log.exception("could not mark %d outbox rows done; their leases run out",
                                  sum(len(ids) for ids in by_worker.values()))
                else:
                    log.exception("could not mark outbox rows done; will retry")
                    with self._finishing_ready:
                        self._finishing[:0] = batch
                    self._stop.wait(FINISH_RETRY)
                    continue
            for _who, _done, _chain, finished in batch:
                finished.set()

    def _give_back(self, who: str, ids: list[int]) -> None:
        try:
            with self.sessions.begin() as session:
                outbox.release(session, ids, who)
        except Exception:  # (the database is the likely cause: the lease runs out instead)
            log.warning("could not give back %d outbox rows", len(ids), exc_info=True)

    def _run_chain(self, chain: outbox.Chain, incidents: dict[int, Incident],
                   done: list[int], paused: dict[str, str | None], who: str) -> None:
        """Run one incident's rows in order; stop at a row to retry, releasing the rest, or
        at a row whose lease we lost (its new worker runs it and what follows it)."""
        head = chain[0]
        inc: Incident | Load | None = LOAD
        if head.incident_id is not None:
            inc = incidents.get(head.incident_id)
        last_card = max((n for n, item in enumerate(chain) if item.kind == "refresh_card"),
                        default=-1)
        if getattr(chain, "card_later", False):
            last_card = len(chain)  # a later refresh is still queued: fold all of these into it
        for n, item in enumerate(chain):
            if self.is_lost(item.id):
                return
            if item.kind == "refresh_card" and n < last_card:
                done.append(item.id)  # folded into the incident's last queued card refresh
                continue
            status = self._attempt(item, inc, paused, who)
            if status == "done":
                done.append(item.id)
            elif status == "retry":
                rest = [later.id for later in chain[n + 1:]]
                if rest:
                    self._let_go(who, rest)  # (before: see `_giving_back`)
                    with self.sessions.begin() as session:
                        outbox.release(session, rest, who)
                return
            if item.kind in CHANGES_INCIDENT and item.incident_id is not None:
                inc = LOAD  # read it again for the next row

    def _giving_back(self, who: str, item_id: int) -> None:
        """Stop renewing a row we are about to give back (defer, retry, hold or fail it),
        before the transaction that does it: a heartbeat between that commit and letting go
        found the row no longer ours and warned of a lost lease that was never lost. Should
        the transaction fail, the row's lease runs out and it is claimed again, as after a
        crash."""
        self._let_go(who, [item_id])

    def _hold(self, item: store.OutboxItem, why: str, who: str) -> None:
        self._giving_back(who, item.id)
        with self.sessions.begin() as session:
            lifecycle_store.hold_outbox(session, item.id, until=self.clock() + PAUSED_RECHECK,
                                        why=why, worker=who)

    def _attempt(self, item: store.OutboxItem, inc: Incident | Load | None,
                 paused: dict[str, str | None], who: str) -> str:
        """Run one row: "done", "retry" (scheduled with backoff, or held while the team is
        paused: the rest of the chain waits either way) or "failed" (given up)."""
        lifecycle = self.runner.ctx.lifecycle
        if item.team_id not in paused:
            paused[item.team_id] = lifecycle.paused(item.team_id)
        reason = paused[item.team_id]
        if reason is not None:  # Slack took our tokens: keep the row for when it is back
            self._hold(item, f"paused: {reason}", who)
            return "retry"
        try:
            self.runner.run(item, inc)
        except Deferred as wait:
            # Slack's tier for the row's next call has no token for it yet: the row waits
            # in the queue, not on this thread (bot/outbox/paced.py); no attempt is counted
            due = self.clock() + timedelta(seconds=wait.wait)
            self._giving_back(who, item.id)
            with self.sessions.begin() as session:
                store.defer_outbox(session, item.id, next_attempt_at=due, worker=who)
            self._due_at(due)
            return "retry"
        except (SlackClientError, OSError) as err:
            now = self.clock()
            code = code_of(err)
            if is_revoked(code):
                if lifecycle.pause(item.team_id, str(code)):
                    log.warning("Slack says the bot token of team %s is no longer valid (%s): "
                                "sends for that team are paused and all data is kept; "
                                "reinstall the app to resume.", item.team_id, code)
                paused[item.team_id] = str(code)
                self._hold(item, f"paused: {code}", who)
                return "retry"
            if is_permanent(code) or item.attempts + 1 >= MAX_ROW_ATTEMPTS:
                log.warning("outbox %s (%s) failed for good: %s", item.id, item.kind, err)
                self._giving_back(who, item.id)
                with self.sessions.begin() as session:
                    mine = store.fail_outbox(session, item.id, now=now, error=str(err)[:500],
                                             worker=who)
                if mine:  # (a worker that lost the row leaves the telling to its new one)
                    self.runner.ctx.report_failure(item, err)
                return "failed"
            delay = timedelta(seconds=min(300, 2 ** (item.attempts + 1)))
            log.info("outbox %s (%s) failed, retrying in %s: %s", item.id, item.kind,
                     delay, err)
            self._giving_back(who, item.id)
            with self.sessions.begin() as session:
                store.retry_outbox(session, item.id, now=now, error=str(err)[:500],
                                   next_attempt_at=now + delay, worker=who)
            return "retry"
        except Exception:
            log.exception("outbox %s (%s) crashed", item.id, item.kind)
            self._giving_back(who, item.id)
            with self.sessions.begin() as session:
                store.fail_outbox(session, item.id, now=self.clock(), error="internal error",
                                  worker=who)
            return "failed"
        return "done"
