"""Every Web API call an outbox row makes goes through the call scheduler (bot/slack/pacing.py).

Why here: the outbox is where the bot's Slack calls happen after the ack, many threads (and
processes) of them, and where a call that must wait can give its thread back. A call asks the
process's `Pacer` for a token of its workspace's bucket(s), at the priority of its row's kind:

- it goes at once when there is one;
- a short wait (`INLINE_WAIT` of its priority) is slept in place, registered as waiting so
  lower priorities leave the bucket to it;
- a longer wait before the row has changed anything in Slack raises `Deferred`: the worker
  re-queues the row for when its bucket has a token (bot/outbox/worker.py), releasing its
  chain and its thread for a ready row of another incident. A card refresh re-queued that way
  steps aside for the rows queued behind it (playbook/store/outbox.py), and later refreshes
  of the same card fold into it: one refresh per card per wait, showing the latest state.
- a row that has already made a change (a channel created, a message posted) finishes in
  place: it sleeps through the wait rather than leave half its work to a later run.

A 429 (our model of Slack was wrong: another replica, a restart, a tier Slack changed) is
learnt from (`Pacer.learn` with its ``Retry-After``) and the call asks again, so it waits or
steps aside like any other; slack_sdk's own rate-limit retry handler, which sleeps blindly,
is not used by the outbox's client. Each call and each 429 is counted (bot/metrics.py).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, Final

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot import metrics
from bot.outbox.once import CurrentRow
from bot.slack.pacing import Pacer, Priority, call_priority, priority_of

# How long a call of each priority may wait in place (longer: its row is re-queued).
INLINE_WAIT: Final[dict[Priority, float]] = {
    Priority.PERSON: 5.0, Priority.CUSTOMER: 3.0, Priority.MEMBERS: 0.5, Priority.CARD: 0.0,
    Priority.COSMETIC: 0.0,
}
# 429s in a row for one call before its error is raised (for the outbox's backoff).
MAX_RATELIMITED = 3
# Methods that only read: a row that made only these has changed nothing yet.
READS: Final = frozenset({
    "auth.test", "conversations.history", "conversations.replies", "conversations.info",
    "conversations.members", "users.info", "users.conversations", "bookmarks.list",
    "usergroups.users.list", "chat.getPermalink",
})
# The calls a row of these kinds makes (besides posts): checked before its first call, so it
# steps aside whole instead of stopping halfway for a bucket.
ROW_CALLS: Final[dict[str, tuple[str, ...]]] = {
    "create_channel": ("conversations.create", "conversations.setTopic",
                       "conversations.setPurpose", "pins.add"),
    "outage_open": ("conversations.create", "conversations.setTopic", "pins.add"),
}
# Nobody's row: the workspace of calls made outside a row (none today).
NO_TEAM = "-"


class Deferred(Exception):
    """The row's next call must wait `wait` seconds: re-queue the row for then."""

    def __init__(self, wait: float, method: str) -> None:
        super().__init__(f"{method}: waiting {wait:.2f} s for Slack's rate tier")
        self.wait = wait
        self.method = method


def _channel_of(kwargs: dict[str, Any]) -> str | None:
    for part in ("json", "params", "data"):
        args = kwargs.get(part)
        if isinstance(args, dict):
            channel = args.get("channel") or args.get("channel_id")
            if isinstance(channel, str):
                return channel
    return None


def _retry_after(err: SlackApiError) -> float:
    headers = getattr(err.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


class Pacing:
    """The pacer and the row each thread runs; `call` paces one Web API call."""

    def __init__(self, pacer: Pacer, row: CurrentRow, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.pacer = pacer
        self.row = row
        self.sleep = sleep

    def call(self, method: str, kwargs: dict[str, Any], send: Callable[[], Any]) -> Any:
        if not self.pacer.limited(method):
            return self._counted(method, send)
        item = self.row.item
        team = item.team_id if item is not None else NO_TEAM
        priority = call_priority(priority_of(item.kind if item else None), method)
        channel = _channel_of(kwargs)
        if item is not None and not self.row.changed and item.kind in ROW_CALLS:
            wait = self.pacer.ready_in(team, [(m, None) for m in ROW_CALLS[item.kind]],
                                       priority_of(item.kind))
            if wait > INLINE_WAIT[priority]:
                raise Deferred(wait, method)
        for tries in range(MAX_RATELIMITED + 1):
            self._acquire(team, method, channel, priority)
            try:
                return self._counted(method, send)
            except SlackApiError as err:
                if err.response.status_code != 429 or tries == MAX_RATELIMITED:
                    raise
                self.pacer.learn(team, method, channel, _retry_after(err))
        raise AssertionError("unreachable")

    def _counted(self, method: str, send: Callable[[], Any]) -> Any:
        try:
            resp = send()
        except SlackApiError as err:
            limited = err.response.status_code == 429
            metrics.slack_call(method, "ratelimited" if limited else "error")
            if not limited and method not in READS:
                self.row.changed = True  # (a refusal may still have changed something)
            raise
        metrics.slack_call(method, "ok")
        if method not in READS:
            self.row.changed = True
        return resp

    def _acquire(self, team: str, method: str, channel: str | None,
                 priority: Priority) -> None:
        """Take a token, sleeping through short waits; raise `Deferred` for long ones while
        the row has changed nothing yet."""
        may_defer = self.row.item is not None and not self.row.changed
        inline = INLINE_WAIT[priority]
        while True:
            item = self.row.item
            wait = self.pacer.ask(team, method, channel, priority,
                                  long_after=inline if may_defer else None,
                                  ticket=item.id if item is not None else None)
            if wait <= 0.0:
                return
            if may_defer and wait > inline:
                metrics.deferred(priority.name.lower())
                raise Deferred(wait, method)
            self.pacer.waiting(team, method, channel, priority, +1)
            try:
                self.sleep(wait)
            finally:
                self.pacer.waiting(team, method, channel, priority, -1)


class _PacedMixin:
    """Put in front of a WebClient's class: every method funnels through `api_call`."""

    _pacing: Pacing

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        base = super()
        return self._pacing.call(api_method, kwargs,
                                 lambda: base.api_call(api_method, **kwargs))  # type: ignore[misc]


_CLASSES: dict[type, type] = {}


def paced_client(client: WebClient, pacing: Pacing) -> WebClient:
    """A copy of `client` whose calls are paced, without slack_sdk's rate-limit retries (the
    pacing retries after learning). Copies of it (bot/outbox/once.py) stay paced."""
    cls = type(client)
    paced_cls = _CLASSES.get(cls)
    if paced_cls is None:
        paced_cls = _CLASSES[cls] = type(f"Paced{cls.__name__}", (_PacedMixin, cls), {})
    paced = copy.copy(client)
    paced.__class__ = paced_cls
    paced._pacing = pacing  # type: ignore[attr-defined]
    paced.retry_handlers = [h for h in client.retry_handlers
                            if not isinstance(h, RateLimitErrorRetryHandler)]
    return paced
