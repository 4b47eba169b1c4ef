"""CPU time the bot spends per overdue reminder: firing it, then carrying out its outbox rows.

bench/reminders.py measures lateness end to end under a 167/s burst, which on a shared 2-CPU
box moves with whatever else runs. This one measures what each reminder costs the bot process,
single-threaded, so a change to the firing path or the outbox can be judged on its own:

1. N incidents, all overdue, with their channels and cards on a local Slack in its own process
   (its CPU is not counted);
2. **fire**: `ReminderService.fire_due_many` in batches of `--batch` (as the scheduler fires a
   slot), process CPU per reminder;
3. **outbox**: `OutboxWorker.drain_once` until the outbox is empty (the 🔔 post and the card
   refresh per incident), process CPU per reminder.

    .venv/bin/python bench/reminder_cpu.py [--db sqlite|postgresql|both] [--incidents 1000]
    .venv/bin/python bench/reminder_cpu.py --profile    # also the top of a cProfile of each phase

PostgreSQL uses a scratch database on CRISISBOT_BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for where in (ROOT, ROOT / "bench"):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))

from reminders import (  # noqa: E402
    Child,
    Databases,
    bot_settings,
    insert_incidents,
    plan,
    slack_child,
)

MAX_INCIDENTS = 20_000


def measured(fn: Callable[[], Any], profile: bool) -> tuple[float, float, str]:
    """(process CPU s, wall s, profile text) of `fn()`."""
    prof = cProfile.Profile() if profile else None
    c0, w0 = time.process_time(), time.perf_counter()
    if prof is not None:
        prof.enable()
    fn()
    if prof is not None:
        prof.disable()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    text = ""
    if prof is not None:
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(r"/(bot|playbook)/", 40)
        text = out.getvalue()
    return cpu, wall, text


def run(kind: str, incidents: int, batch: int, profile: bool, dbs: Databases) -> dict[str, Any]:
    from bot.local.sandbox import Clock
    from bot.runtime import Runtime
    from playbook import store

    slack = Child(slack_child)
    runtime: Any = None
    url = ""
    try:
        channels = slack.ask("seed", incidents, timeout=300)
        url = dbs.new(kind)
        from bot import schema

        schema.upgrade(url)
        # due a minute ago: every incident has exactly one reminder to fire (its 🔔 DUE)
        planned = plan(channels, 1.0, -60.0, datetime.now(UTC), seed=1)
        engine = store.make_engine(url)
        try:
            insert_incidents(store.make_session_factory(engine), slack.info["team_id"], planned)
        finally:
            engine.dispose()
        # neither scheduler nor outbox started: this thread fires and drains
        runtime = Runtime.build(bot_settings(slack.info, url), clock=Clock(), outbox_processes=0)
        ids = [p.incident_id for p in planned]
        fired: list[int] = []

        def fire() -> None:
            for first in range(0, len(ids), batch):
                out = runtime.service.reminders.fire_due_many(ids[first:first + batch], "bench")
                fired.extend(i for i, f in out.items() if f.effects)

        fire_cpu, fire_wall, fire_prof = measured(fire, profile)
        done: list[int] = []

        def drain() -> None:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                n = runtime.worker.drain_once()
                if not n:
                    break
                done.append(n)

        out_cpu, out_wall, out_prof = measured(drain, profile)
        bells = slack.ask("count")
        with runtime.service.sessions() as session:
            left = store.pending_outbox_count(session)
        return {"db": kind, "incidents": incidents, "fired": len(fired), "bells": bells,
                "outbox_rows": sum(done), "left": left,
                "fire_ms": 1000 * fire_cpu / incidents,
                "fire_wall_ms": 1000 * fire_wall / incidents,
                "outbox_ms": 1000 * out_cpu / incidents,
                "outbox_wall_ms": 1000 * out_wall / incidents,
                "profiles": {"fire": fire_prof, "outbox": out_prof}}
    finally:
        if runtime is not None:
            runtime.stop()
        slack.stop()
        if url:
            dbs.drop(url)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--incidents", type=int, default=1000)
    p.add_argument("--batch", type=int, default=50, help="incidents per fire_due_many call")
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    if not 1 <= args.incidents <= MAX_INCIDENTS or not 1 <= args.batch <= 500:
        p.error(f"--incidents 1..{MAX_INCIDENTS}, --batch 1..500")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    rows = []
    with tempfile.TemporaryDirectory(prefix="crisisbot-reminder-cpu-") as tmp:
        dbs = Databases(Path(tmp))
        try:
            for kind in kinds:
                rows.append(run(kind, args.incidents, args.batch, args.profile, dbs))
        finally:
            dbs.close()
    print(f"CPU per reminder, one thread, {args.incidents} overdue incidents, "
          f"batches of {args.batch} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print(f"{'db':<11} {'fired':>6} {'bells':>6} {'fire cpu':>9} {'(wall)':>8} "
          f"{'outbox cpu':>10} {'(wall)':>8} {'total cpu':>9}")
    for r in rows:
        print(f"{r['db']:<11} {r['fired']:>6} {r['bells']:>6} {r['fire_ms']:>6.2f} ms "
              f"{r['fire_wall_ms']:>5.2f} ms {r['outbox_ms']:>7.2f} ms "
              f"{r['outbox_wall_ms']:>5.2f} ms "
              f"{r['fire_ms'] + r['outbox_ms']:>6.2f} ms")
        if args.profile:
            for phase, text in r["profiles"].items():
                print(f"\n--- {r['db']} {phase}: top by own time ---\n{text}")
    ok = all(r["fired"] == r["incidents"] == r["bells"] and r["left"] == 0 for r in rows)
    if not ok:
        print("MISMATCH: not every incident fired and posted exactly one 🔔, or outbox rows "
              "were left: " + ", ".join(f"{r['db']} {r['left']} left" for r in rows),
              file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
