"""Times every request from the moment Bolt hands it to our middlewares until it is acked:
the ``crisisbot_ack_seconds`` histogram (bot/metrics.py).

Why a middleware: every listener receives Bolt's ``ack`` from the request's context, so
timing that one object here times every surface without touching any listener. Slack gives
up on an ack after 3 seconds; this is the figure to watch. The `Ack` object itself stays the
same (Bolt reads its ``response`` afterwards); only its class gains the timing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.context.ack import Ack
from slack_bolt.response import BoltResponse

from bot import metrics


def kind_of(body: Any) -> str:
    """The request's kind as a label: the command, interaction or envelope type."""
    if not isinstance(body, dict):
        return "other"
    if "command" in body:
        return "command"
    kind = body.get("type")
    return kind if isinstance(kind, str) else "other"


class TimedAck(Ack):
    """Bolt's `Ack`, observing the time since the request came in at its first call."""

    started: float
    kind: str
    timed: bool

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return super().__call__(*args, **kwargs)
        finally:
            if not self.timed:
                self.timed = True
                metrics.observe_ack(self.kind, time.perf_counter() - self.started)


def register(app: App) -> None:
    @app.middleware
    def time_the_ack(body: dict, context: BoltContext, next: Callable[[], None]) -> Any:
        ack = context.get("ack")
        if type(ack) is Ack:
            ack.__class__ = TimedAck
            assert isinstance(ack, TimedAck)
            ack.started, ack.kind, ack.timed = time.perf_counter(), kind_of(body), False
        return next()
