"""HTTP worker processes: `crisisbot run --http` acks on several CPUs, and still runs one
outbox and one scheduler.

Why: an ack records the request before it answers (a few milliseconds of CPU), and one Python
process runs one thread of Python at a time, so a burst of slash commands queues behind one
interpreter however many server threads it has. Waitress cannot fork, so the process model is
our own pre-fork: `crisisbot run` binds the listening socket (`bot.web.listen`) and starts
`CRISISBOT_HTTP_WORKERS - 1` worker processes (spawned, not forked: the parent already has
threads and connections) that accept on the same socket next to its own server; the kernel
hands each new connection to one of them.

What runs where: the parent is the whole bot (`bot.runtime.Runtime`: scheduler, outbox
children, its own HTTP server). A worker builds the same app on the same database with nothing
started: no scheduler, no outbox. What its listeners do after an ack goes to the parent over
a pipe (`Relay`): "wake the outbox", "plan incident N's reminders" and "workspace T's settings
changed", which the parent does off its own acks' threads (the reminders from a fresh read: the
database is the truth; a settings change first, so the parent forgets its cached settings of
that workspace before it plans the reminders the change moved, with the new timings). So
reminders fire once and outbox rows run once, as with one process; and since every ack is
committed before it is answered, a worker that dies loses nothing acknowledged (the parent
starts another).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from playbook.domain.model import Incident

log = logging.getLogger(__name__)

WAKE = b"w"
INTAKE = b"i"  # a raw command was recorded: wake the intake's drain (bot/intake.py)
PLAN = b"r"  # followed by the incident id: plan its reminders from a fresh read
SAVED = b"s"  # followed by the pickled incident as its transaction committed
SETTINGS = b"c"  # followed by a team id: its settings changed, forget what is cached of them
READY = b"ready"
START_TIMEOUT = 60.0
RESTART_BACKOFF = 5.0
WATCH_EVERY = 1.0


class Relay:
    """A worker's after-the-ack work, sent to the parent (one message per call, never
    blocking an ack for long: the parent reads at once, and a pipe holds many messages)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def _send(self, message: bytes) -> None:
        try:
            with self._lock:
                self.conn.send_bytes(message)
        except (OSError, ValueError) as err:  # the parent is gone: it is stopping us anyway
            log.warning("could not reach the main process (%s)", err)

    def wake_outbox(self) -> None:
        self._send(WAKE)

    def wake_intake(self) -> None:
        self._send(INTAKE)

    def reschedule(self, incident_id: int) -> None:
        self._send(PLAN + str(int(incident_id)).encode())

    def schedule(self, incident: Incident) -> None:
        """The incident exactly as its transaction committed: the main process plans its
        reminders without reading it again (as `Deps.after` does in one process)."""
        self._send(SAVED + pickle.dumps(incident, protocol=pickle.HIGHEST_PROTOCOL))

    def settings_changed(self, team_id: str) -> None:
        """Sent before the reminders the change moves: the pipe keeps the order, so the main
        process plans them with the new settings, not with the ones it cached."""
        self._send(SETTINGS + team_id.encode())


@dataclass
class Handlers:
    """What the parent does with a worker's messages."""

    wake_outbox: Callable[[], None]
    reschedule: Callable[[int], None]
    schedule: Callable[[Incident], None]
    forget_settings: Callable[[str], None]
    wake_intake: Callable[[], None] = lambda: None

    def handle(self, message: bytes) -> None:
        if message == WAKE:
            self.wake_outbox()
        elif message == INTAKE:
            self.wake_intake()
        elif message.startswith(SETTINGS) and len(message) > 1:
            self.forget_settings(message[1:].decode("ascii", "replace"))
        elif message.startswith(PLAN) and message[1:].isdigit():
            self.reschedule(int(message[1:]))
        elif message.startswith(SAVED):
            # from a worker this process spawned, over its own pipe: trusted like itself
            incident = pickle.loads(message[1:])
            if isinstance(incident, Incident):
                self.schedule(incident)
        else:
            log.warning("ignored a message from an HTTP worker: %r", message[:40])


class HttpWorkers:
    """`count` worker processes accepting on `sock`; `start`, `stop`; a dead one is
    replaced (at most every `RESTART_BACKOFF` s)."""


    def __init__(self, sock: socket.socket, settings: Settings, handlers: Handlers, *,
                 count: int, threads: int, target: Callable[..., None]) -> None:
        """`target(conn, sock, settings, threads)` is a worker's main (`bot.runtime`'s
        `http_worker`): it sends `READY` on `conn` once it serves."""
        self.target = target
        self.sock = sock
        self.settings = settings
        self.handlers = handlers
        self.count = count
        self.threads = threads
        self._ctx = multiprocessing.get_context("spawn")
        self._children: list[Any] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._children if p.is_alive()]

    def start(self) -> None:
        self._stopping.clear()
        for slot in range(self.count):
            self._spawn(slot)
        threading.Thread(target=self._watch, name="http-workers-watch", daemon=True).start()

    def _spawn(self, slot: int) -> None:
        mine, theirs = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=self.target, name=f"crisisbot-http-{slot + 1}",
                                 args=(theirs, self.sock, self.settings, self.threads),
                                 daemon=True)
        started = False
        try:
            proc.start()
            started = True
            theirs.close()
            if not mine.poll(START_TIMEOUT):
                raise RuntimeError(f"an HTTP worker did not start within {START_TIMEOUT:.0f} s")
            if mine.recv_bytes() != READY:  # (EOFError: it died before saying so)
                raise RuntimeError("an HTTP worker failed to start")
        except BaseException:
            # A worker that did not start keeps nothing: both ends of its pipe are closed
            # (the watcher tries again every few seconds, and each try would leak two), and
            # the child is stopped and reaped.
            mine.close()
            theirs.close()
            if started:
                proc.kill()  # our own child, by its handle
                proc.join(5)
            raise
        with self._lock:
            while len(self._children) <= slot:
                self._children.append(proc)
            self._children[slot] = proc
        threading.Thread(target=self._listen, args=(mine,), name=f"http-relay-{slot + 1}",
                         daemon=True).start()
        log.info("HTTP worker %d started (pid %s)", slot + 1, proc.pid)

    def _listen(self, conn: Any) -> None:
        """The parent's side of one worker's pipe, until the worker goes away."""
        with conn:
            while True:
                try:
                    message = conn.recv_bytes()
                except (EOFError, OSError):
                    return
                try:
                    self.handlers.handle(message)
                except Exception:
                    log.exception("handling a message from an HTTP worker failed")

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_EVERY):
            with self._lock:
                dead = [n for n, p in enumerate(self._children) if not p.is_alive()]
            for slot in dead:
                if self._stopping.is_set():
                    return
                log.error("HTTP worker %d stopped (exit code %s); starting another", slot + 1,
                          self._children[slot].exitcode)
                try:
                    self._spawn(slot)
                except Exception:
                    log.exception("could not start HTTP worker %d again", slot + 1)
                    time.sleep(RESTART_BACKOFF)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        with self._lock:
            children = list(self._children)
        for proc in children:
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(proc.pid, signal.SIGTERM)  # our own child, by its pid
        deadline = time.monotonic() + timeout
        for proc in children:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)


class Served:
    """The parent's server plus the workers, behaving like one waitress server: `run()`
    serves until `close()`, which also stops the workers; `effective_port` is the port."""

    def __init__(self, server: Any, workers: HttpWorkers | None, sock: socket.socket) -> None:
        self.server = server
        self.workers = workers
        self.sock = sock
        self.effective_port = sock.getsockname()[1]

    def run(self) -> None:
        self.server.run()

    def close(self) -> None:
        if self.workers is not None:
            self.workers.stop()
        self.server.close()
