"""Leads' figures from incidents with known timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from playbook.domain import rules, stats, verbs
from playbook.domain.errors import ParseError
from playbook.domain.model import Actor, Incident
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE", is_lead=True)


def incident(customer: str, opened: datetime, script: list[tuple[int, str]]) -> Incident:
    inc = rules.open_incident(team_id="T1", customer=customer, description="down", severity=None,
                              actor=ALICE, now=opened, policy=default_policy()).incident
    inc.id, inc.number = 1, 1
    for minutes, line in script:
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, ALICE, now=opened + timedelta(minutes=minutes),
                                policy=default_policy()).incident
    return inc


def test_figures_from_known_incidents() -> None:
    a = incident("Acme, Inc.", T0, [(10, "own"), (0, "cadence 30m"), (25, "update a"),
                                    (67, "update b"), (90, "resolve fixed"),
                                    (20, "promise call in 1h"), (30, "kept P1"),
                                    (95, "action add alerting")])
    b = incident("ACME inc", T0 + timedelta(days=2), [(30, "own"), (240, "resolve fixed")])
    c = incident("Globex", T0 + timedelta(days=3), [(5, "own")])
    old = incident("Initech", T0 - timedelta(days=40), [(1, "own")])
    figures = stats.compute([a, b, c, old], since=T0 - timedelta(days=1),
                            now=T0 + timedelta(days=4))
    assert (figures.opened, figures.closed, figures.still_open) == (3, 0, 3)
    assert figures.median_to_owner == timedelta(minutes=10)
    assert figures.p90_to_owner == timedelta(minutes=30)
    assert figures.median_to_resolution == timedelta(minutes=90)
    assert figures.p90_to_resolution == timedelta(minutes=240)
    assert figures.promises_kept_rate == 1.0
    assert figures.repeat_customers == (("Acme, Inc.", 2),)
    assert figures.open_actions == 1
    text = stats.render(figures, 7)
    assert "3 opened" in text and "median 10 min" in text and "Acme, Inc. (2)" in text


def test_no_incidents_says_so_without_dividing_by_zero() -> None:
    figures = stats.compute([], since=T0, now=T0)
    assert figures.adherence is None and figures.median_to_owner is None
    assert "n/a" in stats.render(figures, 30)


@pytest.mark.parametrize(("text", "days"), [("", 30), ("7d", 7), ("90D", 90)])
def test_periods(text: str, days: int) -> None:
    assert stats.parse_period(text) == days


def test_bad_period_says_what_works() -> None:
    with pytest.raises(ParseError, match="7d"):
        stats.parse_period("2 weeks")


def test_percentile_is_nearest_rank() -> None:
    values = [timedelta(minutes=m) for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]
    assert stats.percentile(values, 0.5) == timedelta(minutes=5)
    assert stats.percentile(values, 0.9) == timedelta(minutes=9)
