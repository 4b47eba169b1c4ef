"""`bot.http_workers.HttpWorkers`: a worker that fails to start leaves nothing behind."""

from __future__ import annotations

import multiprocessing
import socket
from typing import Any

import pytest

from bot.config import Settings
from bot.http_workers import Handlers, HttpWorkers


class _Child:
    """A worker process that is not one: on `start` it answers as `how` says."""

    pid = 0

    def __init__(self, conn: Any, how: str) -> None:
        self.conn, self.how = conn, how
        self.killed = self.joined = False

    def start(self) -> None:
        if self.how == "cannot start":
            raise OSError("fork failed")
        if self.how == "says something else":
            self.conn.send_bytes(b"Traceback ...")
        # "dies at once": says nothing; once the parent closes its copy, the pipe is at EOF

    def kill(self) -> None:
        self.killed = True

    def join(self, timeout: float | None = None) -> None:
        self.joined = True

    def is_alive(self) -> bool:
        return False


class _Context:
    """`multiprocessing`'s spawn context, with real pipes and pretend processes."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.pipes: list[Any] = []
        self.children: list[_Child] = []

    def Pipe(self, duplex: bool = True) -> tuple[Any, Any]:
        ends = multiprocessing.Pipe(duplex=duplex)
        self.pipes.extend(ends)
        return ends

    def Process(self, *, target: Any, name: str, args: tuple,
                daemon: bool) -> _Child:
        child = _Child(args[0], self.how)
        self.children.append(child)
        return child


@pytest.mark.parametrize("how", ["says something else", "dies at once", "cannot start"])
def test_a_worker_that_fails_to_start_leaves_no_pipe_open(how: str) -> None:
    with socket.socket() as sock:
        workers = HttpWorkers(sock, Settings(slack_bot_token="xoxb-1-test"),
                              Handlers(lambda: None, lambda _: None, lambda _: None,
                                       lambda _: None),
                              count=1, threads=1, target=lambda *args: None)
        context = _Context(how)
        workers._ctx = context  # type: ignore[assignment]
        with pytest.raises((RuntimeError, EOFError, OSError)):
            workers._spawn(0)
    assert len(context.pipes) == 2 and all(end.closed for end in context.pipes), \
        "both ends of the failed worker's pipe are closed"
    [child] = context.children
    if how != "cannot start":
        assert child.killed and child.joined, "the child is stopped and reaped"
    assert workers.pids() == []
