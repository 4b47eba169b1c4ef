"""`crisisbot demo` runs a whole incident through the real app and exits 0."""

from __future__ import annotations

import io

from bot.cli.demo import run_demo


def test_demo_plays_a_whole_incident() -> None:
    out = io.StringIO()
    assert run_demo(out) == 0, out.getvalue()[-2000:]
    text = out.getvalue()
    assert "#inc-1-acme-hotels" in text
    assert "⏰" in text and "🔔" in text and "🚨" in text, "nudge, reminder and escalation shown"
    assert "min late" not in text.split("Nobody updates")[1].split("Bob updates")[0], \
        "reminders fire on time while the bot runs"
    assert "Summary: INC-1" in text and "adherence" in text
    assert "<@U" not in text and "<!date" not in text, "rendered for a terminal"
