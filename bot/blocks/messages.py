"""Small message bodies: timeline lines posted in the incident channel and ephemeral replies."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.blocks._kit import (
    BUTTON_TEXT_MAX,
    MESSAGE_MAX_BLOCKS,
    message,
    plain,
    section,
    sections,
)

__all__ = ["BUTTONS", "reply", "timeline_message"]

# Timeline kinds that are about a customer update being (nearly) due: they get a button.


def timeline_message(kind: str, text: str, incident_id: int) -> dict[str, Any]:
    """A timeline line as a message. `text` is mrkdwn the domain already escaped.

    Reminders about the update cadence (``due``, ``nudge``, ``escalate``) carry a "Log customer
    update" button (``card:update``), a check-in reminder a "Checked in" one (``card:checkin``);
    a step completion and everything else is just the text.
    Long text is split over several sections, never cut (up to the 50-block message limit).
    """
    blocks: list[Block] = list(sections([text])) or [section("_(no text)_")]
    label, action = BUTTONS.get(kind, (None, None))
    room = MESSAGE_MAX_BLOCKS - (1 if action else 0)
    if len(blocks) > room:  # > ~145,000 characters: no real timeline line gets here
        blocks = blocks[:room]
    if label and action:
        blocks.append(ActionsBlock(block_id="timeline:actions", elements=[ButtonElement(
            text=plain(label, BUTTON_TEXT_MAX),
            action_id=action,
            value=str(incident_id),
            style="primary",
        )]))
    return message(text, blocks)


# The button a reminder carries: what the person most likely does next.
BUTTONS: dict[str, tuple[str, str]] = {
    **{kind: ("Log customer update", "card:update") for kind in ("due", "nudge", "escalate")},
    "checkin": ("Checked in with them", "card:checkin"),
}


def reply(text: str) -> dict[str, Any]:
    """An ephemeral response body for a slash command or a response_url."""
    return {"response_type": "ephemeral", "text": text}
