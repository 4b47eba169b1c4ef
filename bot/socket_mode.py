"""Socket Mode (`crisisbot run` with `SLACK_APP_TOKEN`): Bolt's built-in handler, with each
request timed from its arrival to its answer (the ack histogram, bot/metrics.py).

With process_before_response (bot/app.py) the envelope's acknowledgement, answer included,
is sent only once the listener has returned, so the timing wraps the whole of `handle`, as
bot/web.py wraps the Bolt call of each HTTP request.
"""

from __future__ import annotations

import time

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.metrics import observe_ack, request_kind

__all__ = ["TimedSocketModeHandler"]


class TimedSocketModeHandler(SocketModeHandler):
    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        started = time.perf_counter()
        try:
            super().handle(client, req)
        finally:
            observe_ack(request_kind(req.payload), time.perf_counter() - started)
