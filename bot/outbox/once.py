"""Posts that happen once, even when an answer is lost or a worker dies mid-row.

A worker can die (or lose its lease) after Slack took a post and before the row was marked
done, and Slack can take a post and then lose its answer (a 503, a dropped connection). Either
way the row runs again, and posting again would show the line twice. So every
`chat.postMessage` an outbox row makes carries Slack message metadata naming the row
(``{"event_type": "crisisbot_outbox", "event_payload": {"row": <id>, "part": <n>}}``, `part`
counting the row's posts to that channel), and a row that may have run before
(`OutboxItem.retried`: an earlier attempt failed, or its lease was taken over) first reads the
channel's recent history with ``include_all_metadata=true`` and adopts the post it finds
instead of posting again. A first attempt makes no extra call.

Posts themselves go out without slack_sdk's retries of server errors and dropped connections
(those may repeat a post Slack already made, out of our sight); rate limits (429: Slack did
nothing) are still retried there. When a post fails that way, the history is read at once, and
if the post is there it is adopted; otherwise the outbox retries the row with backoff.

DMs are posted by user id and their history needs ``im:history``, which the app does not ask
for: those are posted without the look-up (a repeat is possible there after a crash).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from playbook.store import OutboxItem

log = logging.getLogger(__name__)

EVENT_TYPE = "crisisbot_outbox"
# How far before a row was queued its posts are looked for (clocks of Slack and of the
# database's writer differ a little), and how many pages of history are read at most.
SLACK_SKEW = timedelta(minutes=2)
HISTORY_PAGES = 5
HISTORY_PAGE = 200


class CurrentRow(threading.local):
    """The outbox row this thread is carrying out (set by bot/outbox/runner.py)."""

    item: OutboxItem | None = None
    posts: dict[str, int]
    # whether the row has made a call that may change something in Slack (bot/outbox/paced.py:
    # until then it may step aside for a rate tier without leaving half its work done)
    changed: bool = False

    def begin(self, item: OutboxItem) -> None:
        self.item = item
        self.posts = {}
        self.changed = False

    def end(self) -> None:
        self.item = None
        self.posts = {}
        self.changed = False

    def next_part(self, channel: str) -> int:
        part = self.posts.get(channel, 0)
        self.posts[channel] = part + 1
        return part


def without_repeats(client: WebClient) -> WebClient:
    """The same client, retrying only rate limits: what a non-idempotent call may use."""
    once = copy.copy(client)
    once.retry_handlers = [h for h in client.retry_handlers
                           if isinstance(h, RateLimitErrorRetryHandler)]
    return once


def _maybe_done(err: Exception) -> bool:
    """Slack may have carried the call out before this failure (5xx, a lost connection)."""
    if isinstance(err, SlackApiError):
        return err.response.status_code >= 500
    return isinstance(err, (SlackClientError, OSError))


class OutboxClient:
    """The Web API client as outbox handlers see it: every call goes to `client` unchanged,
    except `chat_postMessage`, which names its row and adopts what an earlier try made."""

    def __init__(self, client: WebClient, row: CurrentRow,
                 clock: Callable[[], datetime]) -> None:
        self._client = client
        self._once = without_repeats(client)
        self._row = row
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def chat_postMessage(self, *, channel: str, **kwargs: Any) -> Any:
        item = self._row.item
        if item is None or kwargs.get("metadata") is not None:
            return self._client.chat_postMessage(channel=channel, **kwargs)
        part = self._row.next_part(channel)
        kwargs["metadata"] = {"event_type": EVENT_TYPE,
                              "event_payload": {"row": item.id, "part": part}}
        if item.retried:
            found = self.find_post(channel, item, part)
            if found is not None:
                log.info("outbox %s: adopting its earlier post %s in %s", item.id,
                         found["ts"], channel)
                return found
        try:
            return self._once.chat_postMessage(channel=channel, **kwargs)
        except (SlackClientError, OSError) as err:
            if not _maybe_done(err):
                raise
            found = self.find_post(channel, item, part)
            if found is None:
                raise
            log.info("outbox %s: Slack made the post %s but its answer was lost (%s)",
                     item.id, found["ts"], err)
            return found

    def find_post(self, channel: str, item: OutboxItem, part: int) -> dict[str, Any] | None:
        """The post `part` of row `item` in `channel`, if Slack has it: read from the channel's
        history since shortly before the row was queued (newest first)."""
        if not channel or channel[0] in "UWD":
            return None  # a DM: its history needs im:history (see the module docstring)
        wall_offset = self._clock() - datetime.now(UTC)
        oldest = (item.created_at - wall_offset - SLACK_SKEW).timestamp()
        cursor: str | None = None
        try:
            for _ in range(HISTORY_PAGES):
                resp = self._client.conversations_history(
                    channel=channel, oldest=f"{max(oldest, 0):.6f}", include_all_metadata=True,
                    limit=HISTORY_PAGE, cursor=cursor)
                for msg in resp.get("messages") or []:
                    meta = msg.get("metadata") or {}
                    payload = meta.get("event_payload") or {}
                    if meta.get("event_type") == EVENT_TYPE and payload.get("row") == item.id \
                            and payload.get("part", 0) == part:
                        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}
                cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
                if not resp.get("has_more") or not cursor:
                    return None
        except (SlackClientError, OSError) as err:
            log.info("outbox %s: could not read %s's history (%s); posting", item.id,
                     channel, err)
        return None
