"""How busy this process is answering Slack: the requests inside its app right now.

Counted around every POST to /slack/events (bot/web.py). Two readers: an `/incident open` that
finds many requests in flight takes the intake (bot/intake.py: record the raw command, open it a
moment later), and the intake's drain waits for a lull before it opens what was recorded, so
it never takes the CPU a burst's acks are waiting for.
"""

from __future__ import annotations

import threading
import time

__all__ = ["InFlight"]


class InFlight:
    """A gauge of requests in flight, with a wait for a quiet moment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._last_left = 0.0  # monotonic time the last request left
        self._idle = threading.Condition(self._lock)

    def enter(self) -> None:
        with self._lock:
            self._count += 1

    def leave(self) -> None:
        with self._lock:
            self._count -= 1
            self._last_left = time.monotonic()
            if self._count == 0:
                self._idle.notify_all()

    @property
    def count(self) -> int:
        """Requests inside the app now."""
        return self._count

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
