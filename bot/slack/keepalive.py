"""A slack_sdk WebClient that keeps one HTTP connection per thread instead of one per call.

Why: slack_sdk's WebClient sends every call through ``urllib.request.urlopen``, which opens a
new TCP (and TLS) connection per call and asks the server to close it. Under a reminder burst
(a ``chat.postMessage`` and a ``chat.update`` per reminder) setting up and tearing down those
connections is about a third of the client's CPU per call (``bench/slack_calls.py``), in the
one interpreter that also fires the reminders, plus a connect (and TLS handshake) round trip.

How: slack_sdk funnels every Web API call through one method,
``BaseClient._perform_urllib_http_request_internal(url, req)``, which turns a built
``urllib.request.Request`` into ``{"status", "headers", "body"}`` or raises what urllib raises.
Only that method is replaced. Everything around it stays slack_sdk's own: building the
request (User-Agent, ``Authorization``, form/JSON/multipart bodies), the retry handlers (429
with Retry-After, 5xx, dropped connections: they see the same exceptions urllib raises),
parsing into ``SlackResponse`` and raising ``SlackApiError``. Files sent to the upload URLs of
``files_upload_v2`` go through slack_sdk's own urllib code, untouched.

Connections are per thread (the client is shared by the outbox threads; an
``http.client.HTTPConnection`` carries one request at a time) and per origin. A connection
that went idle too long, or that the server closed (readable while idle: EOF), is replaced
before use. If a reused connection still fails before any byte of a response arrives (the
server closed it while the request was on its way), the request is sent once more on a fresh
connection: the server dropped an idle connection, it did not process the request. Failures
on a fresh connection, or after a status line, are raised exactly as urllib raises them, for
the retry handlers to judge. A configured proxy (``proxy=`` or the environment), a scheme
other than http(s), a body that is not bytes, and redirects take slack_sdk's stock path.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import select
import threading
import time
import urllib.request
import weakref
from http.client import HTTPConnection, HTTPException, HTTPSConnection, RemoteDisconnected
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient

log = logging.getLogger(__name__)

#: What a reused connection raises when the server had closed it before our request reached
#: it (before a status line came back): safe to send once more on a fresh connection.
_STALE_ERRORS = (RemoteDisconnected, ConnectionResetError, ConnectionAbortedError,
                 BrokenPipeError)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

Origin = tuple[str, str, int]


class _Slot:
    """One open connection and when it last finished a response."""

    __slots__ = ("conn", "idle_since")

    def __init__(self, conn: HTTPConnection) -> None:
        self.conn = conn
        self.idle_since = time.monotonic()


class _ThreadConnections:
    """One thread's connections. Closed when the thread ends (``threading.local`` drops it)
    or the client is closed, so no socket is left for the garbage collector to warn about."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.slots: dict[Origin, _Slot] = {}

    def close(self) -> None:
        slots, self.slots = self.slots, {}
        for slot in slots.values():
            with contextlib.suppress(Exception):
                slot.conn.close()

    def __del__(self) -> None:
        self.close()


def _dropped(conn: HTTPConnection) -> bool:
    """True when an idle connection is readable: the server closed it (EOF) or sent something
    unasked; either way it cannot carry another request."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class KeepAliveWebClient(WebClient):
    """A ``WebClient`` whose calls reuse one persistent HTTP/1.1 connection per thread.

    Same constructor as ``WebClient``; ``max_idle`` (seconds) is how long an idle connection
    may be reused, kept below the idle timeouts of servers and load balancers on the way, so
    a quietly dropped connection is not met on the next call. ``close()`` closes every
    connection (call it when no call is in flight, e.g. at shutdown); a thread's connections
    also close when the thread ends.
    """

    def __init__(self, *args: Any, max_idle: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_idle = max_idle
        self._local = threading.local()
        # Every thread's connections, for close(); weak, so a pool still goes (and closes its
        # sockets) when its thread ends.
        self._all: weakref.WeakSet[_ThreadConnections] = weakref.WeakSet()
        self._all_lock = threading.Lock()
        # urlopen also honours proxies from the environment (and the OS) that BaseClient did
        # not copy into self.proxy; those requests must go the stock way too.
        self._env_proxies = {k for k, v in urllib.request.getproxies().items() if v}

    # ------------------------------------------------------------------ public
    def close(self) -> None:
        """Close all connections of all threads (none may be in use)."""
        with self._all_lock:
            pools = list(self._all)
        for pool in pools:
            pool.close()

    # ------------------------------------------------------------------ slack_sdk hook
    def _perform_urllib_http_request_internal(self, url: str,
                                              req: urllib.request.Request) -> dict[str, Any]:
        parts = urlsplit(req.full_url)
        scheme = parts.scheme.lower()
        if (scheme not in ("http", "https") or self.proxy or scheme in self._env_proxies
                or not isinstance(req.data, bytes | None) or not parts.hostname):
            return super()._perform_urllib_http_request_internal(url, req)
        port = parts.port or (443 if scheme == "https" else 80)
        origin = (scheme, parts.hostname, port)
        headers = {k: v for k, v in req.header_items() if k.lower() != "connection"}
        if req.data is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/x-www-form-urlencoded"  # as urllib does
        status, reason, resp_headers, body = self._exchange(origin, req, headers)
        if status in _REDIRECTS:  # not something Slack's Web API does; let urllib follow it
            return super()._perform_urllib_http_request_internal(url, req)
        if not 200 <= status < 300:  # urllib raises these; slack_sdk's retry loop expects it
            raise HTTPError(req.full_url, status, reason, resp_headers, io.BytesIO(body))
        if resp_headers.get_content_type() == "application/gzip":  # admin.analytics.getFile
            self._log_response(status, resp_headers, "(binary)")
            return {"status": status, "headers": resp_headers, "body": body}
        text = body.decode(resp_headers.get_content_charset() or "utf-8")
        self._log_response(status, resp_headers, text)
        return {"status": status, "headers": resp_headers, "body": text}

    # ------------------------------------------------------------------ internals
    def _exchange(self, origin: Origin, req: urllib.request.Request,
                  headers: dict[str, str]) -> tuple[int, str, Any, bytes]:
        """Send one request and read the whole response on this thread's connection."""
        slot, reused = self._slot(origin)
        try:
            return self._send(slot, req, headers)
        except _Failure as failure:
            if not (reused and failure.before_response
                    and isinstance(failure.error, _STALE_ERRORS)):
                raise failure.as_urllib() from None
            log.debug("reused connection to %s:%s was closed by the server (%s); sending "
                      "again on a new one", origin[1], origin[2], type(failure.error).__name__)
        slot, _ = self._slot(origin, fresh=True)
        try:
            return self._send(slot, req, headers)
        except _Failure as failure:
            raise failure.as_urllib() from None

    def _send(self, slot: _Slot, req: urllib.request.Request,
              headers: dict[str, str]) -> tuple[int, str, Any, bytes]:
        """One request/response on ``slot``; closes the connection on any failure, raising
        ``_Failure`` (what failed, and in which phase) for OSErrors and HTTP protocol errors."""
        conn = slot.conn
        if conn.timeout != self.timeout:
            conn.timeout = self.timeout
            if conn.sock is not None:
                conn.sock.settimeout(self.timeout)
        phase = "send"
        try:
            conn.request(req.get_method(), req.selector, req.data, headers)
            phase = "wait"
            resp = conn.getresponse()
            phase = "read"
            body = resp.read()
        except (OSError, HTTPException) as err:
            conn.close()
            raise _Failure(err, phase) from err
        except BaseException:
            conn.close()
            raise
        slot.idle_since = time.monotonic()
        if resp.will_close:  # http.client has closed it already; be explicit
            conn.close()
        return resp.status, resp.reason, resp.headers, body

    def _slot(self, origin: Origin, *, fresh: bool = False) -> tuple[_Slot, bool]:
        """This thread's connection to ``origin`` and whether it has carried a request."""
        pool = self._connections()
        slot = pool.slots.get(origin)
        if slot is not None and (fresh or slot.conn.sock is None or _dropped(slot.conn)
                                 or time.monotonic() - slot.idle_since > self.max_idle):
            slot.conn.close()
            slot = None
        if slot is not None:
            return slot, True
        scheme, host, port = origin
        conn: HTTPConnection
        if scheme == "https":
            conn = HTTPSConnection(host, port, timeout=self.timeout, context=self.ssl)
        else:
            conn = HTTPConnection(host, port, timeout=self.timeout)
        slot = pool.slots[origin] = _Slot(conn)
        return slot, False

    def _connections(self) -> _ThreadConnections:
        pool: _ThreadConnections | None = getattr(self._local, "pool", None)
        if pool is not None and pool.pid == os.getpid():
            return pool
        if pool is not None:  # inherited through fork: close our copies, never share them
            pool.close()
        pool = self._local.pool = _ThreadConnections()
        with self._all_lock:
            self._all.add(pool)
        return pool

    def _log_response(self, status: int, headers: Any, body: str) -> None:
        # The line slack_sdk logs; its own check (logger.level <= DEBUG) is true for an unset
        # level and formats headers and body for every call only to drop them.
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug(f"Received the following response - status: {status}, "
                               f"headers: {dict(headers)}, body: {body}")


class _Failure(Exception):
    """A failed exchange: the error and the phase it happened in (send, wait, read)."""

    def __init__(self, error: OSError | HTTPException, phase: str) -> None:
        super().__init__(error)
        self.error = error
        self.phase = phase

    @property
    def before_response(self) -> bool:
        """Nothing of a response had arrived: no status line was read."""
        return self.phase in ("send", "wait")

    def as_urllib(self) -> Exception:
        """What urlopen would have raised: OSErrors while connecting or sending wrapped in
        URLError, errors while waiting for or reading the response as they are (slack_sdk's
        ConnectionErrorRetryHandler retries URLError, ConnectionResetError and
        RemoteDisconnected)."""
        if self.phase == "send" and isinstance(self.error, OSError):
            return URLError(self.error)
        return self.error
