"""kill -9 of the outbox while it creates channels for 30 opens: how long until every incident is
ready again, and what the crash left behind (orphan channels, `-2` copies, lines shown twice).

For each database (a temporary SQLite file, then a scratch PostgreSQL database on
CRISISBOT_BENCH_DATABASE_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test, dropped
afterwards) it starts the real bot against the local Slack (`bot.local.sandbox.LocalBot`) with
the outbox in one child process of 2 threads (`CRISISBOT_OUTBOX_PROCESSES=1`, as `crisisbot run`
starts it), sends N `/incident open` commands without waiting, and has the local Slack SIGKILL
the child right after it carried out the K-th `conversations.create` (default 10 of 30), before
the answer leaves: the worst moment, a channel made that nothing records. The parent notices the
death (it looks every second) and starts a new child, which carries on.

Reported per database: seconds from the kill until a new child runs, and until every incident
is ready (its channel recorded, its card posted and pinned, its outbox rows done); incidents
ready at the kill; orphan channels (an `inc-` channel no incident records); `-2` copies; lines
shown twice in an incident channel; leftover outbox rows. Exit 1 when an incident is not ready
within --timeout, or anything was left behind.

    .venv/bin/python bench/crash_recovery.py                     # 30 opens, both databases
    .venv/bin/python bench/crash_recovery.py --db sqlite --opens 60 --kill-after 20
    .venv/bin/python bench/crash_recovery.py --kill-on chat.postMessage   # after a post instead

Everything is on 127.0.0.1 and the local Slack answers at once, so the figures are the bot's own
recovery, not Slack's latency; the machine is shared (2 vCPUs), so seconds are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import postgres_database  # bench/scratch.py (this folder is on sys.path)
from sqlalchemy import select

from bot.local.localslack import apibase
from bot.local.localslack.state import Workspace
from bot.local.sandbox import ALICE, LocalBot, shown
from playbook import store

MAX_OPENS = 500


@contextlib.contextmanager
def database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None  # LocalBot's own temporary SQLite file
        return
    with postgres_database() as url:
        yield url


def ready_count(bot: LocalBot, opens: int) -> int:
    """Incidents with their channel recorded, their card posted and pinned, no row pending."""
    rt = bot.runtime
    assert rt is not None
    row = store.OutboxRow
    with rt.service.sessions() as session:
        busy = {i for (i,) in session.execute(select(row.incident_id).where(
            row.done_at.is_(None), row.failed_at.is_(None)))}
    ready = 0
    for number in range(1, opens + 1):
        try:
            inc = rt.service.get(bot.slack.team_id, number)
        except Exception:  # not opened yet
            continue
        if inc.id in busy or inc.channel_id is None or inc.card_ts is None:
            continue
        if bot.slack.pins(inc.channel_id) == [inc.card_ts]:
            ready += 1
    return ready


def run_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    method, nth = args.kill_on, args.kill_after
    real = apibase.METHODS[method]
    with database(kind) as url, LocalBot(
            database_url=url, settings={"outbox_processes": 1, "outbox_threads": 2}) as bot:
        rt = bot.runtime
        assert rt is not None and rt.outbox_processes is not None
        procs = rt.outbox_processes
        first_pid = procs._children[0].pid
        seen: dict[str, Any] = {"calls": 0, "killed_at": None, "ready_at_kill": 0}

        def handler(ws: Workspace, p: apibase.Params) -> dict[str, Any]:
            body = real(ws, p)
            seen["calls"] += 1
            if seen["calls"] == nth:
                os.kill(procs._children[0].pid, signal.SIGKILL)
                seen["killed_at"] = time.monotonic()
                time.sleep(0.1)  # dead before the answer could reach it
            return body

        apibase.METHODS[method] = handler
        try:
            for n in range(args.opens):
                reply = bot.slack.command(bot.events_url, f"open Customer{n}: screens down",
                                          user_id=ALICE, channel_id=bot.general.id, via=bot.via)
                if not reply.ok:
                    raise SystemExit(f"open {n} was not acknowledged: {reply.status}")
            bot.slack.wait_for(lambda: seen["killed_at"] is not None, args.timeout,
                               message="the kill")
            killed_at = seen["killed_at"]
            seen["ready_at_kill"] = ready_count(bot, args.opens)
            restarted = all_ready = None
            deadline = killed_at + args.timeout
            while time.monotonic() < deadline:
                if restarted is None and procs._children[0].pid != first_pid:
                    restarted = time.monotonic() - killed_at
                if ready_count(bot, args.opens) == args.opens:
                    all_ready = time.monotonic() - killed_at
                    break
                time.sleep(0.05)
        finally:
            apibase.METHODS[method] = real
        incidents = []
        for number in range(1, args.opens + 1):
            with contextlib.suppress(Exception):
                incidents.append(rt.service.get(bot.slack.team_id, number))
        recorded = {i.channel_id for i in incidents if i.channel_id}
        made = {c.id: c.name for c in bot.slack.channels.values() if c.name.startswith("inc-")}
        repeated = 0
        for channel in recorded:
            lines = Counter(shown(m.text, m.blocks) for m in bot.slack.messages(channel))
            repeated += sum(n - 1 for n in lines.values() if n > 1)
        with rt.service.sessions() as session:
            pending = store.pending_outbox_count(session)
        return {"db": kind, "opens": args.opens, "kill": f"{method} #{nth}",
                "ready_at_kill": seen["ready_at_kill"], "restart_s": restarted,
                "all_ready_s": all_ready,
                "orphans": len(set(made) - recorded),
                "copies": sum(1 for name in made.values() if name.endswith("-2")),
                "repeated": repeated, "pending": pending,
                "violations": len(bot.slack.violations)}


def _commit() -> str:
    with contextlib.suppress(Exception):
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, timeout=5).stdout.strip()
    return "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--opens", type=int, default=30)
    p.add_argument("--kill-on", default="conversations.create",
                   choices=("conversations.create", "chat.postMessage"))
    p.add_argument("--kill-after", type=int, default=10, help="the n-th call of --kill-on")
    p.add_argument("--timeout", type=float, default=180.0)
    args = p.parse_args(argv)
    if not 1 <= args.opens <= MAX_OPENS or not args.kill_after >= 1:
        p.error(f"--opens must be 1..{MAX_OPENS} and --kill-after at least 1")
    logging.basicConfig(level=logging.ERROR)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print("crisis-playbook-bot: kill -9 of the outbox while it opens incidents "
          "(bench/crash_recovery.py)")
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  commit {_commit()}  "
          f"nproc {os.cpu_count()}  load avg {load}")
    print(f"{args.opens} opens, outbox: 1 child process x 2 threads, SIGKILL after "
          f"{args.kill_on} #{args.kill_after} is carried out (before its answer)\n")
    head = (f"{'db':<11}{'ready@kill':>11}{'restart':>9}{'all ready':>11}{'orphans':>9}"
            f"{'-2 copies':>10}{'repeated':>9}{'pending':>8}")
    print(head)
    print("-" * len(head))
    ok = True
    for kind in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
        r = run_one(kind, args)
        restart = f"{r['restart_s']:.2f}s" if r["restart_s"] is not None else "-"
        ready = f"{r['all_ready_s']:.2f}s" if r["all_ready_s"] is not None else "never"
        print(f"{kind:<11}{r['ready_at_kill']:>7}/{r['opens']:<3}{restart:>9}{ready:>11}"
              f"{r['orphans']:>9}{r['copies']:>10}{r['repeated']:>9}{r['pending']:>8}")
        ok &= r["all_ready_s"] is not None and not (
            r["orphans"] or r["copies"] or r["repeated"] or r["pending"] or r["violations"])
    print("\nall ready: seconds from the kill until every incident had its channel, its card "
          "pinned and no outbox row left")
    return 0 if ok else 1


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        sys.exit(main())
