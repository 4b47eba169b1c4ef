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


def test_the_demo_shows_every_reminder_exactly_once_run_after_run() -> None:
    """The demo's clock jumps minutes at a time; a jump past an outbox lease while a reminder
    was being posted handed the row to a second thread, which posted it again (about one run
    in four). 20 runs, in-process, about 1.5 s each: every nudge, due reminder and escalation
    appears once in the channel, and the escalation once in the leads channel."""
    for run in range(20):
        out = io.StringIO()
        assert run_demo(out) == 0, out.getvalue()[-2000:]
        lapse = out.getvalue().split("Nobody updates")[1].split("Bob updates")[0]
        channel = [line for line in lapse.splitlines() if "#inc-1-acme-hotels │" in line]
        leads = [line for line in lapse.splitlines() if "#crisis-leads │" in line]
        seen = {e: sum(e in line for line in channel) for e in ("⏰", "🔔", "🚨")}
        assert seen == {"⏰": 1, "🔔": 1, "🚨": 1}, (run, seen, lapse)
        assert sum("🚨" in line for line in leads) == 1, (run, lapse)
