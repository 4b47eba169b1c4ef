"""CPU per status-card render (and per reminder message, per App Home), fast vs slack_sdk path.

Every reminder refreshes its incident's card, so at 10,000 reminders a minute the card render
is a hot path. The builders make `slack_sdk.models` objects; turning them into dicts used to go
through each object's ``to_dict()`` (slack_sdk's validator machinery, ~1.7 ms a card).
`bot.blocks._serialize` walks the same objects with the same checks for much less.

For each payload it prints µs of CPU (``time.process_time``) per render, as the median of
`--rounds` rounds of `--iterations` renders, in three modes:

* ``to_dict``  - serialization through slack_sdk's ``to_dict()`` (the path before the change);
* ``fast``     - the bot's own path (`bot.blocks.kit.serialize`);
* ``build``    - the builders alone, serialization replaced by nothing (what no serializer
  can save).

Then the serialization alone: the objects one render hands to `kit.serialize`, turned into
dicts by ``to_dict()`` and by `serialize` (same rounds and iterations), and the speed-up.

Run: ``.venv/bin/python bench/card_render.py`` (``--iterations 500 --rounds 5`` by default).
It runs on one core and needs no database; the machine may be shared, so compare the modes of
one run rather than figures across runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import slack_sdk

from bot import blocks
from bot.blocks import kit
from playbook.domain import rules, verbs
from playbook.domain.model import Actor, Incident, Policy
from playbook.services.builtin import builtin_playbook

POLICY = Policy(playbook=builtin_playbook())

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE", is_lead=True)
BOB = Actor("U0BOB")
PLAYBOOK = builtin_playbook()


def _run(inc: Incident, lines: list[str], now: datetime) -> tuple[Incident, datetime]:
    for line in lines:
        now += timedelta(minutes=1)
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, ALICE, now=now, policy=POLICY).incident
    return inc, now


def reminder_incident() -> tuple[Incident, datetime]:
    """Like the reminders benchmark's incidents: listen step, owner, agreed 5-minute cadence."""
    inc = rules.open_incident(team_id="T1", customer="Customer 42",
                              description="Checkout returns 502 for a share of orders (bench)",
                              severity="sev2", actor=ALICE, now=T0, policy=POLICY).incident
    inc.id, inc.number, inc.channel_id = 1, 42, "C0CHAN"
    return _run(inc, ["cadence 5m", "own", "listen Our customers cannot pay."], T0)


def busy_incident() -> tuple[Incident, datetime]:
    """Solve step with options, 12 open promises, links, parked topics and long texts."""
    inc = rules.open_incident(team_id="T1", customer="Acme Hotels & Resorts <EU>",
                              description="all lobby screens show a setup error " * 20,
                              severity="sev1", actor=ALICE, now=T0, policy=POLICY).incident
    inc.id, inc.number, inc.channel_id = 2, 43, "C0BUSY"
    lines = ["cadence 30m", "own", "listen they cannot check guests in <!channel> " * 30,
             "restate check-in screens are down in every EU hotel",
             "confirm"]
    lines += [f"option choice {n} risk: risk {n} " + "y" * 300 for n in range(4)]
    lines += [f"promise item {n} & more in {n + 2}h" for n in range(12)]
    lines += [f"link https://support.example.com/tickets/{n} ticket {n}" for n in range(3)]
    lines += [f"park topic {n}" for n in range(3)]
    return _run(inc, lines, T0)


def payloads() -> dict[str, Callable[[], Any]]:
    small, small_now = reminder_incident()
    busy, busy_now = busy_incident()
    due = ("🔔 *Customer update due* for INC-42 (Customer 42): last told 5 min ago. "
           "<@U0ALICE> is the communicator.")
    return {
        "card (reminder-bench incident)": lambda: blocks.card(small, small_now, PLAYBOOK),
        "card (busy incident)": lambda: blocks.card(busy, busy_now, PLAYBOOK),
        "reminder message (due)": lambda: blocks.timeline_message("due", due, 1),
        "App Home (2 + 2 incidents)": lambda: blocks.home("U0ALICE", [small, busy],
                                                          [busy, small], busy_now),
    }


@contextmanager
def mode(name: str) -> Iterator[None]:
    """Swap the serializer the builders use (`kit.serialize`); before the change there was
    none (every builder called ``to_dict()``), so ``fast`` and ``build`` need it."""
    original = getattr(kit, "serialize", None)
    if name == "fast":
        if original is None:
            raise SystemExit("this checkout has no bot.blocks.kit.serialize: run --modes to_dict")
        yield
        return
    if original is None and name == "build":
        raise SystemExit("this checkout has no bot.blocks.kit.serialize: run --modes to_dict")
    replacement = (lambda obj: obj.to_dict()) if name == "to_dict" else (lambda obj: {})
    if original is not None:
        kit.serialize = replacement  # type: ignore[assignment]
    try:
        yield
    finally:
        if original is not None:
            kit.serialize = original  # type: ignore[assignment]


def measure(render: Callable[[], Any], iterations: int, rounds: int) -> list[float]:
    """µs of CPU per render, one figure per round."""
    render()  # warm up (first-use checks, caches)
    figures = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(iterations):
            render()
        figures.append((time.process_time() - start) / iterations * 1e6)
    return figures


def captured(render: Callable[[], Any]) -> list[Any]:
    """The objects one render serializes (blocks, or the view)."""
    seen: list[Any] = []
    original = kit.serialize

    def record(obj: Any) -> dict[str, Any]:
        seen.append(obj)
        return original(obj)

    kit.serialize = record  # type: ignore[assignment]
    try:
        render()
    finally:
        kit.serialize = original  # type: ignore[assignment]
    return seen


def serialization(render: Callable[[], Any], iterations: int, rounds: int) -> str:
    objs = captured(render)
    fast = kit.serialize
    slow = measure(lambda: [o.to_dict() for o in objs], iterations, rounds)
    quick = measure(lambda: [fast(o) for o in objs], iterations, rounds)
    return (f"{statistics.median(slow):>9.0f} ({min(slow):.0f}-{max(slow):.0f})".rjust(22)
            + f"{statistics.median(quick):>9.1f} ({min(quick):.1f}-{max(quick):.1f})".rjust(22)
            + f"{statistics.median(slow) / statistics.median(quick):>9.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modes", default="to_dict,fast,build")
    args = parser.parse_args()
    iterations = max(1, min(args.iterations, 100_000))
    rounds = max(1, min(args.rounds, 50))
    modes = [m for m in args.modes.split(",") if m]
    print(f"machine: {os.cpu_count()} cpu, Python {platform.python_version()}, "
          f"slack_sdk {slack_sdk.version.__version__}, load average "
          f"{os.getloadavg()[0]:.1f}; {rounds} rounds x {iterations} renders")
    print("µs CPU per render, median of rounds (min-max)")
    print(f"{'payload':<32}" + "".join(f"{m:>22}" for m in modes) + "   blocks")
    for label, render in payloads().items():
        row = f"{label:<32}"
        for name in modes:
            with mode(name):
                figures = measure(render, iterations, rounds)
            row += f"{statistics.median(figures):>9.0f} ({min(figures):.0f}-{max(figures):.0f})"\
                .rjust(22)
        body = render()
        row += f"   {len(body['blocks'])}"
        print(row)
    if getattr(kit, "serialize", None) is None:
        return 0
    print("\nserialization alone, µs CPU per render's objects, median of rounds (min-max)")
    print(f"{'payload':<32}{'to_dict':>22}{'fast':>22}{'speed-up':>10}")
    for label, render in payloads().items():
        print(f"{label:<32}{serialization(render, iterations, rounds)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
