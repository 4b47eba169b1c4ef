"""Outage rules with plain data: every verb accepted and refused, fan-out, overdue, prompts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.blocks.outage import draft_message, outage_card, resolve_prompt
from playbook.domain import outage, rules, verbs
from playbook.domain.errors import NotFound, ParseError, PlaybookError
from playbook.domain.model import Actor, Incident, Status
from playbook.domain.outage import Draft, DraftStatus, Outage, OutageCtx, OutageStatus
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE")
POLICY = default_policy()


def incident(number: int, customer: str, *commands: str, at: datetime = T0) -> Incident:
    inc = rules.open_incident(team_id="T1", customer=customer, description="cards fail",
                              severity=None, actor=ALICE, now=at, policy=POLICY).incident
    inc.id, inc.number, inc.channel_id = number, number, f"C{number}"
    for line in commands:
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, ALICE, now=at, policy=POLICY).incident
    return inc


def the_outage(**kw: object) -> Outage:
    out = Outage("T1", 3, "Payments API down", "U0ALICE", T0, id=30, channel_id="C0OUT")
    for key, value in kw.items():
        setattr(out, key, value)
    return out


def three() -> list[Incident]:
    return [incident(1, "Acme", "cadence 30m", "own"),
            incident(2, "Globex", "cadence 1h"),
            incident(3, "Initech", "cadence 30m", "resolve fixed", "update told them")]


def ctx(**kw: object) -> OutageCtx:
    base = OutageCtx(now=T0 + timedelta(minutes=5), actor=ALICE, team_id="T1",
                     find=lambda n: the_outage() if n == 3 else None)
    for key, value in kw.items():
        setattr(base, key, value)
    return base


# verb -> (context, an accepted argument, a refused argument, error type)
CASES: dict[str, tuple[Callable[[], OutageCtx], str, str, type[PlaybookError]]] = {
    "outage": (ctx, "Payments API down in EU", "   ", ParseError),
    "attach": (lambda: ctx(incident=incident(1, "Acme")), "OUT-3", "OUT-9", NotFound),
    "detach": (lambda: ctx(incident=incident(1, "Acme"), current=the_outage()), "", "",
               PlaybookError),
    "update": (lambda: ctx(outage=the_outage(), attached=three()), "fix rolling out", "",
               ParseError),
    "resolve": (lambda: ctx(outage=the_outage(), attached=three()), "rolled back", " ",
                ParseError),
    "status": (lambda: ctx(outage=the_outage(), attached=three()), "", "", PlaybookError),
}
REFUSED_CTX: dict[str, Callable[[], OutageCtx]] = {
    "detach": lambda: ctx(incident=incident(1, "Acme")),  # not attached
    "status": ctx,  # not in an outage channel
}


def test_every_outage_verb_has_cases() -> None:
    assert set(CASES) == set(outage.SHELL_VERBS) | set(outage.CHANNEL_VERBS)


@pytest.mark.parametrize("verb", sorted(CASES))
def test_outage_verb_accepted(verb: str) -> None:
    make, good, _, _ = CASES[verb]
    spec = outage.SHELL_VERBS.get(verb) or outage.CHANNEL_VERBS[verb]
    before = make()
    result = spec.handler(good, before)
    assert result.reply
    if spec.changes:
        assert result.outage is not None or result.link is not None
    if before.outage is not None:
        assert before.outage == the_outage(), "the input outage is never mutated"


@pytest.mark.parametrize("verb", sorted(CASES))
def test_outage_verb_refused(verb: str) -> None:
    make, _, bad, error = CASES[verb]
    spec = outage.SHELL_VERBS.get(verb) or outage.CHANNEL_VERBS[verb]
    with pytest.raises(error) as caught:
        spec.handler(bad, REFUSED_CTX.get(verb, make)())
    assert "`" in caught.value.message or "/incident" in caught.value.message


@pytest.mark.parametrize("typed,number", [("OUT-3", 3), ("out-12", 12), ("OUT3", 3), ("7", 7),
                                          (" OUT-3 ", 3)])
def test_parse_ref_accepts(typed: str, number: int) -> None:
    assert outage.parse_ref(typed) == number


@pytest.mark.parametrize("typed", ["", "INC-3", "OUT-", "three", "OUT-3 OUT-4", "&lt;OUT-3&gt;"])
def test_parse_ref_refuses(typed: str) -> None:
    with pytest.raises(ParseError, match="attach OUT-3"):
        outage.parse_ref(typed)


def test_attach_refusals_say_what_to_do() -> None:
    closed = incident(1, "Acme")
    closed.status = Status.CLOSED
    with pytest.raises(PlaybookError, match="closed"):
        outage.attach("OUT-3", ctx(incident=closed))
    with pytest.raises(PlaybookError, match="detach"):
        outage.attach("OUT-3", ctx(incident=incident(1, "Acme"),
                                   current=the_outage(id=31, number=4)))
    resolved = ctx(incident=incident(1, "Acme"),
                   find=lambda n: the_outage(status=OutageStatus.RESOLVED))
    with pytest.raises(PlaybookError, match="resolved"):
        outage.attach("OUT-3", resolved)
    with pytest.raises(PlaybookError, match="incident's channel"):
        outage.attach("OUT-3", ctx())


def test_update_becomes_one_draft_per_live_customer_and_no_update() -> None:
    attached = three()
    attached[1].status = Status.CLOSED
    result = outage.post_update("fix is rolling out &lt;eu&gt;", ctx(outage=the_outage(),
                                                                      attached=attached))
    assert [d.incident_id for d in result.drafts] == [1, 3], "closed incidents get none"
    assert {d.text for d in result.drafts} == {"fix is rolling out <eu>"}
    assert all(d.status is DraftStatus.PENDING and d.update_number == 1 for d in result.drafts)
    assert result.outage is not None and len(result.outage.updates) == 1
    assert [len(i.updates) for i in attached] == [0, 0, 1], "no incident's updates change"
    assert "&lt;eu&gt;" in result.outage_posts[0], "user text is escaped when posted"


def test_update_with_nobody_attached_says_how_to_attach() -> None:
    result = outage.post_update("fix", ctx(outage=the_outage()))
    assert result.drafts == [] and "/incident attach OUT-3" in result.reply


def test_overdue_lists_the_late_customers_most_late_first() -> None:
    attached = three()
    now = T0 + timedelta(minutes=70)  # Acme due at 30, Globex at 60
    late = outage.overdue(attached, now)
    assert [(r.key, r.overdue_by) for r in late] == [
        ("INC-1", timedelta(minutes=40)), ("INC-2", timedelta(minutes=10))], \
        "Initech was told it is resolved: no cadence runs for it any more"
    assert outage.overdue(attached, T0 + timedelta(minutes=10)) == []
    rows = outage.customer_rows(attached, now)
    assert [r.key for r in rows] == ["INC-1", "INC-2", "INC-3"] and rows[0].owner == "U0ALICE"
    text = outage.row_text(late[-1])
    assert "overdue by 10 min" in text and "<!date^" in text


def test_resolve_prompts_only_incidents_not_yet_resolved() -> None:
    attached = three()
    result = outage.resolve("rolled back the deploy", ctx(outage=the_outage(),
                                                          attached=attached))
    assert result.prompts == [1, 2], "INC-3 is resolved already"
    assert result.outage is not None and result.outage.status is OutageStatus.RESOLVED
    assert all(i.status is not Status.RESOLVED or i.id == 3 for i in attached), \
        "a prompt resolves nothing by itself"
    with pytest.raises(PlaybookError, match="already resolved"):
        outage.resolve("again", ctx(outage=result.outage, attached=attached))


def test_card_and_messages_fit_slack() -> None:
    many = [incident(n, f"Customer {n} & <Co>", "cadence 30m") for n in range(1, 61)]
    card = outage_card(the_outage(title="x" * 200), many, T0 + timedelta(hours=1))
    assert len(card["blocks"]) <= 50 and card["text"]
    text = json.dumps(card)
    assert "&lt;Co&gt;" in text and "<Co>" not in text
    assert "60 overdue" in text and "more" in text
    draft = Draft(30, 1, 2, "we are <on> it", T0, id=5)
    msg = json.dumps(draft_message(draft, many[0], the_outage()))
    assert all(a in msg for a in ("draft:log", "draft:edit", "draft:dismiss"))
    assert "&lt;on&gt;" in msg
    draft.status, draft.settled_by = DraftStatus.LOGGED, "U0BOB"
    settled = json.dumps(draft_message(draft, many[0], the_outage()))
    assert "draft:log" not in settled and "<@U0BOB>" in settled
    prompt = json.dumps(resolve_prompt(many[0], the_outage(resolution="rolled back")))
    assert "outage:resolve" in prompt and '"1:30"' in prompt


def test_home_with_outages_and_full_lists_stays_under_slack_limits() -> None:
    from bot.blocks import home
    from bot.blocks.outage import outage_lines

    many = [incident(n, f"Customer {n}", "cadence 30m") for n in range(1, 61)]
    outages = [(the_outage(number=n, id=100 + n), many[:3]) for n in range(1, 31)]
    lines = outage_lines(outages, T0 + timedelta(hours=1))
    assert len(lines) == 30 and "3 customers · *3 overdue*" in lines[0]
    view = home("U1", many, many, T0 + timedelta(hours=1), lines)
    assert len(view["blocks"]) <= 100
    text = json.dumps(view)
    assert "Open outages* (30)" in text and "OUT-20" in text and "OUT-21 " not in text
