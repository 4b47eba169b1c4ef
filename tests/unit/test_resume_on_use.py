"""The paused-install check runs after the ack, coalesced (`bot.listeners.middleware.ResumeOnUse`):
a burst makes one read, and a pause made by another process after a check is never hidden from
the next request (nothing is cached)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from bot.listeners.middleware import ResumeOnUse


class Lifecycle:
    def __init__(self) -> None:
        self.paused_teams: set[str] = set()
        self.reads = 0
        self.during_read: Callable[[], None] = lambda: None

    def paused(self, team: str) -> str | None:
        self.reads += 1
        self.during_read()
        return "uninstalled" if team in self.paused_teams else None

    def resume(self, team: str) -> bool:
        if team in self.paused_teams:
            self.paused_teams.discard(team)
            return True
        return False


def _world() -> tuple[ResumeOnUse, Lifecycle, list[Callable[[], None]], list[str]]:
    later: list[Callable[[], None]] = []  # the post-ack thread, run by hand
    woken: list[str] = []
    lifecycle = Lifecycle()
    deps = SimpleNamespace(later=later.append, lifecycle=lifecycle,
                           wake_outbox=lambda: woken.append("wake"))
    return ResumeOnUse(deps), lifecycle, later, woken  # type: ignore[arg-type]


def _run(later: list[Callable[[], None]]) -> None:
    while later:
        later.pop(0)()


def test_a_burst_of_requests_reads_the_pause_once_after_the_acks() -> None:
    resume, lifecycle, later, _ = _world()
    for _ in range(60):
        resume.request("T1")
    assert lifecycle.reads == 0, "nothing is read on the ack's way"
    _run(later)
    assert lifecycle.reads == 1


def test_a_pause_made_after_a_check_is_seen_by_the_next_request() -> None:
    resume, lifecycle, later, woken = _world()
    resume.request("T1")
    _run(later)
    assert woken == []
    lifecycle.paused_teams.add("T1")  # the outbox (another process) paused the team
    resume.request("T1")  # a user's command: the app is installed again
    _run(later)
    assert lifecycle.paused_teams == set() and woken == ["wake"], "sends resumed"


def test_a_request_arriving_during_the_read_gets_a_check_of_its_own() -> None:
    resume, lifecycle, later, woken = _world()

    def pause_and_request() -> None:  # while the first check reads: paused, then a request
        lifecycle.during_read = lambda: None
        lifecycle.paused_teams.add("T1")
        resume.request("T1")

    lifecycle.during_read = pause_and_request
    resume.request("T1")
    _run(later)
    assert lifecycle.reads == 2 and woken == ["wake"]
