"""Guard rails, end to end: whatever people type or Slack sends, the bot answers cleanly.

Hypothesis throws arbitrary text at `/incident` (in an incident channel, elsewhere, in a DM),
arbitrary JSON at the interaction endpoint, and arbitrary text into a real modal, through the
real app over HTTP against the local Slack. After every example we read everything the bot put
on that Slack (messages with their earlier versions, ephemerals, DMs, response_url posts, the
mrkdwn of views) and check that nothing a person typed came out as live markup: no
``@here``/``@channel``/``@everyone``, no user group ping, no mention of anyone the bot did not
itself pick, no ``<`` that does not open one of the bot's own tokens. A refused command echoes
the person's text back; an accepted one is stored exactly as typed. Channel topics and
purposes are left out on purpose: Slack does not format them (``conversations.setTopic``: "does
not support formatting or linkification").

One `LocalBot` per test (not per example), so a run stays within seconds. A last test logs
a whole incident at DEBUG, over HTTP and Socket Mode, and finds no credential in any of it.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot import redact
from bot.blocks.modals import DRIVERS
from bot.config import Settings
from bot.local.localslack import Reply, escape
from bot.local.localslack.driver import VERIFICATION_TOKEN
from bot.local.sandbox import ALICE, BOB, CAROL, LEAD, LocalBot
from playbook.domain import verbs
from playbook.domain.text import esc, plain

FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

INTERNAL_ERROR = "Something went wrong on my side"
ECHO = re.compile(r"\nYour text, so you can try again:\n```(.*)```\Z", re.S)
# The only markup the bot writes itself: mentions, channel links, date tokens, group pings of
# configured lead groups, and links. Any other "<" in mrkdwn is text that escaped escaping.
OWN_TOKEN = re.compile(
    r"<(?:@[UW][A-Z0-9]+|#[CG][A-Z0-9]+|!date\^\d+\^[^<>|]*\|[^<>]*|!subteam\^S[A-Z0-9]+"
    r"|(?:https?|mailto):[^<>|\s]+(?:\|[^<>]*)?)>")
MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")
NEVER = ("<!here", "<!channel", "<!everyone", "<!subteam^SFUZZ", "<@UEVIL")
PEOPLE_VERBS = {"own", "comms", "action"}  # verbs that turn a typed mention into a person
FREE_TEXT_VERBS = {"listen", "impact", "driver", "restate", "update", "park", "rootcause",
                   "lesson"}

# What Slack may send in a command's text (should_escape: true): tokens for what people picked
# from the autocomplete, entities for what they typed. Raw "<" and ">" are included too, though
# Slack never sends them bare: the bot must not trip over them either.
FRAGMENTS = [
    "<!channel>", "<!here>", "<!everyone>", "<!here|here>", "<@UFUZZ|fuzz>", "<@UFUZZ>",
    "<!subteam^SFUZZ|@oncall>", "<#C0FUZZ|fuzz>", "<#C0FUZZ|>", "<https://evil.example/x|click>",
    "<mailto:a@evil.example|mail>", "&lt;!channel&gt;", "&lt;!here&gt;", "&lt;@UEVIL&gt;",
    "&lt;@UEVIL|evil&gt;", "&lt;!everyone&gt;", "&lt;!subteam^SFUZZ&gt;",
    "&lt;https://evil.example|x&gt;", "&amp;", "&amp;lt;!here&amp;gt;", "&", "<", ">", "<<>>",
    "*bold*", "_it_", "~gone~", "`code`", "```", "*_~`", "> quote", "\n", "\r\n", "\t",
    "\u200f", "\u200e", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u00a0", "\u2028",
    "😀", "👩\u200d👩\u200d👧\u200d👦", "🇯🇵", "𠀋", "𝔘𝔫𝔦", "שלום", "مرحبا", "Z̴̡a̷l̸g̵o̶",
    ":", "sev1", "sev9", "P1", "A1", "C1", "1", "2", " by 3pm", " in 2h", " tomorrow 9am",
    " risk: ", "@here", "@channel", "#general", "30m", "every 2 hours", "0m",
]
free_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)),
                     max_size=8).map("".join)
VERBS = sorted({*verbs.COMMANDS, *verbs.SHELL_COMMANDS, *verbs.ALIASES, "LISTEN", "Open",
                "ｏｐｅｎ", "help"})
command_text = st.one_of(
    free_text,
    st.builds(lambda verb, gap, rest: f"{verb}{gap}{rest}", st.sampled_from(VERBS),
              st.sampled_from([" ", "  ", "\n", " \u200b", "\t"]), free_text),
)


# --- reading everything the bot showed ----------------------------------------------------------


def _mrkdwn_objects(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _mrkdwn_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mrkdwn_objects(item)


def _message_texts(where: str, text: Any, blocks: Any, attachments: Any = None
                   ) -> Iterator[tuple[str, str]]:
    if isinstance(text, str) and text:
        yield where, text  # the fallback text is mrkdwn and drives notifications
    for found in _mrkdwn_objects(blocks or []):
        yield where, found
    for att in attachments or []:
        for key in ("text", "fallback", "pretext"):
            if isinstance(att.get(key), str):
                yield where, att[key]


def shown_texts(bot: LocalBot) -> list[tuple[str, str]]:
    """Every mrkdwn text the bot put anywhere on the local Slack, with where it was."""
    slack = bot.slack
    out: list[tuple[str, str]] = []
    for cid, chan in slack.channels.items():
        for msg in slack.messages(cid):
            where = f"message {msg.ts} in {chan.name or cid}"
            for old in msg.history:
                out.extend(_message_texts(where + " (earlier version)", old.get("text"),
                                          old.get("blocks")))
            out.extend(_message_texts(where, msg.text, msg.blocks, msg.attachments))
    for eph in slack.ephemerals():
        out.extend(_message_texts(f"ephemeral to {eph.user} ({eph.source})", eph.text,
                                  eph.blocks))
    for resp in slack.responses:
        out.extend(_message_texts(f"response_url post to {resp.user_id}", resp.text,
                                  resp.blocks, resp.body.get("attachments")))
    for uid in slack.users:
        for view in [*slack.open_views(uid), slack.home(uid) or {}]:
            out.extend((f"view of {uid}", t) for t in _mrkdwn_objects(view.get("blocks", [])))
    return out


def assert_nothing_unescaped(bot: LocalBot, adopted: Iterable[str] = ()) -> None:
    """Nothing shown pings a crowd, mentions someone the bot did not pick, or holds loose
    markup; and the local Slack refused nothing."""
    known = set(bot.slack.users) | set(adopted)
    for where, text in shown_texts(bot):
        for marker in NEVER:
            assert marker not in text, f"{where} shows raw {marker!r}: {text!r}"
        loose = OWN_TOKEN.sub("", text)
        assert "<" not in loose, f"{where} has markup the bot did not write: {text!r}"
        for uid in MENTION.findall(text):
            assert uid in known, f"{where} mentions {uid}, whom nobody picked: {text!r}"
    assert bot.slack.violations == [], "payloads Slack would refuse"


def check_reply(reply: Reply, text: str) -> str | None:
    """The ack of `/incident <text>` is a clean ephemeral answer. Returns the echoed text when
    the command was refused (checked to be the person's whole text), None when accepted."""
    assert reply.status == 200, (text, reply.status, reply.body)
    body = reply.body
    verb, arg = verbs.split_verb(text)
    if verb == "open" and not arg:
        assert body in (None, "", {}), body  # the open modal, no message
        return None
    assert isinstance(body, dict) and body.get("response_type") == "ephemeral", body
    answer = body.get("text")
    assert isinstance(answer, str) and answer.strip(), body
    assert INTERNAL_ERROR not in answer, (text, answer)
    echo = ECHO.search(answer)
    if echo is None:
        return None
    typed = f"/incident {text}".strip()
    # shown as typed: tokens as the person saw them (@name), escaped once, fences broken up
    assert echo.group(1) == esc(plain(typed)).replace("```", "`\u200b``"), (text, answer)
    return echo.group(1)


def stored_strings(bot: LocalBot, number: int) -> list[str]:
    assert bot.runtime is not None
    inc = bot.runtime.service.get(bot.slack.team_id, number)

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                yield from walk(item)

    return list(walk(asdict(inc)))


# --- typed commands ------------------------------------------------------------------------------


def test_arbitrary_commands_never_crash_ping_or_lose_text() -> None:
    with LocalBot() as bot:
        assert bot.command("open Acme Hotels: lobby screens down").ok
        incident = bot.incident_channel()
        adopted: set[str] = set()
        counts = {"refused": 0, "accepted": 0}

        @FUZZ
        @given(text=command_text, where=st.sampled_from(["incident", "support", "dm"]),
               user=st.sampled_from([ALICE, BOB, LEAD]))
        @example(text="listen &lt;!channel&gt; <!here> &amp;lt;b&amp;gt;", where="incident",
                 user=ALICE)
        @example(text="foo <!everyone> &lt;@UEVIL&gt;", where="support", user=BOB)
        @example(text="open <!here>: &lt;!channel&gt; down", where="dm", user=ALICE)
        @example(text="own <@UFUZZ|fuzz>", where="incident", user=LEAD)
        @example(text="listen " + "&amp;" * 700, where="incident", user=ALICE)
        def run(text: str, where: str, user: str) -> None:
            channel = {"incident": incident, "support": bot.general.id, "dm": None}[where]
            reply = bot.slack.command(bot.events_url, text, user_id=user, channel_id=channel,
                                      via=bot.via)
            bot.settle()
            echoed = check_reply(reply, text)
            verb, arg = verbs.split_verb(text)
            if echoed is None:
                counts["accepted"] += 1
                if verb in PEOPLE_VERBS:
                    adopted.update(re.findall(r"<@([UW][A-Z0-9]+)", text))
                if where == "incident" and verb in FREE_TEXT_VERBS:
                    assert plain(arg).strip() in stored_strings(bot, 1), (text, "not stored")
            else:
                counts["refused"] += 1
            assert_nothing_unescaped(bot, adopted)

        run()
        assert counts["refused"] and counts["accepted"], counts
        assert bot.command("status", channel=incident).ok, "the bot still works"


def test_too_long_a_command_is_refused_and_handed_back_whole() -> None:
    with LocalBot() as bot:
        bot.command("open Acme: down")
        channel = bot.incident_channel()
        text = "listen " + "the screens &lt;all&gt; of them & more " * 100
        reply = bot.command(text, channel=channel)
        echoed = check_reply(reply, text)
        assert echoed is not None and "keep it under 3000" in reply.body["text"]
        assert_nothing_unescaped(bot)


def test_the_echo_shows_the_text_as_typed() -> None:
    with LocalBot() as bot:
        reply = bot.command("listen &lt;Setup WiFi&gt; <!here> <@U0BOB|bob> &amp;")
        assert reply.body["text"].endswith(
            "```/incident listen &lt;Setup WiFi&gt; @here @bob &amp;```"), reply.body
        assert_nothing_unescaped(bot)


# --- arbitrary interaction payloads -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | free_text,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(free_text, kids, max_size=4),
    max_leaves=10)
CARD_ACTIONS = ["listen", "restate", "own", "option", "choose", "promise", "resolve", "update",
                "followup", "skip", "confirm", "close", "checkin", "status", "nope", ""]
MODALS = ["open", "listen", "restate", "own", "option", "choose", "promise", "update",
          "resolve", "followup", "skip", "nope", ""]


def _maybe(real: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the real thing, sometimes any JSON at all in its place."""
    return st.one_of(real, real, real, json_values)


@st.composite
def interaction(draw: st.DrawFn, bot: LocalBot, incident_id: int, channel: str) -> Any:
    user = draw(_maybe(st.fixed_dictionaries({"id": st.sampled_from([ALICE, BOB, "UNOBODY"])})))
    uid = user.get("id") if isinstance(user, dict) else None
    trigger = bot.slack.issue_trigger(uid) if isinstance(uid, str) else "nope"
    base = {"token": VERIFICATION_TOKEN, "api_app_id": bot.slack.app_id,
            "team": draw(_maybe(st.just({"id": bot.slack.team_id}))), "user": user,
            "trigger_id": draw(_maybe(st.just(trigger)))}
    kind = draw(st.sampled_from(["block_actions", "view_submission", "view_closed", "wild"]))
    if kind == "wild":
        return draw(json_values)
    if kind == "block_actions":
        action = {"type": "button", "block_id": draw(_maybe(st.just("card"))),
                  "action_id": draw(_maybe(st.sampled_from(CARD_ACTIONS).map("card:{}".format))),
                  "value": draw(_maybe(st.just(str(incident_id)))), "action_ts": "1.0"}
        return {**base, "type": "block_actions",
                "container": draw(_maybe(st.just({"type": "message", "channel_id": channel}))),
                "channel": draw(_maybe(st.just({"id": channel}))),
                "actions": draw(_maybe(st.just([action]))),
                "response_url": draw(_maybe(free_text))}
    fields = draw(st.dictionaries(st.sampled_from(["words", "impact", "cadence", "customer",
                                                   "what", "text", "reason", "x"]),
                                  st.one_of(free_text.map(lambda t: {"v": {
                                      "type": "plain_text_input", "value": t}}), json_values),
                                  max_size=4))
    meta = draw(st.one_of(st.just(json.dumps({"incident_id": incident_id})),
                          st.just(json.dumps({"channel_id": channel})),
                          json_values.map(json.dumps), free_text))
    view = {"id": "VFUZZ", "type": draw(_maybe(st.just("modal"))), "hash": "1.x",
            "callback_id": draw(_maybe(st.sampled_from(MODALS).map("modal:{}".format))),
            "private_metadata": draw(_maybe(st.just(meta))),
            "state": draw(_maybe(st.just({"values": fields})))}
    return {**base, "type": kind, "view": draw(_maybe(st.just(view)))}


def test_arbitrary_interaction_payloads_never_break_the_app() -> None:
    with LocalBot() as bot:
        bot.command("open Acme: down")
        channel = bot.incident_channel()
        assert bot.runtime is not None
        incident_id = bot.runtime.service.get(bot.slack.team_id, 1).id
        assert incident_id is not None
        url = f"{bot.url}/slack/events"
        statuses: dict[int, int] = {}

        @FUZZ
        @given(data=st.data(), signed=st.booleans(), form=st.booleans())
        def run(data: st.DataObject, signed: bool, form: bool) -> None:
            payload = data.draw(interaction(bot, incident_id, channel))
            raw = json.dumps(payload)
            body = urlencode({"payload": raw}) if form else raw
            headers = {"Content-Type": "application/x-www-form-urlencoded" if form
                       else "application/json"}
            headers.update(bot.slack.sign(body) if signed else {})
            reply = bot.slack.send_raw(url, body, headers)
            statuses[reply.status] = statuses.get(reply.status, 0) + 1
            assert reply.status < 500, (reply.status, reply.body, payload)
            if not signed:  # refused unread: 401, or 400 when Bolt cannot even parse it
                assert reply.status in (400, 401), (reply.status, payload)
            bot.settle()
            assert_nothing_unescaped(bot, {"UNOBODY"})

        run()
        assert statuses.get(200) and statuses.get(401), statuses
        reply = bot.command("listen still here", channel=channel)
        assert "Recorded" in reply.body["text"], "the app keeps working"
        card = bot.card(channel)
        assert bot.click("card:status", message_ts=card.ts, channel=channel).ok


def test_malformed_bodies_get_a_clean_400() -> None:
    with LocalBot() as bot:
        url = f"{bot.url}/slack/events"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body in (urlencode({"payload": "{not json"}), urlencode({"payload": "[1, 2]"}),
                     urlencode({"payload": json.dumps({"type": "view_submission",
                                                       "view": None})})):
            reply = bot.slack.send_raw(url, body, {**form, **bot.slack.sign(body)})
            assert reply.status == 400, (body, reply.status, reply.body)
            assert reply.body == {"ok": False, "error": "malformed_request"}
        assert bot.command("list").ok


# --- modal text ---------------------------------------------------------------------------------

modal_text = st.lists(st.one_of(st.sampled_from([
    "<!channel>", "<!here>", "<@UEVIL>", "<!subteam^SFUZZ|x>", "&lt;!here&gt;", "&amp;", "&",
    "<", ">", "```", "*_~`", "\n", "\u202e", "\u200d", "\u200b", "😀", "𠀋", "שלום", " ",
    "<https://evil.example|x>"]), st.text(min_size=1, max_size=12)), min_size=1,
    max_size=8).map("".join)


def test_arbitrary_modal_text_is_kept_exactly_or_refused_inline() -> None:
    with LocalBot() as bot:
        assert bot.runtime is not None
        service, team = bot.runtime.service, bot.slack.team_id
        outcomes = {"accepted": 0, "errors": 0}
        current = {"number": 0, "channel": ""}

        def listen_button() -> tuple[int, str, str]:
            """The card's Listen button (gone once listening is done: then a new incident)."""
            if current["number"]:
                card = bot.card(str(current["channel"]))
                if "card:listen" in json.dumps(card.blocks):
                    return int(current["number"]), str(current["channel"]), card.ts
            current["number"] = int(current["number"]) + 1
            assert bot.command(f"open Acme {current['number']}: down").ok
            current["channel"] = bot.incident_channel(int(current["number"]))
            card = bot.card(str(current["channel"]))
            return int(current["number"]), str(current["channel"]), card.ts

        @settings(FUZZ, max_examples=60)
        @given(words=modal_text, impact=st.one_of(st.just(""), modal_text),
               cadence=st.one_of(st.just(""), st.sampled_from(["30m", "1h", "soon", "0m"]),
                                 modal_text),
               driver=st.one_of(st.just(""), st.sampled_from(DRIVERS)))
        @example(words="x" * 3001, impact="", cadence="", driver="")
        @example(words="   ", impact="", cadence="", driver="")
        def run(words: str, impact: str, cadence: str, driver: str) -> None:
            number, channel, card_ts = listen_button()
            assert bot.click("card:listen", message_ts=card_ts, channel=channel).ok
            view = bot.slack.open_views(ALICE)[-1]
            assert view["callback_id"] == "modal:listen"
            before = service.get(team, number)
            values = {b: {"v": {"type": "plain_text_input", "value": v}}
                      for b, v in (("words", words), ("impact", impact), ("cadence", cadence))}
            # `fields` fills the required input as the Slack client would; `values` then puts
            # in exactly what we want sent, past the client's own max_length
            fields = {"words": "x", **({"driver": driver} if driver else {})}
            reply = bot.slack.submit_view(bot.events_url, user_id=ALICE, view_id=view["id"],
                                          values=values, fields=fields, via=bot.via)
            bot.settle()
            assert reply.status == 200, reply
            after = service.get(team, number)
            if reply.body in (None, "", {}):
                outcomes["accepted"] += 1
                assert after.customer_words == [*before.customer_words, words.strip()]
                if impact.strip():
                    assert after.impact == impact.strip()
                if driver:
                    assert after.drivers[-1] == driver
            else:
                outcomes["errors"] += 1
                assert reply.body["response_action"] == "errors", reply.body
                errors = reply.body["errors"]
                assert set(errors) <= {"words", "impact", "cadence", "driver"}, errors
                assert all(isinstance(e, str) and e and INTERNAL_ERROR not in e
                           for e in errors.values()), errors
                assert after.customer_words == before.customer_words, "a refusal changes nothing"
                assert after.impact == before.impact
                assert bot.slack.open_views(ALICE), "the form stays open with what was typed"
            assert_nothing_unescaped(bot)

        run()
        assert outcomes["accepted"] and outcomes["errors"], outcomes


# --- Unicode customers --------------------------------------------------------------------------

CUSTOMERS = [
    "שלום עולם בע״מ",  # Hebrew (RTL)
    "شركة الأمل",  # Arabic (RTL)
    "\u200fAcme\u200f",  # right-to-left marks around Latin
    "\u202eemcA",  # right-to-left override
    "👩\u200d💻 Studio",  # zero-width joiner sequence
    "Zero\u200bWidth\u200dCo",
    "🔥🔥🔥",  # emoji only
    "🇯🇵",
    "𠀋𡈽𡌛 株式会社",  # 4-byte CJK
    "ＡＣＭＥ Ｃｏｒｐ",  # full-width
    "Z̴̡a̷l̸g̵o̶ Ltd",  # combining marks
    "Ünïcödé & Søns <GmbH>",
    "A" * 500,
    "B" + "é" * 499,
    "\u200b",  # nothing visible at all
]


@pytest.mark.parametrize("via", ["command", "modal"])
def test_unicode_customers_open_cleanly_or_are_refused_clearly(via: str) -> None:
    with LocalBot() as bot:
        assert bot.runtime is not None
        opened = 0
        for name in CUSTOMERS:
            if via == "command":
                text = escape(f"open {name}: screens down")
                reply = bot.command(text)
                echoed = check_reply(reply, text)
                accepted = echoed is None
            else:
                assert bot.command("open").ok
                view = bot.slack.open_views(ALICE)[-1]
                fields = {"customer": name, "what": "screens down", "severity": "sev2"}
                try:
                    reply = bot.slack.submit_view(bot.events_url, user_id=ALICE,
                                                  view_id=view["id"], fields=fields, via=bot.via)
                except ValueError as err:  # longer than the input's max_length
                    assert "refuses more than" in str(err)
                    continue
                bot.settle()
                assert reply.status == 200, reply
                accepted = reply.body in (None, "", {})
                if not accepted:
                    assert reply.body["response_action"] == "errors", reply.body
                    assert all(e.strip() for e in reply.body["errors"].values()), reply.body
            if not accepted:
                continue
            opened += 1
            inc = bot.runtime.service.get(bot.slack.team_id, opened)
            assert inc.customer == " ".join(name.split()), (name, inc.customer)
            channel = bot.slack.channels[bot.incident_channel(opened)]
            assert re.fullmatch(r"[a-z0-9_-]{1,80}", channel.name), (name, channel.name)
            assert len(channel.topic) <= 250 and len(channel.purpose) <= 250
            card = bot.card(channel.id)
            assert card.blocks and card.text, name
            assert_nothing_unescaped(bot)
        assert opened >= len(CUSTOMERS) - 3, f"only {opened} of {len(CUSTOMERS)} opened"


# --- no credential in any log line --------------------------------------------------------------

TOKEN_SHAPES = re.compile(r"xox[abeprs]-|xapp-")


def _walk_incident(bot: LocalBot) -> None:
    reply = bot.command("open sev2 Acme Hotels: all lobby screens show a setup error")
    assert reply.ok, reply
    channel = bot.incident_channel()
    for text in ("listen the screens say &lt;Setup WiFi&gt;", "cadence 30m",
                 "restate all lobby screens fail", "confirm", "own",
                 "comms <@U0BOB|bob>", "option power cycle risk: lobby dark",
                 "choose 1", "promise root cause in 2h", "resolve power cycled",
                 "rootcause stale setup state", "action add recovery mode <@U0CAROL|carol>",
                 "nonsense verb", "kept P9"):
        assert bot.command(text, channel=channel).ok, text
    card = bot.card(channel)
    assert bot.click("card:update", message_ts=card.ts, channel=channel).ok
    view = bot.slack.open_views(ALICE)[-1]
    assert bot.submit(view["id"], {"text": "Fixed for everyone."}).ok
    # a Slack outage the client's retries can't hide: the outbox logs it and retries later
    bot.slack.fail_next("chat.postMessage", "internal_error", status=503, times=3)
    assert bot.slack.command(bot.events_url, "update we are on it", user_id=BOB,
                             channel_id=channel, via=bot.via).ok
    bot.drain()
    bot.slack.event(bot.events_url, {"type": "app_home_opened", "user": CAROL, "tab": "home"},
                    via=bot.via)
    if not bot.socket_mode:  # a body Bolt cannot read is logged with its traceback
        bad = urlencode({"payload": "{not json"})
        bot.slack.send_raw(f"{bot.url}/slack/events", bad,
                           {"Content-Type": "application/x-www-form-urlencoded",
                            **bot.slack.sign(bad)})
    assert bot.command("close", channel=channel).ok
    bot.settle()


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket"])
def test_no_credential_reaches_any_log_line(socket_mode: bool, capfd: pytest.CaptureFixture[str]
                                            ) -> None:
    bot = LocalBot(socket_mode=socket_mode)
    slack = bot.slack
    secrets = (slack.bot_token, slack.app_token, slack.signing_secret)
    settings = Settings(slack_bot_token=slack.bot_token, slack_app_token=slack.app_token,
                        slack_signing_secret=slack.signing_secret, log_level="DEBUG")
    root = logging.getLogger()
    level, alembic_level = root.level, logging.getLogger("alembic").level
    stream = io.StringIO()
    late = io.StringIO()
    late_handler = logging.StreamHandler(late)  # added after start-up, no filter of its own
    late_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler = redact.configure_logging(settings, stream=stream)  # what `crisisbot run` does
    root.addHandler(late_handler)
    try:
        with bot:
            _walk_incident(bot)
            assert bot.slack.violations == []
    finally:
        root.removeHandler(handler)
        root.removeHandler(late_handler)
        redact.uninstall_redaction()
        root.setLevel(level)
        logging.getLogger("alembic").setLevel(alembic_level)
    captured = capfd.readouterr()
    logs = {"configured handler": stream.getvalue(), "late handler": late.getvalue(),
            "stdout": captured.out, "stderr": captured.err}
    everything = "\n".join(logs.values())
    assert "DEBUG slack_bolt" in everything, "captured at DEBUG, Bolt included"
    if socket_mode:  # the Socket Mode client logs every envelope it receives at DEBUG
        assert "on_message invoked" in everything, "the Socket Mode client's own logs"
    assert "failed, retrying" in everything, "the Slack outage was logged, with its error"
    if not socket_mode:
        assert "Traceback" in everything, "the unreadable body was logged with its traceback"
    for name, text in logs.items():
        for secret in secrets:
            assert secret not in text, f"{name} holds {secret!r}"
        hit = TOKEN_SHAPES.search(text)
        around = text[max(0, hit.start() - 80):hit.end() + 40] if hit else ""
        assert hit is None, f"{name} holds a token: {around!r}"

