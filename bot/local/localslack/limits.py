"""Block Kit checks: refuse what real Slack would refuse.

Three layers, because each one alone misses things:

1. explicit limits Slack documents (block counts, text lengths, ids, header is plain_text);
2. ``slack_sdk.models`` parsing plus ``.to_dict()``, which runs slack_sdk's own validators;
3. a round-trip diff between the dict the app sent and slack_sdk's ``to_dict()`` output:
   slack_sdk silently drops keys it does not know and turns unknown element types into
   ``None``, while Slack answers ``invalid_blocks`` ("invalid additional property"), so any
   key lost on the way, or a shorthand string where Slack wants an object, is an error.

Errors read like Slack's: ``"<what> [json-pointer:/blocks/0/text/text]"``.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
MESSAGE_TEXT_MAX = 40_000
SECTION_TEXT_MAX = 3000
SECTION_FIELD_MAX = 2000
SECTION_MAX_FIELDS = 10
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
VIEW_TITLE_MAX = 24
PRIVATE_METADATA_MAX = 3000
ID_MAX = 255
CONTEXT_MAX_ELEMENTS = 10
ACTIONS_MAX_ELEMENTS = 25
INPUT_LABEL_MAX = 2000
INPUT_HINT_MAX = 2000
PLACEHOLDER_MAX = 150
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
SELECT_MAX_OPTIONS = 100
# Radio buttons and checkboxes: "maximum number of options is 10"
# (https://docs.slack.dev/reference/block-kit/block-elements/radio-button-group-element,
# .../checkboxes-element).
CHOICE_MAX_OPTIONS = 10
# plain_text_input: "max_length ... Maximum value is 3000"; min_length likewise at most 3000
# (https://docs.slack.dev/reference/block-kit/block-elements/plain-text-input-element).
TEXT_INPUT_MAX = 3000
URL_MAX = 3000
ALT_TEXT_MAX = 2000

_SELECTS = {"static_select", "multi_static_select", "external_select",
            "multi_external_select", "overflow", "radio_buttons", "checkboxes"}


def _err(msg: str, pointer: str) -> str:
    return f"{msg} [json-pointer:{pointer}]"


def _text_of(obj: Any) -> str | None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return obj["text"]
    return None


def _check_text(obj: Any, pointer: str, limit: int, errors: list[str], *,
                plain_only: bool = False, required: bool = True) -> None:
    """A composition text object: an object with a type and non-empty text within a limit."""
    if obj is None:
        if required:
            errors.append(_err("missing required field: text object", pointer))
        return
    if not isinstance(obj, dict):
        errors.append(_err("expected object, got " + type(obj).__name__, pointer))
        return
    kind = obj.get("type")
    if kind not in ("plain_text", "mrkdwn"):
        errors.append(_err(f"must be plain_text or mrkdwn, got {kind!r}", pointer + "/type"))
    elif plain_only and kind != "plain_text":
        errors.append(_err("must be plain_text", pointer + "/type"))
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.append(_err("must be more than 0 characters", pointer + "/text"))
    elif len(text) > limit:
        errors.append(_err(f"must be less than {limit + 1} characters", pointer + "/text"))


def _check_len(value: Any, limit: int, pointer: str, errors: list[str]) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors.append(_err(f"must be less than {limit + 1} characters", pointer))


def _check_element(el: Any, pointer: str, errors: list[str]) -> None:
    if not isinstance(el, dict):
        errors.append(_err("expected object", pointer))
        return
    kind = el.get("type")
    _check_len(el.get("action_id"), ID_MAX, pointer + "/action_id", errors)
    if "placeholder" in el:
        _check_text(el["placeholder"], pointer + "/placeholder", PLACEHOLDER_MAX, errors,
                    plain_only=True)
    if kind == "button":
        _check_text(el.get("text"), pointer + "/text", BUTTON_TEXT_MAX, errors, plain_only=True)
        _check_len(el.get("value"), BUTTON_VALUE_MAX, pointer + "/value", errors)
        _check_len(el.get("url"), URL_MAX, pointer + "/url", errors)
    elif kind == "image":
        _check_len(el.get("alt_text"), ALT_TEXT_MAX, pointer + "/alt_text", errors)
    elif kind in _SELECTS:
        options = el.get("options")
        if options is None and "option_groups" not in el and kind not in (
                "external_select", "multi_external_select"):
            errors.append(_err("missing required field: options", pointer))
        if isinstance(options, list):
            if not options:
                errors.append(_err("must provide at least 1 items", pointer + "/options"))
            if len(options) > SELECT_MAX_OPTIONS:
                errors.append(_err(f"no more than {SELECT_MAX_OPTIONS} items allowed",
                                   pointer + "/options"))
            if kind == "overflow" and not 2 <= len(options) <= 5:
                errors.append(_err("overflow needs 2 to 5 options", pointer + "/options"))
            if kind in ("radio_buttons", "checkboxes") and len(options) > CHOICE_MAX_OPTIONS:
                errors.append(_err(f"no more than {CHOICE_MAX_OPTIONS} items allowed",
                                   pointer + "/options"))
            for i, opt in enumerate(options):
                p = f"{pointer}/options/{i}"
                if not isinstance(opt, dict):
                    errors.append(_err("expected object", p))
                    continue
                _check_text(opt.get("text"), p + "/text", OPTION_TEXT_MAX, errors,
                            plain_only=kind not in ("radio_buttons", "checkboxes"))
                _check_len(opt.get("value"), OPTION_VALUE_MAX, p + "/value", errors)
        _check_initial_options(el, pointer, errors)
    elif kind == "plain_text_input":
        _check_text_input(el, pointer, errors)


def _same_option(a: Any, b: Any) -> bool:
    return (isinstance(a, dict) and isinstance(b, dict) and a.get("value") == b.get("value")
            and _text_of(a.get("text")) == _text_of(b.get("text")))


def _check_initial_options(el: dict[str, Any], pointer: str, errors: list[str]) -> None:
    """initial_option / initial_options "must exactly match one of the options" of the element
    (the select, radio button and checkbox element pages of Block Kit's reference)."""
    options = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        if isinstance(group, dict):
            options.extend(group.get("options") or [])
    if el.get("type") in ("external_select", "multi_external_select"):
        return  # options come from the app's options endpoint: nothing to match here
    chosen: list[tuple[str, Any]] = []
    if isinstance(el.get("initial_option"), dict):
        chosen.append(("/initial_option", el["initial_option"]))
    if isinstance(el.get("initial_options"), list):
        chosen.extend((f"/initial_options/{i}", o)
                      for i, o in enumerate(el["initial_options"]))
    for where, opt in chosen:
        if not any(_same_option(opt, o) for o in options):
            errors.append(_err("initial option must match one of the options", pointer + where))


def _check_text_input(el: dict[str, Any], pointer: str, errors: list[str]) -> None:
    """plain_text_input's bounds: max_length at most 3000, min_length no more than max_length,
    an initial_value that fits."""
    low, high = el.get("min_length"), el.get("max_length")
    if isinstance(high, int) and high > TEXT_INPUT_MAX:
        errors.append(_err(f"must be no more than {TEXT_INPUT_MAX}", pointer + "/max_length"))
    if isinstance(low, int) and low > TEXT_INPUT_MAX:
        errors.append(_err(f"must be no more than {TEXT_INPUT_MAX}", pointer + "/min_length"))
    if isinstance(low, int) and isinstance(high, int) and low > high:
        errors.append(_err("min_length must not exceed max_length", pointer + "/min_length"))
    initial = el.get("initial_value")
    limit = high if isinstance(high, int) else TEXT_INPUT_MAX
    if isinstance(initial, str) and len(initial) > limit:
        errors.append(_err(f"must be less than {limit + 1} characters",
                           pointer + "/initial_value"))


def _check_block(block: Any, pointer: str, errors: list[str]) -> None:
    if not isinstance(block, dict):
        errors.append(_err("expected object", pointer))
        return
    kind = block.get("type")
    if not isinstance(kind, str):
        errors.append(_err("missing required field: type", pointer))
        return
    _check_len(block.get("block_id"), ID_MAX, pointer + "/block_id", errors)
    if kind == "section":
        if "text" in block:
            _check_text(block["text"], pointer + "/text", SECTION_TEXT_MAX, errors)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not fields:
                errors.append(_err("must provide at least 1 items", pointer + "/fields"))
            else:
                if len(fields) > SECTION_MAX_FIELDS:
                    errors.append(_err(f"no more than {SECTION_MAX_FIELDS} items allowed",
                                       pointer + "/fields"))
                for i, f in enumerate(fields):
                    _check_text(f, f"{pointer}/fields/{i}", SECTION_FIELD_MAX, errors)
        if "accessory" in block:
            _check_element(block["accessory"], pointer + "/accessory", errors)
    elif kind == "header":
        _check_text(block.get("text"), pointer + "/text", HEADER_TEXT_MAX, errors,
                    plain_only=True)
    elif kind in ("context", "actions"):
        elements = block.get("elements")
        limit = CONTEXT_MAX_ELEMENTS if kind == "context" else ACTIONS_MAX_ELEMENTS
        if not isinstance(elements, list) or not elements:
            errors.append(_err("must provide at least 1 items", pointer + "/elements"))
            return
        if len(elements) > limit:
            errors.append(_err(f"no more than {limit} items allowed", pointer + "/elements"))
        seen: set[str] = set()
        for i, el in enumerate(elements):
            aid = el.get("action_id") if isinstance(el, dict) else None
            if isinstance(aid, str):  # "action_id ... should be unique among all other
                if aid in seen:       # action_ids in the containing block" (element pages)
                    errors.append(_err(f"duplicate action_id {aid!r}",
                                       f"{pointer}/elements/{i}/action_id"))
                seen.add(aid)
            p = f"{pointer}/elements/{i}"
            if kind == "context" and isinstance(el, dict) and el.get("type") != "image":
                _check_text(el, p, SECTION_TEXT_MAX, errors)
            else:
                _check_element(el, p, errors)
    elif kind == "input":
        _check_text(block.get("label"), pointer + "/label", INPUT_LABEL_MAX, errors,
                    plain_only=True)
        if "hint" in block:
            _check_text(block["hint"], pointer + "/hint", INPUT_HINT_MAX, errors,
                        plain_only=True)
        _check_element(block.get("element"), pointer + "/element", errors)
    elif kind == "image":
        _check_len(block.get("alt_text"), ALT_TEXT_MAX, pointer + "/alt_text", errors)
        _check_len(block.get("image_url"), URL_MAX, pointer + "/image_url", errors)


def _diff(sent: Any, parsed: Any, pointer: str, errors: list[str]) -> None:
    """Report what slack_sdk dropped or reshaped: Slack itself would refuse those."""
    if isinstance(sent, dict):
        if not isinstance(parsed, dict):
            what = "unknown type " + repr(sent.get("type")) if parsed is None else "invalid"
            errors.append(_err(what, pointer))
            return
        for key, value in sent.items():
            p = f"{pointer}/{key}"
            if key not in parsed:
                if value is None:
                    errors.append(_err("must not be null", p))
                elif value in ([], "", {}):
                    if not key.startswith("initial_"):  # "no initial value" is fine
                        errors.append(_err("must not be empty", p))
                else:
                    errors.append(_err(f"invalid additional property: {key}", pointer))
            elif key == "type" and parsed[key] != value:
                errors.append(_err(f"unknown type {value!r}", p))
            else:
                _diff(value, parsed[key], p, errors)
    elif isinstance(sent, list):
        if not isinstance(parsed, list) or len(parsed) != len(sent):
            errors.append(_err("invalid array", pointer))
            return
        for i, (a, b) in enumerate(zip(sent, parsed, strict=True)):
            _diff(a, b, f"{pointer}/{i}", errors)
    elif isinstance(parsed, dict | list):
        errors.append(_err(f"expected object, got {type(sent).__name__}", pointer))


# What slack_sdk's models said of a block, by the block's JSON and where it stands: a card is
# updated again and again with mostly the same blocks, and parsing each through the models
# was half this server's CPU under load (CPU a real Slack does not take from the bot's box).
# The answer for one JSON never changes, so the cache only saves work; bounded, then cleared.
_SDK_SEEN: dict[tuple[str, str], tuple[str, ...]] = {}
_SDK_SEEN_MAX = 20_000
_SDK_SEEN_LOCK = threading.Lock()


def _sdk_block(block: dict[str, Any], pointer: str, errors: list[str]) -> None:
    try:
        key = (json.dumps(block, sort_keys=True), pointer)
    except (TypeError, ValueError):  # not JSON: let the models say why
        _sdk_block_check(block, pointer, errors)
        return
    seen = _SDK_SEEN.get(key)
    if seen is None:
        found: list[str] = []
        _sdk_block_check(block, pointer, found)
        seen = tuple(found)
        with _SDK_SEEN_LOCK:
            if len(_SDK_SEEN) >= _SDK_SEEN_MAX:
                _SDK_SEEN.clear()
            _SDK_SEEN[key] = seen
    errors.extend(seen)


def _sdk_block_check(block: dict[str, Any], pointer: str, errors: list[str]) -> None:
    try:
        parsed = Block.parse(block)
        if parsed is None:
            errors.append(_err(f"unknown block type {block.get('type')!r}", pointer + "/type"))
            return
        out = parsed.to_dict()
    except Exception as exc:  # slack_sdk raises TypeError, ValueError or its own errors
        errors.append(_err(f"{type(exc).__name__}: {exc}", pointer))
        return
    _diff(block, out, pointer, errors)


def check_blocks(blocks: Any, *, surface: str = "message", pointer: str = "/blocks") -> list[str]:
    """Errors for a ``blocks`` array on a message (50 max) or a modal/home view (100 max)."""
    if not isinstance(blocks, list):
        return [_err("must be an array", pointer)]
    errors: list[str] = []
    limit = MESSAGE_MAX_BLOCKS if surface == "message" else VIEW_MAX_BLOCKS
    if len(blocks) > limit:
        errors.append(_err(f"no more than {limit} items allowed", pointer))
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        p = f"{pointer}/{i}"
        explicit: list[str] = []
        _check_block(block, p, explicit)
        errors.extend(explicit)
        if isinstance(block, dict) and not explicit and isinstance(block.get("type"), str):
            _sdk_block(block, p, errors)
        bid = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(bid, str):
            if bid in seen_ids:
                errors.append(_err(f"duplicate block_id {bid!r}", p + "/block_id"))
            seen_ids.add(bid)
    return errors


def check_view(view: Any, *, pointer: str = "/view") -> list[str]:
    """Errors for a view given to views.open/update/push/publish or a response_action."""
    if not isinstance(view, dict):
        return [_err("must be an object", pointer)]
    errors: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        errors.append(_err(f"type must be modal or home, got {kind!r}", pointer + "/type"))
        return errors
    if kind == "modal":
        _check_text(view.get("title"), pointer + "/title", VIEW_TITLE_MAX, errors,
                    plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            if kind == "home":
                errors.append(_err(f"{key} is not allowed on a home view", pointer + "/" + key))
            else:
                _check_text(view[key], f"{pointer}/{key}", VIEW_TITLE_MAX, errors,
                            plain_only=True)
    blocks = view.get("blocks")
    if (kind == "modal" and "submit" not in view and isinstance(blocks, list)
            and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)):
        errors.append(_err("submit is required when an input block is present",
                           pointer + "/submit"))
    _check_len(view.get("private_metadata"), PRIVATE_METADATA_MAX,
               pointer + "/private_metadata", errors)
    _check_len(view.get("callback_id"), ID_MAX, pointer + "/callback_id", errors)
    _check_len(view.get("external_id"), ID_MAX, pointer + "/external_id", errors)
    block_errors = check_blocks(blocks if blocks is not None else [], surface=kind,
                                pointer=pointer + "/blocks")
    errors.extend(block_errors)
    if not errors:
        try:  # (slack_sdk insists on >= 1 block; an empty Home tab is fine in Slack)
            out = View(**{**view, "blocks": blocks or [{"type": "divider"}]}).to_dict()
        except Exception as exc:
            errors.append(_err(f"{type(exc).__name__}: {exc}", pointer))
        else:
            # Empty strings are fine here (private_metadata="" is common); slack_sdk drops them.
            shell = {k: v for k, v in view.items() if k != "blocks" and v != ""}
            _diff(shell, out, pointer, errors)
    return errors


def fallback_missing(text: Any, blocks: Any, attachments: Any = None) -> bool:
    """True when blocks go out without top-level ``text``: notifications and screen readers
    then show nothing useful. Slack accepts it with a warning; we count it as a violation."""
    return bool(blocks) and not (isinstance(text, str) and text.strip()) and not attachments
