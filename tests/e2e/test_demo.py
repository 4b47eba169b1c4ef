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
    assert "min late" not in text.split("Nobody updates")[1].split("Bob emails")[0], \
        "reminders fire on time while the bot runs"
    assert "Summary: INC-1" in text and "adherence" in text
    assert "<@U" not in text and "<!date" not in text, "rendered for a terminal"
    inbox = text.split("The customer's inbox:")
    assert len(inbox) == 3, "both emails shown as the customer reads them"
    assert "Subject: [INC-1] Acme Hotels" in inbox[1] and "bob · Acme Support" in inbox[1]
    assert "In-Reply-To <" in inbox[2], "the second email is in the same thread"
    assert "The customer replied by email" in text and "Call me before 7am?" in text
