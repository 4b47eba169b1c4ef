"""The modal behind the "Add to incident…" message shortcut.

It opens in two steps because a trigger_id lives three seconds: `capture_loading` goes up at
once, then `capture_modal` replaces it once the open incidents and the message's permalink are
known. Contract with `bot.listeners.shortcuts`: ``callback_id="shortcut:capture"``, inputs
``incident`` (static_select, value = incident id), ``kind`` (radio buttons, value =
`playbook.domain.model.CaptureKind`), ``text`` and ``due`` (datetimepicker), each element
``action_id="v"``; ``private_metadata`` is `CaptureMeta` as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    DateTimePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.kit import (
    INPUT_MAX_LENGTH,
    OPTION_TEXT_MAX,
    SELECT_MAX_OPTIONS,
    context,
    label,
    plain,
    section,
    view_dict,
)
from playbook.domain.capture import KIND_LABELS
from playbook.domain.model import CaptureKind, Incident
from playbook.domain.text import channel_link, esc, truncate

__all__ = ["CALLBACK", "CaptureMeta", "capture_loading", "capture_modal", "capture_unavailable"]

CALLBACK = "shortcut:capture"
TITLE = "Add to incident"


@dataclass(frozen=True)
class CaptureMeta:
    """The message the shortcut was used on (kept in the modal's private_metadata)."""

    channel_id: str
    ts: str
    author: str | None
    author_name: str | None
    permalink: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> CaptureMeta:
        data = json.loads(raw or "{}")
        return cls(**{k: data.get(k) for k in ("channel_id", "ts", "author", "author_name",
                                               "permalink")})


def _view(blocks: Sequence[Block], *, submit: bool, metadata: str = "") -> dict[str, Any]:
    return view_dict(View(type="modal", callback_id=CALLBACK, title=plain(TITLE, 24),
                          submit=plain("Add", 24) if submit else None,
                          close=plain("Cancel", 24), private_metadata=metadata,
                          blocks=list(blocks)))


def capture_loading() -> dict[str, Any]:
    """What the person sees for the moment it takes to list the open incidents."""
    return _view([section("Finding the open incidents…")], submit=False)


def capture_unavailable(reason: str) -> dict[str, Any]:
    """No form: there is no open incident, or the lookup failed (`reason` is mrkdwn)."""
    return _view([section(reason)], submit=False)


def _incident_option(inc: Incident) -> Option:
    return Option(value=str(inc.id), text=plain(f"{inc.key} · {label(inc.customer)}",
                                                OPTION_TEXT_MAX))


def capture_modal(incidents: Sequence[Incident], default: Incident | None,
                  kind: CaptureKind, text: str, meta: CaptureMeta) -> dict[str, Any]:
    """The form: which incident, what the message is, the text to keep, a due time."""
    listed = list(incidents)[:SELECT_MAX_OPTIONS]
    options = [_incident_option(i) for i in listed]
    initial = next((o for o, i in zip(options, listed, strict=True)
                    if default is not None and i.id == default.id), None)
    kinds = [Option(value=k.value, text=plain(KIND_LABELS[k], OPTION_TEXT_MAX))
             for k in CaptureKind]
    who = esc(meta.author_name) if meta.author_name else "someone"
    where = channel_link(meta.channel_id)
    blocks: list[Block] = [
        context(f"A message by {who} in {where}: its author, time and link are kept with it."),
        InputBlock(block_id="incident", label=plain("Incident", 2000),
                   element=StaticSelectElement(action_id="v", options=options,
                                               initial_option=initial,
                                               placeholder=plain("Pick an incident", 150))),
        InputBlock(block_id="kind", label=plain("This message is", 2000),
                   element=RadioButtonsElement(
                       action_id="v", options=kinds,
                       initial_option=next(o for o in kinds if o.value == kind.value))),
        InputBlock(block_id="text", label=plain("Text to keep", 2000),
                   element=PlainTextInputElement(
                       action_id="v", multiline=True, max_length=INPUT_MAX_LENGTH,
                       initial_value=truncate(text, INPUT_MAX_LENGTH) if text else None),
                   hint=plain("Trim it if you like. Mentions and @here are kept as plain "
                              "text, so nobody is pinged again.", 2000)),
        InputBlock(block_id="due", label=plain("Due by (for a promise)", 2000),
                   element=DateTimePickerElement(action_id="v"), optional=True),
    ]
    if len(incidents) > len(listed):
        blocks.append(context(f"Only the {SELECT_MAX_OPTIONS} most urgent incidents are listed."))
    return _view(blocks, submit=True, metadata=meta.to_json())
