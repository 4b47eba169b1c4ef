"""Two real replicas on one PostgreSQL database: each reminder is posted once, and killing one
replica mid-run loses none.

Each replica is a separate Python process (`subprocess`, running `_replica` below) that builds the
production `Runtime` against the same PostgreSQL database and the same local Slack (started in
the test process), with its own APScheduler and outbox worker. Nothing is shared in memory: the
only things that keep the replicas from sending twice are the reminder claims and the outbox
leases in PostgreSQL. Messages are counted on the local Slack, per incident channel.

Time: the replicas run on a clock one day ahead of the wall clock (`OFFSET`: any offset works,
as long as every replica uses the same one). The test process first opens the incidents through
the service and waits for the replicas to create their channels from the outbox; then it agrees
each incident's 30-minute cadence with its clock set so that, for the replicas, the update comes
due a chosen number of seconds of wall time later. The replicas learn of the cadences as they
would of another replica's changes: from their periodic resync (every second here).

The replicas use a short outbox lease (`LEASE`, 5 s instead of 2 min, through `OutboxWorker`'s
`lease`): a replica killed while holding outbox rows delays them by the lease, then the
survivor takes them over.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot import schema
from bot.config import Settings
from bot.local.localslack import LocalSlack
from bot.local.sandbox import ALICE, BOB, CAROL, LEAD, Clock
from bot.wiring import policy_from
from playbook import store
from playbook.domain.model import Actor
from playbook.services.incidents import Service, ServiceConfig

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
OFFSET = timedelta(days=1)
CADENCE = timedelta(minutes=30)
LEASE = timedelta(seconds=5)
RESYNC_EVERY = timedelta(seconds=1)
INCIDENTS = 20
ENV_KEY = "CRISISBOT_TEST_REPLICA"
DUE, NUDGE = "🔔", "⏰"  # how the due reminder and the pre-due nudge begin


# --- the replica process --------------------------------------------------------------------------


def _replica() -> None:
    """Entry point of one replica: the production runtime until SIGTERM (or SIGKILL)."""
    import logging

    from bot.runtime import Runtime

    cfg = json.loads(os.environ[ENV_KEY])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(threadName)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    clock = Clock()
    clock.advance(timedelta(seconds=cfg["offset"]))
    s = cfg["settings"]
    settings = Settings(slack_bot_token=s["bot_token"], slack_signing_secret=s["signing_secret"],
                        slack_api_url=s["api_url"], database_url=s["database_url"],
                        leads=tuple(s["leads"]), leads_channel=s["leads_channel"],
                        responders=tuple(s["responders"]))
    runtime = Runtime.build(settings, clock=clock, migrate=False, outbox_threads=2,
                            outbox_processes=0)
    runtime.worker.lease = timedelta(seconds=cfg["lease"])
    runtime.worker.poll = 0.5
    runtime.scheduler.resync_every = timedelta(seconds=cfg["resync_every"])
    runtime.start_background()
    Path(cfg["ready"]).write_text(f"{runtime.scheduler.worker}\n")
    stop.wait()
    runtime.stop()


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    ready: Path
    log: Path
    worker: str = ""  # "host:pid", as it signs reminder claims and outbox leases

    @classmethod
    def start(cls, name: str, tmp: Path, settings: dict[str, Any]) -> Replica:
        ready, log = tmp / f"{name}.ready", tmp / f"{name}.log"
        cfg = {"settings": settings, "offset": OFFSET.total_seconds(),
               "lease": LEASE.total_seconds(), "resync_every": RESYNC_EVERY.total_seconds(),
               "ready": str(ready)}
        env = {**os.environ, ENV_KEY: json.dumps(cfg)}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c",
                 "from tests.integration.test_replicas import _replica; _replica()"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        return cls(proc, ready, log)

    def wait_ready(self, timeout: float = 60.0) -> None:  # a loaded CI box starts slowly
        deadline = time.monotonic() + timeout
        while not self.ready.exists() or not self.ready.read_text().endswith("\n"):
            if self.proc.poll() is not None:
                raise AssertionError(f"replica exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"replica not ready within {timeout} s:\n{self.tail()}")
            time.sleep(0.05)
        self.worker = self.ready.read_text().strip()

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# --- the test process -----------------------------------------------------------------------------


@dataclass
class World:
    url: str
    slack: LocalSlack
    settings: dict[str, Any]
    tmp: Path
    replicas: list[Replica]

    def start_replicas(self, count: int = 2) -> list[Replica]:
        started = [Replica.start(f"replica{i}", self.tmp, self.settings) for i in range(count)]
        self.replicas.extend(started)
        for replica in started:
            replica.wait_ready()
        return started

    def logs(self) -> str:
        return "\n".join(f"--- {r.worker or r.proc.pid}\n{r.tail()}" for r in self.replicas)


@pytest.fixture
def world(pg_url: str, tmp_path: Path) -> Iterator[World]:
    schema.upgrade(pg_url)
    # kind: 20 incidents opened and due at once, far beyond one workspace's tiers
    slack = LocalSlack(kind=True).start()
    for uid, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol"), (LEAD, "lena")):
        slack.add_user(uid, name)
    leads = slack.add_channel("crisis-leads", members=[LEAD], bot_member=True)
    settings = {"bot_token": slack.bot_token, "signing_secret": slack.signing_secret,
                "api_url": slack.api_url, "database_url": pg_url, "leads": [LEAD],
                "leads_channel": leads.id, "responders": [CAROL]}
    w = World(pg_url, slack, settings, tmp_path, [])
    try:
        yield w
    finally:
        for replica in w.replicas:
            replica.stop()
        slack.stop()
        assert slack.violations == [], "payloads Slack would refuse"


class _Service:
    """The test's own use of the service: opens incidents on the replicas' database."""

    def __init__(self, world: World) -> None:
        self.team_id = world.slack.team_id
        self.engine = store.make_engine(world.url)
        self.clock = Clock()
        policy = policy_from(Settings(database_url=world.url))
        self.service = Service(store.make_session_factory(self.engine),
                               ServiceConfig(policy=policy, responders=(CAROL,)), self.clock)
        self.alice = Actor(ALICE)

    def open(self, number: int) -> int:
        """Open an incident (31 minutes ago, for the replicas) and own it."""
        self.clock.offset = OFFSET - CADENCE - timedelta(minutes=1)
        inc = self.service.open(self.team_id, self.alice, f"sev2 Customer {number}: checkout fails")
        assert inc.incident.id is not None
        self.service.command(inc.incident.id, self.alice, "own", "", team_id=self.team_id)
        return inc.incident.id

    def cadence_due_at(self, incident_id: int, wall: float) -> datetime:
        """Agree a 30-minute cadence that comes due, for the replicas, at wall time `wall`."""
        self.clock.offset = OFFSET - CADENCE + timedelta(seconds=wall - time.time())
        saved = self.service.command(incident_id, self.alice, "cadence", "30m",
                                     team_id=self.team_id).incident
        return saved.cadence_changes[-1].at + CADENCE

    def channels(self) -> dict[int, str | None]:
        return dict(self.rows("SELECT id, channel_id FROM incidents"))

    def outbox_settled(self) -> bool:
        return not self.rows("SELECT 1 FROM outbox WHERE done_at IS NULL AND failed_at IS NULL")

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]

    def dispose(self) -> None:
        self.engine.dispose()


def _posts(slack: LocalSlack, channel: str | None, mark: str) -> list[float]:
    """Wall times of the messages in `channel` whose text starts with `mark`."""
    if channel is None:
        return []
    return [float(m.ts) for m in slack.messages(channel) if m.text.startswith(mark)]


def _wait(predicate: Any, timeout: float, what: str, world: World) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s\n{world.logs()}")
        time.sleep(0.05)


def _open_incidents(world: World, svc: _Service) -> list[int]:
    """INCIDENTS incidents, their channels created by the replicas and their outbox drained."""
    ids = [svc.open(i + 1) for i in range(INCIDENTS)]
    _wait(lambda: all(svc.channels().values()) and svc.outbox_settled(), 30.0,
          "the incident channels created", world)
    return ids


def _arm(svc: _Service, ids: list[int], first_in: float, spread: float) -> dict[int, datetime]:
    """Set cadences so the due times fall `first_in` s from now on, `spread` s apart."""
    start = time.time()
    return {i: svc.cadence_due_at(i, start + first_in + n * spread) for n, i in enumerate(ids)}


def _lateness(posted: float, due: datetime) -> float:
    return (datetime.fromtimestamp(posted, UTC) + OFFSET - due).total_seconds()


def _settle(world: World, svc: _Service, dues: dict[int, datetime],
            timeout: float) -> dict[str, dict[int, list[float]]]:
    """Wait (bounded) until every incident has a due reminder and the outbox is done; check what
    must hold however the replicas fared; return the post times of each incident's due
    reminders ("🔔") and pre-due nudges ("⏰")."""

    def all_posted() -> bool:
        channels = svc.channels()
        return all(_posts(world.slack, channels[i], DUE) for i in dues)

    _wait(all_posted, timeout, "every incident's due reminder posted", world)
    _wait(svc.outbox_settled, timeout, "the outbox drained", world)
    time.sleep(1.0)  # room for a late duplicate to show up
    channels = svc.channels()
    assert len({channels[i] for i in dues}) == INCIDENTS, "one channel per incident"
    failed = svc.rows("SELECT id, kind, last_error FROM outbox WHERE failed_at IS NOT NULL")
    assert failed == [], failed
    claims = svc.rows("SELECT incident_id, count(*) FROM reminder_claims WHERE kind = 'due' "
                      "GROUP BY incident_id")
    assert dict(claims) == dict.fromkeys(dues, 1), "the database decided each reminder once"
    return {mark: {i: _posts(world.slack, channels[i], mark) for i in dues}
            for mark in (DUE, NUDGE)}


def _due_claims(svc: _Service) -> dict[str, int]:
    """How many due reminders each replica claimed (and so sent)."""
    rows = svc.rows("SELECT claimed_by, count(*) FROM reminder_claims WHERE kind = 'due' "
                    "GROUP BY claimed_by")
    return {str(who): int(n) for who, n in rows}


def _posts_in_flight(svc: _Service) -> list[tuple[str, int, str]]:
    """(replica, incident, mark) of each reminder post leased by a worker and not done yet.

    An outbox lease names `host.pidns:pid:boot/thread`; the replica is its `host:pid` (the name
    its scheduler uses for reminder claims)."""
    rows = svc.rows(
        "SELECT claimed_by, incident_id, payload ->> 'text' FROM outbox "
        "WHERE kind = 'timeline' AND done_at IS NULL AND failed_at IS NULL "
        "AND claimed_until > :now", now=datetime.now(UTC) + OFFSET)
    def replica(who: str) -> str:
        host, pid = who.split(":")[:2]
        return f"{host.rsplit('.', 1)[0]}:{pid}"
    return [(replica(str(who)), int(inc), text[:1]) for who, inc, text in rows
            if text[:1] in (DUE, NUDGE)]


def test_two_replicas_post_each_due_reminder_exactly_once(world: World) -> None:
    began = time.monotonic()
    world.start_replicas(2)
    svc = _Service(world)
    try:
        ids = _open_incidents(world, svc)
        dues = _arm(svc, ids, first_in=3.0, spread=0.1)
        posted = _settle(world, svc, dues, timeout=15.0)
        claims = _due_claims(svc)
    finally:
        svc.dispose()
    counts = {i: len(p) for i, p in posted[DUE].items()}
    assert all(n == 1 for n in counts.values()), f"due reminders per incident: {counts}"
    nudges = {i: len(p) for i, p in posted[NUDGE].items()}
    assert all(n <= 1 for n in nudges.values()), f"nudges per incident: {nudges}"
    late = sorted(_lateness(p[0], dues[i]) for i, p in posted[DUE].items())
    print(f"\n{INCIDENTS} due reminders, claimed per replica {sorted(claims.values())}; "
          f"lateness min {late[0]:.3f} s, median {late[len(late) // 2]:.3f} s, "
          f"max {late[-1]:.3f} s; {time.monotonic() - began:.1f} s in all")
    assert len(claims) == 2, "both replicas sent some of them"
    assert late[0] >= 0.0, "never before its due time"
    # A sanity bound: the replicas, the local Slack and PostgreSQL share this machine (and its
    # CPUs with whatever else runs), so timing is the single-process scheduler tests' job.
    assert late[-1] < 10.0, late


def test_killing_a_replica_mid_run_loses_no_reminder(world: World) -> None:
    """SIGKILL a replica while it is posting due reminders: the survivor sends the rest.

    The victim is killed the moment it holds the outbox lease of a due reminder (so it dies
    mid-post, the worst moment) or, failing that, once half the reminders are out. Nothing it
    claimed is lost: an unfinished reminder transaction rolls back and the survivor claims it;
    an outbox row it leased is taken over when the lease runs out.

    What no process can know after a SIGKILL is whether the victim's last `chat.postMessage`
    reached Slack before it could mark the row done: the survivor then posts that row again.
    So a second copy is allowed for exactly the reminder posts the victim held when it died,
    and for nothing else.
    """
    began = time.monotonic()
    replicas = world.start_replicas(2)
    svc = _Service(world)
    try:
        ids = _open_incidents(world, svc)
        dues = _arm(svc, ids, first_in=3.0, spread=0.2)
        victim: Replica | None = None
        seen_posting = False  # the victim was seen holding a due reminder's post
        deadline = time.monotonic() + 15.0
        while victim is None and time.monotonic() < deadline:
            holders = {who for who, _, mark in _posts_in_flight(svc) if mark == DUE}
            victim = next((r for r in replicas if r.worker in holders), None)
            seen_posting = victim is not None
            if victim is None and sum(_due_claims(svc).values()) >= INCIDENTS // 2:
                claims = _due_claims(svc)
                victim = max(replicas, key=lambda r: claims.get(r.worker, 0))
            time.sleep(0.005)
        assert victim is not None, f"no replica ever fired a due reminder\n{world.logs()}"
        victim.kill()
        killed_at = time.monotonic()
        assert victim.proc.returncode == -signal.SIGKILL
        # It is dead and its leases last LEASE: these are exactly the posts it died holding.
        held = [(inc, mark) for who, inc, mark in _posts_in_flight(svc) if who == victim.worker]
        claimed_before = _due_claims(svc).get(victim.worker, 0)
        survivor = next(r for r in replicas if r is not victim)

        posted = _settle(world, svc, dues, timeout=LEASE.total_seconds() + 15.0)
        final_claims = _due_claims(svc)
    finally:
        svc.dispose()
    counts = {mark: {i: len(p) for i, p in by_inc.items()} for mark, by_inc in posted.items()}
    doubled = sorted((i, mark) for mark, by_inc in counts.items()
                     for i, n in by_inc.items() if n > 1)
    late = sorted(_lateness(p[0], dues[i]) for i, p in posted[DUE].items())
    print(f"\nkilled {victim.worker} holding {sorted(held)} after {claimed_before} due claims; "
          f"due claims at the end {final_claims}; posted twice: {doubled or 'none'}; "
          f"max lateness {late[-1]:.2f} s; all done {time.monotonic() - killed_at:.1f} s "
          f"after the kill, {time.monotonic() - began:.1f} s in all")
    assert survivor.proc.poll() is None, "the survivor is still running"
    # (the post it was seen holding may have finished before the kill landed, and the
    # reminder it posted may have been claimed by the other replica's scheduler)
    assert held or claimed_before or seen_posting, "the killed replica was doing some of the work"
    assert all(n >= 1 for n in counts[DUE].values()), f"lost: {counts[DUE]}"
    for mark, by_inc in counts.items():
        for i, n in by_inc.items():
            allowed = 1 + held.count((i, mark))  # a nudge it held may double, like a due
            assert n <= allowed, f"{mark} x{n} for incident {i}; in flight: {held}"
    # A reminder whose row the victim held waits for the lease to run out, then for the
    # survivor's next poll: bounded by the lease plus a few seconds.
    assert late[-1] < LEASE.total_seconds() + 10.0, late
