"""One deployment, many workspaces: OAuth installs, each call with its own workspace's token.

Over real HTTP against the local Slack, which mints a token per install, refuses a token for
another workspace's channels (`channel_not_found`) and records which token each call carried.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.request import urlopen

import pytest

from bot.local.localslack.api_oauth import add_team_channel, as_team, join_org, uninstall
from bot.local.sandbox import ALICE, LocalBot
from playbook import store
from playbook.domain.errors import NotFound

ONE, TWO = "T0LOCAL", "T0TWO"  # ONE is the local Slack's own workspace


@pytest.fixture
def bot() -> Iterator[LocalBot]:
    with LocalBot(oauth=True, start_scheduler=True) as running:
        yield running
        assert running.slack.violations == []


def _calls_for(bot: LocalBot, channel: str) -> list[tuple[str, str | None]]:
    assert bot.oauth is not None
    return [(m, t) for m, t, c in list(bot.oauth.token_calls) if c == channel]


def _failed_rows(bot: LocalBot) -> list[str]:
    assert bot.runtime is not None
    with bot.runtime.service.sessions() as session:
        rows = session.query(store.OutboxRow).filter(store.OutboxRow.failed_at.isnot(None))
        return [f"{r.kind}: {r.last_error}" for r in rows]


def _two_workspaces(bot: LocalBot) -> tuple[str, str]:
    """Both install through the pages and open INC-1; returns the two incident channels."""
    assert bot.install(ONE)[0] == 200
    assert bot.install(TWO)[0] == 200
    bot.slack.add_user("U0TWOAL", "tess", tz="UTC")
    room = add_team_channel(bot.slack, TWO, "support-two", members=["U0TWOAL"])
    assert bot.command("open Acme: lobby screens down").ok
    with as_team(bot.slack, TWO):
        assert bot.command("open Globex: checkout failing", user="U0TWOAL", channel=room.id).ok
    assert bot.runtime is not None
    one, two = (bot.runtime.service.get(ONE, 1), bot.runtime.service.get(TWO, 1))
    assert (one.key, two.key) == ("INC-1", "INC-1"), "incident numbers are per workspace"
    assert one.channel_id and two.channel_id and one.channel_id != two.channel_id
    return one.channel_id, two.channel_id


def test_the_install_page_and_a_callback_without_the_state_cookie(bot: LocalBot) -> None:
    with urlopen(f"{bot.url}/slack/install", timeout=10) as resp:
        page = resp.read().decode()
        assert "Secure" in (resp.headers.get("Set-Cookie") or "")
    assert "oauth/v2/authorize" in page and "state=" in page
    status, _ = bot.install(ONE, cookie=False)
    assert status == 400, "a callback whose state cookie is missing installs nothing"
    assert bot.command("open Acme: lobby screens down").ok
    assert "installation" in bot.slack.responses[-1].text, "not installed: Bolt says so"
    assert bot.runtime is not None
    with pytest.raises(NotFound):
        bot.runtime.service.get(ONE, 1)


def test_two_workspaces_each_call_with_its_own_token(bot: LocalBot) -> None:
    assert bot.oauth is not None
    one_channel, two_channel = _two_workspaces(bot)
    one_tokens, two_tokens = bot.oauth.tokens_of(ONE), bot.oauth.tokens_of(TWO)
    assert one_tokens and two_tokens and not one_tokens & two_tokens
    for channel, mine in ((one_channel, one_tokens), (two_channel, two_tokens)):
        calls = _calls_for(bot, channel)
        assert calls, "the incident channel was worked on"
        assert all(token in mine for _, token in calls), calls
    assert not [c for c in bot.oauth.token_calls if c[1] is None], "no call without a token"
    assert _failed_rows(bot) == []
    assert any("Globex" in line for line in bot.lines(two_channel))
    assert any("Acme" in line for line in bot.lines(one_channel))


def test_uninstall_stops_one_workspace_and_reinstall_resumes_it(bot: LocalBot) -> None:
    assert bot.oauth is not None and bot.runtime is not None
    one_channel, two_channel = _two_workspaces(bot)
    old_two = bot.oauth.tokens_of(TWO)

    # TWO's token is revoked without the event reaching us: the outbox holds TWO's work
    for token in old_two:
        bot.oauth.tenants[token].error = "token_revoked"
    with as_team(bot.slack, TWO):
        assert bot.slack.command(bot.events_url, "impact their shop is closed",
                                 user_id="U0TWOAL", channel_id=two_channel).ok
    lifecycle = bot.runtime.worker.runner.ctx.lifecycle
    bot.slack.wait_for(lambda: lifecycle.paused(TWO) is not None, 10)
    # then TWO uninstalls (TWO's held rows stay queued from here on: no `settle`)
    assert uninstall(bot.slack, bot.events_url, TWO).ok
    mark = len(bot.oauth.token_calls)

    # ONE keeps working; TWO's time passes with nothing sent
    bot.clock.advance(timedelta(minutes=70))  # past the sev2 default hour
    bot.runtime.scheduler.run_due()
    assert bot.slack.command(bot.events_url, "update told them we are on it", user_id=ALICE,
                             channel_id=one_channel).ok
    bot.slack.wait_for(lambda: any("told them we are on it" in line
                                   for line in bot.lines(one_channel)), 10)
    after = bot.oauth.token_calls[mark:]
    assert after and not [c for c in after if c[1] in old_two], "the old token is never used"
    assert not any(c[2] == two_channel for c in after), "nothing goes to TWO while uninstalled"
    with as_team(bot.slack, TWO):
        refused = bot.slack.command(bot.events_url, "status", user_id="U0TWOAL",
                                    channel_id=two_channel)
    assert refused.ok and "installation" in bot.slack.responses[-1].text

    # reinstall: held work goes out at once, no command needed
    before = len(bot.lines(two_channel))
    assert bot.install(TWO)[0] == 200
    bot.slack.wait_for(lambda: any("their shop is closed" in line
                                   for line in bot.lines(two_channel)), 10,
                       message="the held update to go out")
    bot.slack.wait_for(lambda: any("due" in line for line in bot.lines(two_channel)[before:]),
                       10, message=f"the reminder that came due during the pause: "
                       f"{bot.lines(two_channel)}")
    new_two = bot.oauth.tokens_of(TWO) - old_two
    assert new_two
    assert all(t in new_two for _, t in _calls_for(bot, two_channel)[-3:])
    assert not [c for c in bot.oauth.token_calls[mark:] if c[1] in old_two]
    assert bot.runtime.worker.runner.ctx.lifecycle.paused(TWO) is None


def test_an_org_wide_install_serves_two_workspaces_of_the_org(bot: LocalBot) -> None:
    assert bot.oauth is not None and bot.runtime is not None
    org, north, south = "E0ORG", "T0NORTH", "T0SOUTH"
    join_org(bot.slack, north, org)
    join_org(bot.slack, south, org)
    assert bot.install(None, enterprise_id=org, org_wide=True)[0] == 200  # type: ignore[arg-type]
    rooms = {}
    for team, user in ((north, "W0NORTH"), (south, "W0SOUTH")):
        bot.slack.add_user(user, user.lower(), tz="UTC")
        rooms[team] = add_team_channel(bot.slack, team, f"support-{team.lower()}",
                                       members=[user])
        with as_team(bot.slack, team, enterprise_id=org, org_wide=True):
            assert bot.command(f"open Initech {team}: reports are blank", user=user,
                               channel=rooms[team].id).ok
    for team in (north, south):
        inc = bot.runtime.service.get(team, 1)
        assert inc.key == "INC-1" and inc.channel_id
        assert bot.oauth.channel_team[inc.channel_id] == team, \
            "the org token's create named the workspace (team_id) it is for"
        assert any("Initech" in line for line in bot.lines(inc.channel_id))
    org_tokens = bot.oauth.tokens_of(north)
    assert org_tokens == bot.oauth.tokens_of(south)
    assert all(t in org_tokens for m, t, _ in bot.oauth.token_calls if m != "oauth.v2.access")
    assert _failed_rows(bot) == []


def test_rotating_tokens_are_refreshed_before_they_expire() -> None:
    with LocalBot(oauth=True, rotation=True) as bot:
        assert bot.oauth is not None
        bot.oauth.expires_in = 3600  # within Bolt's two hours: refreshed before use
        assert bot.install(ONE)[0] == 200
        [first] = bot.oauth.tokens_of(ONE)
        assert first.startswith("xoxe.xoxb-")
        assert bot.command("open Acme: lobby screens down").ok
        assert bot.runtime is not None
        channel = bot.runtime.service.get(ONE, 1).channel_id
        assert channel and any("Acme" in line for line in bot.lines(channel))
        posts = [t for m, t, _ in bot.oauth.token_calls if m == "chat.postMessage"]
        assert posts and first not in posts, "the expiring token was refreshed, not used"
        assert all(t in bot.oauth.tokens_of(ONE) for t in posts)
        assert _failed_rows(bot) == []
        assert bot.slack.violations == []


def test_an_org_token_cannot_create_a_channel_without_naming_the_workspace(bot: LocalBot
                                                                         ) -> None:
    """Slack's conversations.create: `team_id` is "required if org token is used"."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    assert bot.oauth is not None
    join_org(bot.slack, "T0NORTH", "E0ORG")
    assert bot.install(None, enterprise_id="E0ORG", org_wide=True)[0] == 200  # type: ignore[arg-type]
    [token] = bot.oauth.tokens_of("T0NORTH")
    client = WebClient(token=token, base_url=bot.slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        client.conversations_create(name="no-team-named")
    assert refused.value.response["error"] == "missing_argument"
    made = client.conversations_create(name="for-north", team_id="T0NORTH")
    assert bot.oauth.channel_team[made["channel"]["id"]] == "T0NORTH"
