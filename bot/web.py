"""The HTTP front: Slack's requests at POST /slack/events and GET /healthz, as one WSGI app.

Served by waitress (a production WSGI server), never by Bolt's development server, whose tiny
listen backlog drops connections under a burst.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.health import Health, respond

EVENTS_PATH = "/slack/events"

log = logging.getLogger(__name__)


def make_wsgi(app: App, healthy: Callable[[], Health]) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return respond(healthy(), start_response)  # bot/health.py: what is checked
        try:
            return slack(environ, start_response)
        except Exception:
            # Bolt reads the payload's shape before any listener runs (and again to call the
            # error handler), so a body it cannot read escapes every handler of ours. Slack
            # never sends one; whoever did gets a plain 400, not a 500 and a stack trace.
            log.warning("refused a request whose body Bolt could not read", exc_info=True)
            body = json.dumps({"ok": False, "error": "malformed_request"}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(body)))],
                           sys.exc_info())
            return [body]

    return wsgi


def serve(wsgi: Callable[..., Iterable[bytes]], *, host: str, port: int,
          threads: int = 16) -> Any:
    """A waitress server (not yet running); call `.run()` to serve, `.close()` to stop."""
    from waitress.server import create_server

    return create_server(wsgi, host=host, port=port, threads=threads, backlog=2048,
                         connection_limit=1000, channel_timeout=30, ident="crisisbot")
