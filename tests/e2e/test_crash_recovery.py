"""kill -9 of the outbox process in the middle of opening incidents, on SQLite and PostgreSQL.

The outbox runs in a child process (`CRISISBOT_OUTBOX_PROCESSES=1`, bot/outbox/processes.py).
The local Slack SIGKILLs that child at the worst moments: right after it made a channel, before
the child hears the answer (the channel exists, nothing records it), or right after it posted
(the post exists, the row is not done). The parent starts a new child, which must take over its
dead predecessor's leases at once (not after they run out), adopt the channel and the posts the
dead one made, and finish every incident: each with its channel, one pinned card, no line twice,
and no empty channel left beside a `-2` copy.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from bot.local.localslack import apibase
from bot.local.localslack.state import Workspace
from bot.local.sandbox import ALICE, LocalBot, shown
from bot.outbox.worker import OutboxWorker
from playbook import store

OPENS = 8
# Well below the lease (OutboxWorker's default): rows still leased by the dead child would
# only be free after it, so settling within this shows they were taken over at once.
SETTLE = 20.0
assert OutboxWorker.__init__.__kwdefaults__["lease"].total_seconds() > SETTLE


def _kill_after(bot: LocalBot, method: str, nth: int) -> Callable[[], bool]:
    """Make the local Slack SIGKILL the outbox child right after it carried out the `nth`
    call of `method`, before the answer leaves. Returns "has it happened"."""
    rt = bot.runtime
    assert rt is not None and rt.outbox_processes is not None
    real = apibase.METHODS[method]
    seen = {"calls": 0, "killed": False}

    def handler(ws: Workspace, p: apibase.Params) -> dict[str, Any]:
        body = real(ws, p)
        seen["calls"] += 1
        if seen["calls"] == nth:
            assert rt.outbox_processes is not None
            os.kill(rt.outbox_processes._children[0].pid, signal.SIGKILL)
            time.sleep(0.2)  # dead before any answer could reach it
            seen["killed"] = True
        return body

    apibase.METHODS[method] = handler
    return lambda: seen["killed"]


@pytest.mark.parametrize("method,nth", [("conversations.create", 3),
                                        ("chat.postMessage", 4)])
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql",
                                                       marks=pytest.mark.postgres)])
def test_kill_9_while_opening_incidents_then_every_incident_is_ready_once(
        request: pytest.FixtureRequest, db: str, method: str, nth: int) -> None:
    url = request.getfixturevalue("pg_url") if db == "postgresql" else None
    real = apibase.METHODS[method]
    try:
        with LocalBot(database_url=url,
                      settings={"outbox_processes": 1, "outbox_threads": 2}) as bot:
            rt = bot.runtime
            assert rt is not None and rt.outbox_processes is not None
            first = rt.outbox_processes._children[0].pid
            killed = _kill_after(bot, method, nth)
            for n in range(OPENS):
                reply = bot.slack.command(bot.events_url, f"open Customer{n}: screens down",
                                          user_id=ALICE, channel_id=bot.general.id,
                                          via=bot.via)
                assert reply.ok
            bot.slack.wait_for(killed, 20, message="the kill")
            bot.settle(timeout=SETTLE)
            assert rt.outbox_processes._children[0].pid != first, "a new child took over"
            _assert_every_incident_ready_once(bot)
    finally:
        apibase.METHODS[method] = real


def _assert_every_incident_ready_once(bot: LocalBot) -> None:
    rt = bot.runtime
    assert rt is not None
    incidents = [rt.service.get(bot.slack.team_id, n + 1) for n in range(OPENS)]
    channels = {i.channel_id for i in incidents}
    assert None not in channels and len(channels) == OPENS, "every incident has its channel"
    made = {c.id: c.name for c in bot.slack.channels.values() if c.name.startswith("inc-")}
    assert set(made) == channels, f"no orphan channel: {sorted(made.values())}"
    assert not any(name.endswith("-2") for name in made.values()), "no -2 copy"
    for inc in incidents:
        assert inc.channel_id is not None and inc.card_ts is not None
        assert bot.slack.pins(inc.channel_id) == [inc.card_ts], "one card, pinned"
        lines = Counter(shown(m.text, m.blocks) for m in bot.slack.messages(inc.channel_id))
        assert [line for line, n in lines.items() if n > 1] == [], "no line twice"
    with rt.service.sessions() as session:
        assert store.pending_outbox_count(session) == 0
    assert bot.slack.violations == []
