"""The Block Kit builders: valid for slack_sdk, within Slack's limits, escaped, state-aware.

Plain data in, dicts out: every payload is re-parsed with `slack_sdk.models` and checked
against the limits Slack enforces (a small checker below), so a card or modal Slack would
refuse with ``invalid_blocks`` fails here first.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.blocks import (
    MODALS,
    card,
    choose_modal,
    followup_modal,
    home,
    listen_modal,
    open_modal,
    option_modal,
    own_modal,
    promise_modal,
    reply,
    resolve_modal,
    restate_modal,
    skip_modal,
    snooze_modal,
    summary_markdown,
    summary_messages,
    timeline_message,
    update_modal,
)
from bot.blocks.card import buttons_for
from bot.blocks.kit import pack, split_text
from bot.blocks.modals import DRIVERS
from playbook.domain import cadence
from playbook.domain.model import (
    Action,
    CadenceChange,
    Checkin,
    CustomerUpdate,
    Incident,
    Option,
    ParkedTopic,
    Promise,
    PromiseStatus,
    Status,
    Step,
    StepRecord,
)
from playbook.domain.steps import all_complete
from playbook.domain.summary import summarize
from playbook.domain.text import date_token, esc, fmt_duration
from playbook.services.builtin import builtin_playbook

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PB = builtin_playbook()
NASTY = "Acme <!channel> & *bold* <@UEVIL>"
RAW_MARKUP = ("<!channel>", "<@UEVIL>", "<!here>")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def long_text(n: int, seed: str = "word") -> str:
    """User text of about `n` characters, with every escapable character in it."""
    unit = f"{seed} <!channel> & *bold* <@UEVIL> > "
    return (unit * (n // len(unit) + 1))[:n]


# --- incidents in several states ---------------------------------------------------------------


def new_incident() -> Incident:
    """Just opened: listen step, default cadence from the severity."""
    return Incident(
        team_id="T1", number=3, id=103, customer=NASTY, description=f"exports fail {NASTY}",
        opened_by="U1", opened_at=T0, channel_id="C100",
        cadence_changes=[CadenceChange(T0, timedelta(hours=1), agreed=False)],
    )


def restated_unconfirmed() -> Incident:
    inc = new_incident()
    inc.customer_words = [f"it is all broken {NASTY}"]
    inc.cadence_changes.append(CadenceChange(at(5), timedelta(minutes=30), agreed=True, by="U1"))
    inc.steps = [StepRecord(Step.LISTEN, at(6), by="U1")]
    inc.step = Step.RESTATE
    inc.restatement = f"exports to the warehouse fail {NASTY}"
    return inc


def mid_solve() -> Incident:
    """Solve step with options, 30 open promises and texts of 3000+ characters."""
    inc = restated_unconfirmed()
    inc.customer_words.append(long_text(3500, "quote"))
    inc.impact = long_text(3100, "impact")
    inc.drivers = ["broken trust"]
    inc.restatement_confirmed_at = at(10)
    inc.owner, inc.owner_set_at, inc.communicator = "U2", at(12), "U3"
    inc.customer_channel_id = "C900"
    inc.steps += [StepRecord(Step.RESTATE, at(10), by="U1"), StepRecord(Step.OWN, at(12), by="U2")]
    inc.step = Step.SOLVE
    inc.options = [
        Option(1, f"roll back {NASTY}", f"loses data {NASTY}", "U2", at(15)),
        Option(2, long_text(3200, "hotfix"), None, "U2", at(16)),
    ]
    inc.recommended, inc.recommend_why = 2, f"keeps data {NASTY}"
    inc.promises = [
        Promise(n, f"P{n}-TEXT " + long_text(3050, f"promise{n}"), at(60 + n), "U2", at(20))
        for n in range(1, 31)
    ]
    inc.updates = [CustomerUpdate(1, "on it", "U3", at(25))]
    inc.parked = [ParkedTopic(1, f"refund {NASTY}", "U3", at(26))]
    return inc


def resolved() -> Incident:
    """Solved, in follow-up: the customer has not been told yet."""
    inc = mid_solve()
    inc.chosen, inc.chosen_at = 2, at(30)
    inc.resolution, inc.resolved_at, inc.status = f"hotfix deployed {NASTY}", at(40), \
        Status.RESOLVED
    inc.steps.append(StepRecord(Step.SOLVE, at(40), by="U2"))
    inc.step = Step.FOLLOW_UP
    inc.checkins = [Checkin(1, at(40) + timedelta(days=1)), Checkin(2, at(40) + timedelta(days=7))]
    return inc


def complete() -> Incident:
    """Every step done; not closed yet."""
    inc = resolved()
    inc.updates.append(CustomerUpdate(2, "fixed", "U3", at(45)))
    inc.customer_informed_at = at(45)
    inc.root_cause = f"schema change {NASTY}"
    inc.lessons = [f"stage first {NASTY}"]
    inc.actions = [Action(1, f"CI check {NASTY}", "U4", "U2", at(50), done_at=at(55)),
                   Action(2, "alert on failure", None, "U2", at(52))]
    inc.steps.append(StepRecord(Step.FOLLOW_UP, at(56), by="U2"))
    return inc


def closed_with_skips() -> Incident:
    inc = new_incident()
    inc.customer_words = ["down"]
    inc.steps = [
        StepRecord(Step.LISTEN, at(5), by="U1", skipped_reason=f"no contact {NASTY}"),
        StepRecord(Step.RESTATE, at(6), by="U1", skipped_reason="customer on holiday"),
        StepRecord(Step.OWN, at(7), by="U1"),
        StepRecord(Step.SOLVE, at(20), by="U1", skipped_reason="fixed itself"),
        StepRecord(Step.FOLLOW_UP, at(30), by="U1", skipped_reason="duplicate of INC-2"),
    ]
    inc.owner, inc.step = "U1", Step.FOLLOW_UP
    inc.status, inc.closed_at = Status.CLOSED, at(31)
    inc.promises = [Promise(1, "call back", at(15), "U1", at(8), PromiseStatus.MISSED)]
    return inc


STATES = {
    "new": new_incident,
    "restated": restated_unconfirmed,
    "mid_solve": mid_solve,
    "resolved": resolved,
    "complete": complete,
    "closed": closed_with_skips,
}
NOW = at(20)


# --- the checker --------------------------------------------------------------------------------


def _check_node(node: Any, path: str) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check_node(item, f"{path}/{i}")
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in ("plain_text", "mrkdwn"):
        assert isinstance(node.get("text"), str) and node["text"].strip(), path
        assert len(node["text"]) <= 3000, path
    elif kind == "header":
        assert node["text"]["type"] == "plain_text", path
        assert len(node["text"]["text"]) <= 150, path
    elif kind == "section":
        assert "text" in node or "fields" in node, path
        if "text" in node:
            assert len(node["text"]["text"]) <= 3000, path
        assert len(node.get("fields", [])) <= 10, path
    elif kind == "button":
        assert node["text"]["type"] == "plain_text", path
        assert len(node["text"]["text"]) <= 75, path
        assert len(node.get("value", "")) <= 2000, path
    elif kind in ("static_select", "checkboxes"):
        assert 1 <= len(node["options"]) <= 100, path
        for opt in node["options"]:
            assert len(opt["text"]["text"]) <= 75, path
            assert len(opt["value"]) <= 150, path
    elif kind == "actions":
        assert 1 <= len(node["elements"]) <= 25, path
    elif kind == "context":
        assert 1 <= len(node["elements"]) <= 10, path
    elif kind == "plain_text_input" and "initial_value" in node:
        assert len(node["initial_value"]) <= node.get("max_length", 3000), path
    for key in ("block_id", "action_id", "callback_id"):
        if key in node:
            assert len(node[key]) <= 255, path
    for key, value in node.items():
        _check_node(value, f"{path}/{key}")


def check_blocks(blocks: list[dict[str, Any]], limit: int) -> None:
    assert 0 < len(blocks) <= limit
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        assert parsed.to_dict() == block  # slack_sdk validates and drops nothing
    _check_node(blocks, "/blocks")
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(ids) == len(set(ids)), "duplicate block_id"


def check_message(body: dict[str, Any]) -> None:
    assert set(body) == {"text", "blocks"}
    assert isinstance(body["text"], str) and body["text"].strip()
    check_blocks(body["blocks"], 50)


def check_view(view: dict[str, Any]) -> None:
    assert View(**view).to_dict() == view
    assert view["type"] in ("modal", "home")
    if view["type"] == "modal":
        for key in ("title", "submit", "close"):
            if key in view:
                assert view[key]["type"] == "plain_text"
                assert len(view[key]["text"]) <= 24
        assert len(view.get("private_metadata", "")) <= 3000
        assert view["callback_id"].startswith("modal:")
        if any(b["type"] == "input" for b in view["blocks"]):
            assert view["submit"]["text"] in ("Save", "Open", "Snooze")
            assert view["close"]["text"] == "Cancel"
    check_blocks(view["blocks"], 100)


def rendered(payload: Any) -> str:
    """Everything Slack renders, as JSON: input initial values are shown verbatim, not parsed."""
    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "initial_value"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    return json.dumps(strip(payload), ensure_ascii=False)


def assert_escaped(payload: Any) -> None:
    text = rendered(payload)
    for raw in RAW_MARKUP:
        assert raw not in text
    assert "&lt;!channel&gt;" in text


def texts(body: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]


def buttons(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]


def action_ids(body: dict[str, Any]) -> list[str]:
    return [e["action_id"] for e in buttons(body)]


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


# --- the card ----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", STATES)
def test_card_is_valid_and_escaped_in_every_state(state: str) -> None:
    inc = STATES[state]()
    body = card(inc, NOW, PB)
    check_message(body)
    assert_escaped(body)
    assert body["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": f"INC-3 · {esc(NASTY)}", "emoji": True}}
    for button in buttons(body):
        assert button["action_id"].startswith("card:")
        assert button["value"] == "103"


def test_card_shows_missing_items_with_their_commands_and_next_due() -> None:
    inc = new_incident()
    body = card(inc, NOW, PB)
    text = "\n".join(texts(body))
    assert "Step 1 of 5: Listen" in text
    assert "⬜ The customer's own words _(required)_: `/incident listen &lt;what they said&gt;`" \
        in text
    assert "`/incident cadence 30m`" in text
    assert "▶️ *Listen*" in text and "▫️ Follow up" in text
    due = cadence.next_update_due(inc)
    assert due == at(60)
    assert f"Next update due {date_token(due)}" in text
    assert "default until the customer agrees" in text


def test_card_checklist_marks_done_items() -> None:
    body = card(restated_unconfirmed(), NOW, PB)
    text = "\n".join(texts(body))
    assert "✅ The problem in the customer's terms _(required)_" in text
    assert "⬜ The customer confirmed it _(required)_: `/incident confirm`" in text
    assert "✅ Listen" in text and "▶️ *Restate*" in text
    assert "every 30 min (agreed with the customer)" in text


def test_card_says_overdue_when_the_update_is_late() -> None:
    inc = new_incident()
    body = card(inc, at(85), PB)
    text = "\n".join(texts(body))
    assert f"Update overdue by {fmt_duration(timedelta(minutes=25))}" in text
    assert "Next update due" not in text


def test_card_lists_ten_open_promises_and_counts_the_rest() -> None:
    body = card(mid_solve(), NOW, PB)
    text = "\n".join(texts(body))
    assert "*Open promises* (30)" in text
    assert "*P10*" in text and "*P11*" not in text
    assert "…and 20 more" in text


def test_card_shows_closed_state_without_checklist() -> None:
    body = card(closed_with_skips(), NOW, PB)
    text = "\n".join(texts(body))
    assert "*Closed*" in text and "⏭️ Listen" in text and "✅ Own" in text
    assert "⬜" not in text and "▶️" not in text


@pytest.mark.parametrize(
    ("state", "main", "present", "absent"),
    [
        ("new", "card:listen", {"card:own", "card:promise", "card:update", "card:skip",
                                "card:status"}, {"card:confirm", "card:close", "card:choose"}),
        ("restated", "card:confirm", {"card:restate"}, {"card:close", "card:listen"}),
        ("mid_solve", "card:choose", {"card:option", "card:resolve"},
         {"card:confirm", "card:close", "card:own", "card:followup"}),
        ("resolved", "card:update", {"card:followup", "card:skip"},
         {"card:close", "card:resolve", "card:option"}),
        ("complete", "card:close", {"card:promise", "card:update"},
         {"card:skip", "card:confirm"}),
        ("closed", None, {"card:status"}, {"card:close", "card:update", "card:skip"}),
    ],
)
def test_buttons_match_the_state(state: str, main: str | None, present: set[str],
                                 absent: set[str]) -> None:
    inc = STATES[state]()
    body = card(inc, NOW, PB)
    ids = action_ids(body)
    assert len(ids) == len(set(ids))
    assert present <= set(ids)
    assert not absent & set(ids)
    primary = [e["action_id"] for e in buttons(body) if e.get("style") == "primary"]
    assert primary == ([main] if main else [])
    if main:
        assert ids[0] == main
    actions = [b for b in body["blocks"] if b["type"] == "actions"]
    assert len(actions[0]["elements"]) <= 5
    assert ids == [f"card:{w}" for w in buttons_for(inc)]


def test_confirm_only_with_an_unconfirmed_restatement() -> None:
    inc = new_incident()
    assert "confirm" not in buttons_for(inc)
    inc.restatement = "x"
    assert "confirm" in buttons_for(inc)
    inc.restatement_confirmed_at = at(3)
    assert "confirm" not in buttons_for(inc)


def test_close_only_when_every_step_is_complete() -> None:
    for make in STATES.values():
        inc = make()
        shown = "close" in buttons_for(inc)
        assert shown == (all_complete(inc) and inc.status is not Status.CLOSED)
    assert buttons_for(closed_with_skips()) == ["status"]


def test_card_needs_a_saved_incident() -> None:
    inc = new_incident()
    inc.id = None
    with pytest.raises(ValueError, match="no id"):
        card(inc, NOW, PB)


def test_card_header_is_cut_to_150() -> None:
    inc = new_incident()
    inc.customer = "A & B " * 100
    body = card(inc, NOW, PB)
    check_message(body)
    head = body["blocks"][0]["text"]["text"]
    assert len(head) <= 150 and head.endswith("…") and "&amp;" in head


# --- timeline messages and replies -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["due", "nudge", "escalate"])
def test_reminder_lines_carry_the_update_button(kind: str) -> None:
    body = timeline_message(kind, "⏰ The customer is due an update.", 103)
    check_message(body)
    assert next((e["action_id"], e["value"]) for e in buttons(body)) == ("card:update", "103")


@pytest.mark.parametrize(("kind", "first"), [("due", "card:update"), ("escalate", "card:update"),
                                             ("snooze-end", "card:update"),
                                             ("owner-nag", "card:own")])
def test_overdue_reminders_and_nags_can_be_snoozed(kind: str, first: str) -> None:
    body = timeline_message(kind, "🔔 The customer update is due now.", 103)
    check_message(body)
    assert [e["action_id"] for e in buttons(body)] == [
        first, "card:snooze15", "card:snooze30", "card:snooze60"]
    assert {e["value"] for e in buttons(body)} == {"103"}


def test_a_nudge_before_the_due_time_has_no_snooze() -> None:
    body = timeline_message("nudge", "⏰ The next customer update is due soon.", 103)
    assert not [e for e in buttons(body) if e["action_id"].startswith("card:snooze")]


@pytest.mark.parametrize("kind", ["step", "listen", "open"])
def test_other_lines_are_just_text(kind: str) -> None:
    body = timeline_message(kind, "✅ *Listen* is complete.", 103)
    check_message(body)
    assert buttons(body) == []
    assert texts(body) == ["✅ *Listen* is complete."]


def test_timeline_text_is_not_escaped_twice_and_long_text_is_split_not_cut() -> None:
    text = "<@U1> noted: “" + esc(long_text(7000)) + "”"
    body = timeline_message("listen", text, 103)
    check_message(body)
    assert len(texts(body)) > 1
    assert "".join(texts(body)) == text
    assert "&amp;lt;" not in rendered(body)


def test_reply_is_ephemeral() -> None:
    assert reply("Recorded.") == {"response_type": "ephemeral", "text": "Recorded."}


# --- App Home ----------------------------------------------------------------------------------


def test_home_empty_state() -> None:
    view = home("U1", [], [], NOW)
    check_view(view)
    text = rendered(view)
    assert "Nothing open for you" in text and "/incident open" in text
    assert "No customer update is overdue" in text
    assert "&lt;customer&gt;" in text


def test_home_lists_mine_and_overdue() -> None:
    mine = [new_incident(), restated_unconfirmed()]
    late = new_incident()
    view = home("U1", mine, [late], at(90))
    check_view(view)
    assert_escaped(view)
    text = rendered(view)
    assert "*Your open incidents* (2)" in text and "*Overdue customer updates* (1)" in text
    assert "<#C100>" in text and "you opened it" in text
    assert "update overdue by 30 min" in text
    assert "no owner yet" in text


def test_home_shows_next_due_token() -> None:
    inc = new_incident()
    view = home("U1", [inc], [], NOW)
    assert f"next update due {date_token(at(60))}" in rendered(view)


def test_home_stays_within_100_blocks() -> None:
    many = []
    for n in range(150):
        inc = new_incident()
        inc.number, inc.id = n + 1, n + 1
        many.append(inc)
    view = home("U1", many, many, at(300))
    check_view(view)
    assert len(view["blocks"]) <= 100
    assert rendered(view).count("…and 110 more") == 2


# --- modals ------------------------------------------------------------------------------------


def all_modals(inc: Incident) -> dict[str, dict[str, Any]]:
    return {
        "listen": listen_modal(inc), "restate": restate_modal(inc), "own": own_modal(inc),
        "option": option_modal(inc), "choose": choose_modal(inc),
        "promise": promise_modal(inc, 1_772_445_600), "update": update_modal(inc),
        "resolve": resolve_modal(inc), "followup": followup_modal(inc), "skip": skip_modal(inc, PB),
        "snooze": snooze_modal(inc, 30),
    }


@pytest.mark.parametrize("state", STATES)
def test_every_modal_is_valid_in_every_state(state: str) -> None:
    inc = STATES[state]()
    for name, view in all_modals(inc).items():
        check_view(view)
        assert view["callback_id"] == f"modal:{name}"
        assert json.loads(view["private_metadata"]) == {"incident_id": 103}
        for block_id, block in inputs(view).items():
            assert block["element"]["action_id"] == "v", (name, block_id)
        assert_escaped(view)


EXPECTED_FIELDS = {
    "listen": {"words": False, "impact": True, "driver": True, "cadence": True,
               "window_hours": True, "window_days": True, "window_zone": True},
    "restate": {"restatement": False, "confirmed": True},
    "own": {"owner": False, "communicator": True, "apology": True},
    "option": {"text": False, "risk": True, "relief": True},
    "choose": {"recommended": True, "why": True, "chosen": True},
    "promise": {"what": False, "due": False},
    "update": {"text": False, "send": True},
    "resolve": {"resolution": False},
    "relief": {"relief": False},
    "followup": {"rootcause": True, "lesson": True, "action": True, "action_owner": True},
    "skip": {"reason": False},
    "snooze": {"minutes": False, "reason": False},
}


def test_modal_fields_and_their_optionality() -> None:
    for name, view in all_modals(mid_solve()).items():
        got = {k: bool(b.get("optional")) for k, b in inputs(view).items()}
        assert got == EXPECTED_FIELDS[name], name


def test_modal_element_types_and_initial_values() -> None:
    inc = mid_solve()
    listen = inputs(listen_modal(inc))
    assert listen["words"]["element"]["multiline"] is True
    assert [o["value"] for o in listen["driver"]["element"]["options"]] == list(DRIVERS)
    assert listen["cadence"]["element"]["initial_value"] == "30 min"
    assert listen["cadence"]["element"]["placeholder"]["text"] == "30m, 1h, every 2 hours"
    assert "initial_value" not in inputs(listen_modal(new_incident()))["cadence"]["element"]

    restate = inputs(restate_modal(inc))
    assert restate["restatement"]["element"]["initial_value"] == inc.restatement  # raw, editable
    box = restate["confirmed"]["element"]
    assert box["type"] == "checkboxes" and [o["value"] for o in box["options"]] == ["yes"]
    assert box["options"][0]["text"]["text"] == "The customer confirmed this is right"
    assert box["initial_options"] == box["options"]
    assert "initial_options" not in inputs(restate_modal(restated_unconfirmed()))["confirmed"][
        "element"]

    own = inputs(own_modal(inc))
    assert own["owner"]["element"]["type"] == "users_select"
    assert own["owner"]["element"]["initial_user"] == "U2"
    assert own["communicator"]["element"]["initial_user"] == "U3"

    choose = inputs(choose_modal(inc))
    assert [o["value"] for o in choose["recommended"]["element"]["options"]] == ["1", "2"]
    assert choose["recommended"]["element"]["initial_option"]["value"] == "2"
    assert "initial_option" not in choose["chosen"]["element"]
    assert all(len(o["text"]["text"]) <= 75 for o in choose["chosen"]["element"]["options"])

    promise = inputs(promise_modal(inc, 1_772_445_600))
    assert promise["due"]["element"] == {"type": "datetimepicker", "action_id": "v",
                                         "initial_date_time": 1_772_445_600}

    followup = inputs(followup_modal(complete()))
    assert followup["rootcause"]["element"]["initial_value"] == complete().root_cause
    assert followup["action_owner"]["element"]["type"] == "users_select"


def test_update_modal_offers_the_customer_channel_only_when_linked() -> None:
    linked = inputs(update_modal(mid_solve()))
    assert linked["send"]["element"]["options"][0]["value"] == "yes"
    assert linked["send"]["element"]["options"][0]["text"]["text"] == \
        "Also post it to the customer channel"
    assert "send" not in inputs(update_modal(new_incident()))


def test_choose_modal_without_options_has_nothing_to_submit() -> None:
    view = choose_modal(new_incident())
    check_view(view)
    assert inputs(view) == {} and "submit" not in view
    assert "no options yet" in rendered(view)


def test_choose_modal_with_more_than_100_options() -> None:
    inc = mid_solve()
    inc.options = [Option(n, long_text(500, f"opt{n}"), "risky", "U2", at(15))
                   for n in range(1, 131)]
    view = choose_modal(inc)
    check_view(view)
    opts = inputs(view)["chosen"]["element"]["options"]
    assert len(opts) == 100 and opts[0]["value"] == "31" and opts[-1]["value"] == "130"


def test_skip_modal_names_the_step() -> None:
    view = skip_modal(restated_unconfirmed(), PB)
    assert "You are skipping *Restate*" in rendered(view)
    assert "the customer confirmed it" in rendered(view)
    done = skip_modal(complete(), PB)
    check_view(done)
    assert inputs(done) == {} and "nothing to skip" in rendered(done)


def test_open_modal() -> None:
    view = open_modal("C42", PB)
    check_view(view)
    assert view["callback_id"] == "modal:open"
    assert view["submit"]["text"] == "Open" and view["close"]["text"] == "Cancel"
    assert json.loads(view["private_metadata"]) == {"channel_id": "C42"}
    fields = inputs(view)
    assert fields["customer"]["element"]["max_length"] == 80
    assert fields["what"]["element"]["max_length"] == 2000
    assert fields["what"]["element"]["multiline"] is True
    severity = fields["severity"]["element"]
    assert [o["value"] for o in severity["options"]] == ["sev1", "sev2", "sev3", "sev4"]
    assert severity["options"][0]["text"]["text"] == "sev1 — critical customer, business at risk"
    assert severity["initial_option"]["value"] == PB.default_severity == "sev2"
    assert [k for k, b in fields.items() if b.get("optional")] == ["ticket", "emails"]
    assert fields["ticket"]["element"]["type"] == "url_text_input"
    assert fields["emails"]["element"]["type"] == "plain_text_input"
    assert json.loads(open_modal(None, PB)["private_metadata"]) == {"channel_id": None}


def test_modals_map_card_actions_to_builders() -> None:
    inc = mid_solve()
    assert set(MODALS) == {f"card:{w}" for w in (
        "listen", "restate", "own", "option", "choose", "promise", "update", "resolve", "relief",
        "followup", "skip", "snooze15", "snooze30", "snooze60", "handover")}
    for action, build in MODALS.items():
        view = build(inc, PB) if build is skip_modal else build(inc)
        check_view(view)
        if action.startswith("card:snooze"):  # one form, preset to the button's duration
            assert view["callback_id"] == "modal:snooze"
            minutes = inputs(view)["minutes"]["element"]["initial_option"]["value"]
            assert f"card:snooze{minutes}" == action
            continue
        assert view["callback_id"] == "modal:" + action.removeprefix("card:")


# --- the summary -------------------------------------------------------------------------------


def test_summary_of_a_huge_incident_splits_and_cuts_nothing() -> None:
    inc = mid_solve()
    messages = summary_messages(summarize(inc, at(120)))
    assert len(messages) > 1
    for body in messages:
        check_message(body)
        assert_escaped(body)
    joined = "".join(t for body in messages for t in texts(body))
    for p in inc.promises:
        assert esc(p.text) in joined, p.number
    for words in inc.customer_words:
        assert esc(words) in joined
    assert esc(inc.impact or "") in joined
    assert esc(inc.options[1].text) in joined
    assert messages[0]["blocks"][0]["type"] == "header"
    assert "(part 2 of" in messages[1]["text"]
    assert messages[1]["blocks"][0]["type"] == "context"
    assert "<!channel>" not in json.dumps(messages)


def test_summary_content_of_a_closed_incident_with_skips() -> None:
    inc = closed_with_skips()
    messages = summary_messages(summarize(inc, at(200)))
    assert len(messages) == 1
    check_message(messages[0])
    assert_escaped(messages[0])
    text = "\n".join(texts(messages[0]))
    assert messages[0]["blocks"][0]["text"]["text"].startswith("Summary: INC-3")
    assert f"⏭️ *Listen* skipped {date_token(at(5))} by <@U1>: “no contact {esc(NASTY)}”" in text
    assert "“duplicate of INC-2”" in text
    assert "✅ *Own* completed" in text
    assert "0 kept · 1 missed · 0 open" in text
    assert "❌ *P1* “call back”" in text
    assert "Total duration: 31 min" in text


def test_summary_content_of_a_complete_incident() -> None:
    inc = complete()
    s = summarize(inc, at(60))
    text = "\n".join(t for body in summary_messages(s) for t in texts(body))
    assert "Summary so far" in summary_messages(s)[0]["text"]
    assert "Every 30 min: 2 on time, 0 late, 0 missed · adherence *100%*" in text
    assert "Longest gap between updates: 25 min (interval 30 min)" in text
    assert "reminder" in text and "escalation" in text
    assert "⭐ recommended" in text and "👉 chosen" in text
    assert f"because “keeps data {esc(NASTY)}”" in text
    assert f"✅ *A1* “CI check {esc(NASTY)}” · owner <@U4> · done {date_token(at(55))}" in text
    assert "⬜ *A2* “alert on failure” · owner none · open" in text
    assert "*Parked topics*" in text and "refund" in text
    assert "⏳ *C1* due" in text
    assert f"“schema change {esc(NASTY)}”" in text
    assert "Owner named after 12 min" in text


def test_summary_counts_missed_updates() -> None:
    text = "\n".join(texts(summary_messages(summarize(new_incident(), at(200)))[0]))
    assert "Every 1 h: 0 on time, 0 late, 3 missed · adherence *0%*" in text
    assert "Longest gap between updates: no update yet" in text
    assert "▶️ *Listen* in progress since" in text and "▫️ *Solve* not reached" in text


def test_empty_timeline_text_still_gives_a_valid_message() -> None:
    check_message(timeline_message("step", "", 103))


def test_summary_markdown() -> None:
    inc = complete()
    inc.status, inc.closed_at = Status.CLOSED, at(60)
    md = summary_markdown(summarize(inc, at(60)))
    assert md.startswith("# Summary: INC-3 · Acme &lt;!channel&gt; &amp; \\*bold\\* ")
    assert "<!date" not in md and "<!channel>" not in md and "<@UEVIL>" not in md
    assert "2026-03-02T09:00:00Z" in md
    assert "<@U2>" in md and "<@U4>" in md
    assert "## Promises" in md and "## Steps" in md and "## Check-ins" in md
    for p in inc.promises:
        assert p.text.split(" ")[0] in md
    assert re.search(r"^- ✅ \*\*A1\*\*", md, re.M)
    assert "**Owner:** <@U2>" in md


# --- splitting helpers -------------------------------------------------------------------------

ESCAPED = st.text(alphabet=st.sampled_from(list("ab \n&<>*")), max_size=400).map(esc)


@settings(max_examples=300, deadline=None)
@given(ESCAPED, st.integers(min_value=20, max_value=120))
def test_split_text_loses_nothing_and_breaks_no_entity(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    assert all(len(p) <= limit for p in pieces)
    for piece in pieces:
        assert not re.search(r"&[a-z]*$", piece)  # no entity cut in two


@settings(max_examples=200, deadline=None)
@given(st.lists(ESCAPED, max_size=20), st.integers(min_value=20, max_value=120))
def test_pack_keeps_every_line(lines: list[str], limit: int) -> None:
    chunks = pack(lines, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    joined = re.sub(r"\s", "", "".join(chunks))
    for line in lines:
        assert re.sub(r"\s", "", line) in joined
