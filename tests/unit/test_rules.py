"""The incident state machine, with plain data: every verb accepted and refused, every gate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from playbook.domain import rules, verbs
from playbook.domain.errors import GateError, ParseError, PermissionDenied, PlaybookError
from playbook.domain.model import (
    Actor,
    CreateChannel,
    Incident,
    Policy,
    Post,
    PostSummary,
    PromiseStatus,
    RefreshCard,
    Reschedule,
    Status,
    Step,
    Target,
)
from tests.playbooks import default_policy, with_items

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
# the built-in playbook plus one optional item of the team's own, so `check` has something to tick
PB = with_items("listen", {"key": "contract", "label": "Their contract tier", "value": True})
POLICY = Policy(playbook=PB)
ALICE = Actor("U0ALICE", tz="Europe/Paris")
BOB = Actor("U0BOB")
LEAD = Actor("U0LEAD", is_lead=True)


def opened(customer: str = "Acme", when: datetime = T0) -> Incident:
    outcome = rules.open_incident(
        team_id="T1",
        customer=customer,
        description="all lobby screens show a setup error",
        severity=None,
        actor=ALICE,
        now=when,
        policy=POLICY,
    )
    inc = outcome.incident
    inc.id, inc.number, inc.channel_id = 1, 7, "C0INC"
    return inc


def run(
    inc: Incident, *commands: str, actor: Actor = ALICE, at: datetime | None = None
) -> Incident:
    now = at or T0
    for line in commands:
        verb, arg = verbs.split_verb(line)
        now += timedelta(minutes=1)
        inc = rules.run_command(inc, verb, arg, actor, now=now, policy=POLICY).incident
    return inc


LISTENED = ("listen the screens say Setup WiFi, all 12 of them", "cadence 30m")
RESTATED = (*LISTENED, "restate all 12 lobby screens show a setup error", "confirm")
OWNED = (*RESTATED, "own")
SOLVING = (
    *OWNED,
    "option power them down risk: blank screens until morning",
    "recommend 1 brand manager cares most about the error screen",
    "choose 1",
)
RESOLVED = (*SOLVING, "resolve devices powered down, fix deployed")
FOLLOWED = (
    *RESOLVED,
    "update told the IT manager it is fixed",
    "rootcause bad device state",
    "action add a recovery mode <@U0BOB|bob>",
)


def at_state(*commands: str) -> Callable[[], Incident]:
    return lambda: run(opened(), *commands)


# verb -> (state before, an accepted argument, a refused argument or None, error type)
CASES: dict[str, tuple[Callable[[], Incident], str, str | None, type[PlaybookError]]] = {
    "listen": (at_state(), "everything is broken", "   ", ParseError),
    "impact": (at_state(), "the hotel opens tonight", "", ParseError),
    "driver": (at_state(), "looks bad to their brand manager", "", ParseError),
    "cadence": (at_state(), "every 45 minutes", "soonish", ParseError),
    "restate": (at_state(), "all 12 screens show a setup error", "", ParseError),
    "confirm": (at_state("restate twelve screens broken"), "", None, GateError),
    "own": (at_state(), "<@U0BOB|bob>", "@bob", ParseError),
    "comms": (at_state(), "<@U0BOB>", "", ParseError),
    "apology": (at_state(), "we are sorry for the disruption", "", ParseError),
    "option": (
        at_state(),
        "reboot remotely risk: may brick devices",
        "risk: only a risk",
        ParseError,
    ),
    "noticed": (at_state(), "their brand manager saw the error screens", " ", ParseError),
    "context": (at_state(), "a full fix takes a day; relief tonight", "", ParseError),
    "risk": (at_state("option reboot"), "1 may brick the devices", "1", ParseError),
    "recommend": (at_state("option reboot risk: may brick"), "1 fastest relief", "9 nope",
                  PlaybookError),
    "relief": (at_state(), "screens powered down for the night", "", ParseError),
    "leader-call": (at_state(), "called their IT director, promised updates", "", ParseError),
    "choose": (at_state("option reboot"), "1", "4", PlaybookError),
    "promise": (at_state(), "root cause in writing in 2h", "root cause soon", ParseError),
    "kept": (at_state("promise a call in 1h"), "P1", "P9", PlaybookError),
    "update": (at_state(), "we are on it, next update at 3", "", ParseError),
    "send": (
        at_state("own", "customer-channel <#C0CUST|acme-shared>"),
        "Fix in progress.",
        "",
        ParseError,
    ),
    "customer-channel": (at_state(), "<#C0CUST|acme>", "#acme", ParseError),
    "customer-email": (
        at_state("own"),
        "<mailto:it@acme.example|it@acme.example>, ops@acme.example",
        "it.acme.example",
        ParseError,
    ),
    "park": (at_state(), "they want a refund", "", ParseError),
    "resolve": (at_state(), "devices recovered", "", ParseError),
    "rootcause": (at_state(), "a firmware bug", "", ParseError),
    "lesson": (at_state(), "test device recovery", "", ParseError),
    "action": (at_state(), "add a recovery mode <@U0BOB>", "<@U0BOB>", ParseError),
    "done": (at_state("action add monitoring"), "A1", "A5", PlaybookError),
    "checkin": (at_state("resolve fixed"), "C2 all good since the fix", "C7", PlaybookError),
    "check": (at_state(), "contract gold", "contract", ParseError),
    "close": (at_state(*FOLLOWED), "", None, GateError),
    "skip": (at_state("own"), "customer unreachable, restating later", "", ParseError),
    "severity": (at_state(), "sev1", "sev9", ParseError),
    "note": (at_state(), "the customer's CTO joined the call", "   ", ParseError),
    "snooze": (at_state(), "30m on a call with the customer", "30m", ParseError),
    "status": (at_state(), "", None, PlaybookError),
    "summary": (at_state(), "", None, PlaybookError),
    "handover": (at_state("own"), "<@U0BOB|bob> call their CTO at 3pm", "@bob", ParseError),
    "reopen": (at_state(*FOLLOWED, "close"), "the screens froze again", "  ", ParseError),
    "link": (
        at_state(),
        "<https://acme.zendesk.com/agent/tickets/42|ticket 42>",
        "ftp://files.example.com/log.txt",
        ParseError,
    ),
}


# verbs whose accepted case needs someone other than ALICE (a responder)
ACTORS: dict[str, Actor] = {"leader-call": LEAD}


def test_every_command_has_cases() -> None:
    assert set(CASES) == set(verbs.COMMANDS), "add an accept and a reject case for new verbs"


@pytest.mark.parametrize("verb", sorted(CASES))
def test_command_accepted(verb: str) -> None:
    state, good, _, _ = CASES[verb]
    inc = state()
    outcome = rules.run_command(inc, verb, good, ACTORS.get(verb, ALICE),
                                now=T0 + timedelta(hours=1), policy=POLICY)
    assert outcome.reply
    spec = verbs.COMMANDS[verb]
    if spec.changes:
        assert outcome.timeline, f"{verb} leaves a line on the timeline"
    if spec.changes and not spec.timeline_only:
        assert any(isinstance(e, RefreshCard) for e in outcome.effects)
        assert outcome.incident != inc
    assert inc == state(), "the input incident is never mutated"


@pytest.mark.parametrize("verb", sorted(v for v, c in CASES.items() if c[2] is not None))
def test_command_refused(verb: str) -> None:
    state, _, bad, error = CASES[verb]
    assert bad is not None
    with pytest.raises(error) as caught:
        rules.run_command(state(), verb, bad, ALICE, now=T0 + timedelta(hours=1), policy=POLICY)
    assert (
        "`" in caught.value.message
        or "/incident" in caught.value.message
        or "no " in caught.value.message.lower()
    ), "a refusal says how to fix it"


def test_confirm_before_restate_says_how() -> None:
    with pytest.raises(GateError, match="restate"):
        run(opened(), "confirm")


def test_unknown_verb_suggests_the_nearest() -> None:
    with pytest.raises(ParseError, match="restate"):
        rules.run_command(opened(), "restat", "x", ALICE, now=T0, policy=POLICY)


def test_open_creates_channel_with_opener_and_responders_and_default_cadence() -> None:
    outcome = rules.open_incident(
        team_id="T1",
        customer="Acme",
        description="down",
        severity="SEV1",
        actor=ALICE,
        now=T0,
        policy=POLICY,
        responders=("U0BOB", "U0ALICE"),
    )
    create = next(e for e in outcome.effects if isinstance(e, CreateChannel))
    assert create.invite == ("U0ALICE", "U0BOB")
    assert outcome.incident.severity == "sev1"
    assert outcome.incident.cadence == timedelta(minutes=30)
    assert not outcome.incident.cadence_agreed


def test_open_refuses_unknown_severity() -> None:
    with pytest.raises(ParseError, match="sev1"):
        rules.open_incident(
            team_id="T1",
            customer="Acme",
            description="x",
            severity="sev7",
            actor=ALICE,
            now=T0,
            policy=POLICY,
        )


# --- gates --------------------------------------------------------------------------------------


def test_listen_needs_words_and_agreed_cadence() -> None:
    inc = run(opened(), "listen it is all broken")
    assert inc.step is Step.LISTEN, "the default cadence is not an agreed one"
    inc = run(inc, "cadence 30m")
    assert inc.step is Step.RESTATE
    assert inc.step_record(Step.LISTEN) is not None


def test_restate_needs_confirmation_and_a_new_restatement_needs_it_again() -> None:
    inc = run(opened(), *LISTENED, "restate twelve screens down")
    assert inc.step is Step.RESTATE
    inc = run(inc, "confirm")
    assert inc.step is Step.OWN
    inc = run(inc, "restate actually eleven screens")
    assert inc.restatement_confirmed_at is None


def test_data_recorded_early_counts_once_the_gate_opens() -> None:
    inc = run(opened(), "own", "option reboot", "choose 1", "resolve rebooted", *LISTENED)
    assert inc.step is Step.RESTATE, "own/solve data waits behind restate"
    inc = run(inc, "restate screens down", "confirm")
    assert inc.step is Step.FOLLOW_UP
    assert [r.step for r in inc.steps] == [Step.LISTEN, Step.RESTATE, Step.OWN, Step.SOLVE]


def test_solve_needs_a_chosen_option_and_a_resolution() -> None:
    inc = run(opened(), *OWNED, "resolve rebooted")
    assert inc.step is Step.SOLVE
    inc = run(inc, "option reboot", "choose 1")
    assert inc.step is Step.FOLLOW_UP


def test_follow_up_needs_informed_customer_root_cause_and_action() -> None:
    inc = run(opened(), *RESOLVED, "rootcause bad state", "action add recovery mode")
    assert inc.step_record(Step.FOLLOW_UP) is None
    inc = run(inc, "update it is fixed")
    assert inc.customer_informed_at is not None
    assert inc.step_record(Step.FOLLOW_UP) is not None


def test_close_lists_everything_missing() -> None:
    inc = run(opened(), *RESOLVED)
    with pytest.raises(GateError) as caught:
        run(inc, "close")
    message = caught.value.message
    assert "root cause" in message and "/incident rootcause" in message
    assert "prevention action" in message
    assert "told it is resolved" in message


def test_close_only_by_owner_or_lead() -> None:
    inc = run(opened(), *FOLLOWED)
    with pytest.raises(PermissionDenied, match="owner"):
        run(inc, "close", actor=BOB)
    closed = run(inc, "close", actor=LEAD)
    assert closed.status is Status.CLOSED
    outcome = rules.run_command(inc, "close", "", ALICE, now=T0 + timedelta(hours=2), policy=POLICY)
    assert PostSummary(Target.LEADS) in outcome.effects


def test_closed_incident_refuses_changes_but_shows_status() -> None:
    inc = run(opened(), *FOLLOWED, "close")
    with pytest.raises(PlaybookError, match="closed"):
        run(inc, "listen more words")
    assert rules.run_command(inc, "status", "", ALICE, now=T0, policy=POLICY).reply


def test_skip_needs_owner_or_lead_and_a_reason_which_is_recorded() -> None:
    inc = run(opened(), "listen words")
    with pytest.raises(PermissionDenied, match="lead"):
        run(inc, "skip no time", actor=BOB)
    with pytest.raises(ParseError):
        run(inc, "skip", actor=LEAD)
    inc = run(inc, "skip customer would not agree a cadence", actor=LEAD)
    record = inc.step_record(Step.LISTEN)
    assert record is not None and record.skipped_reason == "customer would not agree a cadence"
    assert inc.step is Step.RESTATE


def test_reassigning_the_owner_is_for_owner_or_lead() -> None:
    inc = run(opened(), "own")
    with pytest.raises(PermissionDenied):
        run(inc, "own", actor=BOB)
    inc = run(inc, "own <@U0BOB>", actor=ALICE)
    assert inc.owner == "U0BOB"


# --- cadence, promises, voice ------------------------------------------------------------------


def test_update_restarts_the_clock_and_asks_for_reschedule() -> None:
    inc = run(opened(), "cadence 30m")
    outcome = rules.run_command(
        inc, "update", "still on it", ALICE, now=T0 + timedelta(minutes=20), policy=POLICY
    )
    assert outcome.incident.last_update_at == T0 + timedelta(minutes=20)
    assert Reschedule() in outcome.effects


def test_cadence_under_a_minute_is_refused() -> None:
    with pytest.raises(ParseError):
        run(opened(), "cadence 0m")


def test_promise_in_the_past_is_refused() -> None:
    with pytest.raises(ParseError, match="passed"):
        # 13:01 in Paris is 12:01 UTC, already past at 13:00 UTC... 8am Paris is long gone
        run(opened(), "promise a call by 8am")


def test_promise_uses_the_typing_users_zone() -> None:
    inc = run(opened(), "promise a call by 3pm")  # Alice is in Paris: 15:00 CET = 14:00 UTC
    assert inc.promises[0].due_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_kept_twice_is_refused() -> None:
    inc = run(opened(), "promise call back in 1h", "kept P1")
    assert inc.promises[0].status is PromiseStatus.KEPT
    with pytest.raises(PlaybookError, match="already"):
        run(inc, "kept P1")


def test_send_goes_only_to_the_customer_channel_and_only_from_the_voice() -> None:
    inc = run(opened(), "own", "comms <@U0BOB>", "customer-channel <#C0CUST>")
    with pytest.raises(PermissionDenied):
        rules.run_command(inc, "send", "hello", Actor("U0EVE"), now=T0, policy=POLICY)
    outcome = rules.run_command(
        inc, "send", "We found it <!channel>", BOB, now=T0 + timedelta(hours=1), policy=POLICY
    )
    posts = [e for e in outcome.effects if isinstance(e, Post)]
    assert [p.target for p in posts] == [Target.CUSTOMER]
    assert "<!channel>" not in posts[0].text and "We found it @channel" in posts[0].text
    assert outcome.incident.updates[-1].sent_to_channel


def test_internal_commands_never_post_to_the_customer() -> None:
    inc = run(opened(), "own", "customer-channel <#C0CUST>")
    for line in (
        "listen words",
        "option reboot risk: x",
        "park refund",
        "rootcause y",
        "lesson z",
        "update told them",
        "resolve fixed",
    ):
        verb, arg = verbs.split_verb(line)
        outcome = rules.run_command(
            inc, verb, arg, ALICE, now=T0 + timedelta(hours=1), policy=POLICY
        )
        assert not [
            e for e in outcome.effects if isinstance(e, Post) and e.target is Target.CUSTOMER
        ], line


def test_user_text_is_escaped_in_timeline() -> None:
    outcome = rules.run_command(
        opened(), "listen", "<!here> &lt;b&gt; *hi* <@U0X|x>", ALICE, now=T0, policy=POLICY
    )
    line = outcome.timeline[0].text
    assert "<!here>" not in line and "<@U0X" not in line
    assert "@here &lt;b&gt; *hi* @x" in line, "shown as typed, but inert"
    assert outcome.incident.customer_words == ["@here <b> *hi* @x"], "stored as typed"


def test_resolve_schedules_checkins() -> None:
    inc = run(opened(), "resolve fixed")
    assert [c.due_at - inc.resolved_at for c in inc.checkins] == list(POLICY.checkins)


def test_raising_severity_tells_the_leads_and_moves_default_cadence() -> None:
    outcome = rules.run_command(opened(), "severity", "sev1", ALICE, now=T0, policy=POLICY)
    assert any(isinstance(e, Post) and e.target is Target.LEADS for e in outcome.effects)
    assert outcome.incident.cadence == timedelta(minutes=30)


def test_channel_name_is_valid_for_slack() -> None:
    inc = opened("Café Ünïcode & Sons, Inc. " * 10)
    name = rules.channel_name(inc)
    assert len(name) <= 80 and name == name.lower()
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    assert rules.channel_name(inc, 2) != name
    assert rules.channel_name(opened("東京")).startswith("inc-7-")


def test_help_in_an_incident_says_what_is_missing_next() -> None:
    text = verbs.help_text(run(opened(), "listen words"), PB)
    assert text.startswith("*INC-7*")
    assert "/incident cadence" in text.splitlines()[0]


def test_usage_texts_never_contain_raw_angle_brackets() -> None:
    """Slack reads `<…>` as a link or mention even in code spans: placeholders are escaped."""
    import re

    raw = re.compile(r"<(?![@#!])")
    texts = [spec.usage for spec in verbs.COMMANDS.values()]
    texts += list(verbs.SHELL_COMMANDS.values())
    texts += [item.how for d in PB.steps.values() for item in d.items]
    texts += [verbs.help_text(None, PB), verbs.help_text(opened(), PB)]
    assert not [t for t in texts if raw.search(t)]
    for verb, (state, _, bad, _) in CASES.items():
        if bad is None:
            continue
        try:
            rules.run_command(state(), verb, bad, ALICE, now=T0 + timedelta(hours=1),
                              policy=POLICY)
        except PlaybookError as err:
            assert not raw.search(err.message), (verb, err.message)


def test_checkins_can_be_recorded_after_close() -> None:
    inc = run(opened(), *FOLLOWED, "close")
    inc = run(inc, "checkin they are happy")
    assert inc.checkins[0].done_at is not None and inc.checkins[1].done_at is None
    inc = run(inc, "checkin")
    with pytest.raises(PlaybookError, match="no check-in waiting"):
        run(inc, "checkin")


def test_channel_names_fall_back_to_the_number_and_count_on_after_name_taken() -> None:
    inc = rules.open_incident(team_id="T1", customer="Ünïcode & Co", description="down",
                              severity=None, actor=Actor("U1"), now=T0,
                              policy=default_policy()).incident
    inc.number = 7
    assert [rules.channel_name(inc, n) for n in (0, 1)] == [
        "inc-7-unicode-co", "inc-7-unicode-co-2"]
    assert [rules.plain_channel_name(inc, n) for n in (0, 2)] == ["inc-7", "inc-7-3"]
    assert len(rules.numbered("x" * 80, 9)) == 80
