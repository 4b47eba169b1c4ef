"""How busy this process is answering Slack: the requests inside its app right now, and those
accepted and waiting for a server thread.

Counted around every POST to /slack/events (bot/web.py); the waiting ones are the server's
queue (`InFlight.waiting`, set by `bot.web.serve`): at the first request of a burst most of
the others are already queued there, not yet inside. Its readers: an `/incident open` that
finds many requests in this process takes the intake (bot/intake.py: record the raw command,
open it a moment later); the intake's drain waits for a lull before it opens what was
recorded; and the after-work of an ack (waking the outbox, planning reminders: `Lull`) waits
for one while other requests are in flight. So in a burst the acks keep the CPU (and, on
SQLite, the write lock): measured on a burst of 60 opens, the outbox starting its Slack work
after the first few acks doubled the burst's p99.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["InFlight", "Lull"]

log = logging.getLogger(__name__)


class InFlight:
    """A gauge of requests in flight, with a wait for a quiet moment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._last_left = 0.0  # monotonic time the last request left
        self._idle = threading.Condition(self._lock)
        self._mine = threading.local()  # the requests this thread is inside
        # requests accepted and waiting for a server thread (bot/web.py `serve`); none known
        self.waiting: Callable[[], int] = lambda: 0

    def enter(self) -> None:
        with self._lock:
            self._count += 1
        self._mine.depth = getattr(self._mine, "depth", 0) + 1

    def leave(self) -> None:
        self._mine.depth = getattr(self._mine, "depth", 1) - 1
        with self._lock:
            self._count -= 1
            self._last_left = time.monotonic()
            if self._count == 0:
                self._idle.notify_all()

    @property
    def count(self) -> int:
        """Requests inside the app now."""
        return self._count

    def pressure(self) -> int:
        """Requests in this process now: inside the app or waiting for a thread."""
        return self._count + self.waiting()

    def others(self) -> int:
        """Requests inside the app now besides the one the calling thread is serving."""
        return self._count - getattr(self._mine, "depth", 0)

    def wait_quiet(self, *, quiet: float = 0.02, cap: float = 0.5) -> bool:
        """Wait until no request has been in flight for `quiet` seconds, at most `cap`
        seconds in all; True when it is quiet (False: `cap` ran out first)."""
        deadline = time.monotonic() + cap
        with self._lock:
            while True:
                now = time.monotonic()
                if self._count == 0:
                    since = now - self._last_left
                    if since >= quiet:
                        return True
                    wait = quiet - since
                else:
                    wait = deadline - now
                if now >= deadline:
                    return False
                self._idle.wait(min(wait, deadline - now))


class Lull:
    """Runs work at once when no other request is in flight in this process, else at the next
    lull (`InFlight.wait_quiet`: `quiet` s with none in flight, at most `cap` s later), in
    order, on a thread of its own. For after-the-ack work that may wait a moment but must not
    take the CPU the acks of a burst are waiting for."""

    def __init__(self, load: InFlight, *, quiet: float = 0.02, cap: float = 0.5) -> None:
        self.load = load
        self.quiet = quiet
        self.cap = cap
        self._lock = threading.Lock()
        self._queue: list[Callable[[], None]] = []
        self._running = 0  # work taken from the queue and not finished yet
        self._ready = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def __call__(self, work: Callable[[], None]) -> None:
        with self._lock:
            now = self._closed or (not self._queue and self.load.others() <= 0)
            if not now:
                self._queue.append(work)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="after-lull",
                                                    daemon=True)
                    self._thread.start()
        if now:
            work()
        else:
            self._ready.set()

    def _loop(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()
            if not self._closed:
                self.load.wait_quiet(quiet=self.quiet, cap=self.cap)
            self._run_queued()
            if self._closed:
                return

    def _run_queued(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
            self._running += len(batch)
        for work in batch:
            try:
                work()
            except Exception:
                log.exception("after-the-ack work failed")
            finally:
                with self._lock:
                    self._running -= 1

    def idle(self) -> bool:
        """Nothing waits for a lull or runs from one now (what a test waits for before it
        looks at the effects of an ack)."""
        with self._lock:
            return not self._queue and self._running == 0

    def close(self) -> None:
        """Run what waits now; from here on, work runs at once."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._ready.set()
        if thread is not None:
            thread.join(5.0)
        self._run_queued()
