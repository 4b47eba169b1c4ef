"""The JSON report keeps its documented shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from playbook import export, rules
from playbook.model import Actor, Policy, TimelineEntry
from playbook.summary import summarize

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE")


def test_report_json_shape_and_values() -> None:
    inc = rules.open_incident(team_id="T1", customer="Acme", description="down", severity="sev1",
                              actor=ALICE, now=T0, policy=Policy()).incident
    inc.number = 4
    for minutes, line in ((5, "cadence 30m"), (10, "own"), (30, "update on it"),
                          (40, "promise call in 1h"), (50, "resolve fixed")):
        verb, arg = rules.split_verb(line)
        inc = rules.run_command(inc, verb, arg, ALICE, now=T0 + timedelta(minutes=minutes),
                                policy=Policy()).incident
    timeline = [TimelineEntry(T0, "open", "opened", "U0ALICE")]
    doc = export.report_json(summarize(inc, T0 + timedelta(hours=1)), timeline)
    text = json.dumps(doc)  # everything is JSON-serialisable
    assert doc["schema"] == "crisisbot.report/1" and doc["incident"] == "INC-4"
    s = doc["summary"]
    assert s["opened_at"] == "2026-11-23T13:00:00Z"
    assert s["time_to_owner"] == 600 and s["time_to_resolution"] == 3000
    assert s["severity"] == "sev1" and s["status"] == "resolved"
    assert s["adherence"]["on_time"] == 1 and s["adherence"]["interval"] == 1800
    assert s["promises_open"][0]["text"] == "call" and s["promises_open"][0]["status"] == "open"
    assert [st["step"] for st in s["steps"]][:2] == ["listen", "restate"]
    assert doc["timeline"] == [{"at": "2026-11-23T13:00:00Z", "kind": "open",
                                "actor": "U0ALICE", "text": "opened"}]
    assert "+00:00" not in text
