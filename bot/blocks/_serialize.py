"""Block Kit objects to dicts without slack_sdk's per-call validator machinery.

Why: every reminder refreshes its incident's status card, and slack_sdk's ``to_dict()`` spends
most of a card render looking for validators (``dir``, ``getattr`` and ``sorted`` on every
object), computing ``attributes`` and re-walking nested dicts. The builders keep making
`slack_sdk.models` objects; only this last step is done here, for the classes the bot uses.

What it guarantees, for each class in `_CHECKS`:

* the same dict as ``to_dict()`` (same keys in the same order, the same values): the keys are
  the class's ``attributes``, read from slack_sdk (sorted) on the first object of the class,
  emitted by the rules of slack_sdk's ``get_non_null_attributes`` (None and empty values
  dropped, nested objects and lists converted); `Option` and `ConfirmObject`, which have their
  own ``to_dict()``, get that method's layout;
* the same checks as slack_sdk's validators for that class (`_CHECKS`; each names the
  validators it mirrors). When one fails, or a value has a shape this module does not handle,
  the object goes through slack_sdk's own ``to_dict()``, which raises its own
  `SlackObjectFormationError` with its own message (or, if it accepts the object after all,
  gives its own dict). Nested objects are checked in slack_sdk's order (parent first, then
  children by key), so the same first error wins.

A class is served here only if slack_sdk still serializes it the way this module mirrors
(checked when this module loads): exactly the validators listed, and JsonObject's own
serialization methods (`Option` and `ConfirmObject`: their own ``to_dict``). Anything else -
another class, a subclass, a slack_sdk upgrade that adds a validator - goes through
``to_dict()``. It assumes, as slack_sdk does for these classes, that ``attributes`` is the same
for every object of a class. `tests/unit/test_blocks_serialize.py` checks that the bot's
payloads all take the fast path and come out equal to ``to_dict()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.models.basic_objects import EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST, JsonObject
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DateTimePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    InputInteractiveElement,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UrlInputElement,
    UserSelectElement,
)
from slack_sdk.models.blocks.basic_components import ButtonStyles
from slack_sdk.models.views import View

__all__ = ["FAST_CLASSES", "serialize"]

Check = Callable[[Any], bool]

# --- the checks: slack_sdk's validators for each class, limits read from the classes ---------
# Each returns True when every validator of the class would pass (the limits are slack_sdk's
# class attributes). `_CHECKS` lists the validator methods each mirrors; `_supported` refuses a
# class whose validators differ.


def _len_ok(value: Any, limit: int) -> bool:
    return value is None or len(value) <= limit


def _text_ok(obj: Any, limit: int) -> bool:
    """A text object's text within `limit`, the way most validators write it (None passes)."""
    return obj is None or obj.text is None or len(obj.text) <= limit


def _check_text_object(o: Any) -> bool:
    """PlainTextObject, MarkdownTextObject: no validators."""
    return True


def _check_option(o: Option) -> bool:
    """_validate_label_length, _validate_text_length, _validate_value_length."""
    return (_len_ok(o._label, Option.label_max_length)
            and _text_ok(o._text, Option.label_max_length)
            and len(o.value) <= Option.value_max_length)


def _check_confirm(o: ConfirmObject) -> bool:
    """title_length, text_length, confirm_length, deny_length, _validate_confirm_style."""
    return ((o._title is None or len(o._title.text) <= ConfirmObject.title_max_length)
            and (o._text is None or len(o._text.text) <= ConfirmObject.text_max_length)
            and (o._confirm is None or len(o._confirm.text) <= ConfirmObject.confirm_max_length)
            and (o._deny is None or len(o._deny.text) <= ConfirmObject.deny_max_length)
            and (o._style is None or o._style in ["primary", "danger"]))


def _check_header(o: HeaderBlock) -> bool:
    """_validate_block_id_length, _validate_text, _validate_alt_text_length."""
    return (_len_ok(o.block_id, HeaderBlock.block_id_max_length)
            and o.text is not None and len(o.text.text) <= HeaderBlock.text_max_length)


def _check_section(o: SectionBlock) -> bool:
    """_validate_block_id_length, _validate_text_or_fields_populated, _validate_fields_length,
    _validate_alt_text_length."""
    return (_len_ok(o.block_id, SectionBlock.block_id_max_length)
            and bool(o.text is not None or o.fields)
            and _len_ok(o.fields, SectionBlock.fields_max_length)
            and (o.text is None or len(o.text.text) <= SectionBlock.text_max_length))


def _check_divider(o: DividerBlock) -> bool:
    """_validate_block_id_length."""
    return _len_ok(o.block_id, DividerBlock.block_id_max_length)


def _check_context(o: ContextBlock) -> bool:
    """_validate_block_id_length, _validate_elements_length."""
    return (_len_ok(o.block_id, ContextBlock.block_id_max_length)
            and _len_ok(o.elements, ContextBlock.elements_max_length))


def _check_actions(o: ActionsBlock) -> bool:
    """_validate_block_id_length, _validate_elements_length."""
    return (_len_ok(o.block_id, ActionsBlock.block_id_max_length)
            and _len_ok(o.elements, ActionsBlock.elements_max_length))


def _check_input(o: InputBlock) -> bool:
    """_validate_block_id_length, _validate_label_length, _validate_hint_length (slack_sdk
    checks the hint against label_max_length), _validate_element_type."""
    return (_len_ok(o.block_id, InputBlock.block_id_max_length)
            and _text_ok(o.label, InputBlock.label_max_length)
            and _text_ok(o.hint, InputBlock.label_max_length)
            and (o.element is None or isinstance(o.element, (str, InputInteractiveElement))))


def _check_button(o: ButtonElement) -> bool:
    """_validate_action_id_length, _validate_text_length, _validate_url_length,
    _validate_value_length, _validate_style_valid, _validate_accessibility_label_length,
    _validate_agent_prompt_length."""
    return (_len_ok(o.action_id, ButtonElement.action_id_max_length)
            and _text_ok(o.text, ButtonElement.text_max_length)
            and _len_ok(o.url, ButtonElement.url_max_length)
            and _len_ok(o.value, ButtonElement.value_max_length)
            and (o.style is None or o.style in ButtonStyles)
            and _len_ok(o.accessibility_label, ButtonElement.text_max_length)
            and _len_ok(o.agent_prompt, ButtonElement.agent_prompt_max_length))


def _check_input_element(o: InputInteractiveElement) -> bool:
    """_validate_action_id_length, _validate_placeholder_length (every input element; the
    subclasses registered with this check add no validator of their own)."""
    return (_len_ok(o.action_id, InputInteractiveElement.action_id_max_length)
            and _text_ok(o.placeholder, InputInteractiveElement.placeholder_max_length))


def _check_datetimepicker(o: DateTimePickerElement) -> bool:
    """The input element checks and _validate_initial_date_time_valid."""
    return (_check_input_element(o)
            and (o.initial_date_time is None or 0 <= o.initial_date_time <= 9999999999))


def _check_static_select(o: StaticSelectElement) -> bool:
    """The input element checks and _validate_options_length, _validate_option_groups_length,
    _validate_options_and_option_groups_both_specified,
    _validate_neither_options_or_option_groups_is_specified."""
    return (_check_input_element(o)
            and _len_ok(o.options, StaticSelectElement.options_max_length)
            and _len_ok(o.option_groups, StaticSelectElement.option_groups_max_length)
            and (o.options is None) != (o.option_groups is None))


def _check_view(o: View) -> bool:
    """_validate_type, _validate_title_length, _validate_blocks_length,
    _validate_home_tab_structure, _validate_close_length, _validate_submit_length,
    _validate_private_metadata_max_length, _validate_callback_id_max_length."""
    return (o.type is not None and o.type in o.types
            and (o.title is None or 1 <= len(o.title.text) <= View.title_max_length)
            and (o.blocks is None or 0 < len(o.blocks) <= View.blocks_max_length)
            and (o.type != "home" or (o.close is None and o.submit is None))
            and (o.close is None or len(o.close.text) <= View.close_max_length)
            and (o.submit is None or len(o.submit.text) <= int(View.submit_max_length))
            and _len_ok(o.private_metadata, View.private_metadata_max_length)
            and _len_ok(o.callback_id, View.callback_id_max_length))


_INPUT_VALIDATORS = {"_validate_action_id_length", "_validate_placeholder_length"}
_BLOCK_VALIDATORS = {"_validate_block_id_length"}

# class -> (check, the validator names it mirrors)
_CHECKS: dict[type, tuple[Check, set[str]]] = {
    PlainTextObject: (_check_text_object, set()),
    MarkdownTextObject: (_check_text_object, set()),
    Option: (_check_option, {"_validate_label_length", "_validate_text_length",
                             "_validate_value_length"}),
    ConfirmObject: (_check_confirm, {"title_length", "text_length", "confirm_length",
                                     "deny_length", "_validate_confirm_style"}),
    HeaderBlock: (_check_header, _BLOCK_VALIDATORS | {"_validate_text",
                                                      "_validate_alt_text_length"}),
    SectionBlock: (_check_section, _BLOCK_VALIDATORS | {
        "_validate_text_or_fields_populated", "_validate_fields_length",
        "_validate_alt_text_length"}),
    DividerBlock: (_check_divider, _BLOCK_VALIDATORS),
    ContextBlock: (_check_context, _BLOCK_VALIDATORS | {"_validate_elements_length"}),
    ActionsBlock: (_check_actions, _BLOCK_VALIDATORS | {"_validate_elements_length"}),
    InputBlock: (_check_input, _BLOCK_VALIDATORS | {
        "_validate_label_length", "_validate_hint_length", "_validate_element_type"}),
    ButtonElement: (_check_button, {
        "_validate_action_id_length", "_validate_text_length", "_validate_url_length",
        "_validate_value_length", "_validate_style_valid",
        "_validate_accessibility_label_length", "_validate_agent_prompt_length"}),
    CheckboxesElement: (_check_input_element, _INPUT_VALIDATORS),
    PlainTextInputElement: (_check_input_element, _INPUT_VALIDATORS),
    UrlInputElement: (_check_input_element, _INPUT_VALIDATORS),
    UserSelectElement: (_check_input_element, _INPUT_VALIDATORS),
    RadioButtonsElement: (_check_input_element, _INPUT_VALIDATORS),
    DateTimePickerElement: (_check_datetimepicker, _INPUT_VALIDATORS | {
        "_validate_initial_date_time_valid"}),
    StaticSelectElement: (_check_static_select, _INPUT_VALIDATORS | {
        "_validate_options_length", "_validate_option_groups_length",
        "_validate_options_and_option_groups_both_specified",
        "_validate_neither_options_or_option_groups_is_specified"}),
    View: (_check_view, {
        "_validate_type", "_validate_title_length", "_validate_blocks_length",
        "_validate_home_tab_structure", "_validate_close_length", "_validate_submit_length",
        "_validate_private_metadata_max_length", "_validate_callback_id_max_length"}),
}


# --- the walk ---------------------------------------------------------------------------------

Serializer = Callable[[Any], dict[str, Any]]

# class -> its serializer; a class missing here goes through slack_sdk. A registered class
# starts with `_first_use` (which reads its attributes) and is then replaced by its walker.
_FAST: dict[type, Serializer] = {}


def _library(obj: Any) -> dict[str, Any]:
    """slack_sdk's own result for `obj` as a nested value (its ``to_dict()``, then what
    ``get_non_null_attributes`` does to a nested object's dict). Raises what slack_sdk raises."""
    return {k: _value(v) for k, v in obj.to_dict().items()}


def _value(value: Any) -> Any:
    """slack_sdk's ``to_dict_compatible``: lists (and tuples) item by item, objects as dicts."""
    cls = value.__class__
    fast = _FAST.get(cls)  # first: most values met here are the bot's objects
    if fast is not None:
        return fast(value)
    if cls is str or cls is bool or cls is int or value is None:
        return value
    if cls is list or cls is tuple or isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if to_dict and callable(to_dict):
        return _library(value)
    return value


def _present(value: Any) -> bool:
    """slack_sdk's ``is_not_empty`` (for a type without an empty-allowed exception)."""
    if value is None:
        return False
    if getattr(value, "__len__", None) is not None:
        return len(value) > 0
    return True


def _walker(check: Check, keys: tuple[str, ...]) -> Serializer:
    """``validate_json`` + ``get_non_null_attributes`` for a class whose sorted attributes are
    `keys`: the check, then every present attribute in that order, converted."""

    def walk(obj: Any) -> dict[str, Any]:
        try:
            ok = check(obj)
        except Exception:  # slack_sdk decides: its validators raise their own way
            ok = False
        if not ok:
            return _library(obj)
        out: dict[str, Any] = {}
        for key in keys:
            value = getattr(obj, key, None)
            if value is None:
                continue
            cls = value.__class__
            if cls is str:
                if value:
                    out[key] = value
            elif cls is bool or cls is int:
                out[key] = value
            elif cls is list:
                if value:
                    out[key] = [_value(v) for v in value]
            elif _present(value):
                out[key] = _value(value)
        return out

    return walk


def _text_walker(check: Check, keys: tuple[str, ...]) -> Serializer:
    """The walker for text objects (no validators), the most frequent objects by far: the
    common case (a non-empty str text and type, `emoji`/`verbatim` None or bool) written out."""
    plain = keys == ("emoji", "text", "type")
    generic = _walker(check, keys)

    def walk(obj: Any) -> dict[str, Any]:
        text, kind = getattr(obj, "text", None), getattr(obj, "type", None)
        emoji = getattr(obj, "emoji", None)
        verbatim = None if plain else getattr(obj, "verbatim", None)
        if (text.__class__ is not str or not text or kind.__class__ is not str or not kind
                or (emoji is not None and emoji.__class__ is not bool)
                or (verbatim is not None and verbatim.__class__ is not bool)):
            return generic(obj)
        if emoji is None:
            out = {"text": text, "type": kind}
        else:
            out = {"emoji": emoji, "text": text, "type": kind}
        if verbatim is not None:
            out["verbatim"] = verbatim
        return out

    return walk


def _option(obj: Option) -> dict[str, Any]:
    """`Option.to_dict()` for blocks (``option_type="block"``, what nesting calls)."""
    try:
        ok = _check_option(obj)
    except Exception:  # slack_sdk decides (below)
        ok = False
    if not ok or obj.value.__class__ is not str \
            or not (obj.url is None or obj.url.__class__ is str):
        return _library(obj)
    text = obj._text or PlainTextObject.from_str(obj.label)  # type: ignore[arg-type]
    out = {"text": _value(text), "value": obj.value}
    if obj._block_description:
        out["description"] = _value(obj._block_description)
    if obj.url:
        out["url"] = obj.url
    return out


def _confirm(obj: ConfirmObject) -> dict[str, Any]:
    """`ConfirmObject.to_dict()` for blocks."""
    try:
        ok = _check_confirm(obj)
    except Exception:  # slack_sdk decides (below)
        ok = False
    if not ok or not (obj._style is None or obj._style.__class__ is str):
        return _library(obj)
    out: dict[str, Any] = {}
    if obj._title:
        out["title"] = _value(obj._title)
    if obj._text:
        out["text"] = _value(obj._text)
    if obj._confirm:
        out["confirm"] = _value(obj._confirm)
    if obj._deny:
        out["deny"] = _value(obj._deny)
    if obj._style:
        out["style"] = obj._style
    return out


_CUSTOM: dict[type, Serializer] = {Option: _option, ConfirmObject: _confirm}


def _validator_names(cls: type) -> set[str]:
    """The validators slack_sdk's ``validate_json`` runs for `cls` (as it finds them)."""
    return {name for name in dir(cls) if not name.startswith("__")
            and callable(getattr(cls, name, None)) and hasattr(getattr(cls, name), "validator")}


def _generic_machinery(cls: type) -> bool:
    """Does `cls` serialize through JsonObject's own ``to_dict`` chain, unchanged?"""
    return all(getattr(cls, name) is getattr(JsonObject, name)
               for name in ("to_dict", "validate_json", "get_non_null_attributes",
                            "get_object_attribute"))


def _supported(cls: type) -> bool:
    """Is `cls` still serialized by slack_sdk the way this module mirrors it?"""
    if _validator_names(cls) != _CHECKS[cls][1]:
        return False
    if cls in _CUSTOM:  # its own to_dict (mirrored by `_CUSTOM`), JsonObject's validate_json
        return cls.validate_json is JsonObject.validate_json
    kind = getattr(cls, "type", None)
    if any(kind == allowed["type"] for allowed in EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST):
        return False
    return _generic_machinery(cls)


def _first_use(obj: Any) -> dict[str, Any]:
    """Read the class's attributes from its first object, install its walker, use it."""
    cls = obj.__class__
    keys = tuple(sorted(obj.attributes))
    check, validators = _CHECKS[cls]
    text = not validators and cls in (PlainTextObject, MarkdownTextObject) and keys in (
        ("emoji", "text", "type"), ("emoji", "text", "type", "verbatim"))
    walk = (_text_walker if text else _walker)(check, keys)
    _FAST[cls] = walk
    return walk(obj)


def _register() -> None:
    for cls in _CHECKS:
        if not _supported(cls):
            continue
        _FAST[cls] = _CUSTOM.get(cls, _first_use)


_register()

FAST_CLASSES: frozenset[type] = frozenset(_FAST)
"""The classes served here (all of `_CHECKS` unless slack_sdk changed one of them)."""


def serialize(obj: JsonObject) -> dict[str, Any]:
    """``obj.to_dict()``, the same dict and the same errors, faster for the bot's classes."""
    fast = _FAST.get(obj.__class__)
    if fast is None:
        return obj.to_dict()
    return fast(obj)
