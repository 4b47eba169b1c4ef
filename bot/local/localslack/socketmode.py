"""Socket Mode: the websocket side of Slack.

Slack's protocol, as apps see it: ``apps.connections.open`` (app token) returns a one-time
``wss://…/link/?ticket=…`` URL; on connect Slack sends ``{"type": "hello", ...}``; every
request then arrives as an envelope ``{"envelope_id", "type", "payload",
"accepts_response_payload", ...}`` and the app acks with ``{"envelope_id", "payload"?}``.
Here the URL is plain ``ws://127.0.0.1`` (slack_sdk's built-in client connects without TLS to
any port other than 443).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    payload: Any = None


class SocketHub:
    """A websocket server that hands envelopes to connected apps and collects their acks."""

    def __init__(self, *, app_id: str) -> None:
        self.app_id = app_id
        self.port = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._conns: list[ServerConnection] = []
        self._pending: dict[str, _Pending] = {}
        self._turn = 0

    def start(self) -> None:
        self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._check_ticket,
                             compression=None, close_timeout=1, open_timeout=5,
                             max_size=8 * 2**20, logger=logging.getLogger(__name__ + ".ws"))
        self.port = self._server.socket.getsockname()[1]
        # Handler threads inherit daemon=True from this thread: a forgotten stop() cannot
        # hang interpreter exit.
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="localslack-socket")
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            for pending in self._pending.values():
                pending.done.set()

    def issue_url(self) -> str:
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._conns)

    def _check_ticket(self, conn: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._lock:
            if url.path.rstrip("/") == "/link" and ticket in self._tickets:
                self._tickets.discard(ticket)  # a ticket opens one connection
                return None
        return conn.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")

    def _handle(self, conn: ServerConnection) -> None:
        with self._lock:
            self._conns.append(conn)
            count = len(self._conns)
        try:
            conn.send(json.dumps({
                "type": "hello", "num_connections": count,
                "connection_info": {"app_id": self.app_id},
                "debug_info": {"host": "localslack", "build_number": 1,
                               "approximate_connection_time": 3600},
            }))
            for raw in conn:
                if isinstance(raw, bytes):
                    continue
                try:
                    msg = json.loads(raw)
                except ValueError:
                    log.debug("localslack socket: non-JSON frame ignored")
                    continue
                if not isinstance(msg, dict):
                    continue
                with self._lock:
                    pending = self._pending.get(str(msg.get("envelope_id")))
                if pending is not None and not pending.done.is_set():
                    pending.payload = msg.get("payload")
                    pending.done.set()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)

    def deliver(self, envelope: dict[str, Any], timeout: float) -> tuple[bool, Any]:
        """Send an envelope to one connected app (round robin, as Slack spreads payloads) and
        wait for its ack: (acked, ack payload). Raises if no app connects within timeout."""
        deadline = time.monotonic() + timeout
        eid = envelope["envelope_id"]
        pending = _Pending()
        with self._lock:
            self._pending[eid] = pending
        try:
            while True:
                with self._lock:
                    conns = list(self._conns)
                    self._turn += 1
                if conns:
                    conn = conns[self._turn % len(conns)]
                    try:
                        conn.send(json.dumps(envelope))
                        break
                    except ConnectionClosed:
                        with self._lock:
                            if conn in self._conns:
                                self._conns.remove(conn)
                        continue
                if time.monotonic() >= deadline:
                    raise RuntimeError("no Socket Mode client is connected to localslack")
                time.sleep(0.01)
            acked = pending.done.wait(max(0.0, deadline - time.monotonic()))
            return acked and self._server is not None, pending.payload
        finally:
            with self._lock:
                self._pending.pop(eid, None)

    def disconnect_all(self, reason: str | None = "refresh_requested") -> int:
        """Tell every app to reconnect, as Slack does every few hours, then drop the
        connections (reason "warning" only announces it; None drops them silently)."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                if reason is not None:
                    conn.send(json.dumps({"type": "disconnect", "reason": reason,
                                          "debug_info": {"host": "localslack"}}))
                if reason != "warning":
                    conn.close()
            except ConnectionClosed:
                pass
        return len(conns)
