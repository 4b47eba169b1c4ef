"""Lookups made before an ack fall back instead of failing the person's command."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
