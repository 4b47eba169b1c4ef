"""The HTTP front: Slack's requests at POST /slack/events, GET /healthz, GET /metrics
(Prometheus text, bot/metrics.py) and the customer's email replies at POST /email/inbound
(bot/email/inbound.py), as one WSGI app.

Served by waitress (a production WSGI server), never by Bolt's development server, whose tiny
listen backlog drops connections under a burst.

Every POST to /slack/events has its signature checked here (`bot.slack.signature.check`) before
Bolt reads it: a request whose timestamp or signature does not parse, is stale or does not
match is a 401 and nothing else runs (Bolt's own check raises on a malformed timestamp and so
reaches the error handler, which would answer the unverified payload's user). Each signed one
is timed here, from its arrival to its answer (the ack histogram, bot/metrics.py).
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.health import Health, respond
from bot.load import InFlight
from bot.metrics import CONTENT_TYPE as METRICS_TYPE
from bot.metrics import METRICS_PATH, observe_ack, request_kind
from bot.slack import signature

EVENTS_PATH = "/slack/events"
MAX_BODY = 4 * 1024 * 1024  # far above any payload Slack sends (a modal's state included)
INBOUND_PATH = "/email/inbound"  # the customer's email replies (bot/email/inbound.py)

log = logging.getLogger(__name__)


def _plain(start_response: Callable[..., Any], status: str, error: str) -> Iterable[bytes]:
    body = json.dumps({"ok": False, "error": error}).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def _signed_only(environ: dict[str, Any], start_response: Callable[..., Any],
                 secret: str) -> tuple[Iterable[bytes] | None, bytes]:
    """(None, the body) when the request is signed by Slack (its body is put back for Bolt
    to read); else (the 401 or 413 already answered, b"")."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_BODY:
        return _plain(start_response, "413 Payload Too Large", "request_too_large"), b""
    stream = environ.get("wsgi.input")
    body = stream.read(length) if stream is not None and length else b""
    why = signature.check(body, environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                          environ.get("HTTP_X_SLACK_SIGNATURE"), secret=secret, now=time.time())
    if why is not None:
        log.warning("refused an unsigned request to %s: %s", EVENTS_PATH, why)
        return _plain(start_response, "401 Unauthorized", "invalid_request"), b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return None, body


def request_kind_of(body: bytes, content_type: str) -> str:
    """The kind of a signed request to /slack/events, as the ack histogram's label: the
    Events API sends JSON, slash commands form fields, interactions a form field `payload`
    of JSON."""
    try:
        if content_type.startswith("application/json"):
            return request_kind(json.loads(body))
        fields = parse_qs(body.decode("utf-8", "replace"))
        if "command" in fields:
            return "command"
        payload = fields.get("payload")
        return request_kind(json.loads(payload[0])) if payload else "other"
    except (ValueError, RecursionError):
        return "other"


def make_wsgi(app: App, healthy: Callable[[], Health],
              inbound: Callable[..., Iterable[bytes]] | None = None, *,
              signing_secret: str,
              metrics: Callable[[], bytes] | None = None,
              load: InFlight | None = None) -> Callable[..., Iterable[bytes]]:
    """The WSGI app; `signing_secret` checks every request to /slack/events before Bolt, and
    `inbound` (the customer's email replies) checks its own signature. `metrics`: the text
    of a Prometheus scrape, served at GET /metrics (no secret in it: counts and timings).
    `load` counts the requests to /slack/events inside the app (bot/load.py)."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def bolt(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
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

    def slack_request(environ: dict[str, Any],
                      start_response: Callable[..., Any]) -> Iterable[bytes]:
        """A request from Slack, timed from its arrival to its answer: with
        process_before_response (bot/app.py) Bolt answers, ack included, only once the
        listener has returned, so timing `ack()` itself would leave out what a listener
        does after it (bot/metrics.py `crisisbot_ack_seconds`). Counted in `load` while
        inside (the intake's overload signal, bot/load.py)."""
        started = time.perf_counter()
        if load is not None:
            load.enter()
        try:
            refused, body = _signed_only(environ, start_response, signing_secret)
            if refused is not None:
                return refused  # not Slack's: not an ack
            kind = request_kind_of(body, environ.get("CONTENT_TYPE") or "")
            try:
                return bolt(environ, start_response)
            finally:
                observe_ack(kind, time.perf_counter() - started)
        finally:
            if load is not None:
                load.leave()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == INBOUND_PATH and inbound is not None:
            return inbound(environ, start_response)
        if path == METRICS_PATH and metrics is not None and \
                environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            body = metrics()
            start_response("200 OK", [("Content-Type", METRICS_TYPE),
                                      ("Content-Length", str(len(body)))])
            return [body]
        if path == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return respond(healthy(), start_response)  # bot/health.py: what is checked
        if path == EVENTS_PATH and environ.get("REQUEST_METHOD") == "POST":
            return slack_request(environ, start_response)
        return bolt(environ, start_response)  # the OAuth pages (multi-workspace mode)

    return wsgi


THREADS = 8
"""Request threads per process. Each ack is a few milliseconds of CPU under one GIL; more
threads than that do not ack faster, they only take turns (16 made the transaction holding
the write lock wait its turn behind the others: a convoy). Acks that arrive together still
share one commit (`playbook.services.transactions.GroupCommit`), and several processes
(`bot.http_workers`) are what use more than one CPU."""


def serve(wsgi: Callable[..., Iterable[bytes]], *, host: str = "", port: int = 0,
          threads: int = THREADS, sock: socket.socket | None = None,
          load: InFlight | None = None) -> Any:
    """A waitress server (not yet running); call `.run()` to serve, `.close()` to stop.

    `sock`: serve on this listening socket instead of binding `host`:`port` (the HTTP workers
    of `bot.http_workers` all accept on one socket, which the kernel shares among them).
    `load`: learns how many requests wait for a thread (waitress' task queue)."""
    from waitress.server import create_server

    where: dict[str, Any] = {"sockets": [sock]} if sock is not None else \
        {"host": host, "port": port}
    server = create_server(wsgi, threads=threads, backlog=2048, connection_limit=1000,
                           channel_timeout=30, ident="crisisbot", **where)
    queue = getattr(getattr(server, "task_dispatcher", None), "queue", None)
    if load is not None and queue is not None:
        load.waiting = queue.__len__
    return server


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on `host`:`port` (0: any free port), for `serve(sock=...)`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
