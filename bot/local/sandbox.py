"""The real bot wired to a local Slack: what `crisisbot demo` and the e2e tests run.

`LocalBot` starts `bot.local.localslack.LocalSlack`, builds the production `Runtime` against it
(SQLite in a temporary folder unless told otherwise), and serves the app over real HTTP with
waitress, or connects it in Socket Mode. Nothing here is a test double: the same listeners,
outbox worker and scheduler run as in production; only Slack is local.
"""

from __future__ import annotations

import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from sqlalchemy import select

from bot.config import Settings
from bot.local.localslack import LocalSlack, Reply
from bot.local.localslack.api_oauth import approve, enable_oauth
from bot.runtime import Runtime, system_clock
from playbook import store

ALICE, BOB, CAROL, LEAD = "U0ALICE", "U0BOB", "U0CAROL", "U0LEAD"


class Clock:
    """Wall time plus an offset the caller can move forward: hours pass in a call."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return system_clock() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        for key, value in node.items():
            if key != "text" or not isinstance(value, str):
                found.extend(_texts(value))
        return found
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


def shown(text: str, blocks: Any) -> str:
    """What a reader sees of a message: the text of its blocks, else its fallback text."""
    return "\n".join(_texts(blocks)) if blocks else text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalBot:
    """A running bot and its local Slack. Use as a context manager."""

    def __init__(self, *, database_url: str | None = None, socket_mode: bool = False,
                 settings: dict[str, Any] | None = None, start_scheduler: bool = False,
                 kind: bool = False, oauth: bool = False, rotation: bool = False) -> None:
        """`oauth`: the bot serves many workspaces, each installed by OAuth (`install`);
        no bot token, no leads channel or responders from the environment."""
        self.clock = Clock()
        # Strict Slack unless ``kind``: a test that needs unlimited calls says so. Its rate
        # buckets refill by the bot's clock: hours moved forward are hours for Slack too.
        self.slack = LocalSlack(kind=kind, rate_clock=lambda: self.clock().timestamp())
        self.oauth = enable_oauth(self.slack, rotation=rotation) if oauth else None
        self.socket_mode = socket_mode
        self.start_scheduler = start_scheduler
        self._tmp = tempfile.TemporaryDirectory(prefix="crisisbot-")
        self.database_url = database_url or f"sqlite:///{Path(self._tmp.name) / 'bot.db'}"
        self.extra = settings or {}
        self.runtime: Runtime | None = None
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: Any = None

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> LocalBot:
        self.slack.start()
        for uid, name, tz in ((ALICE, "alice", "Europe/Paris"), (BOB, "bob", "America/New_York"),
                              (CAROL, "carol", "UTC"), (LEAD, "lena", "UTC")):
            self.slack.add_user(uid, name, tz=tz)
        self.general = self.slack.add_channel("support", members=[ALICE, BOB, CAROL, LEAD])
        self.leads = self.slack.add_channel("crisis-leads", members=[LEAD], bot_member=True)
        self.customer = self.slack.add_channel("acme-shared", members=[ALICE, BOB],
                                               bot_member=True)
        settings = Settings(
            slack_bot_token=self.slack.bot_token, slack_signing_secret=self.slack.signing_secret,
            slack_app_token=self.slack.app_token if self.socket_mode else None,
            slack_api_url=self.slack.api_url, database_url=self.database_url,
            leads=(LEAD,), leads_channel=self.leads.id, responders=(CAROL,),
            outbox_processes=0)
        if self.oauth is not None:
            settings = replace(settings, slack_bot_token=None, leads_channel=None, responders=(),
                               slack_client_id=self.oauth.client_id,
                               slack_client_secret=self.oauth.client_secret)
        settings = replace(settings, **self.extra)
        self.runtime = Runtime.build(settings, clock=self.clock, outbox_threads=2)
        self.runtime.start_outbox()
        if self.start_scheduler:
            self.runtime.scheduler.start()
        if self.socket_mode:
            assert settings.slack_app_token is not None
            self._socket = self.runtime.socket_handler(settings.slack_app_token)
            self._socket.connect()
            self.slack.wait_for_socket()
        else:
            port = free_port()
            self._server = self.runtime.http_server(port, host="127.0.0.1")
            self._thread = threading.Thread(target=self._server.run, daemon=True,
                                            name="crisisbot-http")
            self._thread.start()
            self.url = f"http://127.0.0.1:{port}"
        # Slack tells the app about its own calls too (member_joined_channel, pin_added, ...).
        self.slack.subscribe(self.events_url, via=self.via)
        return self

    def __exit__(self, *exc: object) -> None:
        self.slack.unsubscribe()
        if self._socket is not None:
            self.slack.close_socket_client(self._socket)
        if self._server is not None:
            self._stop_http()
        if self.runtime is not None:
            self.runtime.stop()
        self.slack.stop()
        self._tmp.cleanup()

    def _stop_http(self) -> None:
        """Close waitress from its own loop thread: closed from here, its sockets could vanish
        under a `select` it is running (EBADF in the server thread)."""
        from waitress import wasyncore

        server, thread = self._server, self._thread
        assert server is not None and thread is not None
        server.task_dispatcher.shutdown()
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map, ignore_all=True))
        thread.join(timeout=5)
        if thread.is_alive():  # the loop is wedged: close from outside after all
            server.close()

    # --- acting as Slack ---------------------------------------------------------------------

    def install(self, team_id: str, *, enterprise_id: str | None = None,
                org_wide: bool = False, cookie: bool = True) -> tuple[int, str]:
        """Add the app to a workspace (or org) through its own pages: GET /slack/install
        (state cookie and Slack's consent link), "Allow" on Slack's side, then Slack's
        redirect to GET /slack/oauth_redirect. Bolt sets the cookie `Secure`, which a browser
        would not send over plain HTTP: it is sent here by hand (`cookie=False`: not at all).
        Returns the callback's status and page."""
        with urllib.request.urlopen(f"{self.url}/slack/install", timeout=10) as resp:
            page = resp.read().decode()
            set_cookie = resp.headers.get("Set-Cookie") or ""
        found = re.search(r"[?&;]state=([^&\"']+)", page)
        assert found, "no consent link with a state on the install page"
        state = unquote(found.group(1))
        code = approve(self.slack, state, team_id=team_id, enterprise_id=enterprise_id,
                       org_wide=org_wide)
        request = urllib.request.Request(
            f"{self.url}/slack/oauth_redirect?{urlencode({'code': code, 'state': state})}")
        if cookie:
            request.add_header("Cookie", set_cookie.split(";")[0])
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    @property
    def events_url(self) -> str | None:
        return None if self.socket_mode else f"{self.url}/slack/events"

    @property
    def via(self) -> str:
        return "socket" if self.socket_mode else "http"

    def command(self, text: str, *, user: str = ALICE, channel: str | None = None) -> Reply:
        """Type `/incident <text>` (text as Slack sends it) and wait for its effects."""
        reply = self.slack.command(self.events_url, text, user_id=user,
                                   channel_id=channel or self.general.id, via=self.via)
        self.settle()
        return reply

    def click(self, action_id: str, *, user: str = ALICE, message_ts: str,
              channel: str) -> Reply:
        reply = self.slack.block_action(self.events_url, user_id=user, action_id=action_id,
                                        message_ts=message_ts, channel_id=channel, via=self.via)
        self.settle()
        return reply

    def shortcut(self, callback_id: str, *, message_ts: str, channel: str,
                 user: str = ALICE) -> Reply:
        """Use a message shortcut on a stored message (the modal opens; see `open_view`)."""
        reply = self.slack.message_shortcut(self.events_url, user_id=user, channel_id=channel,
                                            message_ts=message_ts, callback_id=callback_id,
                                            via=self.via)
        self.settle()
        return reply

    def submit(self, view_id: str, fields: dict[str, Any], *, user: str = ALICE) -> Reply:
        reply = self.slack.submit_view(self.events_url, user_id=user, view_id=view_id,
                                       fields=fields, via=self.via)
        self.settle()
        return reply

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the intake and the outbox are drained and the events Slack sent about the
        bot's own calls are handled (handling one may queue more work): every effect of what
        was acked has run."""
        assert self.runtime is not None
        sessions = self.runtime.service.sessions

        forms = self.runtime.forms
        lull, post_ack = self.runtime.lull, self.runtime.post_ack

        def drained() -> bool:
            if forms is not None and not forms.idle():  # a modal opening after its ack
                return False
            if lull is not None and not lull.idle():  # an ack's after-work waits for a lull
                return False
            # what the lull handed on (a reminder plan, the resume check after a reinstall)
            post_ack.submit(lambda: None).result(timeout=10)
            with sessions() as session:
                # an open the intake recorded is opened first, and then queues outbox rows
                return store.intake.pending_count(session) == 0 and \
                    store.pending_outbox_count(session) == 0
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.1, deadline - time.monotonic())
            self.slack.wait_for(drained, left, message="the outbox to drain")
            if not self.slack.wait_events_delivered(max(0.1, deadline - time.monotonic())):
                raise TimeoutError("Slack's events about the bot's own calls were not handled")
            if drained() and not self.slack.events_pending:
                return

    def _pending(self) -> list[tuple[datetime, datetime | None]]:
        """(next attempt, lease end) of each open row a worker could claim: the first open
        row of each incident (the rest wait behind it) and every row of no incident."""
        assert self.runtime is not None
        row = store.OutboxRow
        now = self.clock()
        with self.runtime.service.sessions() as session:
            rows = session.execute(
                select(row.incident_id, row.next_attempt_at, row.claimed_until, row.kind)
                .where(row.done_at.is_(None), row.failed_at.is_(None)).order_by(row.id)).all()
        heads: dict[int, tuple[datetime, datetime | None]] = {}
        waiting_cards: list[tuple[datetime, datetime | None]] = []
        loose = []
        for incident_id, n, c, kind in rows:
            if incident_id is None:
                loose.append((n, c))
            elif kind == "refresh_card" and n > now and c is None:
                waiting_cards.append((n, c))  # it steps aside (store/outbox.py _FIRST_OPEN)
            else:
                heads.setdefault(incident_id, (n, c))
        return [*heads.values(), *waiting_cards, *loose]

    def quiet(self) -> bool:
        """No work in flight: no row leased, none due (a worker may be claiming it with the
        time it read), no wake-up being fired. Only then may the clock jump: a jump past a
        lease while its row is carried out would hand the row to a second worker."""
        assert self.runtime is not None
        if self.runtime.scheduler.firing:
            return False
        now = self.clock()
        return all(c is None and n > now for n, c in self._pending())

    def wait_quiet(self, timeout: float = 30.0) -> None:
        self.slack.wait_for(self.quiet, timeout, message="the work in flight to end")

    def drain(self, timeout: float = 30.0) -> None:
        """Run the outbox dry, moving the clock over retry backoff, and only while nothing is
        in flight (see `quiet`)."""
        assert self.runtime is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = self._pending()
            if not pending:
                return
            if self.quiet():  # everything left waits for its time: a backoff of minutes
                now = self.clock()
                self.clock.advance(min(n for n, _ in pending) - now + timedelta(milliseconds=10))
                self.runtime.wake_outbox()
            time.sleep(0.02)
        raise AssertionError("the outbox did not drain")

    def advance(self, delta: timedelta, step: timedelta = timedelta(minutes=1)) -> None:
        """Let time pass a step at a time, firing what comes due as the scheduler would. Each
        step waits for the work in flight to end first (see `quiet`)."""
        assert self.runtime is not None
        remaining = delta
        while remaining > timedelta(0):
            moved = min(step, remaining)
            self.wait_quiet()
            self.clock.advance(moved)
            remaining -= moved
            self.runtime.scheduler.run_due()
        self.settle()

    # --- looking at Slack --------------------------------------------------------------------

    def incident_channel(self, number: int = 1) -> str:
        assert self.runtime is not None
        inc = self.runtime.service.get(self.slack.team_id, number)
        assert inc.channel_id is not None, "the incident channel was not created"
        return inc.channel_id

    def lines(self, channel: str) -> list[str]:
        """Each message as a reader sees it: its blocks' text, or the fallback text."""
        return [shown(m.text, m.blocks) for m in self.slack.messages(channel)]

    def card(self, channel: str) -> Any:
        pins = self.slack.pins(channel)
        assert pins, "no pinned card"
        msg = self.slack.message(channel, pins[0])
        assert msg is not None
        return msg


