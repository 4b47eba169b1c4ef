"""LocalSlack: a Slack-compatible server on 127.0.0.1 for the demo and the e2e tests.

One object is the whole fake Slack: the Web API (``POST /api/<method>``) a real
``slack_sdk.WebClient`` talks to via ``base_url=server.api_url``, the response_url and file
upload endpoints, a Socket Mode websocket, the workspace state tests inspect, and Slack's side
of every request to the app (see driver.SlackSide). Ports are chosen by the OS, so parallel
test runs never clash. The Web API speaks HTTP/1.1 with keep-alive, as Slack does: a client
may reuse its connection (``http_connections`` counts requests per connection), and
``drop_http_connections`` / ``http_keep_alive = False`` play a server that closes them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .api_messages import post_response_url
from .echo import EventEcho
from .lifecycle import LifecycleSide
from .models import Reply
from .socketmode import SocketHub
from .webapi import dispatch

log = logging.getLogger(__name__)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never blocks shutdown
    request_queue_size = 1024  # bursts from parallel workers must not get connection resets
    allow_reuse_address = True
    slack: LocalSlack

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keep_alive = True
        self._conn_lock = threading.Lock()
        self._open: dict[int, socket.socket] = {}  # connection number -> socket
        self._served: list[int] = []  # requests answered, per connection in accept order

    def opened(self, sock: socket.socket) -> int:
        with self._conn_lock:
            number = len(self._served)
            self._served.append(0)
            self._open[number] = sock
            return number

    def served(self, number: int) -> None:
        with self._conn_lock:
            self._served[number] += 1

    def closed(self, number: int) -> None:
        with self._conn_lock:
            self._open.pop(number, None)

    def stats(self) -> list[int]:
        with self._conn_lock:
            return list(self._served)

    def open_count(self) -> int:
        with self._conn_lock:
            return len(self._open)

    def drop_open(self) -> int:
        """Shut down every open connection: idle ones end at once, a request in progress
        loses its connection. Handler threads see EOF and exit."""
        with self._conn_lock:
            socks = list(self._open.values())
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(socks)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: every answer carries Content-Length (errors, 429s, 404s
    included), so clients can reuse the connection and none has to read until EOF."""

    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    # Buffered: the status line, headers and body leave in one write (flushed after each
    # request), so a small answer is one segment and never waits on Nagle + delayed ACK.
    wbufsize = -1
    # An idle keep-alive connection is closed after this long (a vanished client must not
    # hold a thread forever); the client opens a new one on its next call.
    timeout = 120

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._number = self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self._number)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("localslack http: " + format, *args)

    def do_GET(self) -> None:
        self._route(b"")

    def do_POST(self) -> None:
        raw = self._read_body()
        if raw is not None:
            self._route(raw)

    def _read_body(self) -> bytes | None:
        """The whole request body, so the next request on the connection starts where it
        should; None (after a 400 that closes the connection) when it cannot be framed."""
        try:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.send_error(400, "Bad request body framing")
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline(65537).split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)  # the CRLF after each chunk

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, dict | list):
            data, ctype = json.dumps(body).encode(), "application/json; charset=utf-8"
        else:
            data, ctype = str(body).encode(), "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if not self.server.keep_alive:
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _route(self, raw: bytes) -> None:
        self.server.served(self._number)
        slack = self.server.slack
        url = urlsplit(self.path)
        try:
            if url.path.startswith("/api/"):
                params = self._params(url.query, raw)
                token = self._token(params)
                status, body, headers = dispatch(slack, url.path[5:], params, token)
                self._reply(status, body, headers)
            elif url.path.startswith("/respond/") and self.command == "POST":
                fault = slack._take_fault("response_url")
                if fault is not None:
                    self._reply(fault.status, fault.error)
                    return
                status, text = post_response_url(slack, unquote(url.path[9:]),
                                                  self._json_body(raw))
                self._reply(status, text)
            elif url.path.startswith("/upload/") and self.command == "POST":
                fault = slack._take_fault("upload")
                if fault is not None:
                    self._reply(fault.status, fault.error)
                    return
                self._reply(*slack._store_upload(url.path[8:], raw))
            else:
                self._reply(404, "not_found")
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:
            log.exception("localslack: %s %s failed", self.command, self.path)
            # Part of an answer may have been written: the connection cannot be trusted.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._reply(500, {"ok": False, "error": "internal_error"})

    def _token(self, params: dict[str, Any]) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        if auth.lower().startswith("basic "):  # oauth.v2.access: client id and secret
            return auth.strip()
        token = params.get("token")
        return token if isinstance(token, str) else None

    def _json_body(self, raw: bytes) -> Any:
        ctype = self.headers.get("Content-Type") or ""
        try:
            if "application/x-www-form-urlencoded" in ctype:
                form = parse_qs(raw.decode(), keep_blank_values=True)
                return json.loads(form.get("payload", ["null"])[0])
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def _params(self, query: str, raw: bytes) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[0] for k, v in parse_qs(query, True).items()}
        ctype = self.headers.get("Content-Type") or ""
        if not raw:
            return params
        if "json" in ctype:
            try:
                body = json.loads(raw)
            except ValueError:
                return {**params, "__invalid_json__": True}
            if isinstance(body, dict):
                params.update(body)
        elif "multipart/form-data" in ctype:
            msg = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name and not part.get_filename():
                    params[str(name)] = part.get_content()
        else:
            params.update({k: v[0] for k, v in parse_qs(raw.decode(), True).items()})
        return params


class LocalSlack(LifecycleSide):
    """A local Slack: start() binds free ports on 127.0.0.1; use as a context manager.

    Strict by default: rate tiers (``rate_limits``), the manifest's scopes, guest and
    other-org invite refusals, bot tokens that cannot unarchive. ``kind=True`` turns the rate
    tiers off for a test that needs an unlimited Slack; ``scopes=`` installs other scopes.
    """

    def __init__(self, *, bot_token: str = "xoxb-local-test", app_token: str = "xapp-local-test",
                 signing_secret: str = "local-signing-secret", team_id: str = "T0LOCAL",
                 bot_user_id: str = "UBOT", **options: Any) -> None:
        super().__init__(bot_token=bot_token, app_token=app_token,
                         signing_secret=signing_secret, team_id=team_id,
                         bot_user_id=bot_user_id, **options)
        self._httpd: _HTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._hub = SocketHub(app_id=self.app_id)
        self._echo = EventEcho(self._echo_deliver, self.violation)
        self._emit_sink = self._echo.put

    # ------------------------------------------------------------------ the app's own events
    def subscribe(self, app_url: str | None, *, via: str = "http") -> None:
        """Deliver the events Slack sends about the app's own calls (see echo) to the app at
        ``app_url`` (None with ``via="socket"``)."""
        self._echo.subscribe(app_url, via)

    def unsubscribe(self) -> None:
        self._echo.unsubscribe()

    def wait_events_delivered(self, timeout: float = 10.0) -> bool:
        """True once every event about the app's own calls has been delivered and acked."""
        return self._echo.wait_idle(timeout)

    @property
    def events_pending(self) -> bool:
        return self._echo.busy

    @property
    def echo_deliveries(self) -> list[tuple[str, int]]:
        """(event type, HTTP status or 200 for a Socket Mode ack) per delivered event."""
        return list(self._echo.delivered)

    def _echo_deliver(self, event: dict[str, Any], url: str | None, via: str) -> Reply:
        return self.event(url, event, via="socket" if via == "socket" else "http")

    @property
    def ratelimited(self) -> dict[str, int]:
        """How many 429s each method got (for tests and benchmarks)."""
        return dict(self.rate_limits.limited)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalSlack:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.slack = self
        self._httpd = httpd
        self.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._http_thread = threading.Thread(target=httpd.serve_forever, kwargs={
            "poll_interval": 0.05}, daemon=True, name="localslack-http")
        self._http_thread.start()
        self._hub.start()
        return self

    def stop(self) -> None:
        """Close websockets first (so connected apps stop), then the Web API."""
        self._echo.unsubscribe()
        self._hub.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            # Keep-alive connections would otherwise keep their handler threads (blocked
            # reading the next request) alive after the server is gone.
            self._httpd.drop_open()
            self._httpd.server_close()
            self._httpd = None
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
            self._http_thread = None

    def __enter__(self) -> LocalSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """Web API base URL for ``WebClient(base_url=...)`` / ``SLACK_API_URL``."""
        if self._httpd is None:
            raise RuntimeError("LocalSlack is not started")
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ HTTP connections
    @property
    def http_connections(self) -> list[int]:
        """Requests answered on each HTTP connection accepted so far, in accept order (a
        client reusing its connection shows up as one entry with many requests)."""
        return self._started().stats()

    @property
    def http_open(self) -> int:
        """HTTP connections open right now (idle keep-alive ones included)."""
        return self._started().open_count()

    def drop_http_connections(self) -> int:
        """Close every open HTTP connection from this side, as a server's idle timeout or a
        restart would; returns how many were open."""
        return self._started().drop_open()

    @property
    def http_keep_alive(self) -> bool:
        """False: answer each request with ``Connection: close`` (as HTTP/1.0 servers do)."""
        return self._started().keep_alive

    @http_keep_alive.setter
    def http_keep_alive(self, value: bool) -> None:
        self._started().keep_alive = value

    def _started(self) -> _HTTPServer:
        if self._httpd is None:
            raise RuntimeError("LocalSlack is not started")
        return self._httpd

    @property
    def socket_url_base(self) -> str:
        return f"ws://127.0.0.1:{self._hub.port}/link/"

    # ------------------------------------------------------------------ Socket Mode
    def _issue_socket_url(self) -> str:
        if self._hub.port == 0:
            return super()._issue_socket_url()
        return self._hub.issue_url()

    def _socket_deliver(self, envelope: dict[str, Any], timeout: float) -> tuple[bool, Any]:
        return self._hub.deliver(envelope, timeout)

    @property
    def socket_connections(self) -> int:
        """How many Socket Mode clients are connected right now."""
        return self._hub.connection_count

    def wait_for_socket(self, count: int = 1, timeout: float = 5.0) -> int:
        return self.wait_for(lambda: self.socket_connections >= count and
                             self.socket_connections, timeout,
                             message=f"{count} Socket Mode connection(s)")

    def socket_disconnect(self, reason: str | None = "refresh_requested") -> int:
        """Send Slack's ``disconnect`` message to every client and drop them ("warning":
        announce only; None: drop without a message). Returns how many were connected."""
        return self._hub.disconnect_all(reason)

    def close_socket_client(self, handler: Any, timeout: float = 5.0) -> None:
        """Shut down a Bolt ``SocketModeHandler`` (or a slack_sdk ``SocketModeClient``)
        connected here, quickly and cleanly. A plain ``close()`` waits ~3 s on the built-in
        client's blocked recv(), and closing while the link drops races inside slack_sdk
        (AttributeError on ``sock.close``). So: no reconnects, drop the link from this side,
        wait until the client has noticed, then close."""
        client = getattr(handler, "client", handler)
        client.auto_reconnect_enabled = False
        self.socket_disconnect(None)
        with contextlib.suppress(TimeoutError):
            self.wait_for(lambda: not client.is_connected(), timeout,
                          message="Socket Mode client to notice the disconnect")
        handler.close()

    # ------------------------------------------------------------------ uploads
    def _store_upload(self, file_id: str, raw: bytes) -> tuple[int, str]:
        with self._lock:
            rec = self._files.get(file_id)
            if rec is None:
                return 404, "file_not_found"
            rec.content, rec.uploaded = raw, True
            return 200, f"OK - {len(raw)}"
