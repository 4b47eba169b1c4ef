"""LocalSlack against the real clients: slack_sdk's WebClient, a Bolt App served over real
HTTP (Bolt's WSGI adapter), and Bolt's built-in SocketModeHandler.

These tests pin down that the fake behaves like Slack where our app depends on it: signed
requests, acks, limits that make Slack refuse a payload, trigger and retry rules.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.local.localslack import LocalSlack, check_blocks, check_view

USER = "U0ALICE"
MODAL = {
    "type": "modal", "callback_id": "form", "title": {"type": "plain_text", "text": "Open"},
    "submit": {"type": "plain_text", "text": "Open"},
    "blocks": [
        {"type": "input", "block_id": "what", "label": {"type": "plain_text", "text": "What"},
         "element": {"type": "plain_text_input", "action_id": "text"}},
        {"type": "input", "block_id": "who", "optional": True,
         "label": {"type": "plain_text", "text": "Owner"},
         "element": {"type": "users_select", "action_id": "user"}},
        {"type": "input", "block_id": "sev", "label": {"type": "plain_text", "text": "Severity"},
         "element": {"type": "static_select", "action_id": "pick",
                     "initial_option": {"text": {"type": "plain_text", "text": "sev2"},
                                        "value": "2"},
                     "options": [{"text": {"type": "plain_text", "text": f"sev{n}"},
                                  "value": str(n)} for n in (1, 2, 3)]}},
    ],
}
BUTTON_BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*INC-1* open"}},
    {"type": "actions", "elements": [{"type": "button", "action_id": "ack_it", "value": "inc-1",
                                      "text": {"type": "plain_text", "text": "Acknowledge"}}]},
]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as server:
        server.add_user(USER, "alice", tz="Europe/Paris")
        yield server


@pytest.fixture
def incident_channel(slack: LocalSlack) -> str:
    return slack.add_channel("inc-1-acme", members=[USER], bot_member=True).id


def build_app(slack: LocalSlack, seen: dict[str, list[Any]], **client_kw: Any) -> App:
    """A small Bolt app doing what ours does: ack fast, then call Slack after the ack."""
    client = WebClient(token=slack.bot_token, base_url=slack.api_url, **client_kw)
    app = App(client=client, signing_secret=slack.signing_secret)

    @app.command("/incident")
    def incident(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        ack(f"got: {command['text']}")
        if command["text"].startswith("post"):
            client.chat_postMessage(channel=command["channel_id"], text="Status card",
                                    blocks=BUTTON_BLOCKS)

    @app.command("/modal")
    def modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        seen["open"].append(client.views_open(trigger_id=body["trigger_id"], view=MODAL).data)
        ack()

    @app.action("ack_it")
    def ack_it(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        seen["actions"].append(body)
        respond(text="Acknowledged by alice", replace_original=True)

    @app.view("form")
    def form(ack: Ack, view: dict[str, Any]) -> None:
        seen["views"].append(view)
        text = view["state"]["values"]["what"]["text"]["value"]
        if text == "bad":
            ack(response_action="errors", errors={"what": "Say what happened"})
        else:
            ack()

    @app.event("reaction_added")
    @app.event("pin_added")
    def capture(event: dict[str, Any]) -> None:
        seen["events"].append(event)

    @app.event("app_mention")
    def mention(event: dict[str, Any], request: Any) -> None:
        retry = request.headers.get("x-slack-retry-num")  # Bolt keeps header values as lists
        seen["events"].append((event["text"], retry[0] if retry else None))

    return app


@pytest.fixture
def seen() -> dict[str, list[Any]]:
    return {"open": [], "actions": [], "views": [], "events": []}


@pytest.fixture
def app_url(slack: LocalSlack, seen: dict[str, list[Any]]) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, SlackRequestHandler(build_app(slack, seen)),
                        server_class=_Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/slack/events"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def socket_app(slack: LocalSlack, seen: dict[str, list[Any]]) -> Iterator[SocketModeHandler]:
    handler = SocketModeHandler(build_app(slack, seen), slack.app_token)
    handler.connect()
    slack.wait_for_socket()
    yield handler
    slack.close_socket_client(handler)  # a bare close() costs ~3 s and can race


# ---------------------------------------------------------------------- HTTP requests
def test_signed_command_reaches_app_and_ack_body_comes_back(
        slack: LocalSlack, app_url: str, incident_channel: str) -> None:
    reply = slack.command(app_url, "open acme: down", user_id=USER, channel_id=incident_channel)
    assert reply.status == 200
    assert reply.body == "got: open acme: down"  # Bolt acks a string as text/plain over HTTP
    assert reply.sent["trigger_id"] and reply.sent["response_url"].startswith(slack.base_url)
    assert [e.text for e in slack.ephemerals(USER)] == ["got: open acme: down"]
    assert slack.violations == []


def test_forged_signature_and_stale_timestamp_get_401(slack: LocalSlack, app_url: str) -> None:
    body = urlencode({"command": "/incident", "text": "help", "user_id": USER,
                      "channel_id": "C0GENERAL", "team_id": slack.team_id})
    ctype = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = slack.send_raw(app_url, body, {**ctype, **slack.sign(body, secret="not-it")})
    stale = slack.send_raw(app_url, body, {**ctype, **slack.sign(body, int(time.time()) - 301)})
    good = slack.send_raw(app_url, body, {**ctype, **slack.sign(body)})
    assert (forged.status, stale.status, good.status) == (401, 401, 200)


def test_post_after_ack_lands_in_messages_and_button_click_replaces_it(
        slack: LocalSlack, app_url: str, incident_channel: str,
        seen: dict[str, list[Any]]) -> None:
    slack.command(app_url, "post card", user_id=USER, channel_id=incident_channel)
    [card] = slack.wait_for(lambda: slack.messages(incident_channel))
    assert card.text == "Status card" and card.blocks and card.blocks[0]["block_id"]

    reply = slack.block_action(app_url, user_id=USER, action_id="ack_it", message_ts=card.ts,
                               channel_id=incident_channel)
    assert reply.status == 200
    slack.wait_for(lambda: slack.message(incident_channel, card.ts).edits == 1)
    updated = slack.message(incident_channel, card.ts)
    assert updated.text == "Acknowledged by alice"
    [action] = seen["actions"][0]["actions"]
    assert (action["value"], action["type"]) == ("inc-1", "button")
    assert seen["actions"][0]["container"]["message_ts"] == card.ts
    with pytest.raises(LookupError):
        slack.block_action(app_url, user_id=USER, action_id="nope", message_ts=card.ts)


def test_modal_submission_errors_keep_it_open_then_success_closes_it(
        slack: LocalSlack, app_url: str, seen: dict[str, list[Any]]) -> None:
    assert slack.command(app_url, "", user_id=USER, command="/modal").status == 200
    [view] = slack.open_views(USER)
    with pytest.raises(ValueError, match=r"required input what\.text"):
        slack.submit_view(app_url, user_id=USER, view_id=view["id"])

    bad = slack.submit_view(app_url, user_id=USER, view_id=view["id"], fields={"text": "bad"})
    assert bad.body == {"response_action": "errors", "errors": {"what": "Say what happened"}}
    assert slack.open_views(USER)

    ok = slack.submit_view(app_url, user_id=USER, view_id=view["id"],
                           fields={"text": "API down", "who.user": USER})
    assert ok.status == 200 and slack.open_views(USER) == []
    values = seen["views"][-1]["state"]["values"]
    assert values["who"]["user"] == {"type": "users_select", "selected_user": USER}
    assert values["sev"]["pick"]["selected_option"]["value"] == "2"  # the initial option
    assert slack.violations == []


def test_events_carry_retry_headers(slack: LocalSlack, app_url: str,
                                    seen: dict[str, list[Any]]) -> None:
    event = {"type": "app_mention", "user": USER, "text": "<@UBOT> hi", "channel": "C0GENERAL"}
    assert slack.event(app_url, event, event_id="Ev1").status == 200
    assert slack.event(app_url, event, event_id="Ev1", retry_num=1,
                       retry_reason="http_timeout").status == 200
    slack.wait_for(lambda: len(seen["events"]) == 2)
    assert sorted(seen["events"], key=str) == [("<@UBOT> hi", "1"), ("<@UBOT> hi", None)]


def test_reactions_and_pins_by_people_reach_the_app_as_slack_sends_them(
        slack: LocalSlack, app_url: str, incident_channel: str,
        seen: dict[str, list[Any]]) -> None:
    msg = slack.add_message(incident_channel, USER, "the CDN is down")
    assert slack.react(app_url, user_id=USER, channel_id=incident_channel, ts=msg.ts).ok
    assert slack.pin(app_url, user_id=USER, channel_id=incident_channel, ts=msg.ts).ok
    slack.wait_for(lambda: len(seen["events"]) == 2)
    reaction, pin = sorted(seen["events"], key=lambda e: e["type"], reverse=True)
    # reaction_added names the message only: its text needs conversations.history
    assert reaction["reaction"] == "pushpin" and reaction["item_user"] == USER
    assert reaction["item"] == {"type": "message", "channel": incident_channel, "ts": msg.ts}
    assert "text" not in json.dumps(reaction["item"])
    assert pin["item"]["message"]["text"] == "the CDN is down" and pin["user"] == USER
    assert slack.reactions(incident_channel, msg.ts) == {"pushpin": [USER]}
    assert slack.pins(incident_channel) == [msg.ts]


def test_history_window_finds_one_message(slack: LocalSlack, incident_channel: str) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    first, second, third = (slack.add_message(incident_channel, USER, t) for t in "abc")
    one = client.conversations_history(channel=incident_channel, latest=second.ts,
                                       oldest=second.ts, inclusive=True, limit=1)["messages"]
    assert [m["text"] for m in one] == ["b"]
    older = client.conversations_history(channel=incident_channel, latest=third.ts)["messages"]
    assert [m["text"] for m in older] == ["b", "a"]
    assert first.ts < second.ts < third.ts


# ---------------------------------------------------------------------- Web API rules
def test_refused_blocks_fail_like_slack_and_are_recorded(slack: LocalSlack,
                                                         incident_channel: str) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    cases = {
        "51 blocks": [section] * 51,
        "long section": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        "long header": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    }
    for name, blocks in cases.items():
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel=incident_channel, text=name, blocks=blocks)
        assert err.value.response["error"] == "invalid_blocks", name
    assert len(slack.violations) == 3
    assert "no more than 50 items" in slack.violations[0]
    assert "/blocks/0/text/text" in slack.violations[1]
    assert slack.messages(incident_channel) == []

    slack.violations.clear()
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too
        client.chat_postMessage(channel=incident_channel, blocks=[section])
    assert len(slack.messages(incident_channel)) == 1
    assert ["fallback text" in v for v in slack.violations] == [True]


def test_views_open_needs_a_fresh_unused_trigger(slack: LocalSlack) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    trigger = slack.issue_trigger(USER)
    assert client.views_open(trigger_id=trigger, view=MODAL)["ok"]
    slack.trigger_ttl = 0.05
    stale = slack.issue_trigger(USER)
    time.sleep(0.1)
    for tid, error in ((trigger, "exchanged_trigger_id"), (stale, "expired_trigger_id"),
                       ("123.456.abc", "invalid_trigger_id")):
        with pytest.raises(SlackApiError) as err:
            client.views_open(trigger_id=tid, view=MODAL)
        assert err.value.response["error"] == error
    with pytest.raises(SlackApiError) as err:
        long_title = {**MODAL, "title": {"type": "plain_text", "text": "t" * 25}}
        client.views_open(trigger_id=slack.issue_trigger(USER), view=long_title)
    assert err.value.response["error"] == "invalid_arguments"


def test_rate_limit_and_server_errors_are_retried_by_slack_sdk(slack: LocalSlack,
                                                               incident_channel: str) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[
        RateLimitErrorRetryHandler(max_retry_count=1), ServerErrorRetryHandler(max_retry_count=1)])
    slack.fail_next("chat.postMessage", retry_after=0)
    assert client.chat_postMessage(channel=incident_channel, text="hello")["ok"]
    slack.fail_next("conversations.setTopic", "internal_error", status=503)
    assert client.conversations_setTopic(channel=incident_channel, topic="t")["ok"]
    assert slack.call_count("chat.postMessage") == 2
    assert slack.call_count("conversations.setTopic") == 2
    slack.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=incident_channel, text="again")
    assert err.value.response.status_code == 200
    assert [m.text for m in slack.messages(incident_channel)] == ["hello"]


@pytest.mark.parametrize(("name", "error"), [
    ("", "invalid_name_required"), ("x" * 81, "invalid_name_maxlength"),
    ("Inc-1", "invalid_name_specials"), ("inc 1", "invalid_name_specials"),
    ("general", "name_taken"), ("---", "invalid_name_punctuation"),
])
def test_conversations_create_name_rules(slack: LocalSlack, name: str, error: str) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as err:
        client.conversations_create(name=name)
    assert err.value.response["error"] == error


def test_conversation_lifecycle_and_membership_errors(slack: LocalSlack) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    chan = client.conversations_create(name="inc-7_acme", is_private=True)["channel"]
    assert chan["is_private"] and slack.channel_by_name("inc-7_acme").members == {"UBOT"}

    def error_of(call: Callable[[], Any]) -> str:
        with pytest.raises(SlackApiError) as err:
            call()
        return str(err.value.response["error"])

    assert error_of(lambda: client.conversations_invite(channel=chan["id"],
                                                        users="UNOBODY")) == "user_not_found"
    assert error_of(lambda: client.conversations_invite(channel=chan["id"],
                                                        users="UBOT")) == "cant_invite_self"
    client.conversations_invite(channel=chan["id"], users=USER)
    assert error_of(lambda: client.conversations_setTopic(channel=chan["id"],
                                                          topic="t" * 251)) == "too_long"
    assert error_of(lambda: client.chat_postMessage(channel="C0GENERAL",
                                                    text="hi")) == "not_in_channel"
    assert error_of(lambda: client.chat_postMessage(channel="CNOPE",
                                                    text="hi")) == "channel_not_found"
    client.conversations_archive(channel=chan["id"])
    assert error_of(lambda: client.chat_postMessage(channel=chan["id"],
                                                    text="hi")) == "is_archived"
    assert error_of(lambda: client.conversations_unarchive(
        channel=chan["id"])) == "not_allowed_token_type", "bot tokens cannot unarchive"
    slack.bot_unarchive_error = None  # kind: this test goes on in the unarchived channel
    client.conversations_unarchive(channel=chan["id"])
    theirs = slack.add_message(chan["id"], USER, "customer says: it is down again")
    assert error_of(lambda: client.chat_update(channel=chan["id"], ts=theirs.ts,
                                               text="edited")) == "cant_update_message"
    assert error_of(lambda: client.chat_update(channel=chan["id"], ts="1.000001",
                                               text="x")) == "message_not_found"
    slack.add_usergroup("S0LEADS", "leads", [USER])
    assert client.usergroups_users_list(usergroup="S0LEADS")["users"] == [USER]
    assert error_of(lambda: client.conversations_unarchive(channel=chan["id"])) == "not_archived"
    assert error_of(lambda: client.api_call("chat.explode")) == "unknown_method"
    assert error_of(lambda: WebClient(base_url=slack.api_url).auth_test()) == "not_authed"
    assert error_of(lambda: WebClient(token=slack.app_token, base_url=slack.api_url)
                    .auth_test()) == "not_allowed_token_type"
    assert client.users_info(user=USER)["user"]["tz"] == "Europe/Paris"
    dm = client.chat_postMessage(channel=USER, text="You own INC-7")
    assert dm["channel"].startswith("D") and [m.text for m in slack.dms(USER)] == [
        "You own INC-7"]


def test_limits_accept_valid_kit_and_catch_what_slack_sdk_lets_through() -> None:
    assert check_view(MODAL) == []
    assert check_blocks(BUTTON_BLOCKS) == []
    pt = {"type": "plain_text", "text": "x"}
    assert check_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": "x"},
                          "txt": "typo"}])  # unknown key: slack_sdk drops it silently
    assert check_blocks([{"type": "actions", "elements": [
        {"type": "buton", "text": pt, "action_id": "a"}]}])  # unknown element type
    assert check_blocks([{"type": "section", "text": "bare string"}])
    assert check_blocks([{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}]}])
    assert check_view({**MODAL, "private_metadata": "m" * 3001})
    no_submit = {k: v for k, v in MODAL.items() if k != "submit"}
    assert any("submit is required" in e for e in check_view(no_submit))


# ---------------------------------------------------------------------- Socket Mode
def test_socket_mode_command_is_acked_through_the_real_handler(
        slack: LocalSlack, socket_app: SocketModeHandler, incident_channel: str,
        seen: dict[str, list[Any]]) -> None:
    reply = slack.command(None, "post card", user_id=USER, channel_id=incident_channel,
                          via="socket")
    assert reply.status == 200 and reply.body == {"text": "got: post card"}
    slack.wait_for(lambda: slack.messages(incident_channel))
    event = {"type": "app_mention", "user": USER, "text": "<@UBOT> hey", "channel": "C0GENERAL"}
    assert slack.event(None, event, retry_num=2, retry_reason="timeout", via="socket").ok
    slack.wait_for(lambda: seen["events"])
    assert seen["events"] == [("<@UBOT> hey", "2")]
    assert slack.violations == []


def test_socket_mode_modal_submission_and_button(
        slack: LocalSlack, socket_app: SocketModeHandler, seen: dict[str, list[Any]]) -> None:
    assert slack.command(None, "", user_id=USER, command="/modal", via="socket").ok
    [view] = slack.open_views(USER)
    bad = slack.submit_view(None, user_id=USER, view_id=view["id"], fields={"text": "bad"},
                            via="socket")
    assert bad.body == {"response_action": "errors", "errors": {"what": "Say what happened"}}
    ok = slack.submit_view(None, user_id=USER, view_id=view["id"], fields={"text": "fine"},
                           via="socket")
    assert ok.status == 200 and ok.body is None and slack.open_views(USER) == []

    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    posted = client.chat_postMessage(channel=USER, text="card", blocks=BUTTON_BLOCKS)
    assert slack.block_action(None, user_id=USER, action_id="ack_it", message_ts=posted["ts"],
                              via="socket").ok
    slack.wait_for(lambda: slack.dms(USER)[0].text == "Acknowledged by alice")


# ---------------------------------------------------------------------- more Web API
def test_views_update_hash_conflict_push_and_home(slack: LocalSlack) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    opened = client.views_open(trigger_id=slack.issue_trigger(USER), view=MODAL)["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)["view"]
    assert updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert err.value.response["error"] == "hash_conflict"
    for _ in range(2):
        client.views_push(trigger_id=slack.issue_trigger(USER), view=MODAL)
    with pytest.raises(SlackApiError) as err:
        client.views_push(trigger_id=slack.issue_trigger(USER), view=MODAL)
    assert err.value.response["error"] == "push_limit_reached"
    assert len(slack.open_views(USER)) == 3

    home = {"type": "home", "blocks": [{"type": "section",
                                        "text": {"type": "mrkdwn", "text": "Your incidents"}}]}
    first = client.views_publish(user_id=USER, view=home)["view"]
    again = client.views_publish(user_id=USER, view=home)["view"]
    assert first["id"] == again["id"] and slack.home(USER)["blocks"][0]["text"]["text"]
    with pytest.raises(SlackApiError):
        client.views_publish(user_id=USER, view=MODAL)


def test_response_url_checks_blocks_and_use_limit(slack: LocalSlack, app_url: str) -> None:
    url = slack.command(app_url, "help", user_id=USER).sent["response_url"]
    hook = WebhookClient(url)
    bad = hook.send(text="x", blocks=[{"type": "header",
                                       "text": {"type": "plain_text", "text": "h" * 151}}])
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    assert len(slack.violations) == 1
    statuses = [hook.send(text=f"update {n}").status_code for n in range(6)]
    assert statuses == [200] * 5 + [404]
    assert len(slack.responses) == 5
    slack.violations.clear()


def test_files_pins_bookmarks_and_permalinks(slack: LocalSlack, incident_channel: str) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    client.files_upload_v2(channel=incident_channel, content="# INC-1 summary",
                           filename="inc-1.md", title="Summary", initial_comment="Summary")
    [summary] = slack.files(incident_channel)
    assert (summary.content, summary.title, summary.initial_comment) == (
        b"# INC-1 summary", "Summary", "Summary")
    ts = client.chat_postMessage(channel="#inc-1-acme", text="card")["ts"]
    client.pins_add(channel=incident_channel, timestamp=ts)
    with pytest.raises(SlackApiError) as err:
        client.pins_add(channel=incident_channel, timestamp=ts)
    assert err.value.response["error"] == "already_pinned"
    client.bookmarks_add(channel_id=incident_channel, title="Runbook", type="link",
                         link="https://example.com/runbook")
    assert slack.pins(incident_channel) == [ts]
    assert [b.title for b in slack.bookmarks(incident_channel)] == ["Runbook"]
    link = client.chat_getPermalink(channel=incident_channel, message_ts=ts)["permalink"]
    assert link.endswith(ts.replace(".", ""))


def test_web_api_takes_a_burst_from_many_threads(slack: LocalSlack,
                                                 incident_channel: str) -> None:
    slack.rate_limits.enabled = False  # kind: 200 posts in a second are about threads, not tiers
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    errors: list[BaseException] = []

    def post(n: int) -> None:
        try:
            for i in range(10):
                client.chat_postMessage(channel=incident_channel, text=f"{n}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stamps = [m.ts for m in slack.messages(incident_channel)]
    assert len(stamps) == 200 and len(set(stamps)) == 200


def test_unarchive_bookmarks_and_permalink_rules(slack: LocalSlack,
                                                 incident_channel: str) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)

    def error_of(call: Callable[[], Any]) -> str:
        with pytest.raises(SlackApiError) as err:
            call()
        return str(err.value.response["error"])

    # a person archives the channel: the bot can't post or bookmark until it is unarchived
    slack.archive_channel(None, incident_channel, user_id=USER, emit=False)
    assert error_of(lambda: client.bookmarks_add(channel_id=incident_channel, title="T",
                                                 type="link",
                                                 link="https://x.example")) == "is_archived"
    # Slack's documented bot-token gap is the default
    assert error_of(lambda: client.conversations_unarchive(
        channel=incident_channel)) == "not_allowed_token_type"
    slack.bot_unarchive_error = None
    client.conversations_unarchive(channel=incident_channel)
    assert not slack.channels[incident_channel].is_archived
    assert "UBOT" in slack.channels[incident_channel].members, "the caller is added back"
    dm = client.conversations_open(users=USER)["channel"]["id"]
    assert error_of(lambda: client.conversations_unarchive(
        channel=dm)) == "method_not_supported_for_channel_type"
    # bookmarks: only web links, titles within limits, and channel restrictions
    assert error_of(lambda: client.bookmarks_add(channel_id=incident_channel, title="T",
                                                 type="link",
                                                 link="javascript:alert(1)")) == "invalid_link"
    assert error_of(lambda: client.bookmarks_add(channel_id=incident_channel, title="T" * 256,
                                                 type="link", link="https://x.example"
                                                 )) == "invalid_arguments"
    slack.restrict_bookmarks(incident_channel)
    assert error_of(lambda: client.bookmarks_add(channel_id=incident_channel, title="T",
                                                 type="link",
                                                 link="https://x.example")) == "restricted_action"
    assert client.bookmarks_list(channel_id=incident_channel)["bookmarks"] == []
    # a private channel the bot is not in is invisible to getPermalink
    secret = slack.add_channel("secret", members=[USER], is_private=True)
    msg = slack.add_message(secret.id, USER, "hush")
    assert error_of(lambda: client.chat_getPermalink(channel=secret.id,
                                                     message_ts=msg.ts)) == "channel_not_found"


def test_message_shortcut_payload_from_a_slack_connect_guest(slack: LocalSlack) -> None:
    slack.add_user("U0DANA", "dana", real_name="Dana Reyes", team_id="T0ACME")
    shared = slack.add_channel("acme-connect", members=[USER, "U0DANA"], ext_shared=True)
    msg = slack.add_message(shared.id, "U0DANA", "<!here> it is down")
    got: list[dict[str, Any]] = []
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    app = App(client=client, signing_secret=slack.signing_secret)

    @app.shortcut("add_to_incident")
    def shortcut(ack: Ack, body: dict[str, Any]) -> None:
        got.append(body)
        ack()

    httpd = make_server("127.0.0.1", 0, SlackRequestHandler(app), server_class=_Server,
                        handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        reply = slack.message_shortcut(f"http://127.0.0.1:{httpd.server_port}/slack/events",
                                       user_id=USER, channel_id=shared.id, message_ts=msg.ts,
                                       callback_id="add_to_incident")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert reply.ok
    [body] = got
    assert body["type"] == "message_action" and body["callback_id"] == "add_to_incident"
    assert body["message_ts"] == msg.ts and body["channel"]["id"] == shared.id
    assert body["message"]["text"] == "<!here> it is down"
    assert body["message"]["user_team"] == "T0ACME"
    assert body["message"]["user_profile"]["real_name"] == "Dana Reyes"
    assert body["is_ext_shared_channel"] is True
    assert body["trigger_id"] and body["team"]["domain"] == slack.team_domain
    with pytest.raises(ValueError, match="archived"):
        slack.archive_channel(None, shared.id, user_id=USER, emit=False)
        slack.command(None, "help", user_id=USER, channel_id=shared.id)
