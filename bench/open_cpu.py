"""CPU time of one `/incident open` in the service (no HTTP, no Slack), against history.

The ack benchmark (bench/ack_latency.py) measures latency end to end, which on a shared box
moves with whatever else runs. This one measures what the ack path itself costs: process CPU
per `Service.open` (the validation, the repeat-crisis check, the write transaction) after
`--history` earlier incidents of the same team, on SQLite or PostgreSQL. Run:

    .venv/bin/python bench/open_cpu.py [--db sqlite|postgresql] [--history 600] [--opens 300]
    .venv/bin/python bench/open_cpu.py --profile     # also print the top of a cProfile

PostgreSQL uses a scratch database on CRISISBOT_BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import postgres_database  # bench/scratch.py (this folder is on sys.path)

from bot import schema
from playbook import store
from playbook.domain.model import Actor, Policy
from playbook.services.builtin import builtin_playbook
from playbook.services.incidents import Service, ServiceConfig

POLICY = Policy(playbook=builtin_playbook())

COMPONENTS = ("login", "checkout", "CSV export", "billing page", "SSO", "webhooks", "search",
              "file upload", "monthly report", "mobile app", "public API", "invoices",
              "notifications")
SYMPTOMS = ("times out", "returns errors", "shows stale data", "is down", "drops records",
            "charges twice", "is very slow", "rejects valid input")


def open_text(i: int) -> str:
    """Varied customers and descriptions; every 104th pair repeats a component and symptom."""
    return (f"Customer {i:05d}: {COMPONENTS[i % 13]} {SYMPTOMS[(i // 13) % 8]} "
            f"({(i * 37) % 900 + 12} seats)")


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="crisisbot-open-cpu-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    with postgres_database() as url:
        yield url


def measure(kind: str, history: int, opens: int,
            profile: cProfile.Profile | None = None) -> list[float]:
    """Process CPU (ms) of each of `opens` `Service.open` calls, one thread, after `history`
    incidents of the same team, on a fresh database of `kind` (also bench/ack_latency.py's
    floor: the CPU that recording an open costs, with nothing else in the way)."""
    with database(kind) as url:
        schema.upgrade(url)
        engine = store.make_engine(url)
        service = Service(store.make_session_factory(engine),
                          ServiceConfig(policy=POLICY, responders=("U0RESP",)),
                          lambda: datetime.now(UTC))
        actor = Actor("U0ALICE")
        for i in range(history):
            service.open("T1", actor, open_text(i))
        cpu: list[float] = []
        for i in range(history, history + opens):
            started = time.process_time()
            if profile:
                profile.enable()
            service.open("T1", actor, open_text(i))
            if profile:
                profile.disable()
            cpu.append((time.process_time() - started) * 1000)
        engine.dispose()
    return cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--history", type=int, default=600, help="incidents opened first")
    p.add_argument("--opens", type=int, default=300, help="opens measured")
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    if not (0 <= args.history <= 100_000 and 1 <= args.opens <= 10_000):
        p.error("--history 0..100000, --opens 1..10000")
    profile = cProfile.Profile() if args.profile else None
    cpu = measure(args.db, args.history, args.opens, profile)
    cpu.sort()
    print(f"{args.db}: {args.opens} opens after {args.history}: CPU per open "
          f"median {statistics.median(cpu):.2f} ms, p90 {cpu[int(0.9 * (len(cpu) - 1))]:.2f} ms, "
          f"mean {statistics.fmean(cpu):.2f} ms" + (" (profiled)" if profile else ""))
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
