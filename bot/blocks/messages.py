"""Small message bodies: timeline lines posted in the incident channel and ephemeral replies."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.blocks.kit import (
    BUTTON_TEXT_MAX,
    MESSAGE_MAX_BLOCKS,
    message,
    plain,
    section,
    sections,
)
from playbook.domain.verbs.snooze import CHOICES as SNOOZE_CHOICES

__all__ = ["BUTTONS", "SNOOZE_BUTTONS", "reply", "timeline_message"]


def timeline_message(kind: str, text: str, incident_id: int) -> dict[str, Any]:
    """A timeline line as a message. `text` is mrkdwn the domain already escaped.

    Reminders about the update cadence (``due``, ``nudge``, ``escalate``) carry a "Log customer
    update" button (``card:update``), a check-in reminder a "Checked in" one (``card:checkin``),
    a "nobody owns it" nag a "Take ownership" one (``card:own``). Overdue reminders and nags
    also carry Snooze buttons (``card:snooze15`` …), each opening the snooze form that asks why.
    A step completion and everything else is just the text.
    Long text is split over several sections, never cut (up to the 50-block message limit).
    """
    blocks: list[Block] = list(sections([text])) or [section("_(no text)_")]
    buttons = BUTTONS.get(kind, ())
    room = MESSAGE_MAX_BLOCKS - (1 if buttons else 0)
    if len(blocks) > room:  # > ~145,000 characters: no real timeline line gets here
        blocks = blocks[:room]
    if buttons:
        blocks.append(ActionsBlock(block_id="timeline:actions", elements=[ButtonElement(
            text=plain(label, BUTTON_TEXT_MAX),
            action_id=action,
            value=str(incident_id),
            style="primary" if i == 0 else None,
        ) for i, (label, action) in enumerate(buttons)]))
    return message(text, blocks)


# Snoozing an overdue reminder or a nag: minutes -> (label, action_id); see
# playbook.domain.verbs.snooze.
SNOOZE_BUTTONS: tuple[tuple[str, str], ...] = tuple(
    (f"Snooze {m} min" if m < 60 else f"Snooze {m // 60} h", f"card:snooze{m}")
    for m in SNOOZE_CHOICES
)
_UPDATE = ("Log customer update", "card:update")

# The buttons a reminder carries: what the person most likely does next first.
BUTTONS: dict[str, tuple[tuple[str, str], ...]] = {
    "nudge": (_UPDATE,),
    "due": (_UPDATE, *SNOOZE_BUTTONS),
    "escalate": (_UPDATE, *SNOOZE_BUTTONS),
    "snooze-end": (_UPDATE, *SNOOZE_BUTTONS),
    "owner-nag": (("Take ownership", "card:own"), *SNOOZE_BUTTONS),
    "checkin": (("Checked in with them", "card:checkin"),),
}


def reply(text: str) -> dict[str, Any]:
    """An ephemeral response body for a slash command or a response_url."""
    return {"response_type": "ephemeral", "text": text}
