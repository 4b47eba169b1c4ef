"""Messages added with the "Add to incident…" shortcut: neutralised, filed, shown with source."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.blocks.shortcut import CaptureMeta, capture_modal
from bot.listeners.shortcuts import default_incident, default_kind
from bot.local.localslack.limits import check_view
from playbook.domain import cadence, rules, verbs
from playbook.domain.capture import (
    MessageRef,
    apply_capture,
    build_permalink,
    message_time,
    neutralise,
    source_line,
)
from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.model import Actor, CaptureKind, Incident, Step
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
POLICY = default_policy()
ALICE = Actor("U0ALICE", tz="Europe/Paris")
TS = "1763902860.000200"
REF = MessageRef("C0CUST", TS, "U0DANA", "Dana <R>",
                 "https://acme.slack.com/archives/C0CUST/p1763902860000200")


def opened() -> Incident:
    inc = rules.open_incident(team_id="T1", customer="Acme", description="down", severity=None,
                              actor=ALICE, now=T0, policy=POLICY).incident
    inc.id, inc.number, inc.channel_id, inc.customer_channel_id = 1, 2, "C0INC", "C0CUST"
    return inc


@pytest.mark.parametrize(("slack", "shown"), [
    ("<!here> screens are down", "@here screens are down"),
    ("<!channel|channel> help", "@channel help"),
    ("<@U0ALICE> promised", "@U0ALICE promised"),
    ("<@U0ALICE|alice> promised", "@alice promised"),
    ("<!subteam^S1|@support> where are you", "@support where are you"),
    ("see <https://status.example.com|our status page>", "see our status page"),
    ("a &lt;b&gt; &amp; c", "a <b> & c"),
    ("in <#C0OPS|ops>", "in #ops"),
    ("  padded\n\n", "padded"),
    ("nul\u0000byte", "nulbyte"),
])
def test_neutralise(slack: str, shown: str) -> None:
    assert neutralise(slack) == shown


def test_message_time_and_permalink() -> None:
    assert message_time(TS) == datetime.fromtimestamp(1763902860.0002, UTC)
    with pytest.raises(ParseError):
        message_time("not-a-ts")
    assert build_permalink("acme", "C1", TS) == "https://acme.slack.com/archives/C1/p1763902860000200"
    assert build_permalink("bad domain!", "C1", TS).startswith("https://slack.com/archives/")


def capture(inc: Incident, kind: CaptureKind, text: str, due: datetime | None = None,
            minutes: int = 5):
    return apply_capture(inc, ALICE, kind, text, REF, due=due,
                         now=T0 + timedelta(minutes=minutes), policy=POLICY)


def test_listen_capture_fills_the_words_with_the_source() -> None:
    out = capture(opened(), CaptureKind.LISTEN, "@here our screens say <Setup WiFi>")
    inc = out.incident
    assert inc.customer_words == ["@here our screens say <Setup WiFi>"]
    [c] = inc.captures
    assert (c.kind, c.author, c.author_name, c.written_at) == (
        CaptureKind.LISTEN, "U0DANA", "Dana <R>", message_time(TS))
    [line] = [e for e in out.timeline if e.kind == "capture"]
    assert "<https://acme.slack.com/archives/C0CUST/p1763902860000200|Dana &lt;R&gt;'s message>" \
        in line.text
    assert "@here our screens say &lt;Setup WiFi&gt;" in line.text
    assert "<!here>" not in line.text and "<@U0DANA>" not in line.text, "no ping, no mention"
    assert not any(e.kind == "listen" for e in out.timeline), "one line, with its source"
    assert "Recorded the customer's words" in out.reply


def test_update_promise_and_note_captures() -> None:
    inc = capture(opened(), CaptureKind.UPDATE, "we are rebooting the fleet").incident
    assert [u.text for u in inc.updates] == ["we are rebooting the fleet"]
    assert cadence.clock_start(inc) == T0 + timedelta(minutes=5)
    due = T0 + timedelta(hours=3)
    inc = capture(inc, CaptureKind.PROMISE, "RCA   in writing", due=due, minutes=6).incident
    assert [(p.text, p.due_at) for p in inc.promises] == [("RCA in writing", due)]
    out = capture(inc, CaptureKind.NOTE, "vendor confirmed the bug", minutes=7)
    assert [c.kind for c in out.incident.captures] == [
        CaptureKind.UPDATE, CaptureKind.PROMISE, CaptureKind.NOTE]
    assert out.incident.step is Step.LISTEN and out.timeline[0].kind == "capture"
    assert out.incident.last_activity_at == T0 + timedelta(minutes=7), "a note is activity too"


@pytest.mark.parametrize(("kind", "text", "due", "says"), [
    (CaptureKind.NOTE, "   ", None, "no text"),
    (CaptureKind.PROMISE, "RCA", None, "needs a due time"),
    (CaptureKind.PROMISE, "RCA", T0 - timedelta(hours=1), "already passed"),
    (CaptureKind.LISTEN, "x" * 3001, None, "under 3000"),
])
def test_capture_refusals(kind: CaptureKind, text: str, due: datetime | None,
                          says: str) -> None:
    with pytest.raises(PlaybookError, match=says):
        capture(opened(), kind, text, due)


def test_a_closed_incident_takes_no_messages() -> None:
    inc = opened()
    now = T0
    for line in ("own", "skip a", "skip b", "skip c", "skip d", "close"):
        verb, arg = verbs.split_verb(line)
        now += timedelta(minutes=1)
        inc = rules.run_command(inc, verb, arg, ALICE, now=now, policy=POLICY).incident
    for kind in CaptureKind:
        with pytest.raises(PlaybookError, match="closed"):
            capture(inc, kind, "late words", T0 + timedelta(days=1), minutes=30)


def test_source_line_without_a_web_permalink_shows_no_link() -> None:
    inc = capture(opened(), CaptureKind.NOTE, "x").incident
    c = inc.captures[0]
    c.permalink = "javascript:alert(1)"
    assert source_line(c) == "Dana &lt;R&gt;'s message"


def test_shortcut_modal_defaults_and_limits() -> None:
    inc = opened()
    other = opened()
    other.id, other.number, other.customer_channel_id = 2, 3, None
    assert default_incident([other, inc], "C0CUST") is inc
    assert default_incident([other, inc], "C0ELSE") is None
    assert default_kind(inc, "C0CUST") is CaptureKind.LISTEN
    assert default_kind(inc, "C0INC") is CaptureKind.NOTE
    meta = CaptureMeta("C0CUST", TS, "U0DANA", "Dana <R>", REF.permalink)
    view = capture_modal([other, inc], inc, CaptureKind.LISTEN, "y" * 5000, meta)
    assert check_view(view) == [], "Slack would take it"
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["incident"]["element"]["initial_option"]["value"] == "1"
    assert len(blocks["text"]["element"]["initial_value"]) == 3000
    assert blocks["due"]["optional"] is True
    assert CaptureMeta.from_json(view["private_metadata"]) == meta
    assert "Dana &lt;R&gt;" in json.dumps(view)
