#!/usr/bin/env python
"""Reminder lateness and start-up rebuild time with 10,000 open incidents, SQLite and PostgreSQL.

A benchmark, not a test. For each database, in one run:

1. a local Slack (`bot.local.localslack.LocalSlack`) starts in its own process (real Slack is not in
   the bot's process either, so its request handling must not share the bot's GIL) and gets one
   channel per incident, the bot a member, with a card message the bot posted in each;
2. a fresh database (a SQLite file; a scratch database on the PostgreSQL server, dropped
   afterwards) is migrated with `bot.schema.upgrade` and filled with N open incidents through the
   store's own `add_incident` (batches of 500 per transaction): each one a valid incident with
   its channel and card, an agreed update cadence (5 minutes, or `--cadence`) whose period
   ends at a due time staggered over the window (evenly spaced, shuffled across incident
   numbers). The bot's nudge lead is set equal to the cadence (5 minutes is the default lead
   anyway), so the period has no nudge: each incident has exactly one reminder in the window,
   its DUE. A window longer than 5 minutes (the 50,000-incident run: 300 s) needs a longer
   cadence: by default the shortest whole number of minutes, at least 5, that outlasts the
   window and the lead;
3. the production `Runtime.build(settings)` (migrations, outbox worker with its default
   threads, `ReminderScheduler`) is built against the local Slack. Its clock is wall time plus
   an offset chosen so the first due time is `--lead` seconds after the scheduler starts (the
   incidents are written before that moment is known); every due time is converted back to wall
   time with that offset;
4. the start-up rebuild is timed: `scheduler.start()`, which runs `resync()` (list_active plus
   one APScheduler job per incident) synchronously;
5. the real APScheduler fires the reminders, `ReminderService.fire_due` claims each in the
   database and writes its outbox rows, and the outbox worker posts the 🔔 line and refreshes
   the card;
6. afterwards the local Slack's messages are read: lateness = the 🔔 message's ts (the server's
   wall clock when it accepted chat.postMessage) minus the incident's due time in wall time.
   Checked: one 🔔 per incident (duplicates), none missing (misses), no reminder claim other than
   the N DUE ones, no outbox row failed, no Slack payload violation.

Targets (the issue): p99 lateness < 1 s, rebuild < 2 s, no duplicate, no miss, on both databases.
The exit status is 1 when a target is missed (2 when a database could not be set up).

Per incident the lateness is also split where it arises: scheduler (APScheduler started
`fire_due` this long after the due time), fire (the claim transaction), outbox (the commit of
that transaction to the post on Slack). `--profile` samples every thread of the bot process
(sys._current_frames, 200 Hz) and times SQL statements per thread kind; the figures go to
bench/results/.

Run from the repository root:
    .venv/bin/python bench/reminders.py                 # 10,000 incidents, 60 s, both databases
    .venv/bin/python bench/reminders.py --quick         # 1,000 incidents over 20 s
    .venv/bin/python bench/reminders.py --db sqlite --incidents 5000 --window 120 --json out.json
PostgreSQL: the scratch database is created on CRISISBOT_BENCH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test (the named database itself is not touched).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import multiprocessing as mp
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ALICE, BOB, LEAD = "U0ALICE", "U0BOB", "U0LEAD"
BELL = "🔔"
PG_DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CADENCE = timedelta(minutes=5)  # == the default nudge lead: no nudge in the period
# Escalations come this long after the due time (the default CRISISBOT_ESCALATE_AFTER): the
# window, the lead and the grace must end before the first one could.
ESCALATE_AFTER = timedelta(minutes=15)
INSERT_BATCH = 500

# targets (the issue, part "pacing"): up to 10,000 incidents p99 < 250 ms and rebuild < 2 s;
# more (50,000 over 500 workspaces) p99 < 1 s and rebuild < 8 s
P99_TARGET_S = 0.25
REBUILD_TARGET_S = 2.0
BIG_P99_TARGET_S = 1.0
BIG_REBUILD_TARGET_S = 8.0


def targets_for(incidents: int) -> tuple[float, float]:
    """(p99 lateness, rebuild) targets in seconds for this many incidents."""
    if incidents <= 10_000:
        return P99_TARGET_S, REBUILD_TARGET_S
    return BIG_P99_TARGET_S, BIG_REBUILD_TARGET_S

# hard bounds, so nothing here can run or loop forever
MAX_INCIDENTS = 50_000
MAX_WINDOW_S = 1800.0
MAX_GRACE_S = 600.0
CHILD_START_TIMEOUT = 60.0
CHILD_LIFETIME_S = 3 * 3600.0
CONTROL_MESSAGES = 100_000
POLL_S = 0.5
SAMPLE_EVERY_S = 0.005
MAX_SAMPLES = 2_000_000


# =============================================================================================
# the local Slack, in a child process
# =============================================================================================

FREEZE_EVERY_S = 1.0


def _freezing() -> None:
    """The local Slack's survivors, frozen out of its collector every second (see "seed")."""
    while True:
        time.sleep(FREEZE_EVERY_S)
        gc.freeze()


def slack_child(conn: Any) -> None:
    from bot.local.localslack import LocalSlack

    # strict: Slack's rate tiers on, per workspace (each channel rate-limited as the workspace
    # its incident belongs to), so the bot's pacing is part of what is measured
    slack = LocalSlack()
    slack.start()
    for uid, name in ((ALICE, "alice"), (BOB, "bob"), (LEAD, "lena")):
        slack.add_user(uid, name)
    leads = slack.add_channel("crisis-leads", members=[LEAD], bot_member=True)
    conn.send({"api_url": slack.api_url, "signing_secret": slack.signing_secret,
               "bot_token": slack.bot_token, "team_id": slack.team_id, "leads": leads.id,
               "pid": os.getpid()})
    channels: list[str] = []
    deadline = time.monotonic() + CHILD_LIFETIME_S
    try:
        for _ in range(CONTROL_MESSAGES):
            if time.monotonic() > deadline:
                break
            if not conn.poll(5.0):
                continue
            try:
                msg = conn.recv()
            except EOFError:
                break
            op = msg[0]
            if op == "seed":  # one incident channel each, the bot a member, its card posted
                made = []
                teams = max(1, int(msg[2]))
                for i in range(int(msg[1])):
                    chan = slack.add_channel(f"inc-{i + 1}-bench-customer", members=[ALICE, BOB],
                                             bot_member=True)
                    card = slack.add_message(chan.id, slack.bot_user_id,
                                             f"INC-{i + 1} status card")
                    team = workspace(i, teams)
                    slack.set_channel_workspace(chan.id, team)
                    made.append((chan.id, chan.name, card.ts, team))
                    channels.append(chan.id)
                # The stand-in is not what is measured: its collector walking the seed and
                # what the run stores (every message and call) paused every thread of it, up
                # to 0.36 s near the end of a 10,000 run, and each pause made every post in
                # flight that much late. The seed is frozen out of the collector, and so is
                # what survives each second after (young garbage is still collected).
                gc.collect()
                gc.freeze()
                if not any(t.name == "gc-freeze" for t in threading.enumerate()):
                    threading.Thread(target=_freezing, daemon=True, name="gc-freeze").start()
                conn.send(made)
            elif op == "count":  # 🔔 messages so far (progress)
                with slack._lock:
                    n = sum(1 for cid in channels for m in slack._messages.get(cid, ())
                            if BELL in m.text)
                conn.send(n)
            elif op == "bells":  # per channel: ts of each 🔔 message, and messages in all
                out: dict[str, list[float]] = {}
                total = 0
                with slack._lock:
                    for cid in channels:
                        msgs = slack._messages.get(cid, ())
                        total += len(msgs)
                        out[cid] = [float(m.ts) for m in msgs if BELL in m.text]
                conn.send({"bells": out, "messages": total})
            elif op == "stats":
                with slack._lock:
                    calls = Counter(c.method for c in slack.calls)
                    violations = list(slack.violations)
                    leads_msgs = len(slack._messages.get(leads.id, ()))
                conn.send({"calls": dict(calls), "violations": violations[:20],
                           "ratelimited": slack.ratelimited,
                           "violation_count": len(violations), "leads_messages": leads_msgs})
            elif op == "stop":
                conn.send(True)
                break
    finally:
        slack.stop()


class Child:
    """A spawned child process with a control pipe; always stopped, killed if it must be."""

    def __init__(self, target: Callable[..., None]) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child_conn,), daemon=True)
        self.proc.start()
        child_conn.close()
        if not self.conn.poll(CHILD_START_TIMEOUT):
            self.kill()
            raise RuntimeError(f"{target.__name__} did not start within {CHILD_START_TIMEOUT} s")
        self.info: dict[str, Any] = self.conn.recv()

    def ask(self, *msg: Any, timeout: float = 120.0) -> Any:
        self.conn.send(msg)
        if not self.conn.poll(timeout):
            raise TimeoutError(f"local Slack: no answer to {msg[0]!r} within {timeout} s")
        return self.conn.recv()

    def stop(self, timeout: float = 30.0) -> None:
        with contextlib.suppress(OSError, EOFError, BrokenPipeError):
            self.conn.send(("stop",))
            if self.conn.poll(timeout):
                self.conn.recv()
        self.proc.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()  # our own child, by its handle
            self.proc.join(5)


# =============================================================================================
# databases
# =============================================================================================


class Databases:
    """An empty database per run: a SQLite file in a temporary folder, or a scratch database on
    the PostgreSQL server (CRISISBOT_BENCH_DATABASE_URL or the default), dropped in close()."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server = os.environ.get("CRISISBOT_BENCH_DATABASE_URL") or PG_DEFAULT_SERVER
        self.created: list[str] = []
        self._admin: Any = None

    def admin(self) -> Any:
        if self._admin is None:
            from sqlalchemy import create_engine, pool

            self._admin = create_engine(self.server, isolation_level="AUTOCOMMIT",
                                        poolclass=pool.NullPool,
                                        connect_args={"connect_timeout": 5})
        return self._admin

    def new(self, kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{self.workdir / f'reminders-{len(self.created)}.db'}"
        from sqlalchemy.engine import make_url

        name = f"crisisbot_bench_rem_{os.getpid()}_{len(self.created)}"
        with self.admin().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(self.server).set(database=name).render_as_string(hide_password=False)

    def describe(self, kind: str) -> str:
        if kind == "sqlite":
            return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL, temp file)"
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        with self.admin().connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        where = make_url(self.server).render_as_string(hide_password=True).split("@")[-1]
        return f"PostgreSQL {version} (scratch database on {where.rsplit('/', 1)[0]})"

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        if name in self.created:
            with self.admin().connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            with contextlib.suppress(Exception), self.admin().connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self._admin is not None:
            self._admin.dispose()


# =============================================================================================
# the incidents
# =============================================================================================


@dataclass
class Planned:
    channel_id: str
    channel_name: str
    card_ts: str
    due: datetime  # in the bot's clock (wall time + offset)
    team_id: str = "T0LOCAL"
    incident_id: int = 0


def workspace(i: int, teams: int) -> str:
    """The workspace of the i-th incident: incidents dealt round-robin over `teams`."""
    return f"TBENCH{i % teams:04d}"


def plan(channels: list[tuple[str, str, str, str]], window: float, lead: float, base: datetime,
         seed: int) -> list[Planned]:
    """Due times evenly spaced over `window`, the first `lead` after `base`, shuffled so
    incident numbers (and ids) are not in due order."""
    n = len(channels)
    step = window / (n - 1) if n > 1 else 0.0
    offsets = [lead + i * step for i in range(n)]
    random.Random(seed).shuffle(offsets)
    return [Planned(cid, name, ts, base + timedelta(seconds=off), team)
            for (cid, name, ts, team), off in zip(channels, offsets, strict=True)]


def bot_settings(slack: dict[str, Any], database_url: str) -> Any:
    """The bot's settings against the local Slack child (`slack`: its `Child.info`)."""
    from bot.config import Settings

    return Settings(slack_bot_token=slack["bot_token"],
                    slack_signing_secret=slack["signing_secret"],
                    slack_api_url=slack["api_url"], database_url=database_url, leads=(LEAD,),
                    leads_channel=slack["leads"])


def cadence_for(window: float, lead: float) -> timedelta:
    """The benchmark's agreed cadence: 5 minutes, or the shortest whole number of minutes
    that outlasts the window and the lead (one DUE per incident, no second period)."""
    return max(CADENCE, timedelta(minutes=math.floor((window + lead) / 60) + 1))


def insert_incidents(sessions: Any, team_id: str, planned: list[Planned],
                     cadence: timedelta = CADENCE) -> float:
    """Through the store's own add_incident, INSERT_BATCH per transaction; returns seconds."""
    from playbook import store
    from playbook.domain.model import CadenceChange, Incident

    started = time.perf_counter()
    for first in range(0, len(planned), INSERT_BATCH):
        with sessions.begin() as session:
            for i, p in enumerate(planned[first:first + INSERT_BATCH], start=first):
                start = p.due - cadence
                inc = Incident(
                    team_id=p.team_id, number=0, customer=f"Customer {i % 997}",
                    description="Checkout returns 502 for a share of orders (bench)",
                    opened_by=ALICE, opened_at=start - timedelta(minutes=10),
                    channel_id=p.channel_id, channel_name=p.channel_name, card_ts=p.card_ts,
                    owner=ALICE, owner_set_at=start - timedelta(minutes=9), communicator=BOB,
                    customer_words=["Our customers cannot pay."], impact="Lost orders",
                    cadence_changes=[CadenceChange(start, cadence, agreed=True, by=ALICE)],
                )
                p.incident_id = store.add_incident(session, inc).id or 0
    return time.perf_counter() - started


# =============================================================================================
# observing the bot process (bench only: wrappers on instances, nothing edited)
# =============================================================================================


class Sampler:
    """A poor man's sampling profiler: every SAMPLE_EVERY_S, the stack of every thread."""

    def __init__(self) -> None:
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self.samples = 0
        self.self_time: dict[str, Counter[str]] = defaultdict(Counter)
        self.inclusive: dict[str, Counter[str]] = defaultdict(Counter)
        self.thread_samples: Counter[str] = Counter()

    @staticmethod
    def kind(name: str) -> str:
        if name.startswith("ThreadPoolExecutor"):
            return "apscheduler-executor"
        if name.startswith("outbox-"):
            return "outbox"
        return name.split("-")[0] if name.startswith("APScheduler") else name

    def _run(self) -> None:
        me = threading.get_ident()
        for _ in range(MAX_SAMPLES):
            if self.stop_flag.wait(SAMPLE_EVERY_S):
                return
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                kind = self.kind(names.get(ident, "?"))
                if kind in ("MainThread", "localslack-http", "?"):
                    continue
                top = frame
                # an idle thread waits in threading/queue: count it as idle, not as work
                code = top.f_code
                leaf = f"{Path(code.co_filename).name}:{code.co_name}"
                self.thread_samples[kind] += 1
                if code.co_name in ("wait", "_wait_for_tstate_lock", "get", "select") and \
                        Path(code.co_filename).name in ("threading.py", "queue.py",
                                                        "selectors.py"):
                    self.self_time[kind]["(idle)"] += 1
                    continue
                self.self_time[kind][leaf] += 1
                seen: set[str] = set()
                f: Any = frame
                while f is not None:
                    c = f.f_code
                    fn = c.co_filename
                    if fn.startswith(str(ROOT)) and "/.venv/" not in fn:
                        key = f"{Path(fn).parent.name}/{Path(fn).name}:{c.co_name}"
                    elif "apscheduler" in fn or "sqlalchemy" in fn or "slack_sdk" in fn or \
                            "psycopg" in fn:
                        key = f"[{fn.split('site-packages/')[-1].split('/')[0]}] {c.co_name}"
                    else:
                        key = ""
                    if key and key not in seen:
                        seen.add(key)
                        self.inclusive[kind][key] += 1
                    f = f.f_back
            self.samples += 1

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_flag.set()
        self.thread.join(5)

    def report(self, top: int = 15) -> dict[str, Any]:
        out: dict[str, Any] = {"interval_ms": SAMPLE_EVERY_S * 1000, "ticks": self.samples,
                               "threads": {}}
        for kind, total in self.thread_samples.most_common():
            idle = self.self_time[kind].get("(idle)", 0)
            out["threads"][kind] = {
                "samples": total, "busy_share": round(1 - idle / total, 3) if total else 0,
                "self": self.self_time[kind].most_common(top),
                "inclusive": self.inclusive[kind].most_common(top),
            }
        return out


class SqlTimer:
    """Statements and time per thread kind and statement verb (incl. waiting for BEGIN)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.lock = threading.Lock()
        self.totals: dict[str, list[float]] = {}
        self.local = threading.local()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args: Any) -> None:
        self.local.t = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        spent = time.perf_counter() - getattr(self.local, "t", time.perf_counter())
        who = Sampler.kind(threading.current_thread().name)
        words = statement.lstrip().split(None, 3)
        verb = " ".join(words[:2]).upper() if words and words[0].upper() == "BEGIN" else \
            (words[0].upper() if words else "?")
        if verb in ("SELECT", "UPDATE", "INSERT", "DELETE"):
            flat = " ".join(statement.split())
            if verb == "SELECT":
                table = flat.split(" FROM ", 1)[1].split(None, 1)[0] if " FROM " in flat \
                    else "(no table)"
            else:
                table = flat.split(None, 3)[2] if len(flat.split(None, 3)) > 2 else "?"
            verb = f"{verb} {table}"
        with self.lock:
            slot = self.totals.setdefault(f"{who}: {verb}", [0, 0.0, 0.0])
            slot[0] += 1
            slot[1] += spent
            slot[2] = max(slot[2], spent)

    def report(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = [{"what": k, "count": int(v[0]), "total_s": round(v[1], 3),
                     "max_ms": round(v[2] * 1000, 1)} for k, v in self.totals.items()]
        return sorted(rows, key=lambda r: -r["total_s"])


# =============================================================================================
# one database
# =============================================================================================


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat; (0, 0) elsewhere."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields) - idle, sum(fields)
    return 0, 0


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc; 0 elsewhere."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def dist(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "min": min(values, default=math.nan), "p50": pct(values, 50),
            "p90": pct(values, 90), "p99": pct(values, 99), "max": max(values, default=math.nan)}


@dataclass
class Options:
    incidents: int
    window: float
    lead: float
    grace: float
    settle: float
    seed: int
    profile: bool
    results_dir: Path
    scheduler: str = "current"
    outbox_processes: int | None = None  # None: the Settings default, as `crisisbot run`
    workspaces: int = 100
    cadence: timedelta = CADENCE
    analyze: bool = True  # PostgreSQL: ANALYZE after the fill, as autovacuum would
    outbox_threads: int | None = None  # None: the Settings default, as `crisisbot run`


def stop_scheduler(sched: Any) -> int:
    """Stop APScheduler and drop the wake-ups still queued in its thread pool (bench only).

    `ReminderScheduler.shutdown()` uses ``shutdown(wait=False)``, which leaves queued jobs to run
    after the scheduler stopped: here they would run against a database about to be dropped.
    Returns how many were queued (work the scheduler was still behind on)."""
    import queue

    pool: Any = None
    with contextlib.suppress(Exception):
        pool = sched.scheduler._lookup_executor("default")._pool
    with contextlib.suppress(Exception):
        sched.scheduler.shutdown(wait=False)
    backlog = 0
    if pool is not None:
        # drop queued work items unrun (cancelling them would make APScheduler log each one)
        for _ in range(1_000_000):
            try:
                pool._work_queue.get_nowait()
            except queue.Empty:
                break
            backlog += 1
        with contextlib.suppress(Exception):
            pool.shutdown(wait=True)
    return backlog


def run_db(kind: str, opts: Options, dbs: Databases, stamp: str) -> dict[str, Any]:
    from bot.local.sandbox import Clock
    from bot.runtime import Runtime
    from playbook import store

    out: dict[str, Any] = {"db": kind, "database": dbs.describe(kind)}
    print(f"… {kind}: local Slack, {opts.incidents} channels", file=sys.stderr, flush=True)
    slack = Child(slack_child)
    url = ""
    runtime: Any = None
    sampler: Sampler | None = None
    try:
        channels = slack.ask("seed", opts.incidents, opts.workspaces, timeout=600)
        url = dbs.new(kind)
        from bot import schema

        t = time.perf_counter()
        schema.upgrade(url)
        out["migrate_s"] = time.perf_counter() - t

        base = datetime.now(UTC)  # the bot's clock reads this when the scheduler starts
        planned = plan(channels, opts.window, opts.lead, base, opts.seed)
        engine = store.make_engine(url)
        try:
            print(f"… {kind}: inserting {opts.incidents} incidents", file=sys.stderr, flush=True)
            out["insert_s"] = insert_incidents(store.make_session_factory(engine),
                                               slack.info["team_id"], planned, opts.cadence)
            if kind == "postgresql" and opts.analyze:
                # what autovacuum's auto-analyze does after a bulk load on a production server;
                # this machine's server runs with autovacuum off, and without statistics the
                # planner read whole child tables for the outbox's incident loads
                t = time.perf_counter()
                with engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
                out["analyze_s"] = time.perf_counter() - t
        finally:
            engine.dispose()

        # the nudge lead equals the cadence: no nudge in the period, one DUE per incident
        settings = replace(bot_settings(slack.info, url), nudge_before=opts.cadence)
        if opts.outbox_processes is not None:
            settings = replace(settings, outbox_processes=opts.outbox_processes)
        if opts.outbox_threads is not None:
            settings = replace(settings, outbox_threads=opts.outbox_threads)
        clock = Clock()
        t = time.perf_counter()
        runtime = Runtime.build(settings, clock=clock)  # as `crisisbot run` builds it
        out["build_s"] = time.perf_counter() - t
        out["outbox_threads"] = runtime.worker.threads
        if opts.scheduler == "proto":  # bench/proto_scheduler.py: the proposed changes
            sys.path.insert(0, str(ROOT / "bench"))
            from proto_scheduler import ProtoScheduler

            runtime.scheduler = ProtoScheduler(runtime.service, on_fired=runtime.worker.wake)
        out["scheduler"] = opts.scheduler
        sched = runtime.scheduler
        service = runtime.service
        timer = SqlTimer(runtime.engine) if opts.profile else None

        # observe (bench only): list_active and every resync's wall time, every fire_due
        reminder_service = service.reminders
        list_active: list[float] = []
        resyncs: list[tuple[float, float]] = []
        fires: list[tuple[int, float, float]] = []
        orig_active, orig_resync, orig_fire = (reminder_service.active_incidents, sched.resync,
                                               reminder_service.fire_due)

        def active_incidents() -> Any:
            t0 = time.perf_counter()
            try:
                return orig_active()
            finally:
                list_active.append(time.perf_counter() - t0)

        def resync() -> None:
            t0, w0 = time.perf_counter(), time.time()
            try:
                orig_resync()
            finally:
                resyncs.append((w0, time.perf_counter() - t0))

        def fire_due(incident_id: int, worker: str) -> Any:
            w0 = time.time()
            try:
                return orig_fire(incident_id, worker)
            finally:
                fires.append((incident_id, w0, time.time()))

        orig_fire_many = getattr(reminder_service, "fire_due_many", None)

        def fire_due_many(incident_ids: Any, worker: str) -> Any:  # a batch: each its time
            ids = list(incident_ids)
            w0 = time.time()
            try:
                return orig_fire_many(ids, worker)  # type: ignore[misc]
            finally:
                w1 = time.time()
                fires.extend((iid, w0, w1) for iid in ids)
                fire_batches.append(len(ids))

        fire_batches: list[int] = []
        reminder_service.active_incidents = active_incidents  # type: ignore[method-assign]
        sched.resync = resync  # type: ignore[method-assign]
        reminder_service.fire_due = fire_due  # type: ignore[method-assign]
        if orig_fire_many is not None:
            reminder_service.fire_due_many = fire_due_many  # type: ignore[method-assign]

        clock.offset = base - datetime.now(UTC)  # the bot's "now" is `base` from here on
        offset_s = clock.offset.total_seconds()
        # as `crisisbot run` starts it: CRISISBOT_OUTBOX_PROCESSES children (they run at the
        # clock's offset, measured as they start), or the worker's threads in this process
        runtime.start_outbox()
        children = runtime.outbox_processes
        out["outbox_processes"] = children.processes if children is not None else 0

        def outbox_cpu() -> float:
            if children is None:
                return 0.0
            return sum(proc_cpu_s(c.pid) for c in children._children if c.pid)

        if opts.profile:
            sampler = Sampler()
            sampler.start()
        cpu0 = time.process_time()
        ticks0, slack_cpu0, outbox_cpu0 = cpu_ticks(), proc_cpu_s(slack.proc.pid), outbox_cpu()
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        sched.start()
        out["rebuild_s"] = time.perf_counter() - t0
        out["rebuild_list_active_s"] = list_active[0] if list_active else math.nan
        out["jobs_after_start"] = len([j for j in sched.scheduler.get_jobs()
                                       if j.id.startswith("slot-")])
        print(f"… {kind}: rebuilt in {out['rebuild_s']:.2f} s "
              f"({out['jobs_after_start']} jobs); firing over {opts.window:g} s",
              file=sys.stderr, flush=True)

        # wait: all posted and the outbox empty, or the last due time + grace
        def due_wall(p: Planned) -> float:
            return p.due.timestamp() - offset_s

        last_due = max(due_wall(p) for p in planned)
        deadline = last_due + opts.grace
        posted = 0
        drained_at = math.nan
        for _ in range(int((deadline - time.time()) / POLL_S) + 2):
            if time.time() > deadline:
                break
            time.sleep(POLL_S)
            posted = slack.ask("count")
            if posted >= len(planned) and time.time() >= last_due:
                with service.sessions() as session:
                    if store.pending_outbox_count(session) == 0:
                        drained_at = time.time()
                        break
        out["bot_cpu_s"] = round(time.process_time() - cpu0, 1)
        out["fire_phase_wall_s"] = round(time.perf_counter() - t0, 1)
        ticks1, slack_cpu1 = cpu_ticks(), proc_cpu_s(slack.proc.pid)
        out["outbox_cpu_s"] = round(outbox_cpu() - outbox_cpu0, 1)
        wall = max(time.perf_counter() - t0, 1e-9)
        busy = (ticks1[0] - ticks0[0]) / max(ticks1[1] - ticks0[1], 1)
        bot_share = out["bot_cpu_s"] / wall
        outbox_share = out["outbox_cpu_s"] / wall
        slack_share = (slack_cpu1 - slack_cpu0) / wall
        # CPUs busy meanwhile with processes outside this benchmark (the box is shared)
        out["cpu_share"] = {"bot": round(bot_share, 2), "outbox": round(outbox_share, 2),
                            "local_slack": round(slack_share, 2),
                            "others": round(max(0.0, busy * len(os.sched_getaffinity(0))
                                                - bot_share - outbox_share - slack_share), 2)}
        out["loadavg_1m"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
        out["timed_out"] = math.isnan(drained_at)
        out["drained_after_last_due_s"] = drained_at - last_due
        time.sleep(opts.settle)  # let a late duplicate show itself
        out["resyncs"] = [{"at_s": round(w - (last_due - opts.window - opts.lead), 1),
                           "seconds": round(s, 3)} for w, s in resyncs]
        out["list_active_s"] = [round(s, 3) for s in list_active]
        if sampler is not None:
            sampler.stop()
        out["executor_backlog_at_stop"] = stop_scheduler(sched)
        runtime.stop()
        runtime = None

        # what Slack got
        got = slack.ask("bells", timeout=300)
        stats = slack.ask("stats")
        by_channel = {p.channel_id: p for p in planned}
        lateness: list[float] = []
        duplicates = misses = 0
        late_by_incident: dict[int, float] = {}
        for cid, tss in got["bells"].items():
            p = by_channel[cid]
            if not tss:
                misses += 1
                continue
            duplicates += len(tss) - 1
            late = min(tss) - due_wall(p)
            lateness.append(late)
            late_by_incident[p.incident_id] = late
        out["expected"] = len(planned)
        out["posted"] = sum(len(v) for v in got["bells"].values())
        out["incidents_with_bell"] = len(lateness)
        out["duplicates"] = duplicates
        out["misses"] = misses
        out["early"] = sum(1 for v in lateness if v < 0)
        out["lateness_s"] = dist(lateness)
        # lateness by when it was due (5 s buckets from the scheduler's start): shows what a
        # periodic resync or a backlog does to the reminders due around it
        start_wall = min(due_wall(p) for p in planned) - opts.lead
        buckets: dict[int, list[float]] = defaultdict(list)
        for p in planned:
            if p.incident_id in late_by_incident:
                buckets[int((due_wall(p) - start_wall) // 5) * 5].append(
                    late_by_incident[p.incident_id])
        out["lateness_by_due_5s"] = {f"{k}s": {"n": len(v), "p50": round(pct(v, 50), 3),
                                               "max": round(max(v), 3)}
                                     for k, v in sorted(buckets.items())}
        out["slack"] = {"calls": stats["calls"], "violation_count": stats["violation_count"],
                        "ratelimited": stats["ratelimited"],
                        "violations": stats["violations"],
                        "leads_messages": stats["leads_messages"],
                        "messages_in_incident_channels": got["messages"]}

        # where the lateness arose (first fire of each incident)
        first_fire: dict[int, tuple[float, float]] = {}
        fire_counts: Counter[int] = Counter()
        for iid, w0, w1 in fires:
            fire_counts[iid] += 1
            if iid not in first_fire:
                first_fire[iid] = (w0, w1)
        due_of = {p.incident_id: due_wall(p) for p in planned}
        sched_delay, fire_s, outbox_s = [], [], []
        for iid, late in late_by_incident.items():
            if iid not in first_fire:
                continue
            w0, w1 = first_fire[iid]
            sched_delay.append(w0 - due_of[iid])
            fire_s.append(w1 - w0)
            outbox_s.append(due_of[iid] + late - w1)
        out["breakdown_s"] = {"scheduler": dist(sched_delay), "fire": dist(fire_s),
                              "outbox": dist(outbox_s)}
        out["fires"] = {"calls": len(fires), "incidents": len(fire_counts),
                        "more_than_once": sum(1 for c in fire_counts.values() if c > 1),
                        "batches": len(fire_batches),
                        "batch_size": dist([float(n) for n in fire_batches])}
        if fires:
            span = max(w1 for _, _, w1 in fires) - min(w0 for _, w0, _ in fires)
            out["fires"]["per_s"] = round(len(fires) / span, 1) if span > 0 else math.nan

        # what the database says
        from sqlalchemy import create_engine, text

        check = create_engine(url)
        try:
            with check.connect() as conn:
                claims = dict(conn.execute(text(
                    "SELECT kind, count(*) FROM reminder_claims GROUP BY kind")).all())
                unsent = conn.execute(text(
                    "SELECT count(*) FROM reminder_claims WHERE sent_at IS NULL")).scalar_one()
                due_incidents = conn.execute(text(
                    "SELECT count(DISTINCT incident_id) FROM reminder_claims "
                    "WHERE kind = 'due'")).scalar_one()
                outbox = dict(conn.execute(text(
                    "SELECT CASE WHEN failed_at IS NOT NULL THEN 'failed' WHEN done_at IS NOT "
                    "NULL THEN 'done' ELSE 'pending' END, count(*) FROM outbox GROUP BY 1"
                )).all())
        finally:
            check.dispose()
        out["db_check"] = {"claims": claims, "claims_unsent": unsent,
                           "due_claim_incidents": due_incidents, "outbox": outbox}
        if opts.profile:
            assert sampler is not None and timer is not None
            prof = {"sampler": sampler.report(), "sql": timer.report()[:40]}
            path = opts.results_dir / f"{stamp}-reminders-{kind}-profile.json"
            path.write_text(json.dumps(prof, indent=2, default=str))
            out["profile_file"] = str(path.relative_to(ROOT))
        return out
    finally:
        if sampler is not None:
            sampler.stop()
        if runtime is not None:
            with contextlib.suppress(Exception):
                runtime.stop()
        slack.stop()
        if url and kind == "postgresql":
            with contextlib.suppress(Exception):
                dbs.drop(url)


# =============================================================================================
# report
# =============================================================================================


def machine() -> dict[str, Any]:
    import importlib.metadata as md

    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = ""
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        commit += " (uncommitted changes)" if dirty else ""
    versions = {}
    for pkg in ("APScheduler", "SQLAlchemy", "psycopg", "slack_sdk", "slack_bolt"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[pkg] = md.version(pkg)
    import hashlib

    fingerprints = {}
    for rel in ("bot/scheduler.py", "playbook/store/incidents.py",
                "playbook/store/reminder_claims.py", "playbook/services/reminders.py",
                "bot/outbox/worker.py"):
        with contextlib.suppress(OSError):
            fingerprints[rel] = hashlib.sha256((ROOT / rel).read_bytes()).hexdigest()[:12]
    return {"nproc": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu": cpu,
            "files_sha256": fingerprints,
            "python": platform.python_version(), "platform": platform.platform(),
            "commit": commit, "packages": versions, "loadavg_at_start": os.getloadavg(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def targets_of(run: dict[str, Any]) -> list[tuple[str, bool, str]]:
    if "error" in run:
        return [(f"{run['db']}: ran", False, run["error"])]
    lat = run["lateness_s"]
    db = run["db"]
    p99_target, rebuild_target = targets_for(run["expected"])
    limited = sum((run["slack"].get("ratelimited") or {}).values())
    return [
        (f"{db}: p99 lateness < {p99_target:g} s", lat["p99"] < p99_target,
         f"{lat['p99']:.3f} s"),
        (f"{db}: rebuild < {rebuild_target:g} s", run["rebuild_s"] < rebuild_target,
         f"{run['rebuild_s']:.2f} s"),
        (f"{db}: Slack answered (almost) nothing 429", limited <= 3,
         f"{limited} calls answered 429 {run['slack'].get('ratelimited') or {}}"),
        (f"{db}: no duplicate", run["duplicates"] == 0,
         f"{run['duplicates']} duplicate 🔔"),
        (f"{db}: no miss", run["misses"] == 0, f"{run['misses']} of {run['expected']} missing"),
        (f"{db}: nothing else went wrong", run["early"] == 0
         and run["slack"]["violation_count"] == 0
         and run["db_check"]["outbox"].get("failed", 0) == 0
         and run["db_check"]["outbox"].get("pending", 0) == 0
         and set(run["db_check"]["claims"]) <= {"due"},
         f"early {run['early']}, Slack violations {run['slack']['violation_count']}, "
         f"outbox {run['db_check']['outbox']}, claims {run['db_check']['claims']}"),
    ]


def fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.3f}"


def report(meta: dict[str, Any], runs: list[dict[str, Any]],
           targets: list[tuple[str, bool, str]]) -> str:
    m = meta["machine"]
    lines = [
        "crisis-playbook-bot: reminder lateness and start-up rebuild (bench/reminders.py)",
        f"date {m['date']}  commit {m['commit']}",
        f"machine: nproc {m['nproc']} (usable {m['cpus_usable']}), {m['cpu']}, "
        f"load avg at start {' '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}",
        f"python {m['python']} on {m['platform']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"load: {meta['load']}",
        "code: " + ", ".join(f"{k} {v}" for k, v in m["files_sha256"].items()),
    ]
    for r in runs:
        lines.append(f"{r['db']}: {r.get('database', '')}")
    lines += [
        "",
        "db          incidents window  rebuild  (list_active)  lateness p50    p99    max  "
        "posted/expected  dups  misses  drain",
        "----------  --------- ------  -------  -------------  ------------ ------ ------  "
        "---------------  ----  ------  -----",
    ]
    for r in runs:
        if "error" in r:
            lines.append(f"{r['db']:<10}  ERROR: {r['error']}")
            continue
        lat = r["lateness_s"]
        drain = "TIMEOUT" if r["timed_out"] else f"{r['drained_after_last_due_s']:+.1f} s"
        lines.append(
            f"{r['db']:<10}  {r['expected']:>9} {meta['window']:>5.0f}s  {r['rebuild_s']:>6.2f}s"
            f"  {r['rebuild_list_active_s']:>12.2f}s  {fmt(lat['p50']):>12} {fmt(lat['p99']):>6}"
            f" {fmt(lat['max']):>6}  {r['posted']:>7}/{r['expected']:<7}  {r['duplicates']:>4}"
            f"  {r['misses']:>6}  {drain}")
    lines += ["", "where the lateness arises (s; p50 / p99 / max per incident)",
              "db          scheduler (due -> fire_due)  fire_due (claim txn)   outbox (commit -> "
              "post)  fire_due calls (/s)  queued at stop  resyncs (at s: took s)"]
    for r in runs:
        if "error" in r:
            continue
        b = r["breakdown_s"]

        def three(d: dict[str, float]) -> str:
            return f"{fmt(d['p50'])} / {fmt(d['p99'])} / {fmt(d['max'])}"
        rs = ", ".join(f"{x['at_s']:g}: {x['seconds']:.2f}" for x in r["resyncs"])
        lines.append(f"{r['db']:<10}  {three(b['scheduler']):<27}  {three(b['fire']):<21}  "
                     f"{three(b['outbox']):<23}  "
                     f"{r['fires']['calls']:>6} ({r['fires'].get('per_s', 0):>5}/s)    "
                     f"{r['executor_backlog_at_stop']:>14}  {rs}")
    lines += ["", "setup (s): " + "; ".join(
        f"{r['db']} migrate {r['migrate_s']:.1f}, insert {r['insert_s']:.1f}, "
        + (f"analyze {r['analyze_s']:.1f}, " if "analyze_s" in r else "")
        + f"build {r['build_s']:.1f}" for r in runs if "error" not in r)]
    lines += ["bot CPU while firing (main process + outbox processes): " + "; ".join(
        f"{r['db']} {r['bot_cpu_s']:.0f} + {r.get('outbox_cpu_s', 0):.0f} s CPU "
        f"({r.get('outbox_processes', 0)} outbox processes) in {r['fire_phase_wall_s']:.0f} s "
        f"wall (load avg 1 min {r['loadavg_1m'][0]:.1f} -> {r['loadavg_1m'][1]:.1f})"
        for r in runs if "error" not in r)]
    lines += ["CPUs busy while firing (bot / outbox processes / local Slack / others = outside "
              "this benchmark): "
              + "; ".join(f"{r['db']} {r['cpu_share']['bot']:.2f} / "
                          f"{r['cpu_share'].get('outbox', 0):.2f} / "
                          f"{r['cpu_share']['local_slack']:.2f} / {r['cpu_share']['others']:.2f}"
                          for r in runs if "error" not in r)]
    lines += ["fire batches: " + "; ".join(
        f"{r['db']} {r['fires']['batches']} batches, size p50 "
        f"{fmt(r['fires']['batch_size']['p50'])} max {fmt(r['fires']['batch_size']['max'])}"
        for r in runs if "error" not in r)]
    lines += ["", "targets"]
    for name, ok, detail in targets:
        lines.append(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--incidents", type=int, help="open incidents (default 10000; --quick 1000)")
    p.add_argument("--window", type=float,
                   help="seconds the due times are spread over (default 60; --quick 20)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1,000 incidents over 20 s")
    p.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    p.add_argument("--lead", type=float, default=5.0,
                   help="seconds from the scheduler's start to the first due time (default 5)")
    p.add_argument("--grace", type=float, default=120.0,
                   help="seconds after the last due time before the missing count as missed "
                        "(default 120)")
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds to keep running after all were posted, for duplicates")
    p.add_argument("--seed", type=int, default=20261123, help="shuffle seed")
    p.add_argument("--outbox-threads", type=int, default=None,
                   help="threads per outbox process (default: the Settings default)")
    p.add_argument("--no-analyze", dest="analyze", action="store_false",
                   help="PostgreSQL: do not ANALYZE after filling the database (by default it "
                        "does, as autovacuum would on a production server)")
    p.add_argument("--cadence", type=int, default=None,
                   help="the incidents' agreed cadence in minutes (default 5, or the shortest "
                        "that outlasts --window + --lead); the nudge lead is set the same")
    p.add_argument("--workspaces", type=int, default=None,
                   help="team_ids the incidents are dealt over (default: one per 100)")
    p.add_argument("--outbox-processes", type=int,
                   help="override CRISISBOT_OUTBOX_PROCESSES (default: its default, 1)")
    p.add_argument("--profile", action="store_true",
                   help="sample the bot's threads and time its SQL; into bench/results/")
    p.add_argument("--scheduler", choices=("current", "proto"), default="current",
                   help="current: bot/scheduler.py as it is (default); proto: with the changes "
                        "prototyped in bench/proto_scheduler.py")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    args = p.parse_args(argv)

    incidents = args.incidents if args.incidents is not None else \
        (1000 if args.quick else 10_000)
    window = args.window if args.window is not None else (20.0 if args.quick else 60.0)
    if not 1 <= incidents <= MAX_INCIDENTS:
        p.error(f"--incidents must be 1..{MAX_INCIDENTS}")
    if not 0 <= window <= MAX_WINDOW_S or not 0 <= args.lead <= 60:
        p.error(f"--window must be 0..{MAX_WINDOW_S:g} and --lead 0..60")
    cadence = timedelta(minutes=args.cadence) if args.cadence else cadence_for(window, args.lead)
    if window + args.lead >= cadence.total_seconds():
        p.error(f"--window + --lead must stay under the {cadence} cadence (one DUE each)")
    if window + args.lead + args.grace >= ESCALATE_AFTER.total_seconds():
        p.error("--window + --lead + --grace must end before the first escalation (15 min)")
    if not 0 <= args.grace <= MAX_GRACE_S or not 0 <= args.settle <= 60:
        p.error(f"--grace must be 0..{MAX_GRACE_S:g} and --settle 0..60")
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    workspaces = args.workspaces or max(1, incidents // 100)
    opts = Options(incidents, window, args.lead, args.grace, args.settle, args.seed,
                   args.profile, results_dir, args.scheduler, args.outbox_processes,
                   workspaces, cadence, args.analyze, args.outbox_threads)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    meta = {"machine": machine(), "window": window,
            "load": f"{incidents} open incidents, one DUE each, evenly spaced over {window:g} s "
                    f"from {args.lead:g} s after the scheduler's start (one every "
                    f"{1000 * window / max(1, incidents - 1):.1f} ms); "
                    f"{cadence.total_seconds() / 60:g}-min cadence (nudge lead the same: no "
                    "nudge), one "
                    f"channel and card each, over {workspaces} workspaces (team_ids); strict "
                    "local Slack (rate tiers per workspace); production Runtime, outbox "
                    "threads default"
                    + ("; --profile" if args.profile else "")
                    + ("; SCHEDULER = bench/proto_scheduler.py (prototype)"
                       if args.scheduler == "proto" else "")}
    runs: list[dict[str, Any]] = []
    setup_failed = False
    with tempfile.TemporaryDirectory(prefix="crisisbot-bench-rem-") as tmp:
        dbs = Databases(Path(tmp))
        try:
            for kind in kinds:
                try:
                    runs.append(run_db(kind, opts, dbs, stamp))
                except Exception as exc:
                    traceback.print_exc()
                    setup_failed = True
                    runs.append({"db": kind, "error": f"{type(exc).__name__}: {exc}"[:300]})
        finally:
            dbs.close()
    targets = [t for r in runs for t in targets_of(r)]
    text = report(meta, runs, targets)
    print(text)
    passed = all(ok for _, ok, _ in targets)
    payload = {**meta, "options": {"incidents": incidents, "window": window,
                                   "scheduler": args.scheduler,
                                   "lead": args.lead, "grace": args.grace,
                                   "seed": args.seed, "profile": args.profile},
               "runs": runs, "targets": [{"name": n, "ok": ok, "detail": d}
                                         for n, ok, d in targets],
               "passed": passed, "report": text}
    out = Path(args.json) if args.json else results_dir / f"{stamp}-reminders.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nfigures written to {out}", file=sys.stderr)
    if setup_failed and all("error" in r for r in runs):
        return 2
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
