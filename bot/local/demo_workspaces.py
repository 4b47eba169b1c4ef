"""The demo's second act: one deployment, two workspaces, each with its own settings.

The bot runs in multi-workspace mode (OAuth installs) against the local Slack: two workspaces
add the app through its install pages, the second one's admin points escalations at its own
leads channel with `/incident settings`, and each workspace opens its own INC-1 in its own
channel. Short on purpose: the first act already walked a whole incident.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.local.localslack.api_oauth import add_team_channel, as_team
from bot.local.sandbox import LocalBot

ONE, TWO = "T0LOCAL", "T0TWO"  # ONE is the local Slack's own workspace
TESS = "U0TESS"


def second_act(say: Callable[[str], None], render: Callable[[str, LocalBot], str]) -> bool:
    """Play the act, printing with `say`; True when both workspaces got their own INC-1."""
    with LocalBot(oauth=True, kind=True) as bot:
        say("\nSecond act: the same app, installed in two workspaces.")
        for team in (ONE, TWO):
            status, _ = bot.install(team)
            say(f"  An admin of {team} clicks \"Add to Slack\" and allows it: "
                f"{'installed' if status == 200 else f'failed ({status})'}.")
        bot.slack.add_user(TESS, "tess", admin=True)
        leads = add_team_channel(bot.slack, TWO, "leads-two", members=[TESS], bot_member=True)
        room = add_team_channel(bot.slack, TWO, "support-two", members=[TESS])
        with as_team(bot.slack, TWO):
            text = f"settings leads-channel <#{leads.id}|leads-two>"
            say(f"tess (an admin of {TWO}) types: /incident {render(text, bot)}")
            say(f"  (only tess sees) {render(bot.command(text, user=TESS, channel=room.id).body['text'], bot)}")  # noqa: E501
        bot.command("open Acme Hotels: lobby screens show a setup error")
        with as_team(bot.slack, TWO):
            bot.command("open Globex: checkout pages time out", user=TESS, channel=room.id)
        assert bot.runtime is not None
        one, two = bot.runtime.service.get(ONE, 1), bot.runtime.service.get(TWO, 1)
        for team, inc in ((ONE, one), (TWO, two)):
            name = bot.slack.channels[inc.channel_id].name if inc.channel_id else "(none)"
            say(f"  {team}: {inc.key} for {inc.customer} in #{name}")
        ok = (one.key == two.key == "INC-1" and one.channel_id is not None
              and one.channel_id != two.channel_id and not bot.slack.violations)
    say("  Each workspace numbers its own incidents, keeps its own settings and gets only its "
        "own token's calls." if ok else "  The second act did not go as planned.")
    return ok
