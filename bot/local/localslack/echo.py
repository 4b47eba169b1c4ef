"""The events Slack sends an app about what the app itself just did.

Slack does not keep an app's own actions from its event stream: the bot that creates a channel
hears ``member_joined_channel`` for itself, every person it invites arrives as
``member_joined_channel`` with ``inviter`` set to the bot, its ``pins.add`` comes back as
``pin_added``, an archive or unarchive as ``channel_archive``/``channel_unarchive`` (or the
``group_*`` twins of a private channel). Shapes follow Slack's event reference
(https://docs.slack.dev/reference/events/<event>): ``channel_archive``/``channel_unarchive``
name the person in ``user``; ``group_unarchive`` names them in ``actor_id`` (the node SDK's
``GroupUnarchiveEvent``); ``member_joined_channel`` carries ``channel_type`` ``C``/``G`` and
``inviter`` when someone added the person.

The Web API handlers call ``Workspace._emit`` under the workspace lock; the events are kept in
``emitted`` and, once an app has subscribed (``LocalSlack.subscribe``), delivered in order by
one thread, after the API answer, as signed HTTP or Socket Mode envelopes. Only events the
manifest subscribes to are sent, as Slack sends only those.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from .models import Reply

log = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any], str | None, str], Reply]


class EventEcho:
    """One thread delivering queued events to the subscribed app, in order."""

    def __init__(self, deliver: Deliver, violation: Callable[[str], None]) -> None:
        self._deliver = deliver
        self._violation = violation
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._busy = 0  # queued or being delivered
        self._idle = threading.Condition(self._lock)
        self.url: str | None = None
        self.via = "http"
        self.subscribed = False
        self.delivered: list[tuple[str, int]] = []  # (event type, status) per delivery
        self.failures: list[str] = []  # deliveries that never reached the app

    def subscribe(self, url: str | None, via: str) -> None:
        with self._lock:
            self.url, self.via, self.subscribed = url, via, True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="localslack-echo")
                self._thread.start()

    def unsubscribe(self) -> None:
        """Stop delivering: events still queued are dropped (the app is going away)."""
        with self._lock:
            self.subscribed = False
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)
        with self._lock:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._busy = 0
            self._idle.notify_all()

    def put(self, event: dict[str, Any]) -> None:
        with self._lock:
            if not self.subscribed:
                return
            self._busy += 1
        self._queue.put(event)

    def wait_idle(self, timeout: float) -> bool:
        """True once every queued event has been delivered (and acked) by the app."""
        with self._lock:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._busy > 0

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                with self._lock:
                    url, via, live = self.url, self.via, self.subscribed
                if live:
                    self._send(event, url, via)
            finally:
                with self._lock:
                    self._busy = max(0, self._busy - 1)
                    if self._busy == 0:
                        self._idle.notify_all()

    def _send(self, event: dict[str, Any], url: str | None, via: str) -> None:
        kind = str(event.get("type"))
        try:
            reply = self._deliver(event, url, via)
        except Exception as exc:  # the app went away mid-test: not the app's fault
            log.debug("localslack echo: %s not delivered: %s", kind, exc)
            self.failures.append(f"{kind}: {type(exc).__name__}")
            return
        self.delivered.append((kind, reply.status))
        if reply.status != 200:
            self._violation(f"event {kind} (after the app's own call): the app answered "
                            f"{reply.status or 'nothing'}; Slack would retry it")
