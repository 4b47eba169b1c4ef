#!/usr/bin/env python
"""Ack latency of `/incident open` over real HTTP, against a bare Bolt app on the same machine.

A benchmark, not a test: it starts three processes and measures from the client side.

* a local Slack (`bot.local.localslack.LocalSlack`) in its own process, so the Web API calls of the
  outbox worker do not share the app's GIL (real Slack is not in the app's process either);
* the app under test in its own process, built like `crisisbot run --http` builds it:
  `Runtime.build(settings)` (migrations, outbox worker with its production thread count,
  scheduler) served by waitress through `bot.web.serve`; or the *bare* app: a `slack_bolt.App`
  with the same signing secret, a `WebClient` on the same local Slack, `process_before_response`
  like ours, and one `@app.command("/incident")` that only acks, served by the same `serve`;
* this process: the load generator (signed form posts exactly like Slack's slash commands, over
  a pool of keep-alive HTTP connections) and the checks in the database afterwards.

Scenarios (each against a fresh local Slack, and for the real app a fresh database):

1. steady: open-loop pacing at `--rate` requests/s for `--duration` s (a dispatcher releases
   each request at its scheduled time to a pool of client threads; nobody waits for an answer
   before the next is sent);
2. burst: `--burst` requests released together by a `threading.Barrier`;
3. exactly once (after each scenario against the real app): wait for the intake (opens recorded
   raw under load, bot/intake.py) and then the outbox to drain, then check that every acked
   request made exactly one incident (numbers 1..N, no duplicates, each request's tag in exactly
   one incident; an ack the intake took names its incident through the request's response_url,
   once), that the local Slack has one incident channel per incident, and that no outbox row
   failed.

Run from the repository root:  .venv/bin/python bench/ack_latency.py [--db postgresql] [--quick]
See bench/README.md for what is measured and the latest figures.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ALICE, BOB, CAROL, LEAD = "U0ALICE", "U0BOB", "U0CAROL", "U0LEAD"
EVENTS_PATH = "/slack/events"
PG_DEFAULT_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ACK_LIMIT_S = 3.0

# targets
STEADY_P99_MS = 100.0
FLOOR_RATIO = 1.5  # burst of FLOOR_BURST: p99 at most this times the CPU floor of recording
BARE_RATIO = 8.0  # ... and at most this times the bare app's p99 in the same run
FLOOR_BURST = 60

# hard bounds, so nothing here can run or loop forever
CHILD_START_TIMEOUT = 60.0
CHILD_LIFETIME = 3 * 3600.0
CONTROL_MESSAGES = 10_000
REQUEST_TIMEOUT = 10.0
MAX_REQUESTS = 20_000
CEILING_MAX = 5_000  # requests prepared for the closed-loop scenario

OPENED = re.compile(r"Opened \*INC-(\d+)\*")
# the ack of an open the intake took (playbook/domain/intake.py): the number follows by
# response_url
RECORDED = re.compile(r"Recorded: your incident for ")
TAG = re.compile(r"\[bench (\d+)\]")


# =============================================================================================
# child 1: the local Slack
# =============================================================================================


def _slack_child(conn: Any, team_id: str, kind: bool = False) -> None:
    from bot.local.localslack import LocalSlack
    from bot.local.localslack.api_messages import apply_ack

    # strict (rate tiers on) unless --kind-slack: the ack path makes no Slack call, so the
    # tiers only slow the outbox, which runs in its own process after the acks
    slack = LocalSlack(team_id=team_id, kind=kind)
    slack.start()
    for uid, name, tz in ((ALICE, "alice", "Europe/Paris"), (BOB, "bob", "America/New_York"),
                          (CAROL, "carol", "UTC"), (LEAD, "lena", "UTC")):
        slack.add_user(uid, name, tz=tz)
    support = slack.add_channel("support", members=[ALICE, BOB, CAROL, LEAD])
    leads = slack.add_channel("crisis-leads", members=[LEAD], bot_member=True)
    conn.send({"api_url": slack.api_url, "signing_secret": slack.signing_secret,
               "bot_token": slack.bot_token, "team_id": slack.team_id,
               "team_domain": slack.team_domain, "app_id": slack.app_id,
               "support": support.id, "leads": leads.id, "pid": os.getpid()})
    deadline = time.monotonic() + CHILD_LIFETIME
    try:
        for _ in range(CONTROL_MESSAGES):
            if time.monotonic() > deadline or not conn.poll(5.0):
                if time.monotonic() > deadline:
                    break
                continue
            try:
                msg = conn.recv()
            except EOFError:
                break
            op = msg[0]
            if op == "issue":  # response_url + trigger_id pairs, as Slack puts in each request
                n, user, channel = msg[1], msg[2], msg[3]
                conn.send([(slack.issue_response_url("command", user_id=user, channel_id=channel),
                            slack.issue_trigger(user)) for _ in range(n)])
            elif op == "acks":  # show each ack to its user, as Slack would (checks its content)
                for user, channel, body in msg[1]:
                    apply_ack(slack, "ack of /incident", user, channel, body)
                conn.send(True)
            elif op == "stats":
                chans = [c for c in slack.channels.values()
                         if not c.is_im and c.name.startswith("inc-")]
                calls = Counter(c.method for c in slack.calls)
                conn.send({"incident_channels": len(chans),
                           "incident_channel_ids": sorted(c.id for c in chans),
                           "violations": list(slack.violations[:20]),
                           "violation_count": len(slack.violations),
                           "calls": dict(calls)})
            elif op == "responses":  # what the app posted to response_urls: (url id, text)
                conn.send([(p.url_id, p.text) for p in slack.responses])
            elif op == "cpu":
                conn.send(time.process_time())
            elif op == "stop":
                conn.send(True)
                break
    finally:
        slack.stop()


# =============================================================================================
# child 2: the app under test
# =============================================================================================


class _Timed:
    """WSGI middleware (bench only): time spent inside the app, per request, in the server.

    The client sees that plus waitress' queueing, the socket and the GIL; the difference tells
    where an ack waited. Records (start, seconds, requests in flight at start)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.inflight = 0
        self.samples: list[tuple[float, float, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != EVENTS_PATH:
            return self.app(environ, start_response)
        with self.lock:
            self.inflight += 1
            depth = self.inflight
        start = time.perf_counter()
        try:
            return list(self.app(environ, start_response))
        finally:
            spent = time.perf_counter() - start
            with self.lock:
                self.inflight -= 1
                if len(self.samples) < MAX_REQUESTS:
                    self.samples.append((start, spent, depth))


class _SqlTimer:
    """--diagnose (bench only): where each kind of thread spends its database time.

    Per statement kind and thread kind (request = a waitress thread, outbox, APScheduler...):
    count, total, p50/p99/max. `BEGIN IMMEDIATE incl. queue` is the wait for the write lock
    (the store's in-process writer queue, then SQLite's lock; PostgreSQL: a round trip); `hold`
    is how long a transaction stayed open (BEGIN done to COMMIT/ROLLBACK), i.e. how long it kept
    everybody else waiting on SQLite."""

    CAP = 50_000

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = {}
        self.local = threading.local()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)
        event.listen(engine, "begin", self._begin, insert=True)  # before the store's own hook

    def _begin(self, conn: Any) -> None:
        self.local.begin_t = time.perf_counter()

    @staticmethod
    def _who() -> str:
        name = threading.current_thread().name
        return "request" if name.startswith("waitress") else name.split("-")[0].split("_")[0]

    def _add(self, key: str, spent: float) -> None:
        with self.lock:
            slot = self.samples.setdefault(key, [])
            if len(slot) < self.CAP:
                slot.append(spent)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.local.t = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        now = time.perf_counter()
        spent = now - getattr(self.local, "t", now)
        words = statement.lstrip().split(None, 2)
        first = words[0].upper() if words else "?"
        kind = " ".join(words[:2]).upper() if first == "BEGIN" else first
        if first == "BEGIN":
            self.local.began = now
            started = getattr(self.local, "begin_t", None)
            if started is not None:  # the store's writer queue, then SQLite's lock
                self._add(f"{self._who()}:{kind} incl. queue", now - started)
                self.local.begin_t = None
        self._add(f"{self._who()}:{kind}", spent)

    def _end(self, conn: Any) -> None:
        began = getattr(self.local, "began", None)
        if began is not None:
            self._add(f"{self._who()}:hold", time.perf_counter() - began)
            self.local.began = None

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {k: {"count": len(v), "total_s": round(sum(v), 3),
                        "p50_ms": round(pct(v, 50) * 1000, 2),
                        "p99_ms": round(pct(v, 99) * 1000, 1),
                        "max_ms": round(max(v) * 1000, 1)}
                    for k, v in sorted(self.samples.items(), key=lambda kv: -sum(kv[1]))}


# --- experiments: prototypes of proposed app fixes, applied only inside this bench's app ------
# process (monkeypatches; the app's files are untouched). See bench/README.md "Findings".

EXPERIMENTS = ("recurrence-off", "split-outbox")


def _experiment_recurrence_off() -> None:
    """No repeat-crisis check before the ack: the bound of moving it after the ack. (The
    former "recurrence-fast" experiment, a bounded and prefiltered check, is what
    playbook.services.incidents does now.)"""
    from playbook.services.incidents import Service

    Service._recurrence_warning = lambda self, new: None  # type: ignore[method-assign]


def _app_child(conn: Any, kind: str, cfg: dict[str, Any]) -> None:
    import logging

    log_file = open(cfg["log_path"], "a", encoding="utf-8")  # noqa: SIM115 (lives as long as us)
    runtime = None
    timer: _SqlTimer | None = None
    if kind == "real":
        from bot.config import Settings
        from bot.runtime import Runtime

        settings = Settings(
            slack_bot_token=cfg["bot_token"], slack_signing_secret=cfg["signing_secret"],
            slack_api_url=cfg["api_url"], database_url=cfg["database_url"],
            leads=(LEAD,), leads_channel=cfg["leads"], responders=(CAROL,))
        if cfg.get("intake_after") is not None:
            settings = dataclasses.replace(settings, intake_after=int(cfg["intake_after"]))
        try:
            from bot.redact import configure_logging

            configure_logging(settings, stream=log_file)
        except Exception:  # the logging module is not what we measure
            logging.basicConfig(stream=log_file, level=logging.INFO)
        kwargs = {}
        if cfg.get("outbox_threads"):
            kwargs["outbox_threads"] = int(cfg["outbox_threads"])
        if cfg.get("outbox_processes") is not None:
            kwargs["outbox_processes"] = int(cfg["outbox_processes"])
        experiments = cfg.get("experiments") or []
        if "recurrence-off" in experiments:
            _experiment_recurrence_off()
        if "split-outbox" in experiments:  # the outbox runs in its own process (_outbox_child)
            kwargs["outbox_threads"], kwargs["outbox_processes"] = 0, 0
        runtime = Runtime.build(settings, **kwargs)  # as `crisisbot run --http` does
        runtime.client.auth_test()
        if cfg.get("diagnose"):
            timer = _SqlTimer(runtime.engine)
        runtime.start_background()
        wsgi = runtime.wsgi()
    else:
        from slack_bolt import App
        from slack_sdk import WebClient

        from bot.web import make_wsgi

        logging.basicConfig(stream=log_file, level=logging.INFO)
        app = App(signing_secret=cfg["signing_secret"],
                  client=WebClient(token=cfg["bot_token"], base_url=cfg["api_url"]),
                  process_before_response=True)  # as create_app: the listener is the ack

        @app.command("/incident")
        def incident(ack: Any) -> None:
            ack("ok")

        wsgi = make_wsgi(app, lambda: True, signing_secret=cfg["signing_secret"])

    from bot.web import THREADS, serve

    threads = int(cfg.get("threads") or THREADS)
    timed = _Timed(wsgi)
    workers = int(cfg.get("http_workers") or 1) if runtime is not None else 1
    if runtime is not None and workers > 1:
        # as `crisisbot run --http` serves: this process plus workers - 1 HTTP workers on one
        # socket (bot/http_workers.py); only this process's requests are timed by _Timed
        runtime.wsgi = lambda: timed  # type: ignore[method-assign]
        server = runtime.http_server(0, host="127.0.0.1", workers=workers, threads=threads)
    else:
        server = serve(timed, host="127.0.0.1", port=0, threads=threads,  # as production
                       load=runtime.load if runtime is not None else None)
    thread = threading.Thread(target=server.run, daemon=True, name="bench-http")
    thread.start()
    pool = getattr(server, "workers", None)

    def cpu_now() -> float:
        """This process's CPU plus its HTTP workers' (from /proc), in seconds."""
        total = time.process_time()
        for pid in (pool.pids() if pool is not None else []):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    conn.send({"url": f"http://127.0.0.1:{server.effective_port}", "pid": os.getpid(),
               "http_workers": workers})
    cpu_mark, wall_mark = cpu_now(), time.monotonic()
    deadline = time.monotonic() + CHILD_LIFETIME
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
            if msg[0] == "samples":
                with timed.lock:
                    samples, timed.samples = timed.samples, []
                cpu = cpu_now()
                conn.send({"samples": samples, "cpu_s": cpu - cpu_mark,
                           "wall_s": time.monotonic() - wall_mark,
                           "sql": timer.report() if timer is not None else None})
                cpu_mark, wall_mark = cpu, time.monotonic()
            elif msg[0] == "stop":
                break
    finally:
        server.close()
        if runtime is not None:
            runtime.stop()
        with contextlib.suppress(Exception):
            conn.send(True)
        log_file.close()


def _outbox_child(conn: Any, cfg: dict[str, Any]) -> None:
    """split-outbox: the production OutboxWorker (Runtime.build, default threads) alone in its
    own process on the same database, as a `crisisbot worker` process would run it. Without a
    wake-up from the HTTP process it finds new rows by polling (every 0.25 s here)."""
    import logging

    from bot.config import Settings
    from bot.runtime import Runtime

    logging.basicConfig(filename=cfg["log_path"], level=logging.INFO)
    settings = Settings(
        slack_bot_token=cfg["bot_token"], slack_signing_secret=cfg["signing_secret"],
        slack_api_url=cfg["api_url"], database_url=cfg["database_url"],
        leads=(LEAD,), leads_channel=cfg["leads"], responders=(CAROL,))
    runtime = Runtime.build(settings, migrate=False, outbox_processes=0)
    runtime.worker.poll = 0.25
    runtime.worker.start()
    conn.send({"pid": os.getpid()})
    deadline = time.monotonic() + CHILD_LIFETIME
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
            if msg[0] == "stop":
                break
            if msg[0] == "cpu":
                conn.send(time.process_time())
    finally:
        runtime.stop()
        with contextlib.suppress(Exception):
            conn.send(True)


class Child:
    """A spawned child process with a control pipe; always stopped, killed if it must be."""

    def __init__(self, target: Any, *args: Any, daemon: bool = True) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        # (daemon=False for the app: with --outbox-processes it starts children of its own)
        self.proc = ctx.Process(target=target, args=(child_conn, *args), daemon=daemon)
        self.proc.start()
        child_conn.close()
        if not self.conn.poll(CHILD_START_TIMEOUT):
            self.kill()
            raise RuntimeError(f"{target.__name__} did not start within {CHILD_START_TIMEOUT} s")
        self.info: dict[str, Any] = self.conn.recv()

    def ask(self, *msg: Any, timeout: float = 120.0) -> Any:
        self.conn.send(msg)
        if not self.conn.poll(timeout):
            raise TimeoutError(f"no answer to {msg[0]!r} within {timeout} s")
        return self.conn.recv()

    def stop(self, timeout: float = 30.0) -> None:
        with contextlib.suppress(OSError, EOFError, BrokenPipeError):
            self.conn.send(("stop",))
            if self.conn.poll(timeout):
                self.conn.recv()
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.kill()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()  # our own child, by its handle
            self.proc.join(5)


# =============================================================================================
# the load generator
# =============================================================================================


@dataclass
class Result:
    index: int
    status: int = 0
    ok: bool = False
    number: int | None = None
    sent_at: float = 0.0  # perf_counter when the request started going out
    done_at: float = 0.0
    lag_ms: float = 0.0  # how late the client sent it versus its schedule (steady)
    error: str = ""
    body: Any = None
    intake: bool = False  # acked "recorded" (bot/intake.py): the number came by response_url
    response_url: str = ""

    @property
    def latency_ms(self) -> float:
        return (self.done_at - self.sent_at) * 1000.0


class Client:
    """Signed slash-command posts over one keep-alive HTTP connection (one per thread)."""

    def __init__(self, url: str, secret: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
        self.host, self.port = parts.hostname, parts.port or 80
        self.secret = secret.encode()
        self.conn: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
            self.conn.connect()

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
            self.conn = None

    def signed_headers(self, body: str) -> dict[str, str]:
        import hashlib
        import hmac

        stamp = str(int(time.time()))
        digest = hmac.new(self.secret, f"v0:{stamp}:{body}".encode(), hashlib.sha256)
        return {"Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": f"v0={digest.hexdigest()}",
                "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}

    def post(self, body: str, result: Result) -> None:
        headers = self.signed_headers(body)
        data = body.encode()
        result.sent_at = time.perf_counter()
        try:
            self.connect()
            assert self.conn is not None
            self.conn.request("POST", EVENTS_PATH, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
            result.done_at = time.perf_counter()
            result.status = resp.status
            ctype = resp.getheader("Content-Type") or ""
            text = raw.decode("utf-8", "replace")
            result.body = json.loads(text) if "json" in ctype and text else text
            if resp.will_close:
                self.close()
        except (OSError, http.client.HTTPException, ValueError) as err:
            result.done_at = time.perf_counter()
            result.error = f"{type(err).__name__}: {err}"[:200]
            self.close()


def slash_form(slack: dict[str, Any], index: int, response_url: str, trigger_id: str,
               text: str) -> str:
    """The form body Slack posts for a slash command (see bot/local/localslack/driver.py)."""
    return urlencode({
        "token": "localslack-verification-token", "team_id": slack["team_id"],
        "team_domain": slack["team_domain"], "channel_id": slack["support"],
        "channel_name": "support", "user_id": ALICE, "user_name": "alice",
        "command": "/incident", "text": text, "api_app_id": slack["app_id"],
        "is_enterprise_install": "false", "response_url": response_url,
        "trigger_id": trigger_id})


COMPONENTS = ("login", "checkout", "CSV export", "billing page", "SSO", "webhooks", "search",
              "file upload", "monthly report", "mobile app", "public API", "invoices",
              "notifications")
SYMPTOMS = ("times out", "returns errors", "shows stale data", "is down", "drops records",
            "charges twice", "is very slow", "rejects valid input")


def open_text(index: int, customers: int, similar: bool) -> str:
    """`open <customer>: <what happened>` as Slack sends it (escaped), tagged so the database
    check can find the request. Descriptions vary (component x symptom x numbers: some pairs
    match as "the same problem", most don't) unless `similar`: one outage, every text alike."""
    who = index if customers <= 0 else index % customers
    if similar:
        what = ("checkout fails for every order since 09:00, orders pile up &amp; their "
                "support line is flooded")
    else:
        comp = COMPONENTS[index % len(COMPONENTS)]
        symptom = SYMPTOMS[(index // len(COMPONENTS)) % len(SYMPTOMS)]
        what = f"{comp} {symptom} ({(index * 37) % 900 + 12} seats)"
    return f"open Bench Customer {who:04d}: {what} [bench {index}]"


def judge(kind: str, res: Result) -> None:
    """Was this a good ack? The real app answers `Opened *INC-n*`; the bare one `ok`."""
    if res.error:
        return
    if res.status != 200:
        res.error = f"HTTP {res.status}"
        return
    if kind == "bare":
        res.ok = res.body == "ok"
    else:
        text = res.body.get("text", "") if isinstance(res.body, dict) else ""
        match = OPENED.search(text)
        res.intake = match is None and RECORDED.search(text) is not None
        res.ok = match is not None or res.intake
        res.number = int(match.group(1)) if match else None
    if not res.ok:
        res.error = f"unexpected ack: {str(res.body)[:120]}"


def run_steady(url: str, secret: str, bodies: list[str], rate: float, threads: int,
               kind: str) -> tuple[list[Result], float]:
    """Open loop: request i leaves at t0 + i/rate whatever happened to the earlier ones."""
    n = len(bodies)
    results = [Result(i) for i in range(n)]
    jobs: queue.Queue[tuple[int, float] | None] = queue.Queue()
    ready = threading.Barrier(threads + 1, timeout=60)

    def worker() -> None:
        client = Client(url, secret)
        try:
            client.connect()
        except OSError:
            client.close()  # it will try again on its first request (and count it)
        ready.wait()
        try:
            for _ in range(n + 1):
                job = jobs.get(timeout=CHILD_LIFETIME)
                if job is None:
                    return
                i, scheduled = job
                res = results[i]
                client.post(bodies[i], res)
                res.lag_ms = (res.sent_at - scheduled) * 1000.0
                judge(kind, res)
        finally:
            client.close()

    pool = [threading.Thread(target=worker, daemon=True, name=f"client-{k}")
            for k in range(threads)]
    for t in pool:
        t.start()
    ready.wait()
    t0 = time.perf_counter() + 0.05
    for i in range(n):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.put((i, scheduled))
    for _ in pool:
        jobs.put(None)
    end_by = time.monotonic() + REQUEST_TIMEOUT * 3 + 5
    for t in pool:
        t.join(max(0.0, end_by - time.monotonic()))
    return results, t0


def run_burst(url: str, secret: str, bodies: list[str], kind: str) -> tuple[list[Result], float]:
    """Every request on its own connected client; one barrier releases them together."""
    n = len(bodies)
    results = [Result(i) for i in range(n)]
    clients = [Client(url, secret) for _ in range(n)]
    for c in clients:
        c.connect()
    gate = threading.Barrier(n, timeout=60)

    def worker(i: int) -> None:
        try:
            gate.wait()
            clients[i].post(bodies[i], results[i])
            judge(kind, results[i])
        finally:
            clients[i].close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in pool:
        t.start()
    end_by = time.monotonic() + 60 + REQUEST_TIMEOUT * 3
    for t in pool:
        t.join(max(0.0, end_by - time.monotonic()))
    sent = [r.sent_at for r in results if r.sent_at]
    return results, min(sent) if sent else 0.0


def run_closed(url: str, secret: str, bodies: list[str], kind: str, clients: int,
               seconds: float) -> list[Result]:
    """Closed loop (the `ceiling` scenario): `clients` connections each send their next request
    as soon as the last one is answered, for `seconds`: the most the app can ack per second."""
    results: list[Result] = []
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        client = Client(url, secret)
        try:
            for _ in range(len(bodies)):
                if time.perf_counter() >= stop_at:
                    return
                with lock:
                    i = next(cursor, None)
                if i is None:
                    return
                res = Result(i)
                client.post(bodies[i], res)
                judge(kind, res)
                with lock:
                    results.append(res)
        finally:
            client.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in pool:
        t.start()
    end_by = time.monotonic() + seconds + REQUEST_TIMEOUT + 5
    for t in pool:
        t.join(max(0.0, end_by - time.monotonic()))
    with lock:
        return sorted(results, key=lambda r: r.index)


def warm_up(url: str, secret: str, slack: dict[str, Any], issued: list[tuple[str, str]],
            parallel: int = 16) -> int:
    """`/incident help` (reads the database, creates nothing) until every server thread and
    pooled connection has been used once. Returns how many were answered 200."""
    bodies = [slash_form(slack, i, ru, trig, "help") for i, (ru, trig) in enumerate(issued)]
    rounds = max(1, len(bodies) // parallel)
    good = 0
    for r in range(rounds):
        batch = bodies[r * parallel:(r + 1) * parallel]
        res, _ = run_burst(url, secret, batch, "warm")
        good += sum(1 for x in res if x.status == 200)
    return good


# =============================================================================================
# figures
# =============================================================================================


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(results: list[Result]) -> dict[str, Any]:
    done = [r for r in results if r.done_at]
    lat = [r.latency_ms for r in done if not r.error]
    errors = [r for r in results if r.error or not r.done_at]
    kinds = Counter((r.error or "no answer").split(":")[0] for r in errors)
    lags = [r.lag_ms for r in results if r.sent_at]
    return {
        "sent": len(results), "ok": sum(1 for r in results if r.ok), "errors": len(errors),
        "intake": sum(1 for r in results if r.ok and r.intake),
        "error_kinds": dict(kinds),
        "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
        "max_ms": max(lat) if lat else math.nan,
        "mean_ms": sum(lat) / len(lat) if lat else math.nan,
        "over_3s": sum(1 for r in done if r.latency_ms > ACK_LIMIT_S * 1000)
        + sum(1 for r in results if not r.done_at),
        "send_lag_p99_ms": pct(lags, 99), "send_lag_max_ms": max(lags) if lags else math.nan,
    }


def server_summary(samples: list[tuple[float, float, int]]) -> dict[str, Any]:
    spent = [s[1] * 1000 for s in samples]
    depth = [s[2] for s in samples]
    return {"server_p50_ms": pct(spent, 50), "server_p99_ms": pct(spent, 99),
            "server_max_ms": max(spent) if spent else math.nan,
            "max_inflight": max(depth) if depth else 0}


# =============================================================================================
# databases
# =============================================================================================


class Databases:
    """Hands out an empty database per real-app run: a SQLite file, or a PostgreSQL scratch
    database (dropped afterwards). With CRISISBOT_BENCH_DATABASE_URL the given database is used
    as it is; each run has its own team id there, and its rows are deleted afterwards."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.workdir = workdir
        self.given = os.environ.get("CRISISBOT_BENCH_DATABASE_URL") if kind == "postgresql" \
            else None
        self.created: list[str] = []
        self.count = 0
        self.admin: Any = None
        if kind == "postgresql" and not self.given:
            from sqlalchemy import create_engine

            self.admin = create_engine(PG_DEFAULT_ADMIN, isolation_level="AUTOCOMMIT",
                                       pool_pre_ping=True)

    def new(self) -> str:
        self.count += 1
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / f'bench-{self.count}.db'}"
        if self.given:
            return self.given
        from sqlalchemy.engine import make_url

        name = f"crisisbot_bench_{os.getpid()}_{self.count}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(PG_DEFAULT_ADMIN).set(database=name).render_as_string(
            hide_password=False)

    def describe(self) -> str:
        from sqlalchemy import create_engine, text

        if self.kind == "sqlite":
            return f"SQLite {sqlite3.sqlite_version} (WAL, file in {self.workdir})"
        url = self.given or PG_DEFAULT_ADMIN
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar_one()
        finally:
            engine.dispose()
        where = "CRISISBOT_BENCH_DATABASE_URL" if self.given else "scratch databases on " + \
            PG_DEFAULT_ADMIN.split("@")[-1]
        return f"PostgreSQL {version} ({where})"

    def cleanup_team(self, url: str, team_id: str) -> None:
        if not self.given:
            return
        from sqlalchemy import create_engine, delete

        from playbook.store import metadata

        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                for table in reversed(metadata.sorted_tables):
                    if "team_id" in table.c:
                        conn.execute(delete(table).where(table.c.team_id == team_id))
        finally:
            engine.dispose()

    def close(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


def drain_and_verify(url: str, team_id: str, results: list[Result], slack: Child,
                     timeout: float, strict: bool = False) -> dict[str, Any]:
    """Wait until no command of the team waits in the intake (opens recorded raw under load
    are opened first, and only then queue their outbox rows), then until no outbox row of the
    team is pending; then check exactly-once."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)  # plain engine: reads only, no BEGIN IMMEDIATE
    intake_q = text("SELECT count(*) FROM intake WHERE team_id = :t AND done_at IS NULL")
    pending_q = text("SELECT count(*) FROM outbox WHERE team_id = :t AND done_at IS NULL "
                     "AND failed_at IS NULL")
    tells_q = text("SELECT count(*) FROM outbox WHERE team_id = :t AND done_at IS NULL "
                   "AND failed_at IS NULL AND kind = 'tell'")
    start = time.monotonic()
    pending = waiting = tells = -1
    try:
        for _ in range(int(timeout / 0.25) + 2):
            with engine.connect() as conn:
                waiting = int(conn.execute(intake_q, {"t": team_id}).scalar_one())
                pending = int(conn.execute(pending_q, {"t": team_id}).scalar_one())
            if (waiting == 0 and pending == 0) or time.monotonic() - start > timeout:
                break
            time.sleep(0.25)
        drain_s = time.monotonic() - start
        for _ in range(int(timeout / 0.25) + 2):  # the replies by response_url come first
            with engine.connect() as conn:
                tells = int(conn.execute(tells_q, {"t": team_id}).scalar_one())
            if tells == 0 or time.monotonic() - start > 2 * timeout:
                break
            time.sleep(0.25)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT number, description, channel_id FROM incidents "
                                     "WHERE team_id = :t"), {"t": team_id}).all()
            failed = int(conn.execute(text(
                "SELECT count(*) FROM outbox WHERE team_id = :t AND failed_at IS NOT NULL"),
                {"t": team_id}).scalar_one())
            outbox_rows = int(conn.execute(text(
                "SELECT count(*) FROM outbox WHERE team_id = :t"), {"t": team_id}).scalar_one())
    finally:
        engine.dispose()
    stats = slack.ask("stats")
    acked = [r for r in results if r.ok]
    # an ack the intake took: its number is what its response_url was told ("Opened INC-n")
    told: dict[str, list[int]] = {}
    for url_id, said in slack.ask("responses"):
        if (m := OPENED.search(said or "")) is not None:
            told.setdefault(url_id, []).append(int(m.group(1)))
    intake = [r for r in acked if r.intake]
    heard = {r.index: told.get(r.response_url.partition("/respond/")[2], []) for r in intake}
    for r in intake:
        found = heard[r.index]
        r.number = found[0] if len(found) == 1 else None
    numbers = [int(r[0]) for r in rows]
    by_tag: dict[int, list[int]] = {}
    for number, description, _ in rows:
        if (m := TAG.search(description or "")) is not None:
            by_tag.setdefault(int(m.group(1)), []).append(int(number))
    tags = Counter({tag: len(found) for tag, found in by_tag.items()})
    acked_tags = {r.index for r in acked}
    unacked_with_incident = sorted(set(tags) - acked_tags)
    channels_db = [r[2] for r in rows if r[2]]
    checks = {
        "every acked request made exactly one incident": all(tags.get(i) == 1
                                                               for i in acked_tags),
        "no request made two incidents": max(tags.values(), default=1) == 1,
        "each ack names its own incident (intake: by its response_url)": all(
            by_tag.get(r.index) == [r.number] for r in acked),
        "intake drained": waiting == 0,
        "each intake ack was told its number once": all(len(heard[r.index]) == 1
                                                         for r in intake),
        "incidents == requests acked (nothing made behind a failed ack)":
            len(rows) == len(acked) and not unacked_with_incident,
        "numbers are 1..N": sorted(numbers) == list(range(1, len(rows) + 1)),
        "outbox drained": pending == 0,
        "no outbox row failed": failed == 0,
        "one channel per incident (Slack)": stats["incident_channels"] == len(rows),
        "one channel per incident (database)":
            len(set(channels_db)) == len(channels_db) == len(rows)
            and set(channels_db) == set(stats["incident_channel_ids"]),
        "no payload Slack would refuse": stats["violation_count"] == 0,
    }
    waived = []
    if strict and pending:  # rate tiers: the outbox is still creating channels, as it may
        waived = ["outbox drained", "one channel per incident (Slack)",
                  "one channel per incident (database)"]
        if tells:  # (the replies run first, so this is unlikely)
            waived += ["each ack names its own incident (intake: by its response_url)",
                       "each intake ack was told its number once"]
        for name in waived:
            checks.pop(name)
    return {
        "requests": len(results), "acked": len(acked), "incidents": len(rows),
        "intake": len(intake), "intake_told": sum(1 for r in intake if len(heard[r.index]) == 1),
        "intake_pending": waiting,
        "distinct_numbers": len(set(numbers)),
        "duplicates": sum(c - 1 for c in tags.values()),
        "unacked_but_created": len(unacked_with_incident),
        "channels_slack": stats["incident_channels"], "channels_db": len(channels_db),
        "outbox_rows": outbox_rows, "outbox_pending": pending, "outbox_failed": failed,
        "drain_s": drain_s, "drain_timed_out": pending != 0,
        "slack_calls": stats["calls"], "violations": stats["violations"],
        "checks": checks, "ok": all(checks.values()), "waived": waived,
    }


# =============================================================================================
# orchestration
# =============================================================================================


@dataclass
class Options:
    db: str
    rate: float
    duration: float
    burst: int
    client_threads: int
    drain_timeout: float
    bursts: list[int]
    kind_slack: bool
    customers: int
    outbox_threads: int | None
    outbox_processes: int | None
    diagnose: bool
    profile: str | None
    profile_gil: bool
    experiments: list[str]
    quiet_wait: float
    scenarios: list[str]
    results_dir: Path
    similar: bool = False
    http_workers: int = 2
    threads: int = 8
    intake_after: int | None = None
    ceiling_clients: int = 16
    ceiling_seconds: float = 10.0
    warmup: int = 32


def _py_spy() -> str | None:
    for candidate in (shutil.which("py-spy"), "/tmp/benchtools/bin/py-spy",
                      str(Path(sys.executable).parent / "py-spy")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def run_one(opts: Options, scenario: str, kind: str, dbs: Databases,
            stamp: str) -> dict[str, Any]:
    team = "TB" + secrets.token_hex(4).upper()
    slack = Child(_slack_child, team, opts.kind_slack)
    app: Child | None = None
    outbox: Child | None = None
    spy: subprocess.Popen[bytes] | None = None
    db_url = dbs.new() if kind == "real" else None
    try:
        s = slack.info
        n = burst_size(scenario) or {"steady": max(1, round(opts.rate * opts.duration)),
                                     "ceiling": CEILING_MAX}[scenario]
        n = min(n, MAX_REQUESTS)
        issued = slack.ask("issue", n + opts.warmup, ALICE, s["support"])
        cfg = {"api_url": s["api_url"], "signing_secret": s["signing_secret"],
               "bot_token": s["bot_token"], "leads": s["leads"], "database_url": db_url,
               "log_path": str(opts.results_dir / f"ack-{stamp}-{scenario}-{kind}-app.log"),
               "outbox_threads": opts.outbox_threads,
               "outbox_processes": opts.outbox_processes, "diagnose": opts.diagnose,
               "http_workers": opts.http_workers, "threads": opts.threads,
               "experiments": opts.experiments, "intake_after": opts.intake_after}
        app = Child(_app_child, kind, cfg, daemon=False)
        url = app.info["url"]
        if kind == "real" and "split-outbox" in opts.experiments:
            outbox = Child(_outbox_child, {**cfg, "log_path": cfg["log_path"] + ".outbox"})
        warm = warm_up(url, s["signing_secret"], s, issued[n:])
        bodies = [slash_form(s, i, ru, trig, open_text(i, opts.customers, opts.similar))
                  for i, (ru, trig) in enumerate(issued[:n])]
        quiet = wait_quiet(opts.quiet_wait)
        if opts.profile and kind == "real":
            exe = _py_spy()
            if exe is None:
                raise SystemExit("--profile needs py-spy (pip install py-spy)")
            prof = opts.results_dir / f"ack-{stamp}-{scenario}-{kind}-{opts.db}.{opts.profile}"
            fmt = {"txt": "raw", "svg": "flamegraph", "json": "speedscope"}[opts.profile]
            spy = subprocess.Popen([exe, "record", "-p", str(app.info["pid"]), "-o", str(prof),
                                    "-f", fmt, "-r", "250", "--nonblocking",
                                    *(["--gil"] if opts.profile_gil else [])],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        load1 = os.getloadavg()[0]
        app.ask("samples")  # start the app's counters (CPU, server timings) here
        slack_cpu0 = slack.ask("cpu")
        outbox_cpu0 = outbox.ask("cpu") if outbox is not None else 0.0
        wall = time.monotonic()
        ticks0, own0 = cpu_ticks(), time.process_time()
        if scenario == "steady":
            results, _ = run_steady(url, s["signing_secret"], bodies, opts.rate,
                                    opts.client_threads, kind)
        elif burst_size(scenario):
            results, _ = run_burst(url, s["signing_secret"], bodies, kind)
        else:
            results = run_closed(url, s["signing_secret"], bodies, kind, opts.ceiling_clients,
                                 opts.ceiling_seconds)
        wall = time.monotonic() - wall
        ticks1, own1 = cpu_ticks(), time.process_time()
        for r in results:  # which response_url each request carried (issued[i] went to body i)
            r.response_url = issued[r.index][0]
        slack_cpu = slack.ask("cpu") - slack_cpu0
        outbox_cpu = outbox.ask("cpu") - outbox_cpu0 if outbox is not None else 0.0
        server = app.ask("samples")
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(30)
        ncpu = len(os.sched_getaffinity(0))
        busy = (ticks1[0] - ticks0[0]) / max(ticks1[1] - ticks0[1], 1)
        app_share = server["cpu_s"] / max(server["wall_s"], 1e-9)
        client_share = (own1 - own0) / max(wall, 1e-9)
        slack_share = slack_cpu / max(wall, 1e-9)
        outbox_share = outbox_cpu / max(wall, 1e-9)
        out: dict[str, Any] = {
            "scenario": scenario, "app": kind, "warmup_ok": warm, "wall_s": wall,
            **summarize(results), **server_summary(server["samples"]),
            "throughput_per_s": sum(1 for r in results if r.ok) / max(wall, 1e-9),
            "app_cpu_s": server["cpu_s"], "app_cpu_share": app_share,
            "app_cpu_ms_per_request": server["cpu_s"] * 1000 / max(1, len(results)),
            "client_cpu_share": client_share, "slack_cpu_share": slack_share,
            "outbox_process_cpu_share": outbox_share,
            "machine_busy": busy, "others_cpu": max(0.0, busy * ncpu - app_share - outbox_share
                                                    - client_share - slack_share),
            "loadavg_1m_before": load1, "quiet_before": quiet,
        }
        if server.get("sql"):
            out["sql"] = server["sql"]
        slack.ask("acks", [(ALICE, s["support"], r.body) for r in results if r.ok])
        if kind == "real":
            assert db_url is not None
            out["exactly_once"] = drain_and_verify(db_url, team, results, slack,
                                                   opts.drain_timeout, not opts.kind_slack)
            drained = app.ask("samples")
            out["drain_app_cpu_s"] = drained["cpu_s"]
            if drained.get("sql"):
                out["drain_sql"] = drained["sql"]
            with contextlib.suppress(Exception):
                dbs.cleanup_team(db_url, team)
        else:
            stats = slack.ask("stats")
            out["violations"] = stats["violations"]
        return out
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        if app is not None:
            app.stop()
        if outbox is not None:
            outbox.stop()
        slack.stop()


def burst_size(scenario: str) -> int:
    """`burst60` -> 60; 0 for the other scenarios."""
    return int(scenario[5:]) if scenario.startswith("burst") and scenario[5:].isdigit() else 0


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat; (0, 0) elsewhere."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields) - idle, sum(fields)
    return 0, 0


def wait_quiet(limit: float, busy_below: float = 0.25) -> str:
    """Wait (at most `limit` s) until the machine is mostly idle over one second, so other
    people's work on a shared box disturbs the figures less. Says what it found."""
    start = time.monotonic()
    busy = 1.0
    for _ in range(int(limit) + 1):
        b0 = cpu_ticks()
        time.sleep(1.0)
        b1 = cpu_ticks()
        busy = (b1[0] - b0[0]) / max(b1[1] - b0[1], 1)
        if busy < busy_below or time.monotonic() - start >= limit:
            break
    return f"{busy:.0%} busy after {time.monotonic() - start:.0f} s"


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
    for pkg in ("slack_bolt", "slack_sdk", "SQLAlchemy", "waitress", "psycopg"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[pkg] = md.version(pkg)
    return {"nproc": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
            "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "commit": commit, "packages": versions,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def fmt_ms(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def evaluate(runs: list[dict[str, Any]], floor_ms: float | None = None
             ) -> list[tuple[str, bool, str]]:
    by = {(r["scenario"], r["app"]): r for r in runs}
    targets: list[tuple[str, bool, str]] = []
    steady = by.get(("steady", "real"))
    if steady:
        targets.append((f"steady: real app p99 < {STEADY_P99_MS:.0f} ms",
                        steady["p99_ms"] < STEADY_P99_MS, f"p99 {fmt_ms(steady['p99_ms'])} ms"))
        targets.append(("steady: no failed request (real app)", steady["errors"] == 0,
                        f"{steady['errors']} errors"))
    for scenario in sorted({r["scenario"] for r in runs if burst_size(r["scenario"])},
                           key=burst_size):
        burst, bare = by.get((scenario, "real")), by.get((scenario, "bare"))
        if burst:
            targets.append((f"{scenario}: no ack over {ACK_LIMIT_S:.0f} s (real app)",
                            burst["over_3s"] == 0 and burst["errors"] == 0,
                            f"{burst['over_3s']} over 3 s, {burst['errors']} errors, "
                            f"max {fmt_ms(burst['max_ms'])} ms"))
        if burst and burst_size(scenario) == FLOOR_BURST and floor_ms:
            limit = FLOOR_RATIO * floor_ms
            targets.append((f"{scenario}: real p99 <= {FLOOR_RATIO}x the recording CPU floor",
                            burst["p99_ms"] <= limit,
                            f"{fmt_ms(burst['p99_ms'])} ms vs {FLOOR_RATIO} x "
                            f"{fmt_ms(floor_ms)} = {fmt_ms(limit)} ms "
                            f"({burst['p99_ms'] / floor_ms:.1f}x the floor)"))
        if burst and bare and burst_size(scenario) == FLOOR_BURST:
            limit = BARE_RATIO * bare["p99_ms"]
            targets.append((f"{scenario}: real p99 <= {BARE_RATIO:g}x bare p99",
                            burst["p99_ms"] <= limit,
                            f"{fmt_ms(burst['p99_ms'])} ms vs {BARE_RATIO:g} x "
                            f"{fmt_ms(bare['p99_ms'])} = {fmt_ms(limit)} ms "
                            f"({burst['p99_ms'] / bare['p99_ms']:.1f}x)"))
    for r in runs:
        eo = r.get("exactly_once")
        if eo:
            bad = [k for k, v in eo["checks"].items() if not v]
            targets.append((f"{r['scenario']}: every incident created exactly once", eo["ok"],
                            f"{eo['incidents']} incidents / {eo['acked']} acked, "
                            f"{eo['channels_slack']} channels, drained in {eo['drain_s']:.1f} s"
                            + (f"; FAILED: {', '.join(bad)}" if bad else "")))
    return targets


def report(meta: dict[str, Any], runs: list[dict[str, Any]],
           targets: list[tuple[str, bool, str]]) -> str:
    m = meta["machine"]
    lines = [
        f"crisis-playbook-bot ack latency  ·  {meta['started']} to {m['date']}",
        f"machine:  {m['nproc']} CPUs ({m['cpu'] or 'unknown CPU'}), {m['platform']}",
        f"python:   {m['python']}  ·  " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"database: {meta['database']}",
        f"code:     {m['commit'] or 'unknown commit'}",
        f"load:     {meta['load']}",
        f"floor:    CPU per open (Service.open, one thread, after 100 opens; load avg "
        f"{meta['floor']['loadavg_1m']:.2f}): median {meta['floor']['cpu_per_open_ms']:.2f} ms, "
        f"p90 {meta['floor']['p90_ms']:.2f} ms -> {FLOOR_BURST} opens need "
        f"{meta['floor']['floor_ms']:.0f} ms of one core",
        "",
        "scenario app   sent    ok  err intake   p50   p95   p99   max  >3s srv-p99 infl "
        "lag-p99 acks/s cpu/req app-cpu others load",
        "-------- ---- ----- ----- ---- ------ ----- ----- ----- ----- ---- ------- ---- "
        "------- ------ ------- ------- ------ ----",
    ]
    for r in runs:
        lines.append(
            f"{r['scenario']:<8} {r['app']:<4} {r['sent']:>5} {r['ok']:>5} {r['errors']:>4} "
            f"{r.get('intake', 0):>6} "
            f"{fmt_ms(r['p50_ms']):>5} {fmt_ms(r['p95_ms']):>5} {fmt_ms(r['p99_ms']):>5} "
            f"{fmt_ms(r['max_ms']):>5} {r['over_3s']:>4} {fmt_ms(r['server_p99_ms']):>7} "
            f"{r['max_inflight']:>4} {fmt_ms(r['send_lag_p99_ms']):>7} "
            f"{r['throughput_per_s']:>6.0f} {r['app_cpu_ms_per_request']:>7.1f} "
            f"{r['app_cpu_share']:>7.2f} {r['others_cpu']:>6.2f} "
            f"{r.get('loadavg_1m_before', math.nan):>4.1f}")
    lines += [
        "ms, client side: first byte sent to last byte of the answer. srv-p99: time inside the "
        "WSGI app (the rest is",
        "waitress queueing, sockets, GIL); infl: most requests inside the app at once; lag-p99: "
        "client send delay vs. schedule;",
        "acks/s: good acks per wall second; cpu/req: app-process CPU ms per request (outbox work "
        "meanwhile included); app-cpu:",
        "app CPU s per wall s; others: CPUs busy meanwhile outside this benchmark's processes "
        "(other work on the box; PostgreSQL's server too; the outbox children too); load: "
        "1-min load average just before the run.",
        "intake: acks that recorded only the raw command (CRISISBOT_INTAKE_AFTER or more "
        "requests in the process: bot/intake.py);",
        "their incident number came by response_url.",
    ]
    eo_runs = [r for r in runs if r.get("exactly_once")]
    if eo_runs:
        lines += ["", "exactly once (real app, after the intake and then the outbox drained)",
                  "scenario  requests acked incidents numbers dups unacked+created channels "
                  "intake(acks/told/left) outbox(rows/pending/failed)  drain",
                  "--------  -------- ----- --------- ------- ---- --------------- -------- "
                  "---------------------- ---------------------------  -----"]
        for r in eo_runs:
            e = r["exactly_once"]
            numbers = "1..N ok" if e["checks"]["numbers are 1..N"] else "GAPS"
            drain = f"{e['drain_s']:.1f} s" + (
                " not awaited (rate tiers)" if e.get("waived") else
                " TIMEOUT" if e["drain_timed_out"] else "")
            lines.append(
                f"{r['scenario']:<9} {e['requests']:>8} {e['acked']:>5} {e['incidents']:>9} "
                f"{numbers:>7} {e['duplicates']:>4} {e['unacked_but_created']:>15} "
                f"{e['channels_slack']:>8} "
                f"{e.get('intake', 0):>14}/{e.get('intake_told', 0)}/"
                f"{e.get('intake_pending', 0):<5}"
                f" {e['outbox_rows']:>12}/{e['outbox_pending']}/"
                f"{e['outbox_failed']:<12}  {drain}")
    errs = [(r["scenario"], r["app"], r["error_kinds"]) for r in runs if r["error_kinds"]]
    if errs:
        lines += ["", "errors: " + "; ".join(f"{s}/{a}: {k}" for s, a, k in errs)]
    lines += ["", "targets"]
    for name, ok, detail in targets:
        lines.append(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    return "\n".join(lines)


def _default_workers() -> int:
    from bot.config import Settings

    return Settings().http_workers


def _default_intake() -> int:
    from bot.config import Settings

    return Settings().intake_after


def _default_threads() -> int:
    from bot.web import THREADS

    return THREADS


def measure_floor(kind: str, opens: int) -> dict[str, Any]:
    """CPU per `Service.open` (bench/open_cpu.py: one thread, nothing else in the way) and the
    floor it implies for a burst of FLOOR_BURST: FLOOR_BURST x the median, on one core."""
    sys.path.insert(0, str(ROOT / "bench"))
    import statistics

    from open_cpu import measure  # bench/open_cpu.py

    load = os.getloadavg()[0]
    cpu = sorted(measure(kind, 100, max(20, opens)))
    median = statistics.median(cpu)
    return {"cpu_per_open_ms": median, "p90_ms": cpu[int(0.9 * (len(cpu) - 1))],
            "opens": len(cpu), "floor_ms": FLOOR_BURST * median, "loadavg_1m": load}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--quick", action="store_true", help="smoke run: 5 s steady, burst of 50")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    p.add_argument("--rate", type=float, default=50.0, help="steady requests/s (default 50)")
    p.add_argument("--duration", type=float, help="steady seconds (default 20; --quick 5)")
    p.add_argument("--burst", type=int, help="burst size (default 200; --quick 50)")
    p.add_argument("--scenarios", default="steady,burst",
                   help="comma-separated: steady, burst, ceiling (default steady,burst; "
                        "ceiling = closed loop over 16 connections for 10 s: the most acks/s)")
    p.add_argument("--client-threads", type=int,
                   help="client connections for the steady scenario (default: enough to keep "
                        "sending on time while every answer takes the full 10 s timeout, i.e. "
                        "rate x 10 + 16, at most 900)")
    p.add_argument("--drain-timeout", type=float,
                   help="seconds to wait for the outbox to drain (default 300; 20 with the "
                        "strict local Slack, whose tiers make it minutes)")
    p.add_argument("--customers", type=int, default=0,
                   help="distinct customers (0: one per request; N: requests cycle through N, "
                        "so the recurrence check finds earlier incidents)")
    p.add_argument("--similar", action="store_true",
                   help="every description alike (one shared outage), so each open matches all "
                        "earlier ones as 'the same problem'; default: varied descriptions")
    p.add_argument("--outbox-threads", type=int,
                   help="override the outbox worker's threads (default: Runtime's default)")
    p.add_argument("--outbox-processes", type=int,
                   help="override CRISISBOT_OUTBOX_PROCESSES (default: Settings' default); the "
                        "children's CPU shows under 'others'")
    p.add_argument("--bursts", help="burst sizes, comma-separated (default 60,200; --quick 30)")
    p.add_argument("--kind-slack", action="store_true",
                   help="local Slack without rate tiers (default: strict, as Slack is); with "
                        "tiers the outbox needs minutes to create 200 channels, so the exactly-"
                        "once check waits --drain-timeout and checks what the database holds")
    p.add_argument("--floor-opens", type=int, default=200,
                   help="Service.open calls timed for the recording CPU floor (default 200)")
    p.add_argument("--http-workers", type=int,
                   help="HTTP processes of the real app (default: Settings' default, as "
                        "`crisisbot run --http`); the bare app always runs one")
    p.add_argument("--intake-after", type=int,
                   help="CRISISBOT_INTAKE_AFTER of the real app (default: Settings' default; 0: "
                        "every open is recorded whole before its ack)")
    p.add_argument("--threads", type=int,
                   help="waitress threads per process, both apps (default: bot.web.THREADS)")
    p.add_argument("--diagnose", action="store_true",
                   help="time SQL statements per thread kind in the app (adds a little overhead)")
    p.add_argument("--profile", choices=("txt", "svg", "json"),
                   help="record the real app with py-spy into bench/results/ (txt: "
                        "collapsed stacks, svg: flame graph, json: speedscope)")
    p.add_argument("--profile-gil", action="store_true",
                   help="with --profile: only sample the thread holding the GIL (CPU, not "
                        "waits)")
    p.add_argument("--quiet-wait", type=float, default=60.0,
                   help="before each run wait up to this many seconds for the machine to be "
                        "mostly idle (default 60; 0: don't wait)")
    p.add_argument("--experiment", action="append", default=[], choices=EXPERIMENTS,
                   help="apply a prototype fix inside the bench's app process only (repeatable;"
                        " see bench/README.md); the default run measures the app as it is")
    args = p.parse_args(argv)
    experiments = sorted(set(args.experiment))

    duration = args.duration if args.duration is not None else (5.0 if args.quick else 20.0)
    try:
        bursts = [args.burst] if args.burst is not None else \
            [int(b) for b in (args.bursts or ("30" if args.quick else "60,200")).split(",")]
    except ValueError:
        p.error("--bursts takes sizes like 60,200")
    burst = max(bursts)
    named = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not set(named) <= {"steady", "burst", "ceiling"} or not named:
        p.error("--scenarios takes steady, burst and/or ceiling")
    scenarios = [x for name in named
                 for x in ([f"burst{b}" for b in bursts] if name == "burst" else [name])]
    if args.rate <= 0 or duration <= 0 or min(bursts) <= 0 \
            or args.rate * duration > MAX_REQUESTS:
        p.error(f"rate, duration and burst must be positive and make at most {MAX_REQUESTS} "
                "requests")
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    opts = Options(db=args.db, rate=args.rate, duration=duration, burst=burst,
                   client_threads=max(1, args.client_threads or min(
                       900, int(args.rate * REQUEST_TIMEOUT) + 16)),
                   drain_timeout=args.drain_timeout if args.drain_timeout is not None
                   else (300.0 if args.kind_slack else 20.0), bursts=bursts,
                   kind_slack=args.kind_slack,
                   customers=args.customers, outbox_threads=args.outbox_threads,
                   outbox_processes=args.outbox_processes,
                   diagnose=args.diagnose, profile=args.profile,
                   profile_gil=args.profile_gil, scenarios=scenarios,
                   experiments=experiments, quiet_wait=max(0.0, args.quiet_wait),
                   similar=args.similar,
                   http_workers=args.http_workers or _default_workers(),
                   threads=args.threads or _default_threads(),
                   intake_after=args.intake_after,
                   results_dir=results_dir)
    print("… CPU per open (bench/open_cpu.py, one thread)", file=sys.stderr, flush=True)
    floor = measure_floor(args.db, args.floor_opens)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="crisisbot-bench-") as tmp:
        dbs = Databases(args.db, Path(tmp))
        try:
            database = dbs.describe()
            for scenario in scenarios:
                for kind in ("bare", "real"):
                    print(f"… {scenario} / {kind} app", file=sys.stderr, flush=True)
                    runs.append(run_one(opts, scenario, kind, dbs, stamp))
        finally:
            dbs.close()
    who = "one customer per request" if opts.customers <= 0 else f"{opts.customers} customers"
    who += ", one outage text for all" if opts.similar else ", varied descriptions"
    load = (f"steady {opts.rate:g}/s x {opts.duration:g} s open loop over "
            f"{opts.client_threads} keep-alive connections; bursts "
            f"{'/'.join(map(str, opts.bursts))} behind a "
            f"barrier; /incident open with {who}"
            f"; real app: {opts.http_workers} HTTP process(es); waitress {opts.threads} "
            f"threads per process; intake after "
            f"{_default_intake() if opts.intake_after is None else opts.intake_after} "
            f"in flight; outbox threads "
            f"{opts.outbox_threads or 'default'}; outbox processes "
            f"{'default' if opts.outbox_processes is None else opts.outbox_processes}"
            + ("; --diagnose" if opts.diagnose else "")
            + (f"; EXPERIMENTS (not the app as committed): {', '.join(opts.experiments)}"
               if opts.experiments else ""))
    meta = {"machine": machine(), "database": database, "load": load, "started": started,
            "floor": floor}
    targets = evaluate(runs, floor["floor_ms"])
    text = report(meta, runs, targets)
    print(text)
    passed = all(ok for _, ok, _ in targets)
    payload = {**meta, "options": {k: (str(v) if isinstance(v, Path) else v)
                                   for k, v in asdict(opts).items()},
               "runs": runs, "targets": [{"name": n, "ok": ok, "detail": d}
                                         for n, ok, d in targets],
               "passed": passed, "report": text}
    out = Path(args.json) if args.json else results_dir / f"ack-{stamp}-{args.db}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nfigures written to {out}", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
