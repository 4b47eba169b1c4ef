"""Requests Slack did not sign never run: a 401 before anything reads them, and no Slack call.

Each surface (slash command, button, form, shortcut, event) is sent with every way its
timestamp or signature can fail to parse, be stale or not match. Before the fix a timestamp
such as ``abc`` crashed Bolt's own check, the error handler answered 200 and messaged the user
named in the unverified payload.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest

from bot.local.sandbox import ALICE, LocalBot

GOOD_HEX = "0" * 64


@pytest.fixture(scope="module")
def bot() -> Iterator[LocalBot]:
    with LocalBot() as running:
        running.command("open Acme: lobby screens down")
        yield running
        assert running.slack.violations == []


def _bodies(bot: LocalBot) -> dict[str, tuple[str, str]]:
    """A request of each surface as Slack would send it: (content type, body)."""
    assert bot.runtime is not None
    inc = bot.runtime.service.get(bot.slack.team_id, 1)
    channel = inc.channel_id or bot.general.id
    team = {"id": bot.slack.team_id, "domain": "localslack"}
    user = {"id": ALICE, "username": "alice", "team_id": bot.slack.team_id}
    form = "application/x-www-form-urlencoded"
    command = urlencode({"command": "/incident", "text": "listen forged words",
                         "team_id": bot.slack.team_id, "channel_id": channel, "user_id": ALICE,
                         "trigger_id": "1.2.3", "response_url": f"{bot.slack.api_url}x"})
    action = {"type": "block_actions", "team": team, "user": user, "trigger_id": "1.2.3",
              "channel": {"id": channel}, "container": {"channel_id": channel},
              "actions": [{"action_id": "card:close", "value": str(inc.id),
                           "type": "button", "block_id": "b"}]}
    view = {"type": "view_submission", "team": team, "user": user, "trigger_id": "1.2.3",
            "view": {"id": "V1", "hash": "1.a", "callback_id": "modal:update",
                     "private_metadata": json.dumps({"incident_id": inc.id}),
                     "state": {"values": {"text": {"v": {"type": "plain_text_input",
                                                         "value": "forged update"}}}}}}
    shortcut = {"type": "message_action", "team": team, "user": user, "trigger_id": "1.2.3",
                "callback_id": "add_to_incident", "channel": {"id": channel},
                "message_ts": "1.000001", "message": {"ts": "1.000001", "text": "hi"}}
    event = {"type": "event_callback", "team_id": bot.slack.team_id, "event_id": "EvFORGED",
             "event": {"type": "reaction_added", "user": ALICE, "reaction": "pushpin",
                       "item": {"type": "message", "channel": channel, "ts": "1.000001"}}}
    return {"command": (form, command),
            "action": (form, urlencode({"payload": json.dumps(action)})),
            "view": (form, urlencode({"payload": json.dumps(view)})),
            "shortcut": (form, urlencode({"payload": json.dumps(shortcut)})),
            "event": ("application/json", json.dumps(event))}


def _post(bot: LocalBot, body: str, headers: list[tuple[str, str]]) -> int:
    """POST with exactly these headers, repeated names included (urllib cannot repeat)."""
    url = urlsplit(bot.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.putrequest("POST", "/slack/events")
        data = body.encode()
        for name, value in [*headers, ("Content-Length", str(len(data)))]:
            conn.putheader(name, value.encode("latin-1"))
        conn.endheaders(data)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _bad_headers(bot: LocalBot, body: str) -> dict[str, list[tuple[str, str]]]:
    now = int(time.time())
    good = bot.slack.sign(body, now)
    sig = good["X-Slack-Signature"]
    ts = good["X-Slack-Request-Timestamp"]
    stale = bot.slack.sign(body, now - 301)
    # far past the 300 s window, even if the requests before it take seconds on a busy machine
    future = bot.slack.sign(body, now + 400)
    wrong = bot.slack.sign(body, now, secret="not-the-secret")
    TS, SIG = "X-Slack-Request-Timestamp", "X-Slack-Signature"
    return {
        "no headers": [],
        "no timestamp": [(SIG, sig)],
        "no signature": [(TS, ts)],
        "non-numeric timestamp": [(TS, "abc"), (SIG, f"v0={GOOD_HEX}")],
        "huge timestamp": [(TS, "9" * 5000), (SIG, sig)],
        "negative timestamp": [(TS, f"-{ts}"), (SIG, sig)],
        "non-ASCII digits": [(TS, "\u00b9\u00b2\u00b3"), (SIG, sig)],
        "fractional timestamp": [(TS, f"{ts}.0"), (SIG, sig)],
        "hex timestamp": [(TS, hex(now)), (SIG, sig)],
        "empty timestamp": [(TS, ""), (SIG, sig)],
        "v0= missing": [(TS, ts), (SIG, sig[3:])],
        "not hex": [(TS, ts), (SIG, "v0=" + "z" * 64)],
        "empty signature": [(TS, ts), (SIG, "")],
        "two timestamps": [(TS, ts), (TS, ts), (SIG, sig)],
        "two signatures": [(TS, ts), (SIG, sig), (SIG, sig)],
        "stale": list(stale.items()),
        "from the future": list(future.items()),
        "wrong secret": list(wrong.items()),
        "signature of another body": [(TS, ts), (SIG, bot.slack.sign(body + "x", now)[SIG])],
    }


@pytest.mark.parametrize("surface", ["command", "action", "view", "shortcut", "event"])
def test_unsigned_requests_are_401_and_nobody_hears_of_them(bot: LocalBot, surface: str) -> None:
    content_type, body = _bodies(bot)[surface]
    assert bot.runtime is not None
    inc_before = bot.runtime.service.get(bot.slack.team_id, 1)
    bot.settle()
    calls, responses = len(bot.slack.calls), len(bot.slack.responses)
    statuses = {name: _post(bot, body, [("Content-Type", content_type), *headers])
                for name, headers in _bad_headers(bot, body).items()}
    bot.settle()
    assert statuses == dict.fromkeys(statuses, 401)
    assert bot.slack.calls[calls:] == [], "a refused request made Slack calls"
    assert bot.slack.responses[responses:] == [], "a refused request used a response_url"
    assert bot.runtime.service.get(bot.slack.team_id, 1) == inc_before, "nothing recorded"


def test_the_same_requests_signed_are_served(bot: LocalBot) -> None:
    """The control: the check refuses what is forged, not what Slack sends."""
    content_type, body = _bodies(bot)["command"]
    status = _post(bot, body, [("Content-Type", content_type),
                               *bot.slack.sign(body).items()])
    assert status == 200
    assert bot.runtime is not None
    words = bot.runtime.service.get(bot.slack.team_id, 1).customer_words
    assert any("forged words" in w for w in words)
