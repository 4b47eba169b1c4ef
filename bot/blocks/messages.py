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

__all__ = ["REMINDER_KINDS", "reply", "timeline_message"]

# Timeline kinds that are about a customer update being (nearly) due: they get a button.
REMINDER_KINDS = frozenset({"due", "nudge", "escalate"})


def timeline_message(kind: str, text: str, incident_id: int) -> dict[str, Any]:
    """A timeline line as a message. `text` is mrkdwn the domain already escaped.

    Reminders about the update cadence (``due``, ``nudge``, ``escalate``) carry a "Log customer
    update" button (``card:update``); a step completion and everything else is just the text.
    Long text is split over several sections, never cut (up to the 50-block message limit).
    """
    blocks: list[Block] = list(sections([text])) or [section("_(no text)_")]
    button = kind in REMINDER_KINDS
    room = MESSAGE_MAX_BLOCKS - (1 if button else 0)
    if len(blocks) > room:  # > ~145,000 characters: no real timeline line gets here
        blocks = blocks[:room]
    if button:
        blocks.append(ActionsBlock(block_id="timeline:actions", elements=[ButtonElement(
            text=plain("Log customer update", BUTTON_TEXT_MAX),
            action_id="card:update",
            value=str(incident_id),
            style="primary",
        )]))
    return message(text, blocks)


def reply(text: str) -> dict[str, Any]:
    """An ephemeral response body for a slash command or a response_url."""
    return {"response_type": "ephemeral", "text": text}
