"""The JSON report keeps its documented shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from playbook.domain import export, rules, verbs
from playbook.domain.model import Actor
from playbook.domain.summary import summarize
from playbook.domain.timeline import Entry, Revision, corrected
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE")


def test_report_json_shape_and_values() -> None:
    inc = rules.open_incident(team_id="T1", customer="Acme", description="down", severity="sev1",
                              actor=ALICE, now=T0, policy=default_policy()).incident
    inc.number = 4
    for minutes, line in ((5, "cadence 30m"), (10, "own"), (30, "update on it"),
                          (40, "promise call in 1h"), (50, "resolve fixed")):
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, ALICE, now=T0 + timedelta(minutes=minutes),
                                policy=default_policy()).incident
    entries = [Entry(1, 1, T0, "open", "opened", "U0ALICE"),
               Entry(2, 2, T0 + timedelta(minutes=9), "note", "the CTO joined", "U0ALICE",
                     revisions=(Revision(T0 + timedelta(minutes=7), "the CIO joined", False,
                                         "U0ALICE", T0 + timedelta(minutes=20)),)),
               Entry(3, 3, T0 + timedelta(minutes=8), "note", "typo", "U0ALICE",
                     revisions=(Revision(T0 + timedelta(minutes=8), "typo", True, "U0LEAD",
                                         T0 + timedelta(minutes=21)),))]
    summary = summarize(inc, T0 + timedelta(hours=1), corrected(entries))
    doc = export.report_json(summary, entries)
    text = json.dumps(doc)  # everything is JSON-serialisable
    assert doc["schema"] == "crisisbot.report/1" and doc["incident"] == "INC-4"
    s = doc["summary"]
    assert s["opened_at"] == "2026-11-23T13:00:00Z"
    assert s["time_to_owner"] == 600 and s["time_to_resolution"] == 3000
    assert s["severity"] == "sev1" and s["status"] == "resolved"
    assert s["adherence"]["on_time"] == 1 and s["adherence"]["interval"] == 1800
    assert s["promises_open"][0]["text"] == "call" and s["promises_open"][0]["status"] == "open"
    assert [st["step"] for st in s["steps"]][:2] == ["listen", "restate"]
    assert doc["timeline"] == [
        {"at": "2026-11-23T13:00:00Z", "kind": "open", "actor": "U0ALICE", "text": "opened",
         "ref": "T1", "edited": False},
        {"at": "2026-11-23T13:07:00Z", "kind": "note", "actor": "U0ALICE",
         "text": "📝 <@U0ALICE>: the CIO joined", "ref": "T2", "edited": True},
    ], "the removed T3 is gone; T2 shows its corrected time and text"
    assert "timeline" not in s
    assert doc["corrections"][0] == {
        "ref": "T2", "by": "U0ALICE", "made_at": "2026-11-23T13:20:00Z", "removed": False,
        "from": {"at": "2026-11-23T13:09:00Z", "text": "the CTO joined"},
        "to": {"at": "2026-11-23T13:07:00Z", "text": "the CIO joined"}}
    assert doc["corrections"][1]["removed"] and doc["corrections"][1]["to"] is None
    assert "+00:00" not in text
