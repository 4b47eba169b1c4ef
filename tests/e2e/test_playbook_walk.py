"""A team's own playbook file, end to end over HTTP: its wording on the card, its extra gate,
its reminder text."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from bot.local.sandbox import LocalBot
from tests.playbooks import as_toml, edited

PROMPT = "Hear them out & write down their words before anything else."
LABEL = "A verbatim quote from the customer"
NUDGE = "⏳ Heads up {who}: {key} owes the customer an update {due}. Log it with /incident update."


def team_playbook(path: Path) -> Path:
    playbook = edited(lambda d: (
        d.update(name="Acme support"),
        d["steps"]["listen"].update(prompt=PROMPT),
        d["steps"]["listen"]["items"][0].update(label=LABEL),
        d["steps"]["listen"]["items"].append(
            {"key": "contract", "label": "Their contract tier", "required": True,
             "value": True}),
        d["reminders"].update(nudge=NUDGE),
    ))
    path.write_text(as_toml(playbook))
    return path


def card_text(bot: LocalBot, channel: str) -> str:
    return json.dumps(bot.card(channel).blocks, ensure_ascii=False)


def test_a_custom_playbook_file_shapes_the_card_gate_and_reminders(tmp_path: Path) -> None:
    path = team_playbook(tmp_path / "acme.toml")
    with LocalBot(settings={"playbook_path": str(path)}) as bot:
        reply = bot.command("open sev2 Acme Hotels: lobby screens down")
        assert reply.ok, reply.body
        channel = bot.incident_channel()
        card = card_text(bot, channel)
        assert "Hear them out &amp; write down their words" in card
        assert LABEL in card
        assert "Their contract tier _(required)_: `/incident check contract &lt;value&gt;`" in card

        bot.command("listen the screens say Setup WiFi", channel=channel)
        bot.command("cadence 30m", channel=channel)
        card = card_text(bot, channel)
        assert "Step 1 of 5: Listen" in card, "the team's extra item holds the gate"
        help_text = bot.command("help", channel=channel).body["text"]
        assert "their contract tier" in help_text and "/incident check" in help_text

        refused = bot.command("check contract", channel=channel)
        assert "needs a value" in refused.body["text"]
        reply = bot.command("check contract Platinum", channel=channel)
        assert "Ticked *Their contract tier*" in reply.body["text"], reply.body
        card = card_text(bot, channel)
        assert "Step 2 of 5: Restate" in card
        assert any("ticked *Their contract tier*: “Platinum”" in t for t in bot.lines(channel))

        bot.command("own", channel=channel)
        bot.advance(timedelta(minutes=26))
        nudges = [t for t in bot.lines(channel) if t.startswith("⏳ Heads up")]
        assert len(nudges) == 1, bot.lines(channel)
        assert "INC-1 owes the customer an update <!date^" in nudges[0]
        assert bot.slack.violations == [], "payloads Slack would refuse"
