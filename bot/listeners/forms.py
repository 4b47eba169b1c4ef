"""Reading a submitted modal: the value of each input, and what makes one submission unique.

Every form the bot opens puts one element with action_id "v" in each input block (see
`bot.blocks`), so a value is found by its block_id alone.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def value(values: dict, block: str) -> Any:
    """The submitted value of one input (block_id, action_id "v"), whatever its element type."""
    element = (values.get(block) or {}).get("v") or {}
    kind = element.get("type")
    if kind in ("plain_text_input", "url_text_input"):
        return (element.get("value") or "").strip()
    if kind == "users_select":
        return element.get("selected_user")
    if kind == "conversations_select":
        return element.get("selected_conversation")
    if kind == "channels_select":
        return element.get("selected_channel")
    if kind == "static_select":
        option = element.get("selected_option") or {}
        return option.get("value")
    if kind == "checkboxes":
        return [o.get("value") for o in element.get("selected_options") or []]
    if kind == "datetimepicker":
        return element.get("selected_date_time")
    return None


def submission_key(view: dict) -> str:
    """Identifies one submission of one form: the same view with the same values.

    Slack may deliver a submission twice (a retry, a double press); the second must change
    nothing. A corrected resubmission after an inline error has other values, so it passes.
    """
    state = json.dumps(view.get("state", {}), sort_keys=True)
    digest = hashlib.sha256(f"{view.get('id')}|{view.get('hash')}|{state}".encode()).hexdigest()
    return f"view:{digest[:48]}"


