"""The outbox worker in processes of its own, started and watched by `crisisbot run`.

One Python process runs one thread of Python at a time. Against a Slack that answers in a
millisecond, the outbox's work after each ack (channels, invites, cards, reminders: several
milliseconds of CPU a row) competes with the acks and the scheduler for that one interpreter.
With `CRISISBOT_OUTBOX_PROCESSES=N` the rows are carried out by N child processes instead, each
running the same `OutboxWorker` on the same database: claims and leases in the database already
keep them (and other replicas) from running a row twice, so nothing else changes.

The parent still wakes them at once after each commit that queued rows (a byte down a pipe, so
nobody waits for a poll). No outbox row moves an incident's reminders (when they are due does
not depend on its channel), so nothing comes back. A child that dies is started again; the new
child frees the rows its dead predecessor had leased as it starts (`OutboxWorker.take_over_dead`),
and adopts in Slack what the dead one had already made (bot/outbox/once.py).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.outbox.worker import build_worker
from bot.redact import configure_logging
from bot.wiring import build_wiring, policy_from, tune_gc

log = logging.getLogger(__name__)

# How often the parent looks whether a child is still alive.
WATCH_EVERY = 1.0
# A child that keeps dying is started again at most this often.
RESTART_BACKOFF = 5.0


class OutboxProcesses:
    """N outbox children: `start`, `wake` after a commit that queued rows, `stop`.

    Each child has a wake-up pipe of its own, and nothing else is shared: the parent writes a
    byte to it (never blocking: a full pipe already holds a wake-up). No lock lives across
    processes, so a child killed at any instant cannot leave one held (a killed child holding a
    `multiprocessing.Event`'s lock would hang the next ack that wakes the outbox).
    """

    def __init__(self, settings: Settings, *, processes: int, threads: int,
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.processes = processes
        self.threads = threads
        self.clock = clock
        # spawn, not fork: the parent has threads (scheduler, server) and open connections
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._children: list[Any] = []
        self._wake_fds: list[int] = []  # the parent's end of each child's wake-up pipe
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stopping.clear()
        for n in range(self.processes):
            self._spawn(n)
        thread = threading.Thread(target=self._watch, name="outbox-watch", daemon=True)
        thread.start()
        self._threads.append(thread)

    def wake(self) -> None:
        for fd in list(self._wake_fds):
            # BlockingIOError: the pipe is full of wake-ups already; OSError: the child died
            # (the watcher starts another, which looks at the outbox as it starts)
            with contextlib.suppress(OSError):
                os.write(fd, b"!")

    def stop(self) -> None:
        self._stopping.set()
        children = list(self._children)
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: the child stops its worker and exits
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                log.warning("outbox process %s did not stop; killing it", child.pid)
                child.kill()
                child.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        with self._lock:
            for fd in self._wake_fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._children, self._wake_fds = [], []

    def _spawn(self, n: int) -> None:
        wake_r, wake_w = self._ctx.Pipe(duplex=False)
        # The child's clock runs at the same offset from wall time as ours (it is zero in
        # production; the benchmarks run the bot's clock at an offset).
        offset = self.clock() - datetime.now(UTC)
        child = self._ctx.Process(
            target=child_main, name=f"crisisbot-outbox-{n}", daemon=True,
            args=(self.settings, self.threads, offset, wake_r))
        child.start()
        # close our copy of the child's end: its death then shows here as EPIPE
        wake_r.close()
        fd = os.dup(wake_w.fileno())
        wake_w.close()
        os.set_blocking(fd, False)
        with self._lock:
            if n < len(self._children):
                with contextlib.suppress(OSError):
                    os.close(self._wake_fds[n])
                self._children[n], self._wake_fds[n] = child, fd
            else:
                self._children.append(child)
                self._wake_fds.append(fd)
        log.info("outbox process %d started (pid %s, %d threads)", n, child.pid, self.threads)

    def _watch(self) -> None:
        restarted: dict[int, float] = {}
        while not self._stopping.wait(WATCH_EVERY):
            for n, child in enumerate(list(self._children)):
                if child.is_alive() or self._stopping.is_set():
                    continue
                now = datetime.now(UTC).timestamp()
                if now - restarted.get(n, 0.0) < RESTART_BACKOFF:
                    continue
                log.error("outbox process %s exited with %s; starting it again", child.pid,
                          child.exitcode)
                restarted[n] = now
                self._spawn(n)


def child_main(settings: Settings, threads: int, offset: timedelta, wake: Any) -> None:
    """An outbox process: the production `OutboxWorker`, woken through its pipe. It builds
    only what the worker runs (bot/wiring.py): no Bolt app, no scheduler."""
    with contextlib.suppress(Exception):
        configure_logging(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    tune_gc()
    wiring = build_wiring(settings, policy_from(settings), clock)
    worker = build_worker(wiring.service, wiring.client, settings, clock, threads=threads)
    worker.start()
    fd = wake.fileno()

    def relay_wake() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            if not os.read(fd, 4096):  # the parent is gone
                stop.set()
                return
            worker.wake()

    threading.Thread(target=relay_wake, name="outbox-wake", daemon=True).start()
    try:
        stop.wait()
    finally:
        worker.stop()
        wiring.engine.dispose()
