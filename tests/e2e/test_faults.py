"""Faults, end to end: the database goes away mid-incident, Slack refuses or stumbles.

PostgreSQL is reached through a small TCP proxy on 127.0.0.1 that can cut every connection
and then either refuse new ones (a stopped server) or accept them and never answer (a hung
server, or a network that drops packets). While it is down a command gets an ephemeral
"the database is not reachable" within Slack's 3 seconds, with the person's text handed back,
a form stays open, and /healthz says 503; once it is back the same bot (no restart) takes the
same command, /healthz says 200, and everything recorded before the outage is still there.

On the Slack side, refusals that will not heal (channel_not_found, not_in_channel,
is_archived) are explained to the person who asked, never shown as a stack trace, and
transient ones (5xx, 429) are retried by the outbox until they succeed.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import fields

import pytest
from sqlalchemy import make_url, select

from bot import schema
from bot.local.sandbox import ALICE, BOB, LocalBot
from bot.slack.errors import ERRORS
from playbook import store
from playbook.domain.model import Incident

UNREACHABLE = "the database is not reachable"
STACK_TRACE_SIGNS = ("Traceback", "SlackApiError", "The server responded with", "{'ok'",
                     "Exception", "File \"")


# --- a TCP proxy we can pull the plug on ----------------------------------------------------------


def _drop(sock: socket.socket) -> None:
    """Close at once with a reset, waking any thread blocked on the socket."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `upstream`, one pair of pump threads per connection.

    `cut("refuse")` resets every connection and closes new ones as they arrive (a stopped
    server); `cut("hang")` resets every connection and holds new ones open without a word (a
    hung server or a black-holed network). `restore()` forwards again.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.mode = "forward"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.mode == "refuse":
                _drop(client)
                continue
            if self.mode == "hang":
                with self._lock:
                    self._held.append(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _drop(client)
                continue
            with self._lock:
                self._open.update((client, server))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                mine = [s for s in (src, dst) if s in self._open]
                self._open.difference_update(mine)
            for s in mine:
                _drop(s)

    def cut(self, then: str = "refuse") -> None:
        assert then in ("refuse", "hang")
        self.mode = then
        with self._lock:
            live, self._open = list(self._open), set()
        for s in live:
            _drop(s)

    def restore(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for s in held:
            _drop(s)
        self.mode = "forward"

    def close(self) -> None:
        self._listener.close()
        self.cut()
        self.restore()


@pytest.fixture
def proxied_pg(pg_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """A migrated scratch PostgreSQL database, and its URL through a proxy."""
    schema.upgrade(pg_url)
    url = make_url(pg_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False), proxy
    finally:
        proxy.close()


# --- helpers --------------------------------------------------------------------------------------


def healthz(bot: LocalBot) -> int:
    try:
        with urllib.request.urlopen(f"{bot.url}/healthz", timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def everything_shown(bot: LocalBot) -> list[str]:
    """The text of every message, ephemeral and DM the bot put on the local Slack."""
    shown = [e.text for e in bot.slack.ephemerals()]
    for cid in bot.slack.channels:
        shown.extend(f"{m.text}\n{json.dumps(m.blocks)}" for m in bot.slack.messages(cid))
    return shown


def assert_no_stack_traces(bot: LocalBot) -> None:
    for text in everything_shown(bot):
        for sign in STACK_TRACE_SIGNS:
            assert sign not in text, f"a person was shown {sign!r}: {text!r}"


def told(bot: LocalBot, user: str) -> list[str]:
    return [e.text for e in bot.slack.ephemerals(user)] + [m.text for m in bot.slack.dms(user)]


def outbox_rows(bot: LocalBot, kind: str) -> list[store.OutboxRow]:
    assert bot.runtime is not None
    with bot.runtime.service.sessions() as session:
        rows = session.execute(select(store.OutboxRow).where(store.OutboxRow.kind == kind)
                               .order_by(store.OutboxRow.id)).scalars().all()
        session.expunge_all()
        return list(rows)


def same_record(before: Incident, after: Incident, *, except_: set[str]) -> None:
    for f in fields(Incident):
        if f.name not in except_:
            assert getattr(after, f.name) == getattr(before, f.name), f.name


# --- the database goes away -----------------------------------------------------------------------


def _run_up_to_the_outage(bot: LocalBot) -> str:
    reply = bot.command("open sev1 Globex: checkout is down for every shopper")
    assert "INC-1" in reply.body["text"], reply.body
    channel = bot.incident_channel()
    for text in ("listen we lose sales every minute", "impact 40k an hour",
                 "driver blocked from a goal", "own", "comms <@U0BOB|bob>",
                 "option fail over to region B risk: slower pages", "promise status call in 2h",
                 "park they want a refund for the day"):
        reply = bot.command(text, channel=channel)
        assert reply.ok and "try again" not in reply.body["text"], (text, reply.body)
    return channel


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["refuse", "hang"], ids=["stopped", "hung"])
def test_database_outage_mid_incident_then_recovery(
        proxied_pg: tuple[str, TcpProxy], how: str) -> None:
    url, proxy = proxied_pg
    with LocalBot(database_url=url) as bot:
        assert bot.runtime is not None
        service, team = bot.runtime.service, bot.slack.team_id
        channel = _run_up_to_the_outage(bot)
        card = bot.card(channel)
        assert bot.click("card:listen", message_ts=card.ts, channel=channel).ok
        form = bot.slack.open_views(ALICE)[-1]  # a form left open while the database goes
        before = service.get(team, 1)
        assert healthz(bot) == 200

        proxy.cut(how)
        typed = "listen checkout says &lt;error 503&gt; &amp; carts are empty"
        reply = bot.slack.command(bot.events_url, typed, user_id=ALICE, channel_id=channel)
        assert reply.ok and reply.elapsed < 3, (reply.status, reply.elapsed)
        text = reply.body["text"]
        assert reply.body["response_type"] == "ephemeral"
        assert UNREACHABLE in text, text
        assert text.endswith(f"```/incident {typed}```"), "the text is handed back whole"
        submitted = bot.slack.submit_view(bot.events_url, user_id=ALICE, view_id=form["id"],
                                          fields={"words": "carts vanish at payment"})
        assert submitted.ok and submitted.elapsed < 3, submitted
        assert submitted.body["response_action"] == "errors", submitted.body
        assert UNREACHABLE in json.dumps(submitted.body["errors"])
        assert bot.slack.open_views(ALICE), "the form stays open with what was typed"
        started = time.monotonic()
        assert healthz(bot) == 503
        assert time.monotonic() - started < 3

        proxy.restore()
        assert healthz(bot) == 200, "healthy again without a restart"
        reply = bot.command(typed, channel=channel)
        assert reply.body["text"].startswith("Recorded the customer's words."), reply.body
        again = bot.submit(form["id"], {"words": "carts vanish at payment"})
        assert again.ok and not again.body, again.body
        bot.drain()

        after = service.get(team, 1)
        same_record(before, after, except_={"customer_words", "version", "last_activity_at"})
        assert after.customer_words == [*before.customer_words,
                                        "checkout says <error 503> & carts are empty",
                                        "carts vanish at payment"]
        noted = [t for t in bot.lines(channel) if "noted the customer's words" in t]
        assert sum("checkout says &lt;error 503&gt; &amp; carts" in t for t in noted) == 1
        assert sum("carts vanish at payment" in t for t in noted) == 1, "each line once"
        assert not any("Something went wrong" in t for t in everything_shown(bot))
        assert_no_stack_traces(bot)
        assert bot.slack.violations == []


@pytest.mark.postgres
def test_text_the_database_cannot_store_is_not_called_an_outage(
        proxied_pg: tuple[str, TcpProxy]) -> None:
    url, _ = proxied_pg
    with LocalBot(database_url=url) as bot:
        bot.command("open Globex: down")
        channel = bot.incident_channel()
        reply = bot.command("listen they said \x00 nothing", channel=channel)
        text = reply.body["text"]
        assert UNREACHABLE not in text and "NUL" in text, text
        assert text.endswith("```/incident listen they said \x00 nothing```")
        assert healthz(bot) == 200
        assert bot.command("listen they said nothing", channel=channel).ok
        assert bot.runtime is not None
        assert bot.runtime.service.get(bot.slack.team_id, 1).customer_words == [
            "they said nothing"]


# --- Slack refuses --------------------------------------------------------------------------------


def _incident_with_customer_channel(bot: LocalBot, customer_channel: str) -> str:
    bot.command("open Acme: lobby screens down")
    channel = bot.incident_channel()
    for text in (f"customer-channel <#{customer_channel}|shared>", "comms <@U0BOB|bob>"):
        assert "try again" not in bot.command(text, channel=channel).body["text"], text
    return channel


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
def test_a_customer_channel_slack_refuses_is_explained(error: str) -> None:
    with LocalBot() as bot:
        assert bot.runtime is not None
        if error == "channel_not_found":
            target = "C0GONE00000"  # linked, then deleted
        elif error == "not_in_channel":
            target = bot.slack.add_channel("globex-shared", members=[ALICE, BOB]).id
        else:
            target = bot.customer.id
        channel = _incident_with_customer_channel(bot, target)
        if error == "is_archived":
            bot.runtime.client.conversations_archive(channel=target)
        reply = bot.command("send We found it; a fix is rolling out now.", user=BOB,
                            channel=channel)
        assert reply.ok and "Sent to" in reply.body["text"], reply.body
        explained = [t for t in told(bot, BOB) if "I couldn't post the message" in t]
        assert explained, told(bot, BOB)
        assert ERRORS[error].why in explained[0] and "Everything you recorded is saved" in \
            explained[0], explained
        if error != "channel_not_found":
            assert not bot.slack.messages(target), "nothing reached the customer"
        stored = bot.runtime.service.get(bot.slack.team_id, 1)
        assert stored.updates[-1].text == "We found it; a fix is rolling out now.", \
            "the update is recorded all the same"
        assert_no_stack_traces(bot)
        assert bot.slack.violations == []


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
def test_an_incident_channel_post_slack_refuses_is_explained(error: str) -> None:
    with LocalBot() as bot:
        assert bot.runtime is not None
        bot.command("open Acme: lobby screens down")
        channel = bot.incident_channel()
        bot.slack.fail_next("chat.postMessage", error)  # the timeline line of what comes next
        reply = bot.command("listen every screen says Setup WiFi", channel=channel)
        assert reply.body["text"].startswith("Recorded the customer's words."), reply.body
        explained = [t for t in told(bot, ALICE) if "I couldn't post to the channel" in t]
        assert explained and ERRORS[error].why in explained[0], told(bot, ALICE)
        assert bot.runtime.service.get(bot.slack.team_id, 1).customer_words == [
            "every screen says Setup WiFi"], "recorded all the same"
        assert_no_stack_traces(bot)
        assert bot.slack.violations == []


@pytest.mark.parametrize("fault", ["503", "429", "ok-false"])
def test_transient_slack_failures_are_retried_until_they_succeed(fault: str) -> None:
    with LocalBot() as bot:
        bot.command("open Acme: lobby screens down")
        channel = bot.incident_channel()
        calls = bot.slack.call_count("chat.postMessage")
        if fault == "503":  # more than the client's own retries can absorb
            bot.slack.fail_next("chat.postMessage", "internal_error", status=503, times=3)
        elif fault == "429":
            bot.slack.fail_next("chat.postMessage", "ratelimited", retry_after=0, times=5)
        else:  # HTTP 200, ok:false with an error that may heal: only the outbox retries it
            bot.slack.fail_next("chat.postMessage", "fatal_error", times=3)
        reply = bot.slack.command(bot.events_url, "listen the screens keep rebooting",
                                  user_id=ALICE, channel_id=channel)
        assert reply.ok and reply.elapsed < 3, "a slow Slack never delays the ack"
        bot.drain()
        lines = [t for t in bot.lines(channel)
                 if "noted the customer's words: “the screens keep rebooting”" in t]
        assert len(lines) == 1, bot.lines(channel)  # posted once, not once per attempt
        assert bot.slack.call_count("chat.postMessage") > calls + 3
        row = outbox_rows(bot, "timeline")[-1]
        assert row.done_at is not None and row.failed_at is None
        assert row.attempts >= 1 and row.last_error, "the outbox itself retried it"
        assert not [t for t in told(bot, ALICE) if "I couldn't" in t], told(bot, ALICE)
        assert_no_stack_traces(bot)
        assert bot.slack.violations == []


def test_a_failure_that_never_heals_is_reported_once_the_retries_run_out() -> None:
    with LocalBot() as bot:
        bot.command("open Acme: lobby screens down")
        channel = bot.incident_channel()
        bot.slack.fail_next("chat.postMessage", "fatal_error", times=1000)
        bot.slack.command(bot.events_url, "listen the screens keep rebooting", user_id=ALICE,
                          channel_id=channel)
        bot.drain()
        row = outbox_rows(bot, "timeline")[-1]
        assert row.failed_at is not None and row.attempts >= 2
        explained = [t for t in told(bot, ALICE) if "I couldn't post to the channel" in t]
        assert len(explained) == 1 and "fatal_error" in explained[0], told(bot, ALICE)
        assert_no_stack_traces(bot)
