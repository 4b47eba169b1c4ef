"""`/incident handover`: who may, to whom, and what the new owner is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from playbook.domain import rules, verbs
from playbook.domain.errors import ParseError, PermissionDenied, PlaybookError
from playbook.domain.model import Actor, Incident, Invite, Post, Reschedule, Target
from playbook.domain.verbs.handover import handover_note, split_handover
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
POLICY = default_policy()
ALICE, BOB, CAROL = Actor("U0ALICE"), Actor("U0BOB"), Actor("U0CAROL")
LEAD = Actor("U0LEAD", is_lead=True)


def incident(*lines: str, owner: Actor = ALICE) -> Incident:
    inc = rules.open_incident(team_id="T1", customer="Acme <Hotels>", description="screens down",
                              severity="sev1", actor=ALICE, now=T0, policy=POLICY).incident
    inc.id, inc.number, inc.channel_id = 1, 4, "C0INC"
    now = T0
    for line in lines:
        verb, arg = verbs.split_verb(line)
        now += timedelta(minutes=1)
        inc = rules.run_command(inc, verb, arg, owner, now=now, policy=POLICY).incident
    return inc


def hand(inc: Incident, arg: str, actor: Actor = ALICE, minutes: int = 10):
    return rules.run_command(inc, "handover", arg, actor, now=T0 + timedelta(minutes=minutes),
                             policy=POLICY)


@pytest.mark.parametrize(("text", "user", "notes"), [
    ("<@U0BOB|bob>", "U0BOB", None),
    ("<@U0BOB> call the CTO", "U0BOB", "call the CTO"),
    ("<@W0GRID|grid user>   they want &lt;email&gt; only", "W0GRID", "they want <email> only"),
    ("<@U0BOB|bob>\nline one\nline two", "U0BOB", "line one\nline two"),
])
def test_split_accepts(text: str, user: str, notes: str | None) -> None:
    assert split_handover(text) == (user, notes)


@pytest.mark.parametrize(("text", "says"), [
    ("", "Name the new owner"),
    ("@bob notes", "autocomplete"),
    ("call the CTO <@U0BOB>", "Start with the new owner"),
    ("<!subteam^S1|@oncall> notes", "user group"),
    ("<@U0BOB> " + "x" * 2001, "under 2000"),
])
def test_split_refuses(text: str, says: str) -> None:
    with pytest.raises(ParseError, match=says):
        split_handover(text)


def test_handover_passes_ownership_invites_and_dms_the_note() -> None:
    inc = incident("listen the screens are all broken", "own",
                   "promise a call from engineering in 2h")
    out = hand(inc, "<@U0BOB|bob> call their CTO &amp; keep it &lt;short&gt;")
    assert out.incident.owner == "U0BOB" and inc.owner == "U0ALICE"
    [h] = out.incident.handovers
    assert (h.number, h.from_user, h.to_user, h.by, h.notes) == (
        1, "U0ALICE", "U0BOB", "U0ALICE", "call their CTO & keep it <short>")
    assert Invite(("U0BOB",)) in out.effects and Reschedule() in out.effects
    [dm] = [e for e in out.effects if isinstance(e, Post)]
    assert dm.target is Target.USER and dm.user == "U0BOB"
    assert "<@U0BOB>" in out.reply
    [line] = [e for e in out.timeline if e.kind == "handover"]
    assert "<@U0ALICE>" in line.text and "<@U0BOB>" in line.text
    assert "&lt;short&gt;" in line.text and "<short>" not in line.text


def test_the_note_lists_what_is_open() -> None:
    inc = incident("listen the screens are all broken", "own",
                   "promise a call from engineering in 2h", "promise &lt;RCA&gt; in 1h")
    later = T0 + timedelta(minutes=95)  # sev1 default cadence 30 min: update overdue
    note = handover_note(inc, later, POLICY.playbook, from_user="U0ALICE", to_user="U0BOB",
                         by="U0ALICE", notes="they prefer email")
    assert "handed *INC-4* (Acme &lt;Hotels&gt;, sev1) over to <@U0BOB> in <#C0INC>" in note
    assert "“they prefer email”" in note
    assert "Promise P1: “a call from engineering” due <!date^" in note
    assert "Promise P2: “&lt;RCA&gt;”" in note and "(*past due*)" in note
    assert "Customer update *overdue by" in note
    assert "Still missing: Listen: how often they want to hear from us" in note
    assert "Restate: the problem in the customer's terms" in note
    assert "Next: *Listen* still needs: how often they want to hear from us" in note


def test_the_note_gives_the_next_update_time_when_not_overdue() -> None:
    inc = incident("own")
    note = handover_note(inc, T0 + timedelta(minutes=5), POLICY.playbook, from_user="U0ALICE",
                         to_user="U0BOB", by="U0LEAD", notes=None)
    assert "Next customer update due <!date^" in note
    assert "<@U0LEAD> (for <@U0ALICE>)" in note, "a lead handing over says for whom"
    assert "Their notes" not in note


def test_only_owner_or_lead_and_not_to_themselves() -> None:
    inc = incident("own")
    with pytest.raises(PermissionDenied, match="Only the owner"):
        hand(inc, "<@U0CAROL>", actor=BOB)
    with pytest.raises(PlaybookError, match="already owns"):
        hand(inc, "<@U0ALICE>", actor=LEAD)
    with pytest.raises(PlaybookError, match="yourself"):
        hand(inc, "<@U0LEAD>", actor=LEAD)
    by_lead = hand(inc, "<@U0CAROL> covering nights", actor=LEAD).incident
    assert by_lead.owner == "U0CAROL" and by_lead.handovers[0].by == "U0LEAD"
    with pytest.raises(PlaybookError, match="Nobody owns INC-4 yet"):
        hand(incident(), "<@U0BOB>")


def test_a_closed_incident_cannot_be_handed_over() -> None:
    inc = incident("own", "skip a", "skip b", "skip c", "skip d", "close")
    with pytest.raises(PlaybookError, match="is closed"):
        hand(inc, "<@U0BOB>")
