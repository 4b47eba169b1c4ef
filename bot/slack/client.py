"""The Web API client every part of the bot shares: base URL from settings, sane retries."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.slack.installations import Installations, RoutedClient, RoutedLookupClient
from bot.slack.keepalive import KeepAliveWebClient


def make_client(settings: Settings, *, timeout: int = 10,
                tokens: Installations | None = None) -> KeepAliveWebClient:
    """A WebClient that honours Retry-After on 429 and retries 5xx and dropped connections.

    Retries can repeat a post Slack already accepted; exactly-once lives in our outbox and
    reminder claims, never in these retries. It keeps one HTTP connection per thread
    (`bot.slack.keepalive`): the outbox threads make two calls per reminder, and a new connection
    per call cost about a millisecond of CPU each plus a connect.

    With `tokens` (multi-workspace mode) each call carries the token of the workspace being
    acted for (`bot.slack.installations.acting_for`), never a fixed one.
    """
    if tokens is not None:
        return RoutedClient(tokens, base_url=settings.slack_api_url, timeout=timeout,
                            retry_handlers=_retries())
    return KeepAliveWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=timeout,
        retry_handlers=_retries(),
    )


def _retries() -> list[RetryHandler]:
    return [ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2)]


def make_lookup_client(settings: Settings, *, timeout: float = 1.5,
                       tokens: Installations | None = None) -> WebClient:
    """For lookups made before an ack (a person's zone, lead groups): short, no retries.

    A slow or rate-limited Slack must cost the fallback answer, never the 3-second ack.
    `timeout` is in seconds, fractions kept (urllib takes a float, whatever slack_sdk's
    annotation says). With `tokens`, as `make_client`.
    """
    if tokens is not None:
        return RoutedLookupClient(tokens, base_url=settings.slack_api_url,
                                  timeout=timeout,  # type: ignore[arg-type]
                                  retry_handlers=[])
    return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                     timeout=timeout, retry_handlers=[])
