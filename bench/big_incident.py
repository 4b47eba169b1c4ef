"""A big incident for the summary tests and benchmark: 200 updates, 5,000 timeline lines.

Built through the real rules (no hand-made state), with every kind of record long enough to
push Slack's limits: long customer words, many promises, options, actions and parked topics.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playbook.domain import rules, verbs
from playbook.domain.model import Actor, Incident, Policy
from playbook.domain.timeline import Entry
from playbook.services.builtin import builtin_playbook

POLICY = Policy(playbook=builtin_playbook())

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE", is_lead=True)


def big_incident(updates: int = 200, timeline: int = 5000) -> tuple[Incident, list[Entry]]:
    inc = rules.open_incident(team_id="T1", customer="Acme Hotels & Resorts <EU>",
                              description="all lobby screens show a setup error " * 20,
                              severity="sev1", actor=ALICE, now=T0, policy=POLICY).incident
    inc.id, inc.number = 1, 42
    now = T0
    lines: list[tuple[int, str]] = [(1, "cadence 30m"), (1, "own")]
    lines += [(1, f"listen the customer said thing number {n}: " + "x" * 400) for n in range(20)]
    lines += [(1, f"option choice {n} risk: risk {n} " + "y" * 300) for n in range(40)]
    lines += [(1, "recommend 3 " + "because " * 50), (1, "choose 3")]
    lines += [(1, f"promise item {n} in {n + 2}h") for n in range(60)]
    lines += [(1, f"park topic {n} " + "z" * 200) for n in range(30)]
    lines += [(29 if n % 7 else 45, f"update update number {n}") for n in range(updates)]
    lines += [(5, "resolve fixed " + "w" * 500), (5, "update it is fixed")]
    lines += [(1, f"action prevention {n} " + "v" * 200) for n in range(40)]
    lines += [(1, "rootcause " + "r" * 2000), (1, "lesson " + "l" * 1500)]
    for minutes, line in lines:
        now += timedelta(minutes=minutes)
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, ALICE, now=now, policy=POLICY).incident
    entries = [Entry(n + 1, n + 1, T0 + timedelta(seconds=n), "note", f"line {n} " + "t" * 120,
                     "U0ALICE") for n in range(timeline)]
    return inc, entries
