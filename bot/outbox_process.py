"""The outbox worker in processes of its own, started and watched by `crisisbot run`.

One Python process runs one thread of Python at a time. Against a Slack that answers in a
millisecond, the outbox's work after each ack (channels, invites, cards, reminders: several
milliseconds of CPU a row) competes with the acks and the scheduler for that one interpreter.
With `CRISISBOT_OUTBOX_PROCESSES=N` the rows are carried out by N child processes instead, each
running the same `OutboxWorker` on the same database: claims and leases in the database already
keep them (and other replicas) from running a row twice, so nothing else changes.

The parent still wakes them at once after each commit that queued rows (a shared event, so
nobody waits for a poll), and rows that move an incident's reminders (a channel made, an
incident moved) come back to the parent's scheduler through a queue. A child that dies is
started again; rows it had leased are taken over when their lease ends.
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
from multiprocessing.connection import wait
from typing import Any

from bot.config import Settings

log = logging.getLogger(__name__)

# How often the parent looks whether a child is still alive.
WATCH_EVERY = 1.0
# A child that keeps dying is started again at most this often.
RESTART_BACKOFF = 5.0


class OutboxProcesses:
    """N outbox children: `start`, `wake` after a commit that queued rows, `stop`.

    Each child has two pipes of its own, and nothing else is shared: a wake-up pipe the parent
    writes a byte to (never blocking: a full pipe already holds a wake-up), and a pipe back for
    the incidents to reschedule. No lock lives across processes, so a child killed at any
    instant cannot leave one held (a killed child holding a `multiprocessing.Event`'s lock
    would hang the next ack that wakes the outbox).
    """

    def __init__(self, settings: Settings, *, processes: int, threads: int,
                 on_reschedule: Callable[[int], None],
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.processes = processes
        self.threads = threads
        self.on_reschedule = on_reschedule
        self.clock = clock
        # spawn, not fork: the parent has threads (scheduler, server) and open connections
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._children: list[Any] = []
        self._wake_fds: list[int] = []  # the parent's end of each child's wake-up pipe
        self._back: list[Any] = []  # the parent's end of each child's reschedule pipe
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stopping.clear()
        for n in range(self.processes):
            self._spawn(n)
        for target, name in ((self._watch, "outbox-watch"),
                             (self._relay_reschedules, "outbox-reschedules")):
            thread = threading.Thread(target=target, name=name, daemon=True)
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
            for conn in self._back:
                conn.close()
            self._children, self._wake_fds, self._back = [], [], []

    def _spawn(self, n: int) -> None:
        wake_r, wake_w = self._ctx.Pipe(duplex=False)
        back_r, back_w = self._ctx.Pipe(duplex=False)
        # The child's clock runs at the same offset from wall time as ours (it is zero in
        # production; the benchmarks run the bot's clock at an offset).
        offset = self.clock() - datetime.now(UTC)
        child = self._ctx.Process(
            target=child_main, name=f"crisisbot-outbox-{n}", daemon=True,
            args=(self.settings, self.threads, offset, wake_r, back_w))
        child.start()
        # close our copies of the child's ends: its death then shows here as EOF / EPIPE
        wake_r.close()
        back_w.close()
        fd = os.dup(wake_w.fileno())
        wake_w.close()
        os.set_blocking(fd, False)
        with self._lock:
            if n < len(self._children):
                with contextlib.suppress(OSError):
                    os.close(self._wake_fds[n])
                self._back[n].close()
                self._children[n], self._wake_fds[n], self._back[n] = child, fd, back_r
            else:
                self._children.append(child)
                self._wake_fds.append(fd)
                self._back.append(back_r)
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

    def _relay_reschedules(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                conns = [c for c in self._back if not c.closed]
            for conn in wait(conns, timeout=0.5) if conns else ():
                try:
                    incident_id = conn.recv()
                except (EOFError, OSError):  # the child is gone; the watcher replaces it
                    with self._lock, contextlib.suppress(OSError):
                        conn.close()
                    continue
                try:
                    self.on_reschedule(int(incident_id))
                except Exception:
                    log.exception("could not reschedule incident %s", incident_id)
            if not conns:
                self._stopping.wait(0.5)


def child_main(settings: Settings, threads: int, offset: timedelta, wake: Any,
               back: Any) -> None:
    """An outbox process: the production `OutboxWorker`, woken through its pipe."""
    from bot.redact import configure_logging
    from bot.runtime import Runtime

    with contextlib.suppress(Exception):
        configure_logging(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    sending = threading.Lock()

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    def reschedule(incident_id: int) -> None:
        with sending:
            back.send(incident_id)

    runtime = Runtime.build(settings, clock=clock, migrate=False, outbox_threads=threads,
                            outbox_processes=0, reschedule_to=reschedule)
    worker = runtime.worker
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
        runtime.engine.dispose()
