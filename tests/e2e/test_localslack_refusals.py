"""LocalSlack refuses what Slack refuses, by default: rate tiers (429 + Retry-After), scopes
the token lacks (missing_scope), guests and other-org users on conversations.invite, bot tokens
on conversations.unarchive, Block Kit and bookmark limits; and it sends the app the events
Slack sends about the app's own calls. Each rule's source is named where the stand-in plays it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.local.localslack import LocalSlack, check_blocks
from bot.local.localslack.ratelimits import RateLimiter
from bot.local.localslack.scopes import manifest_scopes
from bot.local.sandbox import CAROL, LocalBot

USER = "U0ALICE"


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as server:
        server.add_user(USER, "alice")
        yield server


def client_of(slack: LocalSlack) -> WebClient:
    """A client without retry handlers: a 429 comes back as it is."""
    return WebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])


def refusal(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as err:
        call()
    return dict(err.value.response.data)


# ---------------------------------------------------------------------- rate tiers
def test_a_tier_2_burst_beyond_twenty_gets_429_with_retry_after(slack: LocalSlack) -> None:
    client = client_of(slack)
    for n in range(20):  # a burst within the tier is fine
        client.conversations_create(name=f"inc-{n}")
    with pytest.raises(SlackApiError) as err:
        client.conversations_create(name="inc-20")
    assert err.value.response.status_code == 429
    assert err.value.response.data == {"ok": False, "error": "ratelimited"}
    assert int(err.value.response.headers["Retry-After"]) >= 1
    assert slack.channel_by_name("inc-20") is None, "a refused call does nothing"
    assert slack.ratelimited == {"conversations.create": 1}
    # tiers are per method: another tier-2 method still has its own budget
    chan = slack.channel_by_name("inc-0")
    assert chan is not None
    client.conversations_setTopic(channel=chan.id, topic="INC-0")


def test_tiers_are_per_workspace_instance_and_kind_turns_them_off() -> None:
    with LocalSlack() as first, LocalSlack(team_id="T0OTHER") as second:
        for n in range(20):
            client_of(first).conversations_create(name=f"a-{n}")
        assert refusal(lambda: client_of(first).conversations_create(name="a-x"))[
            "error"] == "ratelimited"
        client_of(second).conversations_create(name="b-0")  # its own buckets
    with LocalSlack(kind=True) as kind:
        for n in range(60):
            client_of(kind).conversations_create(name=f"k-{n}")
        assert kind.ratelimited == {}


def test_post_message_is_about_one_a_second_per_channel_with_a_short_burst(
        slack: LocalSlack) -> None:
    client = client_of(slack)
    busy = slack.add_channel("busy", bot_member=True).id
    quiet = slack.add_channel("quiet", bot_member=True).id
    for n in range(20):
        client.chat_postMessage(channel=busy, text=f"update {n}")
    answer = refusal(lambda: client.chat_postMessage(channel=busy, text="one too many"))
    assert answer == {"ok": False, "error": "ratelimited"}
    client.chat_postMessage(channel=quiet, text="another channel has its own budget")
    assert slack.ratelimited == {"chat.postMessage": 1}


def test_buckets_refill_at_the_tier_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert all(limiter.check("T1", "pins.add") is None for _ in range(20))
    assert limiter.check("T1", "pins.add") == 3, "20 a minute: one more every 3 s"
    now[0] += 3.0
    assert limiter.check("T1", "pins.add") is None
    assert limiter.check("T1", "pins.add") == 3
    assert limiter.check("T2", "pins.add") is None, "another workspace"
    assert limiter.check("T1", "users.info") is None, "another method"
    assert limiter.check("T1", "auth.test") is None, "methods without a tier are not limited"
    assert limiter.limited == {"pins.add": 2}


# ---------------------------------------------------------------------- scopes
def test_scopes_default_to_the_manifest_and_a_missing_one_is_refused() -> None:
    scopes = manifest_scopes()
    assert scopes is not None and {"chat:write", "pins:write", "groups:write"} <= scopes
    reduced = scopes - {"pins:write", "groups:write"}
    with LocalSlack(scopes=reduced) as slack:
        client = client_of(slack)
        chan = client.conversations_create(name="inc-1")["channel"]["id"]  # channels:manage
        ts = client.chat_postMessage(channel=chan, text="card")["ts"]
        answer = refusal(lambda: client.pins_add(channel=chan, timestamp=ts))
        assert answer["error"] == "missing_scope" and answer["needed"] == "pins:write"
        assert answer["provided"] == ",".join(sorted(reduced))
        assert slack.pins(chan) == []
        private = refusal(lambda: client.conversations_create(name="inc-2", is_private=True))
        assert private["error"] == "missing_scope" and private["needed"] == "groups:write"


# ---------------------------------------------------------------------- invites
def test_invite_refuses_guests_and_people_of_other_organisations(slack: LocalSlack) -> None:
    client = client_of(slack)
    room = slack.add_channel("inc-1", bot_member=True)
    shared = slack.add_channel("acme-shared", bot_member=True, ext_shared=True)
    other = slack.add_channel("elsewhere", members=["U0SINGLE"])
    slack.add_user("U0MULTI", "mo", guest="multi", guest_channels=[shared.id])
    slack.add_user("U0SINGLE", "sam", guest="single")
    slack.add_user("U0EXT", "ext", team_id="T0ACME")
    slack.add_user("U0ORG", "orla", org_only=True)
    assert other.id and client.users_info(user="U0MULTI")["user"]["is_restricted"] is True

    def error(users: str, channel: str = room.id) -> str:
        return str(refusal(lambda: client.conversations_invite(channel=channel,
                                                                users=users))["error"])

    assert error("U0MULTI") == "user_is_restricted"
    assert error("U0SINGLE") == "ura_max_channels"
    assert error("U0EXT") == "cant_invite"
    assert error("U0EXT", shared.id) == "no_permission"
    assert error("U0ORG") == "org_user_not_in_team"
    assert error("U0GONE") == "user_not_found"
    assert error("UBOT") == "cant_invite_self"
    # several users in one call: one refusal fails the call, nobody is invited
    answer = refusal(lambda: client.conversations_invite(channel=room.id,
                                                         users=f"{USER},U0MULTI"))
    assert answer["error"] == "user_is_restricted"
    assert answer["errors"] == [{"user": "U0MULTI", "ok": False,
                                 "error": "user_is_restricted"}]
    assert USER not in slack.channels[room.id].members
    client.conversations_invite(channel=shared.id, users="U0MULTI")  # where they may go
    client.conversations_invite(channel=room.id, users=USER)
    assert error(USER) == "already_in_channel"


def test_bot_tokens_cannot_unarchive_by_default(slack: LocalSlack) -> None:
    client = client_of(slack)
    chan = client.conversations_create(name="inc-1")["channel"]["id"]
    client.conversations_archive(channel=chan)
    assert refusal(lambda: client.conversations_unarchive(channel=chan))[
        "error"] == "not_allowed_token_type"
    assert slack.channels[chan].is_archived


# ---------------------------------------------------------------------- Block Kit, bookmarks
def _options(n: int) -> list[dict[str, Any]]:
    return [{"text": {"type": "plain_text", "text": f"o{i}"}, "value": str(i)}
            for i in range(n)]


def _input(element: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "input", "block_id": "b", "label": {"type": "plain_text", "text": "L"},
             "element": {"action_id": "a", **element}}]


@pytest.mark.parametrize(("blocks", "problem"), [
    (_input({"type": "radio_buttons", "options": _options(11)}), "no more than 10 items"),
    (_input({"type": "checkboxes", "options": _options(11)}), "no more than 10 items"),
    (_input({"type": "static_select", "options": _options(3),
             "initial_option": _options(5)[4]}), "must match one of the options"),
    (_input({"type": "checkboxes", "options": _options(3),
             "initial_options": [_options(3)[0], _options(5)[4]]}),
     "must match one of the options"),
    (_input({"type": "plain_text_input", "max_length": 3001}), "no more than 3000"),
    (_input({"type": "plain_text_input", "min_length": 10, "max_length": 5}),
     "min_length must not exceed max_length"),
    (_input({"type": "plain_text_input", "max_length": 5, "initial_value": "too long"}),
     "less than 6 characters"),
    ([{"type": "actions", "elements": [
        {"type": "button", "action_id": "same", "text": {"type": "plain_text", "text": "A"}},
        {"type": "button", "action_id": "same", "text": {"type": "plain_text", "text": "B"}}]}],
     "duplicate action_id"),
    ([{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}],
     "duplicate block_id"),
])
def test_block_kit_rules(blocks: list[dict[str, Any]], problem: str) -> None:
    errors = check_blocks(blocks, surface="modal")
    assert any(problem in e for e in errors), errors


def test_block_kit_rules_accept_what_slack_accepts() -> None:
    radio = _input({"type": "radio_buttons", "options": _options(10),
                    "initial_option": _options(10)[3]})[0]
    text = _input({"type": "plain_text_input", "min_length": 1, "max_length": 3000,
                   "initial_value": "ok"})[0]
    fine = [radio, {**text, "block_id": "c"}]
    assert check_blocks(fine, surface="modal") == []


def test_bookmark_links_and_count_are_bounded(slack: LocalSlack) -> None:
    slack.rate_limits.enabled = False  # kind: 100 bookmarks.add are beyond tier 2's burst
    client = client_of(slack)
    chan = slack.add_channel("inc-1", bot_member=True).id
    long_link = "https://example.com/" + "x" * 2030
    assert refusal(lambda: client.bookmarks_add(channel_id=chan, title="T", type="link",
                                                link=long_link))["error"] == "invalid_link"
    for n in range(100):
        client.bookmarks_add(channel_id=chan, title=f"L{n}", type="link",
                             link=f"https://example.com/{n}")
    assert refusal(lambda: client.bookmarks_add(channel_id=chan, title="one more",
                                                type="link", link="https://example.com/x")
                   )["error"] == "too_many_bookmarks"


# ---------------------------------------------------------------------- the app's own events
def test_the_apps_own_calls_come_back_as_events(slack: LocalSlack) -> None:
    client = client_of(slack)
    slack.bot_unarchive_error = None  # kind: to see the unarchive event as well
    chan = client.conversations_create(name="inc-1", is_private=True)["channel"]["id"]
    client.conversations_invite(channel=chan, users=USER)
    ts = client.chat_postMessage(channel=chan, text="card")["ts"]
    client.pins_add(channel=chan, timestamp=ts)
    client.conversations_archive(channel=chan)
    client.conversations_unarchive(channel=chan)
    seen = [{k: v for k, v in e.items() if k not in ("event_ts", "item", "team")}
            for e in slack.emitted]
    assert seen == [
        {"type": "member_joined_channel", "user": "UBOT", "channel": chan, "channel_type": "G"},
        {"type": "member_joined_channel", "user": USER, "channel": chan, "channel_type": "G",
         "inviter": "UBOT"},
        {"type": "pin_added", "user": "UBOT", "channel_id": chan, "pin_count": 1},
        {"type": "group_archive", "channel": chan, "user": "UBOT"},
        {"type": "group_unarchive", "channel": chan, "actor_id": "UBOT"},
    ]
    assert slack.emitted[2]["item"]["message"]["ts"] == ts


@pytest.fixture(params=["http", "socket"])
def private_bot(request: pytest.FixtureRequest) -> Iterator[LocalBot]:
    bot = LocalBot(socket_mode=request.param == "socket",
                   settings={"private_channels": True})
    with bot:
        yield bot
        assert bot.slack.violations == [], "payloads Slack would refuse"


def test_the_bot_handles_the_events_of_its_own_calls_once(private_bot: LocalBot) -> None:
    bot = private_bot
    bot.command("open Acme Hotels: lobby screens are down")
    channel = bot.incident_channel()
    kinds = [k for k, _ in bot.slack.echo_deliveries]
    assert {"member_joined_channel", "pin_added"} <= set(kinds)
    assert all(status == 200 for _, status in bot.slack.echo_deliveries), "all acked"
    joined = [e for e in bot.slack.emitted if e["type"] == "member_joined_channel"]
    assert {e["user"] for e in joined} >= {"UBOT", CAROL}
    assert bot.slack.pins(channel) and len(bot.slack.pins(channel)) == 1
    lines = bot.lines(channel)
    assert not any("<@U0CAROL>" in line and "joined" in line.lower() for line in lines), (
        "no brief for a responder the bot itself invited")
    # people archive and unarchive the private channel: group_unarchive names who did it in
    # actor_id (not user), and the bot says so once
    bot.slack.archive_channel(bot.events_url, channel, user_id=CAROL, via=bot.via)
    bot.settle()
    bot.slack.unarchive_channel(bot.events_url, channel, user_id=CAROL, via=bot.via)
    bot.settle()
    back = [t for t in bot.lines(channel) if "was unarchived" in t]
    assert len(back) == 1 and "U0CAROL" in back[0], back
