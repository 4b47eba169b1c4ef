"""A big incident's summary stays within Slack's limits and loses nothing; exports match."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import blocks
from bot.local.localslack import check_blocks
from playbook.domain import export, rules, verbs
from playbook.domain.model import Actor
from playbook.domain.summary import summarize
from playbook.domain.timeline import corrected
from tests.playbooks import default_policy

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from big_incident import T0, big_incident


def test_big_summary_fits_slack_and_keeps_every_item() -> None:
    inc, timeline = big_incident()
    lines = corrected(timeline)
    messages = blocks.summary_messages(summarize(inc, T0 + timedelta(days=3), lines))
    for msg in messages:
        assert msg["text"], "fallback text"
        assert check_blocks(msg["blocks"]) == []
    shown = json.dumps(messages)
    for promise in inc.promises:
        assert f"item {promise.number - 1}" in shown
    for action in inc.actions:
        assert action.text[:20] in shown
    assert "r" * 2000 in shown, "the root cause is never cut"
    # Slack gets the first part of a very long timeline and where to find the rest
    assert "line 0 " in shown and "line 4999 " not in shown
    assert "crisisbot report INC-42" in shown
    assert "line 4999 " in blocks.summary_markdown(summarize(inc, T0, lines))
    doc = export.report_json(summarize(inc, T0, lines), timeline)
    assert len(doc["timeline"]) == 5000


def test_markdown_of_the_thirty_minute_example() -> None:
    """Three updates against 30 min, one 12 min late: 2 of 3 on time, 42 min longest gap."""
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    alice = Actor("U0ALICE")
    inc = rules.open_incident(team_id="T1", customer="Acme *Corp*", description="down",
                              severity=None, actor=alice, now=t0, policy=default_policy()).incident
    inc.number = 7
    for minutes, line in ((0, "cadence 30m"), (25, "update one"), (55, "update two"),
                          (97, "update three")):
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, alice, now=t0 + timedelta(minutes=minutes),
                                policy=default_policy()).incident
    markdown = blocks.summary_markdown(summarize(inc, t0 + timedelta(minutes=100)))
    assert markdown.startswith("# ") and "INC-7" in markdown.splitlines()[0]
    assert "Acme \\*Corp\\*" in markdown, "user text is Markdown-escaped"
    assert "2 on time, 1 late, 0 missed" in markdown
    assert "67%" in markdown and "42 min" in markdown
    assert "2026-11-23T10:00" in markdown, "ISO UTC times, no Slack date tokens"
    assert "<!date" not in markdown
