#!/usr/bin/env python
"""Bursts against the strict local Slack (rate tiers on): how the bot's call scheduler
(bot/slack/pacing.py) copes, on SQLite and PostgreSQL. A benchmark, not a test.

Two scenarios, each on a fresh database with the real app (`bot.local.sandbox.LocalBot`: the
production Runtime over HTTP, outbox threads in the bot's process) against
`bot.local.localslack` with its rate tiers ON (Tier 2 = 20/min per workspace and method with a
burst of 20, Tier 3 = 50/min, chat.postMessage 1/s per channel with a burst of 20):

1. **burst**: 25 `/incident open` typed back to back. Measured: seconds from the first open
   until every incident's channel exists and its card is pinned (real time: nothing is moved
   forward), and how many calls Slack answered 429. Target: all pinned within 90 s, at most 3
   answered 429. (25 channels need 25 conversations.create, setTopic, setPurpose and pins.add
   calls: the Tier 2 burst of 20 plus one every 3 s.)
2. **outage**: an outage with 20 attached customer incidents (set up first, time moved over the
   set-up's waits, then two quiet minutes so every bucket is full again); one `update` typed in
   the outage channel. Measured: seconds until the draft is in all 20 incident channels, 429
   answers, and the lateness of a customer reminder (the first incident's) that comes due 1 s
   after the update is typed, while the fan-out runs: its post's timestamp on the local Slack
   minus its due time. Target: all 20 drafts within 20 s, at most 3 answered 429, the reminder
   posted within 2 s of due.

Run from the repository root:
    .venv/bin/python bench/pacing.py                       # both scenarios, both databases
    .venv/bin/python bench/pacing.py --db sqlite --only burst
PostgreSQL: a scratch database on CRISISBOT_BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for where in (ROOT, ROOT / "bench"):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))

from reminders import Databases, machine  # noqa: E402  (bench/reminders.py)

BURST = 25
CUSTOMERS = 20
BURST_TARGET_S, OUTAGE_TARGET_S, REMINDER_TARGET_S, MAX_429 = 90.0, 20.0, 2.0, 3
TIMEOUT_S = 240.0
REMINDER_IN_S = 1.0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def limited(bot: Any) -> int:
    return sum(bot.slack.ratelimited.values())


def wait_until(predicate: Any, timeout: float, every: float = 0.02) -> float | None:
    """Seconds until `predicate()` held (None: it did not within `timeout`)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(every)
    return None


def open_quietly(bot: Any, text: str, user: str) -> None:
    reply = bot.slack.command(bot.events_url, text, user_id=user, channel_id=bot.general.id,
                              via=bot.via)
    if not reply.ok:
        raise RuntimeError(f"{text!r} was refused: {reply.body}")


def pinned(bot: Any, number: int) -> bool:
    inc = bot.runtime.service.get(bot.slack.team_id, number)
    return inc.channel_id is not None and bool(bot.slack.pins(inc.channel_id))


def burst(database_url: str) -> dict[str, Any]:
    from bot.local.sandbox import ALICE, LocalBot

    out: dict[str, Any] = {"load_before": load()}
    with LocalBot(database_url=database_url) as bot:
        started = time.monotonic()
        for n in range(BURST):
            open_quietly(bot, f"open Customer {n}: lobby screens down", ALICE)
        out["typed_s"] = time.monotonic() - started
        took = wait_until(lambda: all(pinned(bot, k) for k in range(1, BURST + 1)),
                          TIMEOUT_S)
        out["all_pinned_s"] = None if took is None else took + out["typed_s"]
        out["pinned"] = sum(pinned(bot, k) for k in range(1, BURST + 1))
        out["ratelimited"] = bot.slack.ratelimited
        out["calls"] = {m: bot.slack.call_count(m) for m in
                        ("conversations.create", "conversations.setTopic", "pins.add")}
        out["violations"] = len(bot.slack.violations)
    out["load_after"] = load()
    return out


def _drafted(bot: Any, channel: str) -> bool:
    return any("draft:log" in json.dumps(m.blocks or []) for m in bot.slack.messages(channel))


def outage(database_url: str) -> dict[str, Any]:
    from bot.local.sandbox import ALICE, LocalBot
    from playbook.domain import cadence
    from playbook.store import outages as outage_store

    out: dict[str, Any] = {}
    with LocalBot(database_url=database_url, start_scheduler=True) as bot:
        runtime = bot.runtime
        assert runtime is not None
        bot.command("outage Payments API is down")
        with runtime.service.sessions() as session:
            found = outage_store.get_outage(session, bot.slack.team_id, 1)
        assert found is not None and found.channel_id
        outage_channel = found.channel_id
        for n in range(CUSTOMERS):
            open_quietly(bot, f"open sev2 Customer {n}: card payments fail", ALICE)
        bot.drain(timeout=TIMEOUT_S)  # (set-up: time moves over the tier waits)
        bot.settle(30)
        channels = []
        for number in range(1, CUSTOMERS + 1):
            channel = bot.incident_channel(number)
            channels.append(channel)
            for line in ("cadence 30m", "own", "attach OUT-1"):
                slack_reply = bot.slack.command(bot.events_url, line, user_id=ALICE,
                                                channel_id=channel, via=bot.via)
                assert slack_reply.ok, slack_reply.body
            bot.drain(timeout=TIMEOUT_S)
        bot.settle(30)
        bot.wait_quiet()
        bot.clock.advance(timedelta(minutes=2))  # every bucket full again
        # the first incident's next reminder comes due REMINDER_IN_S after the update
        inc = runtime.service.get(bot.slack.team_id, 1)
        policy = runtime.service.config.policy
        due = cadence.next_wakeup(inc, policy, bot.clock())
        assert due is not None
        bot.wait_quiet()
        bot.clock.advance(due - bot.clock() - timedelta(seconds=REMINDER_IN_S))
        runtime.scheduler.resync(full=True)
        due_wall = (due - bot.clock.offset).timestamp()
        before = limited(bot)
        reminder_channel = channels[0]
        seen = {m.ts for m in bot.slack.messages(reminder_channel)}
        out["load_before"] = load()
        started = time.monotonic()
        reply = bot.slack.command(bot.events_url, "update Fix deployed to half of the traffic",
                                  user_id=ALICE, channel_id=outage_channel, via=bot.via)
        assert reply.ok, reply.body
        took = wait_until(lambda: all(_drafted(bot, c) for c in channels), TIMEOUT_S)
        out["all_drafts_s"] = None if took is None else took
        out["drafted"] = sum(_drafted(bot, c) for c in channels)

        def reminder() -> float | None:
            for m in bot.slack.messages(reminder_channel):
                if m.ts not in seen and m.user == bot.slack.bot_user_id and \
                        ("⏰" in m.text or "🔔" in m.text):
                    return float(m.ts)
            return None

        wait_until(lambda: reminder() is not None, 30)
        posted = reminder()

        out["reminder_late_s"] = None if posted is None else posted - due_wall
        out["elapsed_s"] = time.monotonic() - started
        out["ratelimited"] = limited(bot) - before
        out["ratelimited_by_method"] = bot.slack.ratelimited
        out["violations"] = len(bot.slack.violations)
    out["load_after"] = load()
    return out


def verdicts(db: str, burst_run: dict[str, Any] | None,
             outage_run: dict[str, Any] | None) -> list[tuple[str, bool, str]]:
    found = []
    if burst_run is not None:
        pinned_s = burst_run["all_pinned_s"]
        n429 = sum(burst_run["ratelimited"].values())
        found += [(f"{db}: burst of {BURST} opens pinned within {BURST_TARGET_S:g} s",
                   pinned_s is not None and pinned_s <= BURST_TARGET_S,
                   f"{pinned_s if pinned_s is None else round(pinned_s, 1)} s "
                   f"({burst_run['pinned']}/{BURST} pinned)"),
                  (f"{db}: burst, at most {MAX_429} answered 429", n429 <= MAX_429,
                   f"{n429} {burst_run['ratelimited']}")]
    if outage_run is not None:
        drafts_s, late = outage_run["all_drafts_s"], outage_run["reminder_late_s"]
        found += [(f"{db}: outage update in all {CUSTOMERS} channels within "
                   f"{OUTAGE_TARGET_S:g} s", drafts_s is not None and drafts_s <= OUTAGE_TARGET_S,
                   f"{drafts_s if drafts_s is None else round(drafts_s, 2)} s "
                   f"({outage_run['drafted']}/{CUSTOMERS})"),
                  (f"{db}: outage, at most {MAX_429} answered 429",
                   outage_run["ratelimited"] <= MAX_429, str(outage_run["ratelimited"])),
                  (f"{db}: reminder during the fan-out within {REMINDER_TARGET_S:g} s of due",
                   late is not None and late <= REMINDER_TARGET_S,
                   f"{late if late is None else round(late, 3)} s")]
    return found


def fresh(dbs: Databases, kind: str, scenario: str) -> str:
    """An empty database for one scenario (a SQLite file of its own, or a scratch one)."""
    if kind == "sqlite":
        return f"sqlite:///{dbs.workdir / f'pacing-{scenario}.db'}"
    return dbs.new(kind)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    p.add_argument("--only", choices=("both", "burst", "outage"), default="both")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    args = p.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    info = machine()
    lines = ["crisis-playbook-bot: strict local Slack bursts (bench/pacing.py)",
             f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  commit {info.get('commit', '')}",
             f"load avg at start {load()}"]
    runs: dict[str, dict[str, Any]] = {}
    found: list[tuple[str, bool, str]] = []
    with tempfile.TemporaryDirectory(prefix="crisisbot-bench-pacing-") as tmp:
        dbs = Databases(Path(tmp))
        try:
            for kind in kinds:
                run: dict[str, Any] = {}
                if args.only in ("both", "burst"):
                    print(f"… {kind}: burst of {BURST} opens", file=sys.stderr, flush=True)
                    url = fresh(dbs, kind, "burst")
                    try:
                        run["burst"] = burst(url)
                    finally:
                        with contextlib.suppress(Exception):
                            dbs.drop(url)
                if args.only in ("both", "outage"):
                    print(f"… {kind}: outage with {CUSTOMERS} customers", file=sys.stderr,
                          flush=True)
                    url = fresh(dbs, kind, "outage")
                    try:
                        run["outage"] = outage(url)
                    finally:
                        with contextlib.suppress(Exception):
                            dbs.drop(url)
                runs[kind] = run
                found += verdicts(kind, run.get("burst"), run.get("outage"))
        finally:
            dbs.close()
    lines.append("")
    lines.append("db          scenario                        seconds   429s  load avg "
                 "(before -> after)")
    for kind, run in runs.items():
        if "burst" in run:
            b = run["burst"]
            lines.append(f"{kind:<11} burst: {BURST} opens, all pinned       "
                         f"{_s(b['all_pinned_s']):>7}  {sum(b['ratelimited'].values()):>5}  "
                         f"{b['load_before']} -> {b['load_after']}")
        if "outage" in run:
            o = run["outage"]
            lines.append(f"{kind:<11} outage: {CUSTOMERS} drafts posted         "
                         f"{_s(o['all_drafts_s']):>7}  {o['ratelimited']:>5}  "
                         f"{o['load_before']} -> {o['load_after']}")
            lines.append(f"{kind:<11} outage: reminder lateness        "
                         f"{_s(o['reminder_late_s'], 3):>7}")
    lines.append("")
    lines.append("targets")
    lines += [f"  [{'PASS' if ok else 'MISS'}] {name}: {detail}" for name, ok, detail in found]
    text = "\n".join(lines)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "report": text}, indent=2,
                                              default=str))
    return 0 if all(ok for _, ok, _ in found) else 1


def _s(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    raise SystemExit(main())
