"""Lookups made before an ack fall back instead of failing the person's command."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.listeners.deps import People
from bot.slack.client import make_lookup_client


def test_unreachable_slack_costs_the_fallback_not_the_command() -> None:
    settings = Settings(slack_bot_token="xoxb-1-test", timezone="Europe/Paris",
                        slack_api_url="http://127.0.0.1:9/api/",  # discard port: refused
                        leads=("U0LEAD", "S0GROUP"))
    people = People(make_lookup_client(settings), settings)
    start = time.monotonic()
    actor = people.actor("U0BOB", with_tz=True)
    assert actor.tz == "Europe/Paris" and actor.is_lead is False
    assert people.actor("U0LEAD").is_lead is True, "listed users need no lookup"
    assert time.monotonic() - start < 3, "no retries before the ack"


class _SlowSlack(BaseHTTPRequestHandler):
    """Answers every Web API call ok, after `DELAY` seconds."""

    DELAY = 1.2

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.DELAY)
        body = json.dumps({"ok": True, "user": {"id": "U0BOB", "tz": "Asia/Tokyo"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_lookup_client_waits_as_long_as_it_is_told() -> None:
    """The default 1.5 s is 1.5 s (it was cut to a whole second): an answer after 1.2 s arrives.
    The runtime builds its lookup client with the default, so that is what is tested."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowSlack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings(slack_bot_token="xoxb-1-test",
                            slack_api_url=f"http://127.0.0.1:{server.server_port}/api/")
        client = make_lookup_client(settings)
        assert client.users_info(user="U0BOB")["user"]["tz"] == "Asia/Tokyo"
        assert client.timeout == 1.5
    finally:
        server.shutdown()
        server.server_close()


class _Flaky(WebClient):
    """A lookup client whose answers the test scripts: each call pops the next one (an
    exception is raised), and every call is counted."""

    def __init__(self, *answers: object) -> None:
        super().__init__(token="xoxb-1-test")
        self.answers = list(answers)
        self.calls: list[str] = []

    def _next(self, method: str) -> Any:
        self.calls.append(method)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def usergroups_users_list(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._next("usergroups.users.list")

    def users_info(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._next("users.info")


def _limited() -> SlackApiError:
    return SlackApiError("ratelimited", {"ok": False, "error": "ratelimited"})


GROUP_SETTINGS = Settings(slack_bot_token="xoxb-1-test", leads=("S0LEADS",),
                          timezone="Europe/Paris")


def _people(client: WebClient, **kwargs: Any) -> tuple[People, list[Callable[[], None]]]:
    queued: list[Callable[[], None]] = []
    return People(client, GROUP_SETTINGS, refresh=queued.append, retry_waits=(0.0,),
                  **kwargs), queued


def test_a_failed_lead_group_read_is_not_remembered_as_no_leads() -> None:
    client = _Flaky(_limited(), {"users": ["U0CAROL"]})
    people, queued = _people(client, backoff=0.0)
    assert people.lead_status("U0CAROL") is None, "unknown, not 'not a lead'"
    queued.clear()  # the background retry; here the next request reads instead
    assert people.lead_unknown("U0CAROL"), "a refusal can say so"
    assert people.lead_status("U0CAROL") is True, "the next request reads the group again"
    assert not people.lead_unknown("U0CAROL")
    assert people.lead_status("U0BOB") is False and not people.lead_unknown("U0BOB")
    assert client.calls == ["usergroups.users.list"] * 2


def test_after_a_failure_the_retry_runs_in_the_background_not_before_the_ack() -> None:
    client = _Flaky(_limited(), {"users": ["U0CAROL"]})
    people, queued = _people(client, backoff=60.0)
    assert people.lead_status("U0CAROL") is None
    assert people.lead_status("U0CAROL") is None, "within the backoff: no call on this path"
    assert people.lead_status("U0CAROL") is None
    assert len(client.calls) == 1 and len(queued) == 1, "one background retry, not three"
    queued.pop()()
    assert people.lead_status("U0CAROL") is True


def test_a_stale_answer_serves_while_it_is_refreshed_and_survives_a_failed_refresh() -> None:
    client = _Flaky({"users": ["U0CAROL"]}, _limited(), {"users": ["U0DAVE"]})
    people, queued = _people(client, ttl=0.0)
    assert people.is_lead("U0CAROL")
    assert people.is_lead("U0CAROL"), "stale: the last good answer, at once"
    assert len(client.calls) == 1 and len(queued) == 1
    queued.pop()()  # the refresh fails: the last good answer stays
    assert people.is_lead("U0CAROL") and not people.lead_unknown("U0CAROL")
    queued.pop()()  # this one succeeds: the new membership applies
    assert people.is_lead("U0DAVE") and not people.is_lead("U0CAROL")


def test_a_failed_zone_lookup_is_not_cached() -> None:
    client = _Flaky(OSError("timed out"), {"user": {"id": "U0BOB", "tz": "Asia/Tokyo"}})
    people, queued = _people(client, backoff=0.0)
    assert people.tz("U0BOB") == "Europe/Paris", "the settings' zone meanwhile"
    assert len(queued) == 1, "read again in the background"
    assert people.tz("U0BOB") == "Asia/Tokyo"
    assert people.tz("U0BOB") == "Asia/Tokyo" and len(client.calls) == 2, "answers are cached"
