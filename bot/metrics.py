"""The bot's Prometheus metrics (prometheus_client), served at `GET /metrics` on the HTTP server
and by `crisisbot run --metrics-port N` in Socket Mode.

Series (README.md, "Metrics"):

- ``crisisbot_ack_seconds{kind}``: histogram, request received -> answered, per kind of
  request (command, block_actions, view_submission, event_callback, ...). The app runs with
  ``process_before_response``, so the ack leaves only with the answer, once the listener has
  returned: what a listener does after calling ``ack()`` delays Slack's answer too, and is
  counted. Timed around the whole Bolt call: bot/web.py (HTTP) and bot/socket_mode.py;
- ``crisisbot_slack_calls_total{method,outcome}``: Web API calls the outbox made, by method
  and outcome (ok, error, ratelimited); ``crisisbot_slack_ratelimited_total{method}``: the
  429s among them;
- ``crisisbot_outbox_deferred_total{priority}``: rows that stepped aside for a rate tier;
- ``crisisbot_outbox_depth{priority}``: open outbox rows by priority (read from the database
  at each scrape, so it counts every process and replica);
- ``crisisbot_reminder_lateness_seconds``: histogram, a wake-up's due time -> its firing;
- ``crisisbot_intake_recorded_total``: opens acked as "recorded" under load (bot/intake.py),
  and ``crisisbot_intake_processed_total{outcome}``: what the drain made of them (opened,
  refused, failed, error: left for another try).

Labels are method names, priorities and request kinds only: never a token, an id or text a
person typed.

Why multiprocess mode: the outbox runs in child processes (`CRISISBOT_OUTBOX_PROCESSES`), and
its Slack calls are counted there. prometheus_client shares values between processes through
files in ``PROMETHEUS_MULTIPROC_DIR``; it reads that variable when it is first imported, so
this module sets it (to a fresh temporary folder, unless the environment names one) before
importing prometheus_client, and the children inherit it. Import this module, not
prometheus_client, everywhere in the bot.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

_OWNED: str | None = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWNED = tempfile.mkdtemp(prefix="crisisbot-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWNED
    _OWNER_PID = os.getpid()

    def _cleanup() -> None:
        if os.getpid() == _OWNER_PID and _OWNED:
            shutil.rmtree(_OWNED, ignore_errors=True)

    atexit.register(_cleanup)

from prometheus_client import (  # noqa: E402  (after the environment is set: see above)
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
METRICS_PATH = "/metrics"

ACK = Histogram("crisisbot_ack_seconds",
                "Time from receiving a Slack request to answering it (its ack goes with it)",
                ["kind"], registry=None,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0))
SLACK_CALLS = Counter("crisisbot_slack_calls", "Slack Web API calls made by the outbox",
                      ["method", "outcome"], registry=None)
RATELIMITED = Counter("crisisbot_slack_ratelimited", "Slack Web API calls answered 429",
                      ["method"], registry=None)
DEFERRED = Counter("crisisbot_outbox_deferred",
                   "Outbox rows re-queued to wait for a Slack rate tier", ["priority"],
                   registry=None)
LATENESS = Histogram("crisisbot_reminder_lateness_seconds",
                     "Time from a reminder wake-up's due time to its firing", registry=None,
                     buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))

INTAKE_RECORDED = Counter("crisisbot_intake_recorded",
                          "Opens acked after recording only the raw command (under load)",
                          registry=None)
INTAKE_PROCESSED = Counter("crisisbot_intake_processed",
                           "Recorded opens the drain processed, by outcome", ["outcome"],
                           registry=None)
INTAKE_OUTCOMES = frozenset({"opened", "refused", "failed", "error"})

# The request kinds used as labels (anything else is "other": a label never carries input).
ACK_KINDS = frozenset({"command", "block_actions", "view_submission", "view_closed",
                       "event_callback", "shortcut", "message_action", "block_suggestion",
                       "options"})


def request_kind(payload: Any) -> str:
    """A Slack request's kind as a label, from its parsed body (an interaction's payload)."""
    if not isinstance(payload, dict):
        return "other"
    if "command" in payload:
        return "command"
    kind = payload.get("type")
    return kind if isinstance(kind, str) and kind in ACK_KINDS else "other"


def observe_ack(kind: str | None, seconds: float) -> None:
    ACK.labels(kind if kind in ACK_KINDS else "other").observe(max(seconds, 0.0))


def slack_call(method: str, outcome: str) -> None:
    SLACK_CALLS.labels(method, outcome).inc()
    if outcome == "ratelimited":
        RATELIMITED.labels(method).inc()


def deferred(priority: str) -> None:
    DEFERRED.labels(priority).inc()


def reminder_lateness(seconds: float) -> None:
    LATENESS.observe(max(seconds, 0.0))


def intake_recorded() -> None:
    INTAKE_RECORDED.inc()


def intake_processed(outcome: str) -> None:
    if outcome in INTAKE_OUTCOMES:  # ("taken": another processor had it; not ours to count)
        INTAKE_PROCESSED.labels(outcome).inc()


class DepthCollector(Collector):
    """``crisisbot_outbox_depth{priority}``, read when scraped."""

    def __init__(self, depth: Callable[[], dict[str, int]]) -> None:
        self.depth = depth

    def collect(self) -> Iterable[Any]:
        family = GaugeMetricFamily("crisisbot_outbox_depth",
                                   "Open outbox rows (queued or running) by priority",
                                   labels=["priority"])
        try:
            depth = self.depth()
        except Exception:  # the database is down: the other series matter most right now
            log.warning("outbox depth unavailable for /metrics", exc_info=True)
            return
        for priority, count in sorted(depth.items()):
            family.add_metric([priority], count)
        yield family


def exposition(depth: Callable[[], dict[str, int]] | None = None) -> bytes:
    """The text a scrape gets: every process's values, and the outbox depth."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    if depth is not None:
        registry.register(DepthCollector(depth))
    return generate_latest(registry)


def serve_metrics(port: int, depth: Callable[[], dict[str, int]] | None = None,
                  host: str = "0.0.0.0") -> Any:
    """A small HTTP server answering `GET /metrics` (Socket Mode has no HTTP server of its
    own); returns the server, already serving on a daemon thread (`.shutdown()` stops it)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != METRICS_PATH:
                self.send_error(404)
                return
            body = exposition(depth)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would drown the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
