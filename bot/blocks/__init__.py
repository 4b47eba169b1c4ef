"""Pure Block Kit builders: domain data in, message and view dicts out.

No Slack calls, no database, no clock: `now` is always a parameter. Every builder goes through
`slack_sdk.models` (whose checks of Slack's limits run when the objects become dicts, through
`bot.blocks.kit`'s fast serializer) and escapes user text.
"""

from bot.blocks.card import card
from bot.blocks.home import home
from bot.blocks.messages import reply, timeline_message
from bot.blocks.modals import (
    MODALS,
    choose_modal,
    followup_modal,
    listen_modal,
    open_modal,
    option_modal,
    own_modal,
    promise_modal,
    resolve_modal,
    restate_modal,
    skip_modal,
    snooze_modal,
    update_modal,
)
from bot.blocks.summary import summary_markdown, summary_messages

__all__ = [
    "MODALS",
    "card",
    "choose_modal",
    "followup_modal",
    "home",
    "listen_modal",
    "open_modal",
    "option_modal",
    "own_modal",
    "promise_modal",
    "reply",
    "resolve_modal",
    "restate_modal",
    "skip_modal",
    "snooze_modal",
    "summary_markdown",
    "summary_messages",
    "timeline_message",
    "update_modal",
]
