"""The bot's Web API client keeps its HTTP connection; the local Slack speaks keep-alive.

`bot.slack.client.make_client` returns `bot.slack.keepalive.KeepAliveWebClient`: one persistent
connection per thread instead of one per call, with everything slack_sdk does around the request
kept (retry handlers, SlackApiError, headers). Connections are counted on the server side
(`LocalSlack.http_connections`: requests answered per accepted connection). A small scripted
server stands in for misbehaving ones: a connection closed while a request was on its way, a
response cut off after its status line.
"""

from __future__ import annotations

import gc
import http.client
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry import handler as retry_handler
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.config import Settings
from bot.local.localslack import LocalSlack
from bot.slack.client import make_client
from bot.slack.keepalive import KeepAliveWebClient

USER = "U0ALICE"


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    # kind: these tests count requests per connection; tier 429s would add retried requests
    with LocalSlack(kind=True) as server:
        server.add_user(USER, "alice")
        yield server


@pytest.fixture
def channel(slack: LocalSlack) -> str:
    return slack.add_channel("inc-1-acme", members=[USER], bot_member=True).id


@pytest.fixture
def client(slack: LocalSlack) -> Iterator[KeepAliveWebClient]:
    made = make_client(Settings(slack_bot_token=slack.bot_token, slack_api_url=slack.api_url))
    assert isinstance(made, KeepAliveWebClient)
    yield made
    made.close()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """slack_sdk's retry handlers record their waits here instead of sleeping."""
    slept: list[float] = []
    fake = SimpleNamespace(sleep=slept.append)
    monkeypatch.setattr(builtin_handlers, "time", fake)
    monkeypatch.setattr(retry_handler, "time", fake)
    return slept


def texts(slack: LocalSlack, channel: str) -> list[str]:
    return [m.text for m in slack.messages(channel)]


def port(slack: LocalSlack) -> int:
    return int(slack.base_url.rsplit(":", 1)[1])


def eventually(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.01)


# --------------------------------------------------------------------------- reuse


def test_many_calls_share_one_connection(slack: LocalSlack, channel: str,
                                         client: KeepAliveWebClient) -> None:
    for i in range(30):
        ts = client.chat_postMessage(channel=channel, text=f"post {i}")["ts"]
        client.chat_update(channel=channel, ts=ts, text=f"edited {i}")
    assert client.conversations_info(channel=channel)["channel"]["id"] == channel
    assert texts(slack, channel) == [f"edited {i}" for i in range(30)]
    assert slack.http_connections == [61], "every call on the one connection"
    sock = client._local.pool.slots[("http", "127.0.0.1", port(slack))].conn.sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_stock_client_still_gets_one_connection_per_call(slack: LocalSlack,
                                                         channel: str) -> None:
    """The HTTP/1.1 server honours ``Connection: close`` (urllib sends it): nothing waits on
    a connection the client has given up."""
    stock = WebClient(token=slack.bot_token, base_url=slack.api_url)
    for i in range(3):
        stock.chat_postMessage(channel=channel, text=f"stock {i}")
    assert slack.http_connections == [1, 1, 1]
    eventually(lambda: slack.http_open == 0, "the server closes after each answer")


def test_threads_each_get_their_own_connection(slack: LocalSlack, channel: str,
                                               client: KeepAliveWebClient) -> None:
    threads, calls = 4, 25
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(calls):
                client.chat_postMessage(channel=channel, text=f"t{n}-{i}")
        except BaseException as err:
            errors.append(err)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert errors == []
    assert sorted(texts(slack, channel)) == sorted(f"t{n}-{i}" for n in range(threads)
                                                   for i in range(calls))
    assert slack.http_connections == [calls] * threads
    del workers
    gc.collect()
    eventually(lambda: slack.http_open == 0, "a thread's connection closes when it ends")


# --------------------------------------------------------------------------- dropped connections


def test_server_closing_between_calls_is_transparent(slack: LocalSlack, channel: str,
                                                     client: KeepAliveWebClient) -> None:
    client.chat_postMessage(channel=channel, text="first")
    for i in range(3):  # an idle timeout or restart on the server side
        assert slack.drop_http_connections() >= 1  # (the last one may still be closing)
        client.chat_postMessage(channel=channel, text=f"after drop {i}")
    slack.http_keep_alive = False  # a server answering "Connection: close" every time
    for i in range(3):
        client.chat_postMessage(channel=channel, text=f"closing {i}")
    assert texts(slack, channel) == ["first", *(f"after drop {i}" for i in range(3)),
                                     *(f"closing {i}" for i in range(3))], "each sent once"
    assert slack.call_count("chat.postMessage") == 7
    assert slack.http_connections == [1, 1, 1, 2, 1, 1]


class _Scripted(ThreadingHTTPServer):
    """A bare HTTP/1.1 server; ``script(connection_no, request_no)`` says how to answer:
    "ok", "drop" (close without answering), "cut" (status line, then close mid-body) or
    "reset" (status line, then a TCP reset mid-body)."""

    daemon_threads = True

    def __init__(self, script: Callable[[int, int], str]) -> None:
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)
        self.script = script
        self.seen: list[tuple[int, int, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.connections = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: _Scripted
    protocol_version = "HTTP/1.1"
    timeout = 10

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.conn_no = self.server.connections
            self.server.connections += 1
        self.req_no = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.seen.append((self.conn_no, self.req_no,
                                     {k.lower(): v for k, v in self.headers.items()}, body))
        action = self.server.script(self.conn_no, self.req_no)
        self.req_no += 1
        data = json.dumps({"ok": True, "conn": self.conn_no}).encode()
        if action == "drop":
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        if action in ("cut", "reset"):
            self.send_header("Content-Length", str(len(data) + 100))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            if action == "reset":
                time.sleep(0.2)  # the client has read the status line and waits for the rest
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()  # with linger 0: a reset, before any FIN
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[int, int], str]], _Scripted]]:
    servers: list[_Scripted] = []

    def start(script: Callable[[int, int], str]) -> _Scripted:
        server = _Scripted(script)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_reused_connection_closed_before_an_answer_is_resent_once(scripted: Any) -> None:
    """The server closes the kept connection as the second request arrives (its idle timeout
    racing our send): that request was never answered, so it goes again on a new connection;
    slack_sdk's retry handlers are not involved (there are none here)."""
    server = scripted(lambda conn, req: "drop" if (conn, req) == (0, 1) else "ok")
    client = KeepAliveWebClient(token="xoxb-scripted", base_url=server.api_url,
                                retry_handlers=[])
    assert client.auth_test()["conn"] == 0
    assert client.auth_test()["conn"] == 1
    assert client.auth_test()["conn"] == 1
    assert [(c, r) for c, r, _, _ in server.seen] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    client.close()


def test_a_fresh_connection_closed_without_an_answer_is_not_resent(
        scripted: Any, no_sleep: list[float]) -> None:
    """On a new connection the server had every chance to process the request: resending is
    for slack_sdk's retry handlers to decide, with the error urllib would have raised."""
    server = scripted(lambda conn, req: "drop" if conn == 0 else "ok")
    bare = KeepAliveWebClient(token="xoxb-scripted", base_url=server.api_url,
                              retry_handlers=[])
    with pytest.raises(http.client.RemoteDisconnected):
        bare.auth_test()
    assert len(server.seen) == 1
    retrying = KeepAliveWebClient(token="xoxb-scripted", base_url=server.api_url,
                                  retry_handlers=[ConnectionErrorRetryHandler(
                                      max_retry_count=1)])
    server.script = lambda conn, req: "drop" if conn == 1 else "ok"
    assert retrying.auth_test()["conn"] == 2
    assert len(server.seen) == 3 and len(no_sleep) == 1, "one retry, by slack_sdk's handler"
    bare.close()
    retrying.close()


@pytest.mark.parametrize(("action", "error"), [("cut", http.client.IncompleteRead),
                                               ("reset", ConnectionResetError)])
def test_a_response_broken_after_its_status_line_is_not_resent(
        scripted: Any, action: str, error: type[Exception]) -> None:
    """Once a status line came back the server has processed the request: a connection
    lost in the body (closed early, or reset) is raised, never silently sent again."""
    server = scripted(lambda conn, req: action if req == 1 else "ok")
    client = KeepAliveWebClient(token="xoxb-scripted", base_url=server.api_url,
                                retry_handlers=[])
    client.auth_test()
    with pytest.raises(error):
        client.auth_test()
    assert len(server.seen) == 2, "the server answered: never sent again by the client"
    assert client.auth_test()["conn"] == 1, "and the broken connection was not reused"
    client.close()


def test_refused_connection_raises_what_urllib_raises() -> None:
    client = KeepAliveWebClient(token="xoxb-x", base_url="http://127.0.0.1:9/api/",
                                retry_handlers=[])
    with pytest.raises(URLError) as err:
        client.auth_test()
    assert isinstance(err.value.reason, ConnectionRefusedError)


def test_requests_are_built_by_slack_sdk(scripted: Any) -> None:
    """Headers and bodies are slack_sdk's own: token, User-Agent, form, JSON, multipart."""
    server = scripted(lambda conn, req: "ok")
    client = KeepAliveWebClient(token="xoxb-scripted", base_url=server.api_url,
                                user_agent_prefix="crisisbot/test", retry_handlers=[])
    client.api_call("conversations.info", params={"channel": "C1", "x": "a & b"})
    client.chat_postMessage(channel="C1", text="json")
    client.api_call("files.upload", data={"channels": "C1"},
                    files={"file": b"file body"})
    (_, _, form, form_body), (_, _, js, js_body), (_, _, multi, multi_body) = server.seen
    for headers in (form, js, multi):
        assert headers["authorization"] == "Bearer xoxb-scripted"
        assert headers["user-agent"].startswith("crisisbot/test")
        assert "connection" not in headers, "HTTP/1.1 keep-alive is the default"
    assert form["content-type"] == "application/x-www-form-urlencoded"
    assert form_body == b"channel=C1&x=a+%26+b"
    assert js["content-type"].startswith("application/json")
    assert json.loads(js_body) == {"channel": "C1", "text": "json"}
    assert multi["content-type"].startswith("multipart/form-data; boundary=")
    assert int(multi["content-length"]) == len(multi_body)
    assert b'name="file"' in multi_body and b"file body" in multi_body
    assert [c for c, _, _, _ in server.seen] == [0, 0, 0]
    client.close()


# --------------------------------------------------------------------------- slack_sdk semantics


def test_rate_limit_retry_after_is_still_honoured(slack: LocalSlack, channel: str,
                                                  client: KeepAliveWebClient,
                                                  no_sleep: list[float]) -> None:
    slept = no_sleep
    slack.fail_next("chat.postMessage", retry_after=12)  # two digits: parsed as a header list
    assert client.chat_postMessage(channel=channel, text="after a 429")["ok"]
    assert len(slept) == 1 and 12 <= slept[0] < 13, "slept for Retry-After (plus jitter)"
    assert slack.call_count("chat.postMessage") == 2
    assert texts(slack, channel) == ["after a 429"]
    assert slack.http_connections == [2], "the 429 did not cost the connection"


def test_errors_still_raise_slack_api_error(slack: LocalSlack, channel: str,
                                            client: KeepAliveWebClient,
                                            no_sleep: list[float]) -> None:
    slack.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=channel, text="x")
    assert err.value.response["error"] == "channel_not_found"
    assert err.value.response.status_code == 200
    slack.fail_next("chat.update", "internal_error", status=503, times=3)
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=channel, ts="1.2", text="x")
    assert err.value.response.status_code == 503
    assert err.value.response["error"] == "internal_error"
    assert slack.call_count("chat.update") == 3, "ServerErrorRetryHandler retried twice"
    slack.fail_next("chat.postMessage", status=429, retry_after=0, times=10)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=channel, text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "0"
    assert len(no_sleep) == 2 + 3, "two 5xx retries, three 429 retries"
    bad = KeepAliveWebClient(token="xoxb-wrong", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as err:
        bad.auth_test()
    assert err.value.response["error"] == "invalid_auth"
    bad.close()
    assert slack.http_connections == [1 + 3 + 4, 1], "errors did not cost the connection"


def test_a_proxy_takes_slack_sdks_own_path(slack: LocalSlack, channel: str) -> None:
    """Proxies are urllib's business: the local Slack (which accepts absolute request
    targets) stands in for the proxy, and every call arrives on its own connection."""
    client = KeepAliveWebClient(token=slack.bot_token, base_url=slack.api_url,
                                proxy=slack.base_url)
    for i in range(3):
        client.chat_postMessage(channel=channel, text=f"via proxy {i}")
    assert texts(slack, channel) == [f"via proxy {i}" for i in range(3)]
    assert slack.http_connections == [1, 1, 1]


def test_debug_logs_never_show_the_token(scripted: Any,
                                         caplog: pytest.LogCaptureFixture) -> None:
    server = scripted(lambda conn, req: "drop" if (conn, req) == (0, 1) else "ok")
    client = KeepAliveWebClient(token="xoxb-secret-123", base_url=server.api_url,
                                retry_handlers=[])
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=client.logger.name)
    caplog.set_level(logging.DEBUG, logger="bot.slack.keepalive")
    client.auth_test()
    client.auth_test()  # resent on a new connection: logged
    assert "Received the following response" in caplog.text
    assert "sending again on a new one" in caplog.text
    assert "xoxb-secret-123" not in caplog.text
    client.close()


# --------------------------------------------------------------------------- the local server


def test_local_slack_answers_everything_on_one_kept_connection(slack: LocalSlack,
                                                               channel: str) -> None:
    """Every kind of answer carries Content-Length: OK, ok:false, 429 with Retry-After, 404,
    uploads, response_url, a chunked request; none closes the connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port(slack), timeout=5)
    auth = {"Authorization": f"Bearer {slack.bot_token}",
            "Content-Type": "application/x-www-form-urlencoded"}

    def call(method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None,
             chunked: bool = False) -> tuple[int, dict[str, str], bytes]:
        conn.request(method, path, body if not chunked else iter([body or b""]),
                     headers=headers or {}, encode_chunked=chunked)
        resp = conn.getresponse()
        data = resp.read()
        assert not resp.will_close, f"{method} {path}: server closed the connection"
        assert resp.getheader("Content-Length") == str(len(data))
        return resp.status, dict(resp.getheaders()), data

    status, _, data = call("POST", "/api/chat.postMessage", f"channel={channel}&text=a".encode(),
                           auth)
    assert status == 200 and json.loads(data)["ok"]
    slack.fail_next("chat.postMessage", retry_after=3)
    status, headers, data = call("POST", "/api/chat.postMessage",
                                 f"channel={channel}&text=b".encode(), auth)
    assert (status, headers["Retry-After"], json.loads(data)["error"]) == (429, "3",
                                                                           "ratelimited")
    status, _, data = call("POST", "/api/no.such_method", b"", auth)
    assert json.loads(data)["error"] == "unknown_method"
    status, _, data = call("GET", "/nowhere")
    assert (status, data) == (404, b"not_found")
    status, _, data = call("POST", "/upload/F404", b"bytes")
    assert (status, data) == (404, b"file_not_found")
    status, _, data = call("POST", "/respond/nothing", b"{}",
                           {"Content-Type": "application/json"})
    assert (status, data) == (404, b"invalid_url")
    status, _, data = call("POST", "/api/chat.postMessage",
                           f"channel={channel}&text=chunked".encode(), auth, chunked=True)
    assert status == 200 and json.loads(data)["ok"]
    status, _, data = call("POST", "/api/chat.postMessage",
                           f"channel={channel}&text=c".encode(), auth)
    assert status == 200 and texts(slack, channel) == ["a", "chunked", "c"]
    assert slack.http_connections == [8]
    conn.close()
    eventually(lambda: slack.http_open == 0, "the server sees the client close")


def test_local_slack_closes_what_it_cannot_frame(slack: LocalSlack) -> None:
    sock = socket.create_connection(("127.0.0.1", port(slack)), timeout=5)
    sock.sendall(b"POST /api/auth.test HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    reply = b""
    while chunk := sock.recv(4096):  # ends: the server closes after its 400
        reply += chunk
    sock.close()
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"Connection: close" in reply


def test_stop_ends_kept_connections() -> None:
    """An idle kept connection holds a handler thread reading the next request: stop()
    must end it, or every test's local Slack would leave threads behind."""
    server = LocalSlack().start()
    client = KeepAliveWebClient(token=server.bot_token, base_url=server.api_url,
                                retry_handlers=[])
    client.auth_test()
    httpd = server._httpd
    assert httpd is not None and httpd.open_count() == 1
    server.stop()
    eventually(lambda: httpd.open_count() == 0, "kept connections end on stop()")
    with pytest.raises(URLError):
        client.auth_test()  # the kept connection is gone and nobody listens any more
    client.close()
