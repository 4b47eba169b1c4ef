"""The intake's decision (does an open go through it?) and what its person is told, as plain
data: playbook/domain/intake.py and the shell's gauge (bot/load.py, bot/intake.py)."""

from __future__ import annotations

import threading
import time

import pytest

from bot.intake import Intake
from bot.load import InFlight, Lull
from playbook.domain.intake import recorded_reply, refused_reply, takes_intake


@pytest.mark.parametrize(("in_flight", "threshold", "taken"), [
    (1, 0, False), (50, 0, False),  # 0: never
    (1, 1, True),  # 1: every open
    (1, 4, False), (3, 4, False), (4, 4, True), (9, 4, True),
])
def test_an_open_takes_the_intake_from_the_threshold_on(in_flight: int, threshold: int,
                                                        taken: bool) -> None:
    assert takes_intake(in_flight, threshold) is taken


class _Unused:
    def record(self, **_: object) -> bool:
        raise AssertionError("busy() records nothing")


def test_the_shell_decides_from_the_requests_in_flight_now() -> None:
    load = InFlight()
    intake = Intake(_Unused(), load, threshold=3, wake=lambda: None)  # type: ignore[arg-type]
    assert not intake.busy()
    load.enter()
    load.enter()
    assert not intake.busy()
    load.enter()
    assert intake.busy(), "three in flight, this one counted"
    load.leave()
    assert not intake.busy(), "back under the threshold as requests leave"
    assert not Intake(_Unused(), load, 0, lambda: None).busy()  # type: ignore[arg-type]


def test_a_quiet_moment_is_waited_for_and_capped() -> None:
    load = InFlight()
    assert load.wait_quiet(quiet=0.0, cap=0.0), "nothing in flight: quiet"
    load.enter()
    assert not load.wait_quiet(quiet=0.0, cap=0.01), "a request inside: the cap runs out"
    threading.Timer(0.01, load.leave).start()
    assert load.wait_quiet(quiet=0.0, cap=5.0), "woken when the last request leaves"
    assert load.count == 0


def test_the_recorded_ack_says_recorded_and_that_the_number_follows() -> None:
    text = recorded_reply("Acme Corp")
    assert "Recorded" in text and "*Acme Corp*" in text
    assert "number" in text and "follow" in text
    assert "INC-" not in text, "no number is promised before it exists"
    assert "Opened" not in text


def test_the_recorded_ack_cannot_ping() -> None:
    text = recorded_reply("<!channel> &lt;b&gt; <@U0BOB|bob>")
    assert "<!" not in text and "<@" not in text
    assert "@channel &lt;b&gt; @bob" in text


def test_a_refusal_quotes_the_text_back_escaped() -> None:
    text = refused_reply("Unknown severity `sev7`.", "sev7 <!here> Acme: down &amp; out ```x")
    assert text.startswith("I couldn't open the incident")
    assert "Unknown severity `sev7`." in text
    assert "/incident open sev7 @here Acme: down &amp; out" in text
    assert "<!" not in text
    assert text.count("```") == 2, "a fence typed by the person cannot close the quote"


def test_requests_waiting_for_a_thread_count_as_load() -> None:
    load = InFlight()
    intake = Intake(_Unused(), load, threshold=4, wake=lambda: None)  # type: ignore[arg-type]
    load.enter()  # this request, inside
    assert not intake.busy()
    load.waiting = lambda: 3  # a burst: three more accepted, not yet on a thread
    assert load.pressure() == 4 and intake.busy()


def test_after_work_runs_at_once_when_no_other_request_is_in_flight() -> None:
    load = InFlight()
    lull = Lull(load)
    ran: list[str] = []
    lull(lambda: ran.append("alone"))  # not inside a request, none in flight
    load.enter()  # this thread serves a request: it is not "another"
    lull(lambda: ran.append("own request"))
    load.leave()
    assert ran == ["alone", "own request"]
    lull.close()


def test_after_work_waits_while_other_requests_are_in_flight() -> None:
    load = InFlight()
    lull = Lull(load, quiet=0.0, cap=30.0)
    done = threading.Event()
    ran: list[str] = []
    other = threading.Thread(target=load.enter)  # another thread's request, still inside
    other.start()
    other.join()
    lull(lambda: ran.append("first"))
    lull(lambda: (ran.append("second"), done.set()))
    assert ran == [], "deferred while the other request is inside"
    assert not lull.idle(), "work waits for a lull: a test settling must wait for it too"
    load.leave()  # (from here: the other request is answered)
    assert done.wait(10), "run once the process is quiet"
    assert ran == ["first", "second"]
    deadline = time.monotonic() + 10
    while not lull.idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lull.idle()
    lull.close()


def test_closing_runs_what_waits() -> None:
    load = InFlight()
    lull = Lull(load, cap=30.0)
    other = threading.Thread(target=load.enter)  # another request, inside until the end
    other.start()
    other.join()
    ran: list[int] = []
    lull(lambda: ran.append(1))
    lull.close()
    assert ran == [1]
    lull(lambda: ran.append(2))  # closed: at once
    assert ran == [1, 2]
