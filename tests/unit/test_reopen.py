"""`/incident reopen`: the rules, the restarted clock, and figures that skip the closed time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.blocks.summary import summary_markdown
from playbook.domain import cadence, cadence_walk, rules, stats, verbs
from playbook.domain.errors import ParseError, PermissionDenied, PlaybookError
from playbook.domain.export import report_json
from playbook.domain.model import (
    Actor,
    Incident,
    Post,
    RefreshCard,
    ReopenChannel,
    Reschedule,
    Status,
    Step,
    Target,
)
from playbook.domain.periods import first_resolved_at, open_time, periods
from playbook.domain.summary import summarize
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
POLICY = default_policy()
ALICE, BOB = Actor("U0ALICE"), Actor("U0BOB")
LEAD = Actor("U0LEAD", is_lead=True)

# One hour to close: updates every 30 minutes, all on time.
FIRST_PERIOD = [
    (1, "listen the screens are all broken"), (2, "cadence 30m"),
    (3, "restate all screens broken"), (4, "confirm"), (5, "own"),
    (10, "option reboot"), (11, "choose 1"), (25, "update rebooting now"),
    (40, "resolve rebooted the fleet"), (45, "update it is fixed"),
    (50, "rootcause stale state"), (51, "action add a recovery mode <@U0BOB>"), (60, "close"),
]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def play(inc: Incident, script: list[tuple[float, str]], actor: Actor = ALICE) -> Incident:
    for minute, line in script:
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, actor, now=at(minute), policy=POLICY).incident
    return inc


def closed() -> Incident:
    inc = rules.open_incident(team_id="T1", customer="Acme", description="screens down",
                              severity="sev2", actor=ALICE, now=T0, policy=POLICY).incident
    inc.id, inc.number, inc.channel_id = 1, 3, "C0INC"
    inc = play(inc, FIRST_PERIOD)
    assert inc.status is Status.CLOSED
    return inc


def reopen(inc: Incident, why: str = "froze again", actor: Actor = ALICE, minute: float = 600):
    return rules.run_command(inc, "reopen", why, actor, now=at(minute), policy=POLICY)


def test_reopen_puts_it_back_to_solve_and_restarts_the_clock() -> None:
    inc = closed()
    out = reopen(inc, "the screens froze again &lt;overnight&gt;")
    new = out.incident
    assert (new.status, new.closed_at, new.step) == (Status.OPEN, None, Step.SOLVE)
    assert new.resolution is None and new.resolved_at is None and new.customer_informed_at is None
    assert [r.step for r in new.steps] == [Step.LISTEN, Step.RESTATE, Step.OWN]
    assert new.chosen == 1 and new.root_cause == "stale state", "earlier work is kept"
    [r] = new.reopenings
    assert (r.number, r.at, r.by, r.reason) == (1, at(600), "U0ALICE",
                                                "the screens froze again <overnight>")
    assert (r.closed_at, r.resolved_at, r.customer_informed_at, r.resolution) == (
        at(60), at(40), at(45), "rebooted the fleet")
    assert cadence.next_update_due(new) == at(630), "clock restarted from the reopen time"
    assert new.cadence == timedelta(minutes=30) and new.cadence_agreed
    assert ReopenChannel() in out.effects and RefreshCard() in out.effects
    assert Reschedule() in out.effects
    assert any(isinstance(e, Post) and e.target is Target.LEADS for e in out.effects)
    assert "&lt;overnight&gt;" in out.timeline[0].text
    assert inc.status is Status.CLOSED, "the input is not mutated"


@pytest.mark.parametrize(("actor", "why", "error", "says"), [
    (BOB, "froze again", PermissionDenied, "Only the owner"),
    (ALICE, "   ", ParseError, "Say why"),
    (ALICE, "x" * 2001, ParseError, "under 2000"),
])
def test_reopen_refusals(actor: Actor, why: str, error: type[PlaybookError], says: str) -> None:
    with pytest.raises(error, match=says):
        reopen(closed(), why, actor)


def test_a_lead_may_reopen_and_only_closed_incidents_reopen() -> None:
    assert reopen(closed(), actor=LEAD).incident.status is Status.OPEN
    inc = closed()
    again = reopen(inc).incident
    with pytest.raises(PlaybookError, match="not closed"):
        reopen(again, minute=700)


def test_periods_figures_and_summary_after_a_second_close() -> None:
    inc = reopen(closed()).incident
    inc = play(inc, [(610, "option power-cycle"), (620, "update power-cycling"),
                     (640, "resolve power-cycled"), (645, "update fixed again"),
                     (660, "close")])
    assert [(p.number, p.opened_at, p.closed_at, p.reason) for p in periods(inc)] == [
        (1, T0, at(60), None), (2, at(600), at(660), "froze again")]
    assert open_time(inc, at(1000)) == timedelta(minutes=120), "closed stretch left out"
    assert first_resolved_at(inc) == at(40)

    a = cadence_walk.adherence(inc, at(1000))
    # period 1: updates at 25 and 45 on time; period 2: 620 and 645 on time; the closed
    # stretch (45 → 600, no updates owed) counts nothing as missed
    assert (a.on_time, a.late, a.missed) == (4, 0, 0), a
    assert a.longest_gap == timedelta(minutes=25)

    s = summarize(inc, at(1000))
    assert s.total_duration == timedelta(minutes=120)
    assert s.time_to_resolution == timedelta(minutes=40)
    assert s.closed_at == at(660) and len(s.periods) == 2
    md = summary_markdown(s)
    assert "## Open periods" in md
    assert "**Period 1:** 2026-11-23T13:00:00Z → 2026-11-23T14:00:00Z" in md
    assert "**Period 2:** 2026-11-23T23:00:00Z → 2026-11-24T00:00:00Z" in md
    assert "froze again" in md and "Resolution before reopening 1: “rebooted the fleet”" in md
    body = report_json(s, [])
    assert [p["closed_at"] for p in body["summary"]["periods"]] == [
        "2026-11-23T14:00:00Z", "2026-11-24T00:00:00Z"]
    assert body["summary"]["reopenings"][0]["reason"] == "froze again"

    figures = stats.compute([inc], since=T0 - timedelta(days=1), now=at(1000))
    assert (figures.opened, figures.closed, figures.still_open) == (1, 1, 0)
    assert figures.median_to_resolution == timedelta(minutes=40), "first fix, not the last"
    assert figures.adherence == 1.0


def test_an_open_reopened_incident_owes_updates_from_the_reopen() -> None:
    inc = reopen(closed()).incident
    a = cadence_walk.adherence(inc, at(700))
    # 600 → 700 with a 30-minute cadence: dues at 630, 660, 690 all missed; nothing before
    assert (a.on_time, a.missed) == (2, 3)
    assert cadence.overdue_by(inc, at(700)) == timedelta(minutes=70)
