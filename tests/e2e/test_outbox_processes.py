"""`CRISISBOT_OUTBOX_PROCESSES`: the outbox carried out by child processes, as `crisisbot run`
starts them. What people see must not change: the channel, the card and the lines appear as
with the in-process worker, and a child that crashes is replaced without losing a row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy import select

from bot.local.sandbox import ALICE, LocalBot, shown
from bot.outbox.worker import HOST
from playbook import store


def _claimers(bot: LocalBot) -> set[str]:
    assert bot.runtime is not None
    row = store.OutboxRow
    with bot.runtime.service.sessions() as session:
        # (a lease names "<host>:<pid>:<start token>/<thread>")
        return {":".join(c.split("/")[0].split(":")[:2])
                for (c,) in session.execute(select(row.claimed_by).distinct()) if c}


def test_an_outbox_process_opens_the_incident_and_a_crashed_one_is_replaced() -> None:
    with LocalBot(settings={"outbox_processes": 1, "outbox_threads": 2}) as bot:
        rt = bot.runtime
        assert rt is not None and rt.outbox_processes is not None
        bot.command("open Acme: every lobby screen shows a setup error")
        bot.settle(timeout=30)
        channel = bot.incident_channel()
        card = bot.card(channel)
        assert "Acme" in shown(card.text, card.blocks), "the card, pinned by the child"
        child = rt.outbox_processes._children[0]
        assert _claimers(bot) == {f"{HOST}:{child.pid}"}, \
            "every row was carried out by the child process, none by this one"

        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=5)
        bot.command("open Globex: checkout returns errors")  # queued while no child runs
        bot.settle(timeout=30)
        second = bot.incident_channel(2)
        card = bot.card(second)
        assert "Globex" in shown(card.text, card.blocks), "a new child carried it out"
        assert rt.outbox_processes._children[0].pid != child.pid
        assert bot.slack.violations == []


def test_a_repeat_crisis_is_flagged_to_the_opener_and_in_the_channel_after_the_ack() -> None:
    with LocalBot() as bot:
        first = bot.command("open Acme: lobby screens show a setup error")
        bot.settle()
        again = bot.command("open ACME: lobby screens show a setup error again")
        assert "Opened *INC-2*" in again.body["text"] and "crisis" not in again.body["text"], \
            "the ack does not wait for the comparison with earlier incidents"
        bot.settle()
        told = [e.text for e in bot.slack.ephemerals(ALICE) if "second crisis" in e.text]
        assert len(told) == 1 and "INC-1" in told[0], "the opener is warned once, after"
        assert any("second crisis for ACME" in line for line in bot.lines(
            bot.incident_channel(2))), "and the new channel says so"
        assert not any("crisis for" in line for line in bot.lines(bot.incident_channel(1)))
        assert "crisis" not in first.body["text"]
        assert bot.slack.violations == []


def test_an_outbox_process_builds_only_what_it_runs(tmp_path) -> None:
    """A child runs the worker over what bot/wiring.py builds, never the Bolt app, the scheduler
    or the Runtime that starts it: run one whose parent is already gone (it stops at once)."""
    probe = f"""
import multiprocessing, sys
from datetime import timedelta
from bot import schema
from bot.config import Settings
from bot.outbox.processes import child_main
url = "sqlite:///{tmp_path / 'child.db'}"
schema.upgrade(url)
wake, parent = multiprocessing.Pipe(duplex=False)
parent.close()
child_main(Settings(database_url=url, slack_api_url="http://127.0.0.1:9/api/"), 1,
           timedelta(0), wake)
print(sorted(m for m in ("bot.runtime", "bot.app", "bot.listeners", "bot.scheduler",
                         "slack_bolt", "apscheduler") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
