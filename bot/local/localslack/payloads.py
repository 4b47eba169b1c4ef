"""Pure helpers that build the interactive parts of Slack payloads from stored blocks.

Slack only sends actions for elements that exist, with the element's own value and option
objects, and only submits a modal whose required inputs are filled. These helpers enforce
the same, so a test cannot click a button the app never drew.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

# element type -> (key in actions/state values, key of its initial value in the element)
INPUTS: dict[str, tuple[str, str | None]] = {
    "plain_text_input": ("value", "initial_value"),
    "email_text_input": ("value", "initial_value"),
    "url_text_input": ("value", "initial_value"),
    "number_input": ("value", "initial_value"),
    "rich_text_input": ("rich_text_value", "initial_value"),
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "static_select": ("selected_option", "initial_option"),
    "external_select": ("selected_option", "initial_option"),
    "radio_buttons": ("selected_option", "initial_option"),
    "overflow": ("selected_option", None),
    "multi_static_select": ("selected_options", "initial_options"),
    "multi_external_select": ("selected_options", "initial_options"),
    "checkboxes": ("selected_options", "initial_options"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
}
_MULTI = {"selected_users", "selected_conversations", "selected_channels", "selected_options"}


def interactive_elements(blocks: list[dict[str, Any]]
                         ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield (block, element) for every element that can send an action."""
    for block in blocks or []:
        kind = block.get("type")
        if kind in ("actions", "context_actions"):
            for el in block.get("elements") or []:
                yield block, el
        elif kind == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]
        elif kind == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def find_element(blocks: list[dict[str, Any]], action_id: str,
                 block_id: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    found = [(b, e) for b, e in interactive_elements(blocks)
             if e.get("action_id") == action_id and (block_id is None
                                                     or b.get("block_id") == block_id)]
    if not found:
        have = sorted({str(e.get("action_id")) for _, e in interactive_elements(blocks)})
        raise LookupError(f"no element with action_id {action_id!r} there; have {have}")
    if len(found) > 1:
        raise LookupError(f"action_id {action_id!r} appears {len(found)} times; pass block_id")
    return found[0]


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    opts = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        opts.extend(group.get("options") or [])
    return opts


def _option(element: dict[str, Any], choice: Any) -> dict[str, Any]:
    if isinstance(choice, dict):
        return choice
    if element.get("type") in ("external_select", "multi_external_select"):
        return {"text": {"type": "plain_text", "text": str(choice)}, "value": str(choice)}
    for opt in _options(element):
        if opt.get("value") == choice:
            return {k: copy.deepcopy(v) for k, v in opt.items() if k in ("text", "value")}
    values = [o.get("value") for o in _options(element)]
    raise LookupError(f"{element.get('action_id')!r} has no option {choice!r}; has {values}")


def convert(element: dict[str, Any], simple: Any) -> Any:
    """A test's simple value (str, list, datetime, ...) as Slack puts it in a payload."""
    kind = element.get("type", "")
    key = INPUTS.get(kind, ("value", None))[0]
    if simple is None or simple == "" or simple == []:
        return [] if key in _MULTI else None
    if key in _MULTI:
        items = simple if isinstance(simple, list | tuple) else [simple]
        return [_option(element, i) for i in items] if key == "selected_options" else list(items)
    if key == "selected_option":
        return _option(element, simple)
    if key == "selected_date_time":
        return int(simple.timestamp()) if isinstance(simple, datetime) else int(simple)
    if key == "selected_date" and isinstance(simple, date):
        return simple.isoformat()
    if key == "selected_time" and isinstance(simple, dtime):
        return simple.strftime("%H:%M")
    if key == "rich_text_value" and isinstance(simple, str):
        return {"type": "rich_text", "elements": [{"type": "rich_text_section",
                                                   "elements": [{"type": "text", "text": simple}]}]}
    if kind == "plain_text_input":
        text = str(simple)
        if element.get("max_length") and len(text) > int(element["max_length"]):
            raise ValueError(f"Slack's client refuses more than {element['max_length']} "
                             f"characters in {element.get('action_id')!r}")
        if element.get("min_length") and len(text) < int(element["min_length"]):
            raise ValueError(f"Slack's client wants at least {element['min_length']} "
                             f"characters in {element.get('action_id')!r}")
        return text
    return str(simple) if key == "value" else simple


def action_for(block: dict[str, Any], element: dict[str, Any], *, value: Any = None,
               selected: Any = None) -> dict[str, Any]:
    """The ``actions[0]`` entry Slack sends when a user uses ``element``."""
    kind = element.get("type")
    action: dict[str, Any] = {"type": kind, "action_id": element.get("action_id"),
                              "block_id": block.get("block_id"),
                              "action_ts": f"{time.time():.6f}"}
    if kind in ("button", "workflow_button", "icon_button"):
        if value is not None and value != element.get("value"):
            raise ValueError(f"button {element.get('action_id')!r} carries value "
                             f"{element.get('value')!r}, not {value!r}")
        action["text"] = copy.deepcopy(element.get("text"))
        if "value" in element:
            action["value"] = element["value"]
        if "style" in element:
            action["style"] = element["style"]
        return action
    key = INPUTS.get(kind or "", ("value", None))[0]
    action[key] = convert(element, selected if selected is not None else value)
    if kind in ("timepicker",) and element.get("timezone"):
        action["timezone"] = element["timezone"]
    return action


def initial(element: dict[str, Any]) -> Any:
    kind = element.get("type", "")
    key, init = INPUTS.get(kind, ("value", "initial_value"))
    if init is None or element.get(init) is None:
        return [] if key in _MULTI else None
    return copy.deepcopy(element[init])


def state_values(blocks: list[dict[str, Any]], fields: dict[str, Any] | None = None
                 ) -> dict[str, dict[str, Any]]:
    """``view.state.values`` as Slack submits it: every input block, prefilled with its
    initial value, overridden by ``fields`` keyed ``"block_id.action_id"``, ``action_id`` or
    ``block_id``. Unknown keys and empty required inputs raise (Slack would not submit)."""
    fields = dict(fields or {})
    used: set[str] = set()
    values: dict[str, dict[str, Any]] = {}
    for block in blocks or []:
        if block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        el = block["element"]
        bid, aid, kind = block.get("block_id"), el.get("action_id"), el.get("type", "")
        key = INPUTS.get(kind, ("value", None))[0]
        hit = next((k for k in (f"{bid}.{aid}", aid, bid) if k in fields), None)
        if hit is not None:
            used.add(hit)
            value = convert(el, fields[hit])
        else:
            value = initial(el)
        if not block.get("optional") and value in (None, "", []):
            raise ValueError(f"Slack will not submit: required input {bid}.{aid} is empty")
        values.setdefault(str(bid), {})[str(aid)] = {"type": kind, key: value}
    unknown = set(fields) - used
    if unknown:
        raise KeyError(f"no input block for {sorted(unknown)} in this view")
    return values
