"""The timeline's rules with plain data: who may correct, what a correction may say, how the
corrected timeline reads, and how a captured Slack message is made safe to post again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.blocks.summary import summary_markdown, summary_messages
from bot.blocks.timeline import PAGE_SIZE, edit_modal, timeline_list
from playbook.domain import rules
from playbook.domain.errors import NotFound, ParseError, PermissionDenied
from playbook.domain.model import Actor, Incident
from playbook.domain.summary import summarize
from playbook.domain.timeline import (
    Entry,
    Revision,
    check_correction,
    check_may_correct,
    corrected,
    find,
    mentioned_users,
    neutralise,
    page,
    parse_ref,
    spans_days,
)
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE, BOB, CAROL = Actor("U0ALICE"), Actor("U0BOB"), Actor("U0CAROL")
LEAD = Actor("U0LEAD", is_lead=True)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def note(number: int = 2, when: datetime = T0, text: str = "the CTO joined", by: str = "U0ALICE",
         *revisions: Revision) -> Entry:
    return Entry(number * 10, number, when, "note", text, by, None, tuple(revisions))


def captured(number: int = 3) -> Entry:
    return Entry(number * 10, number, at(5), "captured", "the CDN is down", "U0BOB", "U0ALICE")


# --- who may correct -----------------------------------------------------------------------


@pytest.mark.parametrize(("entry", "actor"), [
    (note(), ALICE),  # its author
    (note(), LEAD),  # a lead
    (captured(), BOB),  # the captured message's author
    (captured(), ALICE),  # whoever captured it
    (Entry(1, 1, T0, "refused", "tried", "U0CAROL"), LEAD),
    (Entry(1, 1, T0, "nudge", "update due", None), LEAD),
])
def test_author_capturer_and_leads_may_correct(entry: Entry, actor: Actor) -> None:
    check_may_correct(entry, actor)


@pytest.mark.parametrize(("entry", "actor", "says"), [
    (note(), CAROL, "its author (<@U0ALICE>) or a lead"),
    (captured(), CAROL, "its author (<@U0BOB> or <@U0ALICE>) or a lead"),
    (Entry(1, 1, T0, "nudge", "update due", None), ALICE, "Only a lead can correct"),
    # the person refused can't erase the record of the refusal
    (Entry(1, 1, T0, "refused", "tried", "U0CAROL"), CAROL, "records a refusal"),
])
def test_anyone_else_gets_a_clear_refusal(entry: Entry, actor: Actor, says: str) -> None:
    with pytest.raises(PermissionDenied, match="Only") as err:
        check_correction(entry, actor, typed="changed", at=entry.at, remove=False, now=at(60))
    assert says in err.value.message


# --- what a correction may say -------------------------------------------------------------


def test_an_edit_is_a_new_revision_with_escaped_text_and_whole_minute_time() -> None:
    entry = note()
    rev = check_correction(entry, ALICE, typed="the CIO <!here> joined", at=at(-3) +
                           timedelta(seconds=17), remove=False, now=at(60))
    assert rev == Revision(at(-3), "the CIO &lt;!here&gt; joined", False, "U0ALICE", at(60))


def test_an_untouched_form_changes_nothing_and_keeps_exact_text_and_time() -> None:
    entry = Entry(1, 1, T0 + timedelta(seconds=42), "captured", "see <https://x.io|the doc>",
                  "U0BOB")
    assert check_correction(entry, BOB, typed="see the doc", at=T0, remove=False,
                            now=at(60)) is None
    # time only: the stored text (with its link) is kept as it was
    rev = check_correction(entry, BOB, typed="see the doc", at=at(-10), remove=False, now=at(60))
    assert rev is not None and rev.text == "see <https://x.io|the doc>" and rev.at == at(-10)


@pytest.mark.parametrize(("typed", "when", "error"), [
    ("   ", T0, "can't be empty"),
    ("x" * 3001, T0, "under 3000"),
    ("fine", at(60 + 5), "in the future"),
])
def test_bad_corrections_are_refused_with_what_to_do(typed: str, when: datetime,
                                                      error: str) -> None:
    with pytest.raises(ParseError, match=error):
        check_correction(note(), ALICE, typed=typed, at=when, remove=False, now=at(60))


def test_remove_then_restore() -> None:
    entry = note()
    gone = check_correction(entry, LEAD, typed="", at=T0, remove=True, now=at(60))
    assert gone is not None and gone.removed and gone.text == entry.text
    removed = note(2, T0, "the CTO joined", "U0ALICE", gone)
    assert removed.removed and corrected([removed]) == ()
    assert check_correction(removed, LEAD, typed="", at=T0, remove=True, now=at(61)) is None
    back = check_correction(removed, ALICE, typed="the CTO joined", at=T0, remove=False,
                            now=at(62))
    assert back is not None and not back.removed


# --- the corrected timeline ----------------------------------------------------------------


def test_corrected_timeline_drops_removals_applies_edits_and_reorders() -> None:
    opened = Entry(1, 1, T0, "open", "<@U0ALICE> opened the incident", "U0ALICE")
    moved = note(2, at(30), "CTO joined", "U0ALICE",
                 Revision(at(30), "CTO joinde", False, "U0ALICE", at(31)),
                 Revision(at(2), "CIO joined", False, "U0ALICE", at(32)))
    dropped = note(3, at(10), "wrong channel", "U0ALICE",
                   Revision(at(10), "wrong channel", True, "U0LEAD", at(40)))
    lines = corrected([opened, moved, dropped, captured(4)])
    assert [(line.ref, line.at, line.edited) for line in lines] == [
        ("T1", T0, False), ("T2", at(2), True), ("T4", at(5), False)]
    assert lines[1].text == "📝 <@U0ALICE>: CIO joined"
    assert lines[2].text == "💬 <@U0BOB>: the CDN is down"


def test_spans_days_is_about_utc_dates() -> None:
    assert not spans_days([T0, at(600)])  # 13:00 to 23:00
    assert spans_days([T0, at(11 * 60 + 1)])  # past midnight UTC
    assert not spans_days([])


def _summary_for(entries: list[Entry]) -> tuple[str, str]:
    inc = rules.open_incident(team_id="T1", customer="Acme", description="down", severity=None,
                              actor=ALICE, now=T0, policy=default_policy()).incident
    inc.id, inc.number = 1, 5
    s = summarize(inc, entries[-1].shown_at + timedelta(hours=1), corrected(entries))
    slack = "\n".join(str(m["blocks"]) for m in summary_messages(s))
    return slack, summary_markdown(s)


def test_summary_shows_times_within_one_day() -> None:
    slack, md = _summary_for([Entry(1, 1, T0, "open", "opened", "U0ALICE"),
                              note(2, at(90), "CTO joined")])
    assert "Timeline (2026-11-23 UTC)" in md
    assert "**T2** 14:30 UTC · 📝 @U0ALICE: CTO joined" in md
    assert f"<!date^{int(T0.timestamp())}^{{time}}|2026-11-23 13:00 UTC>" in slack


def test_summary_shows_full_dates_across_days_with_the_corrected_version() -> None:
    late = note(2, at(26 * 60), "CTO joined", "U0ALICE",
                Revision(at(25 * 60), "CIO joined", False, "U0ALICE", at(27 * 60)))
    slack, md = _summary_for([Entry(1, 1, T0, "open", "opened", "U0ALICE"), late])
    assert "## Timeline\n" in md
    assert "**T1** 2026-11-23T13:00:00Z · opened" in md
    assert "**T2** 2026-11-24T14:00:00Z · 📝 @U0ALICE: CIO joined _(corrected)_" in md
    assert "CTO joined" not in md and "CTO joined" not in slack
    assert "{date_short_pretty} at {time}" in slack


def test_markdown_timeline_is_inert() -> None:
    _, md = _summary_for([Entry(1, 1, T0, "captured", "**bold** &lt;script&gt; @here",
                                "U0BOB")])
    assert "<script>" not in md and "\\*\\*bold\\*\\*" in md


# --- references, pages, captured text ------------------------------------------------------


@pytest.mark.parametrize(("text", "number"), [("T12", 12), ("t3", 3), ("7", 7), (" T 4 ", 4)])
def test_parse_ref_accepts(text: str, number: int) -> None:
    assert parse_ref(text) == number


@pytest.mark.parametrize("text", ["", "T0", "P1", "T-1", "twelve", "T1x"])
def test_parse_ref_refuses_with_the_command_to_use(text: str) -> None:
    with pytest.raises(ParseError, match="/incident timeline"):
        parse_ref(text)


def test_find_says_how_to_list() -> None:
    with pytest.raises(NotFound, match="There is no T9"):
        find([note()], 9)


def test_pages_count_from_the_newest() -> None:
    entries = [note(n, at(n)) for n in range(1, 46)]
    first, pages = page(entries, 1, 20)
    assert pages == 3 and [e.number for e in first] == list(range(26, 46))
    last, _ = page(entries, 3, 20)
    assert [e.number for e in last] == list(range(1, 6))
    assert page(entries, 99, 20)[0] == last and page([], 1, 20) == ([], 1)


@pytest.mark.parametrize(("raw", "safe"), [
    ("<!channel> deploy now", "@channel deploy now"),
    ("<!here|here> and <!everyone>", "@here and @everyone"),
    ("ask <@U0CAROL> or <@U0DAN|dan>", "ask @carol or @dan"),
    ("<!subteam^S0OPS|@oncall> look", "@oncall look"),
    ("see <https://x.io|the doc> in <#C1|ops>", "see <https://x.io|the doc> in <#C1|ops>"),
    ("at <!date^1763906400^{time}|13:00>", "at <!date^1763906400^{time}|13:00>"),
    ("a &lt; b &amp; c", "a &lt; b &amp; c"),
    ("stray < and >", "stray &lt; and &gt;"),
    ("<@U0X|a&amp;b>", "@a&amp;b"),
])
def test_neutralise_never_pings(raw: str, safe: str) -> None:
    out = neutralise(raw, {"U0CAROL": "carol"})
    assert out == safe
    for token in ("<!channel", "<!here", "<!everyone", "<@", "<!subteam"):
        assert token not in out


def test_mentioned_users() -> None:
    assert mentioned_users("<@U1> <@W2|x> <@U1> <#C1>") == ["U1", "W2"]


# --- Block Kit -----------------------------------------------------------------------------


def _inc() -> Incident:
    inc = Incident("T1", 5, "Acme <Corp>", "down", "U0ALICE", T0, id=9)
    return inc


def test_list_stays_within_block_kit_limits_and_offers_more() -> None:
    entries = [note(n, at(n), "x" * 2900) for n in range(1, 61)]
    shown, pages = page(entries, 1, PAGE_SIZE)
    body = timeline_list(_inc(), shown, 1, pages)
    assert len(body["blocks"]) <= 50 and body["text"]
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in body["blocks"])
    assert "`/incident timeline 2`" in str(body["blocks"][-1])
    ids = [b["accessory"]["action_id"] for b in body["blocks"] if "accessory" in b]
    assert len(ids) == PAGE_SIZE and len(set(ids)) == PAGE_SIZE


def test_edit_modal_prefills_the_current_version() -> None:
    entry = note(2, T0, "CTO &amp; CFO joined", "U0ALICE",
                 Revision(at(5), "CIO &amp; CFO joined", False, "U0ALICE", at(6)))
    view = edit_modal(_inc(), entry)
    assert view["callback_id"] == "timeline:edit" and len(view["title"]["text"]) <= 24
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["text"]["initial_value"] == "CIO & CFO joined"
    assert inputs["at"]["initial_date_time"] == int(at(5).timestamp())
    assert "initial_options" not in inputs["remove"]
    assert "CTO &amp; CFO joined" in str(view["blocks"][1]), "the original is shown"
