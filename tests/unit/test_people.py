"""Lookups made before an ack fall back instead of failing the person's command."""

from __future__ import annotations

import time

from bot.config import Settings
from bot.listeners.deps import People
from bot.slack.client import make_lookup_client


def test_unreachable_slack_costs_the_fallback_not_the_command() -> None:
    settings = Settings(slack_bot_token="xoxb-1-test", timezone="Europe/Paris",
                        slack_api_url="http://127.0.0.1:9/api/",  # discard port: refused
                        leads=("U0LEAD", "S0GROUP"))
    people = People(make_lookup_client(settings), settings)
    start = time.monotonic()
    actor = people.actor("U0BOB", with_tz=True)
    assert actor.tz == "Europe/Paris" and actor.is_lead is False
    assert people.actor("U0LEAD").is_lead is True, "listed users need no lookup"
    assert time.monotonic() - start < 3, "no retries before the ack"
