"""Under load `/incident open` records only the raw command, acks "recorded", and opens the
incident a moment later (bot/intake.py), telling its number through the command's
response_url. The threshold is forced to 1 here (`CRISISBOT_INTAKE_AFTER`: every open is
"under load"), so one signed request over real HTTP takes the intake path."""

from __future__ import annotations

from sqlalchemy import select

from bot.local.localslack import Reply
from bot.local.sandbox import ALICE, LocalBot
from playbook.store.intake import IntakeRow

UNDER_LOAD = {"intake_after": 1}


def _told(bot: LocalBot, reply: Reply) -> list[str]:
    """What was posted to this request's response_url, in order."""
    url = reply.sent["response_url"]
    return [p.text for p in bot.slack.responses if url.endswith(f"/respond/{p.url_id}")]


def _intake_rows(bot: LocalBot) -> list[tuple[str | None, int | None]]:
    assert bot.runtime is not None
    with bot.runtime.service.sessions() as session:
        return [(r.outcome, r.incident_id) for r in session.execute(
            select(IntakeRow.outcome, IntakeRow.incident_id))]


def test_an_open_under_load_is_acked_recorded_then_opened_once_and_told() -> None:
    with LocalBot(settings=UNDER_LOAD) as bot:
        assert bot.runtime is not None
        reply = bot.command("open Acme Hotels: lobby screens are down")

        assert reply.ok
        ack = reply.body["text"]
        assert "Recorded" in ack and "*Acme Hotels*" in ack and "INC-" not in ack
        told = _told(bot, reply)
        opened = [t for t in told if t.startswith("Opened")]
        assert opened == ["Opened *INC-1* for Acme Hotels. Creating the incident channel…"], told
        assert any("*INC-1* is open" in t for t in told), told
        channel = bot.incident_channel(1)
        assert bot.slack.channels[channel].name == "inc-1-acme-hotels"
        assert len(bot.slack.pins(channel)) == 1, "its card is there"
        incidents = bot.runtime.service.list_incidents(bot.slack.team_id)
        assert [(i.number, i.customer) for i in incidents] == [(1, "Acme Hotels")]
        assert _intake_rows(bot) == [("opened", incidents[0].id)]
        assert bot.slack.violations == []


def test_a_malformed_open_under_load_is_refused_at_once_with_the_text() -> None:
    with LocalBot(settings=UNDER_LOAD) as bot:
        reply = bot.command("open Acme Hotels lobby screens are down")

        text = reply.body["text"]
        assert "colon" in text and "Recorded" not in text
        assert "Your text, so you can try again" in text
        assert "/incident open Acme Hotels lobby screens are down" in text
        assert _intake_rows(bot) == [], "nothing recorded"
        assert _told(bot, reply) == []
        assert bot.slack.violations == []


def test_a_refusal_found_while_opening_is_told_by_the_response_url() -> None:
    with LocalBot(settings=UNDER_LOAD) as bot:
        assert bot.runtime is not None
        reply = bot.command("open sev7 <!channel> Acme: down &amp; out")

        assert "Recorded" in reply.body["text"]
        assert "<!channel>" not in reply.body["text"]
        (told,) = _told(bot, reply)
        assert "Unknown severity `sev7`" in told
        assert "/incident open sev7 @channel Acme: down &amp; out" in told
        assert "<!" not in told, "nothing typed may ping"
        assert bot.runtime.service.list_incidents(bot.slack.team_id) == []
        assert _intake_rows(bot) == [("refused", None)]
        assert bot.slack.violations == []


def test_below_the_threshold_an_open_is_answered_as_before() -> None:
    with LocalBot() as bot:  # the default threshold: one request is no load
        reply = bot.command("open Acme: checkout fails", user=ALICE)

        assert reply.body["text"].startswith("Opened *INC-1* for Acme.")
        assert _intake_rows(bot) == []
        assert not any(t.startswith("Opened") for t in _told(bot, reply))
        assert bot.slack.violations == []


def _counter(text: str, series: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(series))


def test_metrics_count_what_the_intake_recorded_and_what_became_of_it() -> None:
    """An operator sees how often acks fell back to "recorded" and that the drain keeps up."""
    with LocalBot(settings=UNDER_LOAD) as bot:
        assert bot.runtime is not None
        before = bot.runtime.metrics_text().decode()
        assert bot.command("open Acme Hotels: lobby screens are down").ok
        assert bot.command("open sev7 Initech: down").ok  # recorded, refused when opened
        bot.settle()
        after = bot.runtime.metrics_text().decode()

    def grew(series: str) -> float:
        return _counter(after, series) - _counter(before, series)

    assert grew("crisisbot_intake_recorded_total") == 2
    assert grew('crisisbot_intake_processed_total{outcome="opened"}') == 1
    assert grew('crisisbot_intake_processed_total{outcome="refused"}') == 1
    assert "Acme" not in after and "Initech" not in after, "no typed text in the series"


def test_in_socket_mode_an_open_under_load_takes_the_intake_too() -> None:
    """Socket Mode counts its requests in the process's load (bot/socket_mode.py), so a burst
    over the socket is recorded raw and opened a moment later, as one over HTTP."""
    with LocalBot(socket_mode=True, settings=UNDER_LOAD) as bot:
        assert bot.runtime is not None
        reply = bot.command("open Acme Hotels: lobby screens are down")

        assert reply.ok and "Recorded" in reply.body["text"], reply.body
        told = _told(bot, reply)
        assert any(t.startswith("Opened *INC-1* for Acme Hotels") for t in told), told
        incidents = bot.runtime.service.list_incidents(bot.slack.team_id)
        assert [(i.number, i.customer) for i in incidents] == [(1, "Acme Hotels")]
        assert _intake_rows(bot) == [("opened", incidents[0].id)]
        assert bot.slack.violations == []
