"""One outage, many customers: drafts fan out, cadences stay each customer's own."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.local.localslack import Message
from bot.local.sandbox import ALICE, BOB, CAROL, LocalBot, shown
from playbook.domain.model import Status

CUSTOMERS = [("Acme", ALICE), ("Globex", BOB), ("Initech", CAROL)]


def _with_action(bot: LocalBot, channel: str, action_id: str) -> list[Message]:
    return [m for m in bot.slack.messages(channel) if action_id in json.dumps(m.blocks or [])]


def _outage_channel(bot: LocalBot, number: int = 1) -> str:
    assert bot.runtime is not None
    with bot.runtime.service.sessions() as session:
        from playbook.store import outages as outage_store
        out = outage_store.get_outage(session, bot.slack.team_id, number)
    assert out is not None and out.channel_id is not None, "the outage channel was not created"
    return out.channel_id


def _card_text(bot: LocalBot, channel: str) -> str:
    card = bot.card(channel)
    return shown(card.text, card.blocks)


def _open_three(bot: LocalBot) -> tuple[str, list[str]]:
    reply = bot.command("outage Payments API &lt;eu-1&gt; is down")
    assert "OUT-1" in reply.body["text"], reply.body
    outage = _outage_channel(bot)
    assert bot.slack.channels[outage].name == "out-1-payments-api-eu-1-is-down"
    assert "Attached customers* (0)" in _card_text(bot, outage)
    channels = []
    for number, (customer, owner) in enumerate(CUSTOMERS, start=1):
        bot.command(f"open sev2 {customer}: card payments fail")
        channel = bot.incident_channel(number)
        channels.append(channel)
        for line in ("cadence 30m", "own"):
            assert bot.command(line, channel=channel, user=owner).ok
        reply = bot.command("attach OUT-1", channel=channel, user=owner)
        assert "Attached INC-" in reply.body["text"], reply.body
    return outage, channels


def test_one_update_reaches_three_customers_whose_cadences_stay_separate(bot: LocalBot) -> None:
    outage, channels = _open_three(bot)
    card = _card_text(bot, outage)
    assert "Attached customers* (3)" in card
    assert all(f"INC-{n}" in card for n in (1, 2, 3)) and "Globex" in card
    assert f"<@{BOB}>" in card, "the card names each customer's owner"

    reply = bot.command("update Fix deployed to 50% of traffic; full recovery expected by 3pm",
                        channel=outage)
    assert "as a draft" in reply.body["text"] and "INC-3 (Initech)" in reply.body["text"]
    for channel in channels:
        drafts = _with_action(bot, channel, "draft:log")
        assert len(drafts) == 1, "each attached incident gets the update as a draft"
        assert "Fix deployed to 50% of traffic" in shown(drafts[0].text, drafts[0].blocks)
    assert bot.runtime is not None
    service = bot.runtime.service
    assert [service.get(bot.slack.team_id, n).updates for n in (1, 2, 3)] == [[], [], []], \
        "a draft is not an update until someone logs it"

    bot.advance(timedelta(minutes=20))
    first = _with_action(bot, channels[0], "draft:log")[0]
    assert bot.click("draft:log", message_ts=first.ts, channel=channels[0]).ok
    inc1 = service.get(bot.slack.team_id, 1)
    assert [u.text for u in inc1.updates] == [
        "Fix deployed to 50% of traffic; full recovery expected by 3pm"]
    logged = bot.slack.message(channels[0], first.ts)
    assert logged is not None and "draft:log" not in json.dumps(logged.blocks), \
        "a logged draft loses its buttons"
    assert not _with_action(bot, channels[0], "draft:log")

    bot.advance(timedelta(minutes=15))  # 35 min after the cadence started: 2 and 3 are late
    card = _card_text(bot, outage)
    assert "2 overdue" in card, card
    overdue_lines = [line for line in card.splitlines() if "overdue by" in line]
    assert len(overdue_lines) == 2 and not any("INC-1" in line for line in overdue_lines)
    assert all("<!date^" in line for line in overdue_lines), "when it was due, as a date token"
    inc2 = service.get(bot.slack.team_id, 2)
    assert inc2.updates == [] and len(service.get(bot.slack.team_id, 1).updates) == 1
    assert any("due now" in line for line in bot.lines(channels[1])), \
        "INC-2's own reminder fired: its cadence runs on its own"
    assert not any("due now" in line for line in bot.lines(channels[0]))

    # edit and log: the form is prefilled with the draft, the edited text is what gets logged
    second = _with_action(bot, channels[1], "draft:edit")[0]
    bot.click("draft:edit", user=BOB, message_ts=second.ts, channel=channels[1])
    view = bot.slack.open_views(BOB)[-1]
    assert view["callback_id"] == "modal:draft"
    assert "Fix deployed to 50%" in json.dumps(view["blocks"])
    empty = bot.submit(view["id"], {"text": "   "}, user=BOB)
    assert empty.body["response_action"] == "errors"
    bot.submit(view["id"], {"text": "Globex: fix is rolling out, your region is next"}, user=BOB)
    assert [u.text for u in service.get(bot.slack.team_id, 2).updates] == [
        "Globex: fix is rolling out, your region is next"]

    # dismiss: nothing logged, still overdue
    third = _with_action(bot, channels[2], "draft:dismiss")[0]
    bot.click("draft:dismiss", user=CAROL, message_ts=third.ts, channel=channels[2])
    assert service.get(bot.slack.team_id, 3).updates == []
    card = _card_text(bot, outage)
    late = [line for line in card.splitlines() if "overdue by" in line]
    assert "1 overdue" in card and len(late) == 1 and "INC-3" in late[0]

    listing = bot.command("list").body["text"]
    assert "OUT-1" in listing and "3 customers" in listing and "1 overdue" in listing


def test_resolving_the_outage_prompts_every_attached_incident(bot: LocalBot) -> None:
    outage, channels = _open_three(bot)
    reply = bot.command("resolve rolled back the bad deploy", channel=outage)
    assert "Asked 3 attached incidents" in reply.body["text"], reply.body
    prompts = [_with_action(bot, c, "outage:resolve") for c in channels]
    assert [len(p) for p in prompts] == [1, 1, 1]
    assert bot.runtime is not None
    service = bot.runtime.service
    assert all(service.get(bot.slack.team_id, n).status is Status.OPEN for n in (1, 2, 3)), \
        "a prompt resolves nothing by itself"

    bot.click("outage:resolve", message_ts=prompts[0][0].ts, channel=channels[0])
    view = bot.slack.open_views(ALICE)[-1]
    assert view["callback_id"] == "modal:resolve"
    assert "rolled back the bad deploy" in json.dumps(view["blocks"]), "prefilled"
    bot.submit(view["id"], {"resolution": "rolled back the bad deploy"})
    assert service.get(bot.slack.team_id, 1).status is Status.RESOLVED
    assert "Resolved" in _card_text(bot, outage)
    again = bot.command("resolve twice", channel=outage)
    assert "already resolved" in again.body["text"]


def test_outage_verbs_refuse_with_help(bot: LocalBot) -> None:
    bot.command("outage Login broken")
    outage = _outage_channel(bot)
    assert "customer's incident channel" in bot.command("listen hi", channel=outage).body["text"]
    assert "works in a customer incident" in bot.command("attach OUT-1").body["text"]
    bot.command("open Acme: cannot log in")
    channel = bot.incident_channel()
    assert "no OUT-7" in bot.command("attach OUT-7", channel=channel).body["text"]
    assert "not attached" in bot.command("detach", channel=channel).body["text"]
    bot.command("attach out-1", channel=channel)
    assert "already attached" in bot.command("attach 1", channel=channel).body["text"]
    assert "Detached" in bot.command("detach", channel=channel).body["text"]
    assert "Attached customers* (0)" in _card_text(bot, outage)
    assert "OUT-1" in bot.command("help", channel=outage).body["text"]


def test_open_modal_offers_the_open_outages(bot: LocalBot) -> None:
    bot.command("outage Login broken")
    bot.command("open")
    view = bot.slack.open_views(ALICE)[-1]
    assert "OUT-1" in json.dumps(view["blocks"])
    bot.submit(view["id"], {"customer": "Umbrella", "what": "no logins", "severity": "sev2",
                            "outage": "1"})
    assert "INC-1" in _card_text(bot, _outage_channel(bot))
    assert bot.runtime is not None
    home = bot.slack.app_home_opened(bot.events_url, user_id=ALICE, via=bot.via)
    assert home.ok
    bot.settle()
    view = bot.slack.home(ALICE)
    assert view is not None and "OUT-1" in json.dumps(view["blocks"])


def test_an_outage_name_slack_refuses_falls_back_to_the_number(bot: LocalBot) -> None:
    """The same rule as an incident's channel: `invalid_name_*` leaves `out-<n>`, not a
    refused retry of the readable name until the row gives up."""
    bot.slack.fail_next("conversations.create", "invalid_name_specials")
    assert "OUT-1" in bot.command("outage Payments API is down").body["text"]
    outage = _outage_channel(bot)
    assert bot.slack.channels[outage].name == "out-1"
    assert bot.card(outage), "the card is posted and pinned there"
