"""The intake in the shell: when to take an `/incident open` through it (`Intake`), and the
drain that opens what it recorded (`IntakeDrain`).

Under a burst, an ack that records the whole open (its checks, seven statements, the outbox
rows) costs about a millisecond of CPU, and one interpreter per process runs one at a time. So
when `CRISISBOT_INTAKE_AFTER` or more Slack requests are in this process (inside its app or
waiting for a server thread: bot/load.py), an open with a well-formed text is recorded raw in
one small INSERT and acked with "recorded, the number follows" (playbook/services/intake.py);
a malformed one is still refused at once, with the person's text. Below that nothing changes.

The drain runs in the main process only (HTTP worker processes wake it through their relay,
bot/http_workers.py) and opens each recorded command with the real `Service.open`, exactly
once (the claim is in the database). It prefers idle moments: before each command it waits
for a lull, no request in flight in this process and no command recorded anywhere (each
record wakes it) for a few milliseconds, at most `cap` seconds; then it opens a few anyway, so
a steady overload still drains. Then the usual after-work: wake the outbox (which answers the
person through the response_url) and plan the incident's reminders.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot import metrics
from bot.load import InFlight
from playbook.domain.intake import takes_intake
from playbook.domain.model import Actor, Outcome
from playbook.services.intake import IntakeService

__all__ = ["Intake", "IntakeDrain"]

log = logging.getLogger(__name__)


class Intake:
    """What the `/incident` listener uses to take an open through the intake."""

    def __init__(self, service: IntakeService, load: InFlight, threshold: int,
                 wake: Callable[[], None]) -> None:
        """`threshold`: `CRISISBOT_INTAKE_AFTER` (0: never); `wake`: the drain's wake-up (in
        an HTTP worker, the relay to the main process's)."""
        self.service = service
        self.load = load
        self.threshold = threshold
        self.wake = wake

    def busy(self) -> bool:
        """Is this process loaded enough that an open should take the intake?"""
        return takes_intake(self.load.pressure(), self.threshold)

    def record(self, *, team_id: str, user_id: str, channel_id: str | None, text: str,
               response_url: str | None) -> None:
        """Record the raw command (committed on return: the ack may say "recorded")."""
        if self.service.record(team_id=team_id, user_id=user_id, channel_id=channel_id,
                               text=text, response_url=response_url):
            metrics.intake_recorded()  # (a request Slack delivered twice is counted once)


class IntakeDrain:
    """Opens what the intake recorded, on a thread of its own in the main process.

    Woken after every record (`wake`), at `start` for what a crash left, and every `poll`
    seconds for what a replica that stopped left behind.
    """

    # commands opened without waiting once a lull did not come within `cap`
    FORCED = 8

    def __init__(self, service: IntakeService, *, actor_of: Callable[[str, str], Actor],
                 after: Callable[[Outcome], None], told: Callable[[], None],
                 load: InFlight | None = None, poll: float = 30.0, cap: float = 0.5,
                 quiet: float = 0.02, backoff: float = 5.0, batch: int = 50) -> None:
        """`actor_of(team, user)`: who the person is, looked up as an ack would; `after`:
        the after-work of an open (`Deps.after`); `told`: a refusal was queued (wake the
        outbox)."""
        self.service = service
        self.actor_of = actor_of
        self.after = after
        self.told = told
        self.load = load
        self.poll = poll
        self.cap = cap
        self.quiet = quiet
        self.backoff = backoff
        self.batch = batch
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._woken_at = 0.0  # monotonic time of the last wake-up: a command was just recorded

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._wake.set()  # at once: what a crash left recorded and unopened
        self._thread = threading.Thread(target=self._loop, name="intake-drain", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._woken_at = time.monotonic()
        self._wake.set()

    def _lull(self) -> bool:
        """Wait for a lull: no request in flight here and none recorded anywhere for `quiet`
        seconds (an HTTP worker's records reach us as wake-ups); False when `cap` ran out."""
        deadline = time.monotonic() + self.cap
        while not self._stopping.is_set():
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                return False
            since = now - self._woken_at
            if since < self.quiet:
                self._stopping.wait(min(self.quiet - since, left))
                continue
            quiet_here = self.load is None or self.load.wait_quiet(quiet=self.quiet, cap=left)
            if quiet_here and time.monotonic() - self._woken_at >= self.quiet:
                return True
        return True

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                _, errors = self.drain()
            except Exception:  # the database, most likely: the commands stay recorded
                log.exception("could not open what the intake recorded; trying again soon")
                errors = 1
            if errors and not self._stopping.wait(self.backoff):
                self._wake.set()

    def drain(self) -> tuple[int, int]:
        """Open (or refuse) every recorded command this processor can claim; returns how
        many it finished and how many failed unexpectedly (left for a later try)."""
        finished = 0
        failed: set[int] = set()  # tried again at the next wake-up, not in this pass
        while not self._stopping.is_set():
            progressed = False
            forced = 0
            for raw in self.service.pending(self.batch + len(failed)):
                if self._stopping.is_set():
                    break
                if raw.id in failed:
                    continue
                if forced:
                    forced -= 1
                elif not self._lull():
                    forced = self.FORCED - 1  # no lull came: open a few, then yield again
                result = self.service.process(raw, self.actor_of(raw.team_id, raw.user_id))
                metrics.intake_processed(result.status)
                if result.status == "opened" and result.outcome is not None:
                    self.after(result.outcome)
                elif result.status in ("refused", "failed"):
                    self.told()
                if result.status == "error":
                    failed.add(raw.id)
                elif result.status != "taken":
                    finished += 1
                    progressed = True
            if not progressed:  # nothing left, or only what another processor holds
                break
        return finished, len(failed)
