"""The fast Block Kit serializer (`bot.blocks._serialize`) against slack_sdk's ``to_dict()``.

Every real payload the builders make (cards in every state, reminder lines, Home, every modal,
the summary, outage, timeline and shortcut payloads) must come out of the fast path equal to
``to_dict()``, key order included, without slack_sdk's ``to_dict()`` being called at all; and
every limit slack_sdk checks for the classes the bot uses must still raise, with slack_sdk's
own error, just past the limit (and not at it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject, JsonValidator
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DateTimePickerElement,
    DividerBlock,
    HeaderBlock,
    ImageBlock,
    InputBlock,
    LinkButtonElement,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UrlInputElement,
    UserSelectElement,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig
from slack_sdk.models.views import View

from bot import blocks
from bot.blocks import _serialize, kit
from bot.blocks.messages import BUTTONS
from bot.blocks.modals import choose_modal, handover_modal, open_modal
from bot.blocks.outage import draft_message, draft_modal, outage_card, outage_lines, resolve_prompt
from bot.blocks.shortcut import CaptureMeta, capture_loading, capture_modal, capture_unavailable
from bot.blocks.timeline import edit_modal, timeline_list
from playbook.domain import rules, verbs
from playbook.domain.model import Actor, CaptureKind, Incident
from playbook.domain.model import Option as IncidentOption
from playbook.domain.outage import Draft, DraftStatus, Outage
from playbook.domain.summary import summarize
from playbook.domain.timeline import Entry, Revision
from tests.playbooks import default_policy
from tests.unit.test_blocks import (
    NASTY,
    NOW,
    PB,
    STATES,
    all_modals,
    at,
    closed_with_skips,
    complete,
    long_text,
    mid_solve,
    new_incident,
)

LEAD = Actor("U1", is_lead=True)


# --- incidents the card tests in test_blocks.py do not have ------------------------------------


def _run(inc: Incident, *lines: str, minute: int) -> Incident:
    for line in lines:
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, LEAD, now=at(minute),
                                policy=default_policy()).incident
    return inc


def reopened_with_links() -> Incident:
    """Reopened after closing, one link too long to show whole, a snooze running."""
    inc = _run(complete(), "close", minute=60)
    inc = _run(inc, f"reopen froze again {NASTY}", minute=70)
    return _run(inc, "link https://support.example.com/t/" + "x" * 1600 + " huge",
                "link https://crm.example.com/a/1 CRM & <stuff>", "snooze 30m on a call",
                minute=200)


def long_customer() -> Incident:
    inc = new_incident()
    inc.customer = long_text(400, "customer")
    return inc


def many_options() -> Incident:
    inc = mid_solve()
    inc.options = [IncidentOption(n, f"option {n} {NASTY}", "risky", "U2", at(15))
                   for n in range(1, 151)]
    inc.recommended, inc.chosen = 140, 3
    return inc


def outage_incidents() -> list[Incident]:
    out = []
    for n in range(1, 41):
        inc = new_incident()
        inc.id, inc.number, inc.customer = 200 + n, 200 + n, f"Customer {n} & <Co>"
        out.append(inc)
    return out


def the_outage(**kw: Any) -> Outage:
    out = Outage("T1", 3, f"Payments API down {NASTY}", "U0ALICE", at(0), id=30,
                 channel_id="C0OUT")
    for key, value in kw.items():
        setattr(out, key, value)
    return out


def entry(removed: bool = False) -> Entry:
    revisions = (Revision(at(3), "corrected", removed, "U1", at(4)),)
    return Entry(7, 7, at(2), "note", f"the CTO joined {NASTY}", "U1", None, revisions)


META = CaptureMeta("C0CUST", "1700000000.000100", "U0DANA", "Dana <R>", "https://x.slack.com/p1")
DUE = "🔔 *Customer update due* for INC-3 (Acme &amp; Co): last told 1 h ago. <@U1> speaks."


# name -> a call of the builders (what it returns does not matter: every object they turn
# into a dict goes through `kit.serialize`, which the `checked` fixture wraps)
PAYLOADS: dict[str, Callable[[], Any]] = {
    **{f"card:{state}": (lambda s=state: blocks.card(STATES[s](), NOW, PB)) for state in STATES},
    "card:reopened-links-snooze": lambda: blocks.card(reopened_with_links(), at(201), PB),
    "card:long-customer": lambda: blocks.card(long_customer(), NOW, PB),
    **{f"reminder:{kind}": (lambda k=kind: blocks.timeline_message(k, DUE, 103))
       for kind in (*BUTTONS, "step")},
    "reminder:long-text": lambda: blocks.timeline_message("due", long_text(20000), 103),
    "home:empty": lambda: blocks.home("U1", [], [], NOW),
    "home:full": lambda: blocks.home("U1", outage_incidents() * 2, outage_incidents(), NOW,
                                     ["• *OUT-1* down"] * 25),
    **{f"modals:{state}": (lambda s=state: all_modals(STATES[s]())) for state in STATES},
    "modal:open": lambda: open_modal("C1", PB),
    "modal:open-outages": lambda: open_modal(None, PB, [(1, f"down {NASTY}"), (2, "slow")]),
    "modal:choose-150-options": lambda: choose_modal(many_options()),
    "modal:handover": lambda: handover_modal(mid_solve()),
    "timeline:list": lambda: timeline_list(mid_solve(), [entry(), entry(removed=True)], 1, 3),
    "timeline:edit": lambda: edit_modal(mid_solve(), entry()),
    "timeline:edit-removed": lambda: edit_modal(mid_solve(), entry(removed=True)),
    "shortcut:loading": capture_loading,
    "shortcut:unavailable": lambda: capture_unavailable("No open incident."),
    "shortcut:capture": lambda: capture_modal([new_incident(), mid_solve()], None,
                                              CaptureKind.PROMISE, long_text(5000), META),
    "outage:card": lambda: outage_card(the_outage(resolution="rolled back",
                                                  resolved_at=at(50)), outage_incidents(), NOW),
    "outage:draft-pending": lambda: draft_message(Draft(30, 1, 2, f"on it {NASTY}", at(5), id=5),
                                                  mid_solve(), the_outage()),
    "outage:draft-logged": lambda: draft_message(
        Draft(30, 1, 2, "on it", at(5), id=5, status=DraftStatus.LOGGED, settled_by="U2",
              settled_at=at(6)), mid_solve(), the_outage()),
    "outage:resolve-prompt": lambda: resolve_prompt(mid_solve(), the_outage(resolution="fixed")),
    "outage:draft-modal": lambda: draft_modal(Draft(30, 1, 2, "on it", at(5), id=5), mid_solve(),
                                              the_outage()),
    "outage:home-lines": lambda: blocks.home(
        "U1", [], [], NOW, outage_lines([(the_outage(), outage_incidents())], NOW)),
    "summary:mid_solve": lambda: blocks.summary_messages(summarize(mid_solve(), at(120))),
    "summary:complete": lambda: blocks.summary_messages(summarize(complete(), at(120)),
                                                        chart_note="pip install it"),
    "summary:closed": lambda: blocks.summary_messages(summarize(closed_with_skips(), at(200))),
}


# --- the comparison -----------------------------------------------------------------------------


def _refuse(self: Any, *args: Any) -> Any:
    raise AssertionError(f"slack_sdk's to_dict() called on {type(self).__name__}")


@contextmanager
def library_off() -> Iterator[None]:
    """slack_sdk's ``to_dict()`` made to fail: what still serializes took the fast path."""
    with pytest.MonkeyPatch.context() as mp:
        for cls in (JsonObject, Option, ConfirmObject):
            mp.setattr(cls, "to_dict", _refuse)
        yield


def same(fast: Any, slow: Any) -> None:
    assert fast == slow
    assert json.dumps(fast, ensure_ascii=False) == json.dumps(slow, ensure_ascii=False)


def fast_only(obj: JsonObject) -> dict[str, Any]:
    with library_off():
        return _serialize.serialize(obj)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[JsonObject]:
    """Every object the builders serialize: fast path only, equal to ``to_dict()``."""
    seen: list[JsonObject] = []

    def serialize(obj: JsonObject) -> dict[str, Any]:
        fast = fast_only(obj)
        same(fast, obj.to_dict())
        seen.append(obj)
        return fast

    monkeypatch.setattr(kit, "serialize", serialize)
    return seen


@pytest.mark.parametrize("name", PAYLOADS)
def test_real_payloads_come_out_equal_to_to_dict(name: str, checked: list[JsonObject]) -> None:
    PAYLOADS[name]()
    assert checked, "the builder serialized nothing through kit"


def _classes(obj: Any, out: set[type]) -> set[type]:
    if isinstance(obj, (list, tuple)):
        for item in obj:
            _classes(item, out)
    elif isinstance(obj, JsonObject):
        out.add(type(obj))
        for value in vars(obj).values():
            _classes(value, out)
    return out


def test_the_payloads_use_every_fast_class_and_only_fast_classes(
        checked: list[JsonObject]) -> None:
    for build in PAYLOADS.values():
        build()
    used = _classes(checked, set())
    assert used == _serialize.FAST_CLASSES


def test_every_mirrored_class_is_served_with_this_slack_sdk() -> None:
    """An upgrade that changes a class's validators or serialization shows up here."""
    assert set(_serialize._CHECKS) == _serialize.FAST_CLASSES


def test_the_card_path_uses_the_fast_serializer() -> None:
    body = blocks.card(mid_solve(), NOW, PB)
    with library_off():
        assert blocks.card(mid_solve(), NOW, PB) == body


# --- limits: just past each one raises as to_dict() does, at the limit both pass ---------------


def button(**kw: Any) -> ButtonElement:
    return ButtonElement(**{"text": PlainTextObject(text="Go", emoji=True), "action_id": "a",
                            **kw})


def option(text: str = "o", value: str = "v") -> Option:
    return Option(value=value, text=PlainTextObject(text=text, emoji=True))


def input_block(element: Any, **kw: Any) -> InputBlock:
    return InputBlock(**{"label": PlainTextObject(text="L"), "element": element, **kw})


def modal(**kw: Any) -> View:
    return View(**{"type": "modal", "callback_id": "modal:x", "title": PlainTextObject(text="T"),
                   "blocks": [DividerBlock()], **kw})


def pt(n: int, char: str = "x") -> PlainTextObject:
    return PlainTextObject(text=char * n, emoji=True)


# name -> (object with a length or count of n, the largest n slack_sdk accepts)
LIMITS: dict[str, tuple[Callable[[int], JsonObject], int]] = {
    "header text": (lambda n: HeaderBlock(text=pt(n)), 150),
    "header block_id": (lambda n: HeaderBlock(text=pt(1), block_id="b" * n), 255),
    "section text": (lambda n: SectionBlock(text=MarkdownTextObject(text="s" * n)), 3000),
    "section fields": (lambda n: SectionBlock(fields=["f"] * n), 10),
    "section block_id": (lambda n: SectionBlock(text="t", block_id="b" * n), 255),
    "divider block_id": (lambda n: DividerBlock(block_id="b" * n), 255),
    "context elements": (lambda n: ContextBlock(elements=[MarkdownTextObject(text="c")] * n), 10),
    "context block_id": (lambda n: ContextBlock(elements=["c"], block_id="b" * n), 255),
    "actions elements": (lambda n: ActionsBlock(elements=[button()] * n), 25),
    "actions block_id": (lambda n: ActionsBlock(elements=[button()], block_id="b" * n), 255),
    "button text": (lambda n: button(text=pt(n)), 75),
    "button action_id": (lambda n: button(action_id="a" * n), 255),
    "button value": (lambda n: button(value="v" * n), 2000),
    "button url": (lambda n: button(url="u" * n), 3000),
    "button accessibility_label": (lambda n: button(accessibility_label="l" * n), 75),
    "button agent_prompt": (lambda n: button(agent_prompt="p" * n), 4000),
    "input label": (lambda n: input_block(PlainTextInputElement(action_id="v"), label=pt(n)),
                    2000),
    "input hint": (lambda n: input_block(PlainTextInputElement(action_id="v"), hint=pt(n)),
                   2000),
    "input block_id": (lambda n: input_block(PlainTextInputElement(), block_id="b" * n), 255),
    "plain_text_input action_id": (lambda n: PlainTextInputElement(action_id="a" * n), 255),
    "plain_text_input placeholder": (lambda n: PlainTextInputElement(placeholder=pt(n)), 150),
    "url_text_input action_id": (lambda n: UrlInputElement(action_id="a" * n), 255),
    "url_text_input placeholder": (lambda n: UrlInputElement(placeholder=pt(n)), 150),
    "users_select action_id": (lambda n: UserSelectElement(action_id="a" * n), 255),
    "users_select placeholder": (lambda n: UserSelectElement(placeholder=pt(n)), 150),
    "checkboxes action_id": (lambda n: CheckboxesElement(action_id="a" * n, options=[option()]),
                             255),
    "radio_buttons action_id": (lambda n: RadioButtonsElement(action_id="a" * n,
                                                              options=[option()]), 255),
    "datetimepicker action_id": (lambda n: DateTimePickerElement(action_id="a" * n), 255),
    "datetimepicker initial_date_time": (
        lambda n: DateTimePickerElement(action_id="v", initial_date_time=n), 9999999999),
    "static_select options": (lambda n: StaticSelectElement(options=[option()] * n), 100),
    "static_select option_groups": (lambda n: StaticSelectElement(option_groups=[
        OptionGroup(label="g", options=[option()])] * n), 100),
    "static_select placeholder": (lambda n: StaticSelectElement(options=[option()],
                                                                placeholder=pt(n)), 150),
    "static_select action_id": (lambda n: StaticSelectElement(options=[option()],
                                                              action_id="a" * n), 255),
    "option text": (lambda n: option(text="o" * n), 75),
    "option label": (lambda n: Option(value="v", label="l" * n), 75),
    "option value": (lambda n: option(value="v" * n), 150),
    "confirm title": (lambda n: ConfirmObject(title="t" * n, text="x"), 100),
    "confirm text": (lambda n: ConfirmObject(title="t", text="x" * n), 300),
    "confirm confirm": (lambda n: ConfirmObject(title="t", text="x", confirm="c" * n), 30),
    "confirm deny": (lambda n: ConfirmObject(title="t", text="x", deny="d" * n), 30),
    "view title": (lambda n: modal(title=pt(n)), 24),
    "view submit": (lambda n: modal(submit=pt(n)), 24),
    "view close": (lambda n: modal(close=pt(n)), 24),
    "view blocks": (lambda n: modal(blocks=[DividerBlock()] * n), 100),
    "view private_metadata": (lambda n: modal(private_metadata="m" * n), 3000),
    "view callback_id": (lambda n: modal(callback_id="c" * n), 255),
    "home blocks": (lambda n: View(type="home", blocks=[DividerBlock()] * n), 100),
}

# objects slack_sdk refuses for something other than a length
INVALID: dict[str, Callable[[], JsonObject]] = {
    "header without text": lambda: HeaderBlock(),
    "section without text or fields": lambda: SectionBlock(block_id="s"),
    "button style": lambda: button(style="secondary"),
    "confirm style": lambda: ConfirmObject(title="t", text="x", style="secondary"),
    "input with a button": lambda: input_block(button()),
    "select with options and groups": lambda: StaticSelectElement(
        options=[option()], option_groups=[OptionGroup(label="g", options=[option()])]),
    "select without options": lambda: StaticSelectElement(action_id="v"),
    "datetimepicker before 1970": lambda: DateTimePickerElement(initial_date_time=-1),
    "view type": lambda: modal(type="dialog"),
    "view empty title": lambda: modal(title=pt(0)),
    "view without blocks": lambda: modal(blocks=[]),
    "home with submit": lambda: View(type="home", blocks=[DividerBlock()], submit=pt(4)),
    "home with close": lambda: View(type="home", blocks=[DividerBlock()], close=pt(4)),
}

# a bad object deep inside what the bot serializes: the walk checks it where slack_sdk does
NESTED: dict[str, Callable[[], JsonObject]] = {
    "button text in actions": lambda: ActionsBlock(elements=[button(), button(text=pt(76))]),
    "button value in a section accessory": lambda: SectionBlock(
        text="t", accessory=button(value="v" * 2001)),
    "confirm text in a button": lambda: ActionsBlock(elements=[button(
        confirm=ConfirmObject(title="t", text="x" * 301))]),
    "option text in a select in a modal": lambda: modal(blocks=[input_block(
        StaticSelectElement(action_id="v", options=[option(), option(text="o" * 76)]))]),
    "initial option value in radio buttons": lambda: input_block(RadioButtonsElement(
        action_id="v", options=[option()], initial_option=option(value="v" * 151))),
    "checkbox option in a modal": lambda: modal(blocks=[input_block(CheckboxesElement(
        action_id="v", options=[option(text="o" * 76)]))]),
    "placeholder in a modal input": lambda: modal(blocks=[input_block(
        PlainTextInputElement(action_id="v", placeholder=pt(151)))]),
    "header text in a home view": lambda: View(type="home", blocks=[HeaderBlock(text=pt(151))]),
    "block_id in a modal": lambda: modal(blocks=[DividerBlock(block_id="b" * 256)]),
}


def raises_like_to_dict(obj: JsonObject) -> None:
    with pytest.raises(SlackObjectFormationError) as slow:
        obj.to_dict()
    with pytest.raises(SlackObjectFormationError) as fast:
        _serialize.serialize(obj)
    assert str(fast.value) == str(slow.value)


@pytest.mark.parametrize("name", LIMITS)
def test_each_limit_holds_at_its_value_and_raises_past_it(name: str) -> None:
    make, limit = LIMITS[name]
    at_limit = make(limit)
    fast = _serialize.serialize if _classes(at_limit, set()) - _serialize.FAST_CLASSES \
        else fast_only  # an OptionGroup (the bot has none) goes through slack_sdk
    same(fast(at_limit), at_limit.to_dict())
    raises_like_to_dict(make(limit + 1))


@pytest.mark.parametrize("name", INVALID)
def test_invalid_objects_raise_as_to_dict_does(name: str) -> None:
    raises_like_to_dict(INVALID[name]())


@pytest.mark.parametrize("name", NESTED)
def test_a_bad_nested_object_raises_as_to_dict_does(name: str) -> None:
    raises_like_to_dict(NESTED[name]())


def test_the_first_failing_check_wins_as_in_slack_sdk() -> None:
    """Two problems (a block_id and a button): slack_sdk reports the block's first."""
    obj = ActionsBlock(block_id="b" * 256, elements=[button(text=pt(76))])
    raises_like_to_dict(obj)
    with pytest.raises(SlackObjectFormationError, match="block_id"):
        _serialize.serialize(obj)


def test_message_refuses_more_than_50_blocks() -> None:
    with pytest.raises(ValueError, match="51 blocks"):
        kit.message("t", [DividerBlock()] * 51)
    assert len(kit.message("t", [DividerBlock()] * 50)["blocks"]) == 50


# --- shapes off the bot's path: the fast path or slack_sdk, the result is to_dict()'s ------------


ODD: dict[str, Callable[[], JsonObject]] = {
    "empty plain text": lambda: SectionBlock(text="t", accessory=button(text=pt(0))),
    "emoji false, verbatim true": lambda: ContextBlock(elements=[
        PlainTextObject(text="p", emoji=False), MarkdownTextObject(text="m", verbatim=True)]),
    "tuple of elements": lambda: ContextBlock(elements=(MarkdownTextObject(text="m"),)),
    "fields, accessory and expand": lambda: SectionBlock(
        fields=["a", PlainTextObject(text="b")], accessory=button(), expand=False),
    "empty block_id and fields": lambda: SectionBlock(text="t", block_id="", fields=[]),
    "button with everything": lambda: button(
        url="https://x", value="1", style="danger", accessibility_label="go",
        agent_prompt="p", agent_prompt_display="d", visible_to_user_ids=["U1", "U2"],
        confirm=ConfirmObject(title="t", text=MarkdownTextObject(text="*x*"), style="danger")),
    "option by label, description and url": lambda: StaticSelectElement(options=[
        Option(value="v", label="L"),
        Option(value="w", text="W", description="about w", url="https://x")]),
    "min_length 0 and a dispatch config": lambda: PlainTextInputElement(
        action_id="v", min_length=0, max_length=10, multiline=False, focus_on_load=True,
        dispatch_action_config=DispatchActionConfig(trigger_actions_on=["on_enter_pressed"])),
    "datetimepicker at 0": lambda: DateTimePickerElement(action_id="v", initial_date_time=0),
    "a float and an empty dict": lambda: input_block(PlainTextInputElement(
        action_id="v", dispatch_action_config={}, min_length=1.5)),  # type: ignore[arg-type]
    "a config as a dict": lambda: UrlInputElement(
        action_id="v", dispatch_action_config={"trigger_actions_on": ["on_enter_pressed"]}),
    "input with dispatch_action": lambda: input_block(UserSelectElement(action_id="v"),
                                                      dispatch_action=True, optional=False),
    "view with state and extras": lambda: modal(
        state={"values": {"b": {"v": {"type": "plain_text_input", "value": "x"}}}},
        external_id="e", clear_on_close=True, notify_on_close=False, something_else=1),
    "block dicts in a view": lambda: View(type="home", blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]),
    "an unknown block": lambda: ImageBlock(image_url="https://x/i.png", alt_text="i"),
    "a subclass of a fast class": lambda: ActionsBlock(elements=[
        LinkButtonElement(text="Docs", url="https://x")]),
}


@pytest.mark.parametrize("name", ODD)
def test_odd_shapes_still_equal_to_dict(name: str) -> None:
    obj = ODD[name]()
    same(_serialize.serialize(obj), obj.to_dict())


def test_unknown_classes_and_subclasses_go_through_slack_sdk() -> None:
    assert ImageBlock not in _serialize.FAST_CLASSES
    assert LinkButtonElement not in _serialize.FAST_CLASSES
    with library_off(), pytest.raises(AssertionError, match="ImageBlock"):
        _serialize.serialize(ODD["an unknown block"]())


def test_a_class_whose_validators_or_serialization_differ_is_not_served(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Stricter(HeaderBlock):
        @JsonValidator("one more rule")
        def _validate_more(self) -> bool:
            return True

    class OwnDict(SectionBlock):
        def to_dict(self, *args: Any) -> dict[str, Any]:
            return {}

    monkeypatch.setitem(_serialize._CHECKS, Stricter, _serialize._CHECKS[HeaderBlock])
    monkeypatch.setitem(_serialize._CHECKS, OwnDict, _serialize._CHECKS[SectionBlock])
    assert not _serialize._supported(Stricter)
    assert not _serialize._supported(OwnDict)
    assert _serialize._supported(HeaderBlock) and _serialize._supported(SectionBlock)


def test_blocks_parsed_back_from_the_fast_output_serialize_the_same() -> None:
    """What Slack gets back in interaction payloads round-trips through both paths."""
    for body in (blocks.card(STATES[s](), NOW, PB) for s in STATES):
        for block in body["blocks"]:
            parsed = Block.parse(block)
            assert parsed is not None
            same(_serialize.serialize(parsed), parsed.to_dict())
            assert _serialize.serialize(parsed) == block


def test_time_passing_changes_only_the_time_tokens() -> None:
    """Sanity for the comparison itself: two renders differ where the clock is shown."""
    inc = mid_solve()
    one, two = blocks.card(inc, NOW, PB), blocks.card(inc, NOW + timedelta(minutes=1), PB)
    assert one != two and len(one["blocks"]) == len(two["blocks"])
