"""Issue 19, the playbook's depth: relief before the fix, how they noticed, honest risks, the
next step in every update, a leader's call, and the figures they add (golden values)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.blocks.summary import summary_markdown
from playbook.domain import export, rules, stats, verbs
from playbook.domain.cadence import ReminderKind, due_reminders, upcoming
from playbook.domain.errors import GateError, ParseError, PermissionDenied, PlaybookError
from playbook.domain.model import Actor, Incident, Policy, Post, Target
from playbook.domain.parse.next_step import names_next_step
from playbook.domain.reminders import fire
from playbook.domain.summary import summarize
from tests.playbooks import default_policy, edited

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE", tz="Europe/Paris")
BOB = Actor("U0BOB")
LEAD = Actor("U0LEAD", is_lead=True)
POLICY = default_policy()


def opened(severity: str | None = None, policy: Policy = POLICY, when: datetime = T0,
           customer: str = "Acme") -> Incident:
    inc = rules.open_incident(team_id="T1", customer=customer, description="screens down",
                              severity=severity, actor=ALICE, now=when, policy=policy).incident
    inc.id, inc.number, inc.channel_id = 1, 7, "C0INC"
    return inc


def run(inc: Incident, *script: tuple[int, str], actor: Actor = ALICE,
        policy: Policy = POLICY) -> Incident:
    """Run `(minutes after open, command)` lines."""
    for minutes, text in script:
        verb, arg = verbs.split_verb(text)
        inc = rules.run_command(inc, verb, arg, actor, now=inc.opened_at
                                + timedelta(minutes=minutes), policy=policy).incident
    return inc


def reply(inc: Incident, text: str, minutes: int = 1, actor: Actor = ALICE) -> str:
    verb, arg = verbs.split_verb(text)
    return rules.run_command(inc, verb, arg, actor, now=inc.opened_at + timedelta(minutes=minutes),
                             policy=POLICY).reply


# --- immediate relief first, the lasting fix after ------------------------------------------------

def test_relief_option_prefix_and_the_checklist_item() -> None:
    inc = run(opened(), (1, "option relief: power the screens down tonight risk: dark lobby"),
              (2, "option reflash the firmware risk: a day of work"))
    assert [(o.number, o.relief) for o in inc.options] == [(1, True), (2, False)]
    assert inc.options[0].text == "power the screens down tonight"
    item = POLICY.playbook.item("relief")
    assert item is not None and not item[1].done(inc)
    inc = run(inc, (3, "relief screens powered down for the night"))
    assert item[1].done(inc) and inc.relief_at == T0 + timedelta(minutes=3)


def test_relief_is_refused_twice_and_after_the_fix() -> None:
    inc = run(opened(), (1, "relief screens off"))
    with pytest.raises(PlaybookError, match="already recorded"):
        run(inc, (2, "relief again"))
    with pytest.raises(PlaybookError, match="already resolved"):
        run(opened(), (1, "resolve firmware fixed"), (2, "relief screens off"))


def test_resolve_without_relief_hints_but_does_not_block() -> None:
    text = reply(opened(), "resolve firmware fixed")
    assert "Marked resolved" in text and "`/incident relief" in text
    inc = run(opened(), (1, "relief screens off"))
    assert "/incident relief" not in reply(inc, "resolve firmware fixed", 5)


# --- what brought it to their attention, and our context ------------------------------------------

def test_noticed_and_context_are_optional_listen_items_a_playbook_can_require() -> None:
    inc = run(opened(), (1, "listen the lobby shows an error"), (2, "cadence 30m"))
    assert inc.step.value == "restate", "optional by default"
    strict = edited(lambda d: [i.update(required=True) for i in d["steps"]["listen"]["items"]
                               if i["key"] in ("noticed", "context")])
    policy = Policy(playbook=strict)
    inc = run(opened(policy=policy), (1, "listen the lobby shows an error"), (2, "cadence 30m"),
              policy=policy)
    assert inc.step.value == "listen"
    inc = run(inc, (3, "noticed their brand manager saw it"),
              (4, "context a full fix takes a day, relief tonight"), policy=policy)
    assert inc.step.value == "restate"
    assert (inc.noticed, inc.context_given) == ("their brand manager saw it",
                                                "a full fix takes a day, relief tonight")


# --- honest about risks ---------------------------------------------------------------------------

def test_recommend_needs_a_stated_risk_and_risk_adds_one() -> None:
    inc = run(opened(), (1, "option reboot remotely"))
    with pytest.raises(GateError, match="what could go wrong") as caught:
        run(inc, (2, "recommend 1 fastest"))
    assert "/incident risk 1" in caught.value.message
    inc = run(inc, (2, "risk 1 may brick two devices"), (3, "recommend 1 fastest"))
    assert inc.recommended == 1 and inc.options[0].risk == "may brick two devices"


def test_the_owner_or_a_lead_can_recommend_without_a_risk_giving_a_reason() -> None:
    inc = run(opened(), (1, "own"), (2, "option reboot remotely"))
    with pytest.raises(PermissionDenied):
        run(inc, (3, "recommend 1 fastest skip: nothing can break"), actor=BOB)
    outcome = rules.run_command(inc, "recommend", "1 fastest skip: it only restarts the player",
                                ALICE, now=T0 + timedelta(minutes=3), policy=POLICY)
    assert outcome.incident.recommended == 1
    assert "it only restarts the player" in outcome.timeline[0].text
    with pytest.raises(ParseError):
        run(inc, (3, "recommend 1 fastest skip:"))


# --- every update says what happens next and when -------------------------------------------------

NEXT_STEP_GOLDEN = [
    ("Next update at 15:30", True),
    ("we'll call you back by 3pm", True),
    ("fix expected by 3 p.m.", True),
    ("patch goes out tomorrow", True),
    ("we will update you in 30 minutes", True),
    ("more within the hour", True),
    ("next update in 1h", True),
    ("we'll keep you posted", True),
    ("I will follow up with the root cause", True),
    ("ETA for the fix is unclear but we are on it", True),
    ("back to you on Monday", True),
    ("status every 2 hours until fixed", True),
    ("engineers are on it tonight", True),
    ("by end of day", True),
    ("we are looking into it", False),
    ("sorry, the screens are still down", False),
    ("we have been down for 2 hours", False),
    ("the team knows about it", False),
    ("", False),
]


@pytest.mark.parametrize(("text", "named"), NEXT_STEP_GOLDEN)
def test_names_next_step_golden(text: str, named: bool) -> None:
    assert names_next_step(text) is named


def test_an_update_without_a_next_step_gets_a_paste_ready_line_in_the_actors_zone() -> None:
    inc = run(opened(), (1, "cadence 30m"))
    text = reply(inc, "update we are looking into it", 10)
    # the clock restarts at 13:10 UTC; Alice reads Paris time (CET in November)
    assert "Logged the customer update" in text and "`Next update by 14:40 CET`" in text
    assert "Tip" not in reply(inc, "update we are on it, next update at 14:40", 10)


def test_send_plus_next_appends_the_date_token_and_hints_without_it() -> None:
    inc = run(opened(), (1, "own"), (2, "cadence 30m"), (3, "customer-channel <#C0CUST|acme>"))
    out = rules.run_command(inc, "send", "We are restoring the screens. +next", ALICE,
                            now=T0 + timedelta(minutes=10), policy=POLICY)
    post = next(e for e in out.effects if isinstance(e, Post) and e.target is Target.CUSTOMER)
    assert post.text.startswith("We are restoring the screens.\nNext update by <!date^")
    assert out.incident.updates[-1].text == "We are restoring the screens."
    plain = rules.run_command(inc, "send", "We are restoring the screens.", ALICE,
                              now=T0 + timedelta(minutes=10), policy=POLICY)
    post = next(e for e in plain.effects if isinstance(e, Post) and e.target is Target.CUSTOMER)
    assert post.text == "We are restoring the screens."
    assert "`+next`" in plain.reply


# --- a leader reaches out -------------------------------------------------------------------------

def test_sev1_asks_for_a_leader_call_and_other_severities_do_not() -> None:
    inc = opened("sev1")
    assert inc.leader_call_due_at == T0 + timedelta(minutes=30)
    assert opened("sev2").leader_call_due_at is None
    off = opened("sev1", default_policy(leader_call=None))
    assert off.leader_call_due_at is None


def test_a_playbook_file_sets_the_leader_call_per_severity() -> None:
    def change(d: dict) -> None:
        d["severities"][0]["leader_call"] = "off"
        d["severities"][1]["leader_call"] = "1h"
    policy = Policy(playbook=edited(change))
    assert opened("sev1", policy).leader_call_due_at is None
    assert opened("sev2", policy).leader_call_due_at == T0 + timedelta(hours=1)


def test_raising_to_sev1_asks_and_lowering_clears_an_unmade_call() -> None:
    inc = opened("sev2")
    out = rules.run_command(inc, "severity", "sev1", ALICE, now=T0 + timedelta(minutes=5),
                            policy=POLICY)
    assert out.incident.leader_call_due_at == T0 + timedelta(minutes=35)
    assert "contact the customer personally" in out.reply
    lowered = run(out.incident, (6, "severity sev2"))
    assert lowered.leader_call_due_at is None


def test_leader_call_reminders_ask_remind_and_escalate_then_stop() -> None:
    inc = opened("sev1")
    policy = POLICY  # escalate after 15m, repeat 30m
    kinds = [(r.kind, r.due_at - T0) for r in due_reminders(inc, policy, T0)
             if r.kind.value.startswith("leader")]
    assert kinds == [(ReminderKind.LEADER_ASK, timedelta(0))]
    ask = fire(inc, due_reminders(inc, policy, T0)[0], T0, policy)
    assert ask is not None
    assert [e.target for e in ask.effects if isinstance(e, Post)] == [Target.LEAD_DMS]
    at_due = T0 + timedelta(minutes=30)
    assert [r.kind for r in due_reminders(inc, policy, at_due)
            if r.kind.value.startswith("leader")] == [ReminderKind.LEADER_DUE]
    later = T0 + timedelta(minutes=76)  # escalations at 45 and 75 min: only the latest
    leader = [r for r in due_reminders(inc, policy, later) if r.kind.value.startswith("leader")]
    assert [(r.kind, r.due_at - T0, r.ref) for r in leader] == [
        (ReminderKind.LEADER_DUE, timedelta(minutes=30), ""),
        (ReminderKind.LEADER_ESCALATE, timedelta(minutes=75), "2")]
    escalation = fire(inc, leader[1], later, policy)
    assert escalation is not None
    assert [e.target for e in escalation.effects if isinstance(e, Post)] == [Target.LEADS]
    called = run(inc, (40, "leader-call spoke to their COO, apologised"), actor=LEAD)
    assert not [r for r in due_reminders(called, policy, later)
                if r.kind.value.startswith("leader")]
    assert not [r for r in upcoming(called, policy, T0 + timedelta(minutes=41), timedelta(days=1))
                if r.kind.value.startswith("leader")]
    assert [r.kind for r in upcoming(inc, policy, T0 + timedelta(minutes=41), timedelta(hours=1))
            if r.kind.value.startswith("leader")] == [ReminderKind.LEADER_ESCALATE] * 2


def test_only_a_lead_records_the_leader_call_once() -> None:
    with pytest.raises(PermissionDenied, match="Only a lead"):
        run(opened("sev1"), (5, "leader-call I called them"))
    inc = run(opened("sev1"), (5, "leader-call called their COO"), actor=LEAD)
    with pytest.raises(PlaybookError, match="already contacted"):
        run(inc, (6, "leader-call again"), actor=LEAD)


# --- the figures: summary, JSON report, Markdown, stats (golden) --------------------------------

def _worked() -> Incident:
    """A sev1: relief at 42 min, the lead's call at 50 min (the fix is added by each test)."""
    inc = run(opened("sev1"), (2, "noticed their brand manager"), (3, "cadence 30m"),
              (10, "own"), (20, "option relief: power the screens down risk: dark lobby"),
              (42, "relief screens powered down for the night"))
    return run(inc, (50, "leader-call spoke to their COO"), actor=LEAD)


def test_time_to_relief_in_the_summary_and_the_json_report() -> None:
    inc = run(_worked(), (180, "resolve firmware fixed"))
    s = summarize(inc, T0 + timedelta(hours=4))
    assert s.time_to_relief == timedelta(minutes=42)
    assert s.time_to_resolution == timedelta(minutes=180)
    assert s.customer_has == "fix"
    doc = export.report_json(s)
    body = doc["summary"]
    assert (body["time_to_relief"], body["time_to_resolution"]) == (2520, 10800)
    assert body["relief"] == "screens powered down for the night"
    assert body["relief_at"] == "2026-11-23T13:42:00Z" and body["relief_by"] == "U0ALICE"
    assert body["customer_has"] == "fix" and body["noticed"] == "their brand manager"
    assert body["leader_call_at"] == "2026-11-23T13:50:00Z"
    assert body["leader_call_by"] == "U0LEAD"
    assert body["options"][0]["relief"] is True
    json.dumps(doc)


def test_time_to_relief_in_the_markdown_summary() -> None:
    md = summary_markdown(summarize(run(_worked(), (180, "resolve firmware fixed")),
                                    T0 + timedelta(hours=4)))
    assert "- Relief after 42 min\n" in md
    assert "- Resolved after 3 h\n" in md
    assert ("## Relief\n\n- “screens powered down for the night” (2026-11-23T13:42:00Z, "
            "<@U0ALICE>)") in md
    assert ("**Leader call:** <@U0LEAD> contacted the customer 2026-11-23T13:50:00Z: "
            "“spoke to their COO”") in md
    assert "**How they noticed:** “their brand manager”" in md


def test_a_fix_without_relief_counts_as_the_relief() -> None:
    s = summarize(run(opened(), (90, "resolve firmware fixed")), T0 + timedelta(hours=2))
    assert s.time_to_relief == timedelta(minutes=90) and s.relief_at is None
    assert "Relief after 1 h 30 min (the fix itself)" in summary_markdown(s)
    assert summarize(opened(), T0).customer_has == "none"


def test_stats_time_to_relief_median_and_p90() -> None:
    incidents = [
        run(opened(when=T0 + timedelta(days=d)), (relief, "relief screens off"),
            (fix, "resolve fixed"))
        for d, relief, fix in ((0, 10, 100), (1, 20, 200), (2, 40, 50), (3, 300, 400))
    ]
    incidents.append(run(opened(when=T0 + timedelta(days=4)), (60, "resolve fixed")))
    incidents.append(opened(when=T0 + timedelta(days=5)))  # no relief yet: not counted
    figures = stats.compute(incidents, since=T0 - timedelta(days=1), now=T0 + timedelta(days=6))
    # relief: 10, 20, 40, 300, and 60 (the fix, with no relief before it)
    assert figures.median_to_relief == timedelta(minutes=40)
    assert figures.p90_to_relief == timedelta(minutes=300)
    assert figures.median_to_resolution == timedelta(minutes=100)
    text = stats.render(figures, 7)
    assert "Time to relief: median 40 min, p90 5 h\n" in text


# --- the card ------------------------------------------------------------------------------------

def _card_text(inc: Incident, now: datetime) -> str:
    from bot.blocks.card import card
    body = card(inc, now, POLICY.playbook)
    return "\n".join(b.get("text", {}).get("text", "") for b in body["blocks"]
                     if isinstance(b.get("text"), dict))


def test_the_card_keeps_the_apology_until_recorded() -> None:
    from bot.blocks.card import buttons_for
    inc = run(opened("sev1"), (1, "listen down"), (2, "cadence 30m"), (3, "restate down"),
              (4, "confirm"), (5, "own"))
    assert inc.step.value == "solve", "the own step is done without the apology"
    now = T0 + timedelta(minutes=6)
    text = _card_text(inc, now)
    assert "*Apology:* not recorded yet" in text
    assert "*The customer has:* no relief yet" in text
    assert "a lead should contact the customer personally by <!date^" in text
    assert "relief" in buttons_for(inc)
    inc = run(inc, (7, "apology we are sorry the lobby went dark"),
              (8, "relief screens powered down"))
    inc = run(inc, (9, "leader-call called their COO"), actor=LEAD)
    text = _card_text(inc, now)
    assert "Apology" not in text and "*The customer has:* relief since <!date^" in text
    assert "*Leader call:* <@U0LEAD> contacted the customer" in text
    assert "relief" not in buttons_for(inc)
    text = _card_text(run(inc, (10, "resolve firmware fixed")), now)
    assert "*The customer has:* the lasting fix" in text


def test_every_report_field_is_documented() -> None:
    from pathlib import Path
    doc = (Path(__file__).parents[2] / "docs" / "report-format.md").read_text()
    body = export.report_json(summarize(_worked(), T0 + timedelta(hours=1)))["summary"]
    missing = [key for key in body if f"`{key}`" not in doc]
    assert not missing, missing
