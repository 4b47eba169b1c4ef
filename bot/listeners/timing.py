"""Times every request from the moment Bolt hands it to our middlewares until it is acked:
the ``crisisbot_ack_seconds`` histogram (bot/metrics.py).

Why a middleware: every listener receives Bolt's ``ack`` from the request's context, so
wrapping ``context.ack`` here times every surface without touching any listener. Slack gives
up on an ack after 3 seconds; this is the figure to watch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot import metrics


def kind_of(body: Any) -> str:
    """The request's kind as a label: the command, interaction or envelope type."""
    if not isinstance(body, dict):
        return "other"
    if "command" in body:
        return "command"
    kind = body.get("type")
    return kind if isinstance(kind, str) else "other"


def register(app: App) -> None:
    @app.middleware
    def time_the_ack(body: dict, context: BoltContext, next: Callable[[], None]) -> Any:
        started = time.perf_counter()
        ack = context.get("ack")
        if ack is not None:
            kind = kind_of(body)

            def timed(*args: Any, **kwargs: Any) -> Any:
                try:
                    return ack(*args, **kwargs)
                finally:
                    metrics.observe_ack(kind, time.perf_counter() - started)

            context["ack"] = timed
        return next()
