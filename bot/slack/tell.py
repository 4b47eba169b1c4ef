"""Telling one person something only they see, by the most direct route still open.

Shared by the outbox (`bot.outbox.context.EffectContext.tell`: an effect's outcome or failure)
and the forms opened after an ack (`bot.listeners.deps.Forms`: a form that could not open), so
both reach a person the same way: the response_url of what they did (it answers where they
typed, and works where the app is not a member), else an ephemeral message in the channel
they typed in, else, when Slack refuses that (the app is not in the channel, say), a DM.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.slack.errors import reason_of

__all__ = ["tell"]

log = logging.getLogger(__name__)

RESPONSE_URL_TIMEOUT = 5  # seconds; a response_url post is one small HTTP request


def tell(client: WebClient, text: str, *, user: str | None, channel: str | None = None,
         response_url: str | None = None) -> None:
    """Tell `user` `text`; raises the last route's error when none worked (with no `user`,
    only the response_url is tried)."""
    if response_url:
        try:
            if WebhookClient(response_url, timeout=RESPONSE_URL_TIMEOUT).send(
                    response_type="ephemeral", text=text).status_code == 200:
                return
        except (SlackClientError, OSError) as err:
            log.info("response_url failed (%s); falling back", reason_of(err))
    if not user:
        return
    if channel:
        try:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
            return
        except SlackApiError as err:
            log.info("chat.postEphemeral refused (%s); sending a DM", reason_of(err))
    client.chat_postMessage(channel=user, text=text)
