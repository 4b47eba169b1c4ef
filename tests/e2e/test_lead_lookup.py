"""A lead by user group stays a lead when Slack fails one lookup of the group.

Before the fix one 429 on usergroups.users.list was cached as "no members" for ten minutes:
every lead by group was refused as a non-lead, without a word about why. Now the refusal says
the group could not be checked, and the group is read again off the ack path, so the lead's next
try works.
"""

from __future__ import annotations

from bot.local.sandbox import BOB, CAROL, LocalBot


def test_a_failed_group_lookup_is_said_and_not_remembered() -> None:
    # Bob is a lead by name (no group lookup), Carol only through the group
    with LocalBot(settings={"leads": (BOB, "S0LEADS")}) as bot:
        bot.slack.add_usergroup("S0LEADS", "crisis-leads", [CAROL])
        bot.command("open Acme: lobby screens down", user=BOB)
        channel = bot.incident_channel()
        bot.command("own", user=BOB, channel=channel)
        bot.slack.fail_next("usergroups.users.list", "ratelimited", retry_after=30)
        refused = bot.command("skip the customer is unreachable today", user=CAROL,
                              channel=channel)
        assert "couldn't check the lead groups" in refused.body["text"], refused.body
        bot.slack.wait_for(lambda: bot.slack.call_count("usergroups.users.list") >= 2,
                           message="the group to be read again off the ack path")
        done = bot.command("skip the customer is unreachable today", user=CAROL,
                           channel=channel)
        assert "Skipped" in done.body["text"], done.body
        assert bot.slack.violations == []
