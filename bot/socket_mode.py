"""Socket Mode (`crisisbot run` with `SLACK_APP_TOKEN`): Bolt's built-in handler, with each
request timed from its arrival to its answer (the ack histogram, bot/metrics.py) and counted
in the process's load (bot/load.py), as bot/web.py does for HTTP.

With process_before_response (bot/app.py) the envelope's acknowledgement, answer included,
is sent only once the listener has returned, so the timing wraps the whole of `handle`, as
bot/web.py wraps the Bolt call of each HTTP request. The load counts the requests inside the
handler and those received and waiting for one of the client's worker threads: a burst of
`/incident open` over the socket then takes the intake (bot/intake.py) as one over HTTP does.
"""

from __future__ import annotations

import time
from typing import Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.load import InFlight
from bot.metrics import observe_ack, request_kind

__all__ = ["TimedSocketModeHandler"]


class TimedSocketModeHandler(SocketModeHandler):
    def __init__(self, app: Any, app_token: str | None = None, *,
                 load: InFlight | None = None, **kwargs: Any) -> None:
        super().__init__(app, app_token, **kwargs)
        self.load = load
        if load is not None:
            load.waiting = self._waiting

    def _waiting(self) -> int:
        """Envelopes received and not yet handled: in the client's queue, or handed to its
        thread pool and waiting for a thread (the pool's queue is not public API: without
        it, only the client's queue is counted)."""
        client = self.client
        queued = client.message_queue.qsize()
        pool_queue = getattr(client.message_workers, "_work_queue", None)
        return queued + (pool_queue.qsize() if pool_queue is not None else 0)

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        started = time.perf_counter()
        if self.load is not None:
            self.load.enter()
        try:
            super().handle(client, req)
        finally:
            observe_ack(request_kind(req.payload), time.perf_counter() - started)
            if self.load is not None:
                self.load.leave()
