"""The timeline list (`/incident timeline`) and the form that corrects or removes an entry.

Contract (the listeners in `bot.listeners.timeline` rely on it): each entry's "Correct" button
has ``action_id="timeline:edit:<entry id>"`` and ``value="<incident id>:<entry id>"``; the form has
``callback_id="timeline:edit"``, ``private_metadata={"incident_id", "entry_id"}`` and inputs
``text``, ``at`` (datetimepicker) and ``remove`` (checkbox ``yes``), each with action ``v``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    CheckboxesElement,
    DateTimePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.kit import (
    BUTTON_TEXT_MAX,
    INPUT_MAX_LENGTH,
    OPTION_TEXT_MAX,
    VIEW_TITLE_MAX,
    context,
    fallback,
    label,
    mrkdwn,
    plain,
    require_id,
    section,
    to_dicts,
    view_dict,
)
from playbook.domain.model import Incident
from playbook.domain.text import date_token, truncate
from playbook.domain.timeline import Entry, display, editable_text

__all__ = ["PAGE_SIZE", "edit_modal", "timeline_list"]

PAGE_SIZE = 20  # one section per entry, plus a heading and a footer: far under 50 blocks
ENTRY_TEXT_MAX = 500  # the list is an index; the form and the summary show the whole text


def _entry_line(entry: Entry) -> str:
    text = truncate(display(entry.kind, entry.shown_text, entry.actor), ENTRY_TEXT_MAX)
    line = f"*{entry.ref}* · {date_token(entry.shown_at)} · {text}"
    if entry.removed:
        return f"*{entry.ref}* · ~{date_token(entry.shown_at)}~ · _removed_ · {text}"
    if entry.edited:
        line += " _(corrected)_"
    return line


def timeline_list(inc: Incident, entries: Sequence[Entry], page: int,
                  pages: int) -> dict[str, Any]:
    """One page of the timeline as an ephemeral reply, each entry with its "Correct" button."""
    incident_id = require_id(inc)
    where = f" (page {page} of {pages}, page 1 is the latest)" if pages > 1 else ""
    blocks: list[Block] = [section(f"*{inc.key} timeline*{where}")]
    for entry in entries:
        blocks.append(SectionBlock(
            text=mrkdwn(truncate(_entry_line(entry), 3000)),
            accessory=ButtonElement(text=plain("Correct", BUTTON_TEXT_MAX),
                                    action_id=f"timeline:edit:{entry.id}",
                                    value=f"{incident_id}:{entry.id}"),
        ))
    if not entries:
        blocks.append(section("_Nothing on the timeline yet._"))
    tips = ["Add to it with `/incident note <text>`, or react with the capture emoji / pin a "
            "message in this channel. Only an entry's author or a lead can correct it; the "
            "original always stays in the history."]
    if page < pages:
        tips.insert(0, f"Earlier entries: `/incident timeline {page + 1}`.")
    blocks.append(context(" ".join(tips).replace("<text>", "&lt;text&gt;")))
    text = f"{inc.key} timeline: {len(entries)} entries shown"
    return {"response_type": "ephemeral", "text": fallback(text), "blocks": to_dicts(blocks)}


def edit_modal(inc: Incident, entry: Entry) -> dict[str, Any]:
    """The form that corrects an entry's text and time, or removes it from the timeline."""
    incident_id = require_id(inc)
    title = truncate(f"Correct {entry.ref}", VIEW_TITLE_MAX)
    original = truncate(display(entry.kind, entry.text, entry.actor), 2500)
    about = [f"*{inc.key}* · {truncate(label(inc.customer), 200)} · *{entry.ref}* as first "
             f"recorded {date_token(entry.at)}:"]
    remove = Option(value="yes", text=plain("Remove it from the timeline", OPTION_TEXT_MAX))
    blocks: list[Block] = [
        context(*about),
        section(f">{original}".replace("\n", "\n>")),
        InputBlock(block_id="text", label=plain("Text", 2000), element=PlainTextInputElement(
            action_id="v", multiline=True, max_length=INPUT_MAX_LENGTH,
            initial_value=editable_text(entry)[:INPUT_MAX_LENGTH] or None)),
        InputBlock(block_id="at", label=plain("When it happened", 2000),
                   element=DateTimePickerElement(action_id="v",
                                                 initial_date_time=math.floor(
                                                     entry.shown_at.timestamp()))),
        InputBlock(block_id="remove", label=plain("Remove", 2000), optional=True,
                   element=CheckboxesElement(action_id="v", options=[remove],
                                             initial_options=[remove] if entry.removed
                                             else None)),
        context("Your correction is saved as a new version: the original stays in the "
                "history, the summary shows the corrected timeline."),
    ]
    view = View(type="modal", callback_id="timeline:edit", title=plain(title, VIEW_TITLE_MAX),
                submit=plain("Save", VIEW_TITLE_MAX), close=plain("Cancel", VIEW_TITLE_MAX),
                private_metadata=json.dumps({"incident_id": incident_id, "entry_id": entry.id}),
                blocks=blocks)
    return view_dict(view)
