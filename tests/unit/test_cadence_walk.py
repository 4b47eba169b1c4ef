"""The cadence walk: due times, judged updates and gaps, and adherence counted from them.

`adherence` is computed from `cadence_timeline`, and the chart (bot/chart.py) draws the same
timeline; golden cases pin the counts, and a property test holds `adherence` to the
pre-refactor algorithm (tests/cadence_reference.py, an independent oracle), with cadence
windows and reopened incidents.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.domain.cadence_walk import DueState, adherence, cadence_timeline
from playbook.domain.model import CadenceChange, CustomerUpdate, Incident, Reopening, Status
from playbook.domain.windows import Window
from tests.cadence_incidents import at, make, mins
from tests.cadence_reference import reference_adherence

GOLDEN = [
    # (name, incident, until, on_time, late, missed)
    ("design example", make(updates=("10:25", "10:55", "11:37")), "11:40", 2, 1, 0),
    ("open stretch after it", make(updates=("10:25", "10:55", "11:37")), "12:30", 2, 1, 1),
    ("two intervals missed", make(updates=("11:35",)), "11:40", 0, 1, 2),
    ("update on a later due", make(updates=("11:30",)), "11:40", 0, 1, 1),
    ("on time exactly at due", make(updates=("10:30", "11:00")), "11:10", 2, 0, 0),
    ("no update yet, not due", make(), "10:30", 0, 0, 0),
    ("no update, three dues", make(), "11:31", 0, 0, 3),
    ("update before cadence", make(updates=("09:55", "10:25")), "10:40", 1, 0, 0),
    ("update with the cadence", make(updates=("10:00",)), "10:10", 1, 0, 0),
    (
        "told of resolution ends it",
        make(updates=("10:20", "10:45"), customer_informed_at=at("10:45")),
        "14:00",
        2,
        0,
        0,
    ),
    (
        "closed without telling",
        make(updates=("10:20",), status=Status.CLOSED, closed_at=at("11:05")),
        "14:00",
        1,
        0,
        1,
    ),
]


@pytest.mark.parametrize(
    ("inc", "until", "on_time", "late", "missed"),
    [case[1:] for case in GOLDEN],
    ids=[case[0] for case in GOLDEN],
)
def test_timeline_counts_like_adherence(
    inc: Incident, until: str, on_time: int, late: int, missed: int
) -> None:
    tl = cadence_timeline(inc, at(until))
    a = adherence(inc, at(until))
    got = (tl.count(DueState.ON_TIME), tl.count(DueState.LATE), tl.count(DueState.MISSED))
    assert got == (on_time, late, missed) == (a.on_time, a.late, a.missed)
    assert a == reference_adherence(inc, at(until))  # the pre-refactor algorithm, independent
    assert max((g.length for g in tl.gaps), default=None) == a.longest_gap


def test_timeline_of_the_design_example() -> None:
    tl = cadence_timeline(make(updates=("10:25", "10:55", "11:37")), at("12:30"))
    assert [(d.at, d.state) for d in tl.dues] == [
        (at("10:30"), DueState.ON_TIME),  # answered at 10:25
        (at("10:55"), DueState.ON_TIME),  # answered at 10:55, on the dot
        (at("11:25"), DueState.LATE),  # answered at 11:37
        (at("12:07"), DueState.MISSED),  # nothing by 12:07, and 12:30 has come
        (at("12:37"), DueState.NEXT),
    ]
    assert [(g.start, g.end, g.over) for g in tl.gaps] == [
        (at("10:00"), at("10:25"), False),
        (at("10:25"), at("10:55"), False),
        (at("10:55"), at("11:37"), True),
    ]
    assert tl.open_gap is not None and (tl.open_gap.start, tl.open_gap.end) == (
        at("11:37"),
        at("12:30"),
    )


def test_timeline_cadence_change_midway() -> None:
    inc = make(updates=("10:20", "12:10"))
    inc.cadence_changes.append(CadenceChange(at("11:30"), mins(60), agreed=True))
    tl = cadence_timeline(inc, at("12:20"))
    assert [(d.at, d.state) for d in tl.dues] == [
        (at("10:30"), DueState.ON_TIME),
        (at("10:50"), DueState.MISSED),  # the old clock's dues before the change
        (at("11:20"), DueState.MISSED),
        (at("12:30"), DueState.ON_TIME),  # the new clock: 11:30 + 1 h, answered at 12:10
        (at("13:10"), DueState.NEXT),
    ]
    assert [c.interval for c in tl.changes] == [mins(30), mins(60)]
    # 10:20 -> 12:10 is 110 min, over the hourly interval in force when it ended
    assert [g.over for g in tl.gaps] == [False, True]


def test_timeline_without_a_cadence_judges_nothing() -> None:
    inc = make(cadence=None, updates=("10:20", "11:40"))
    tl = cadence_timeline(inc, at("14:00"))
    assert tl.window_end is None
    assert tl.dues == [] and tl.gaps == [] and tl.judged == []
    assert [u.at for u in tl.unjudged] == [at("10:20"), at("11:40")]


def test_timeline_updates_outside_the_window_are_not_judged() -> None:
    inc = make(updates=("09:55", "10:20", "13:00"), customer_informed_at=at("10:20"))
    tl = cadence_timeline(inc, at("14:00"))
    assert [u.at for u, _ in tl.judged] == [at("10:20")]
    assert [u.at for u in tl.unjudged] == [at("09:55"), at("13:00")]
    assert all(d.state is not DueState.NEXT for d in tl.dues)  # the cadence is over


def test_a_long_run_of_missed_dues_is_one_bar() -> None:
    inc = make(cadence=1)
    tl = cadence_timeline(inc, at("10:00", day=2))
    assert tl.count(DueState.MISSED) == adherence(inc, at("10:00", day=2)).missed == 2 * 24 * 60 - 1
    assert len(tl.missed_runs) == 1 and len(tl.dues) == 1  # the run and the next due
    run = tl.missed_runs[0]
    assert (run.first, run.last) == (at("10:01"), at("09:59", day=2))


def test_timeline_refuses_naive_until() -> None:
    with pytest.raises(ValueError, match="aware"):
        cadence_timeline(make(), datetime(2024, 5, 6, 12, 0))


_minute = st.integers(min_value=0, max_value=600)
_window = st.none() | st.builds(
    lambda days, start, length, tz: Window(days, start, min(start + length, 24 * 60), tz),
    days=st.frozensets(st.integers(min_value=0, max_value=6), min_size=1),
    start=st.integers(min_value=0, max_value=23 * 60),
    length=st.integers(min_value=1, max_value=12 * 60),
    tz=st.sampled_from(["UTC", "Europe/Paris"]),
)


@st.composite
def _reopenings(draw: st.DrawFn, first: int) -> list[tuple[int, int, int | None, bool]]:
    """(closed, reopened, customer told or None, cadence restarted) in minutes, in order."""
    out: list[tuple[int, int, int | None, bool]] = []
    t = first
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        closed = t + draw(st.integers(min_value=1, max_value=300))
        told = draw(st.none() | st.integers(min_value=0, max_value=closed - t))
        t = closed + draw(st.integers(min_value=1, max_value=600))
        out.append((closed, t, None if told is None else closed - told, draw(st.booleans())))
    return out


# a day from 09:00 (cadence windows open and close in it); ends drawn late-biased, so most
# incidents have a clock to judge (hypothesis favours small integers)
_later = st.integers(min_value=0, max_value=1440).map(lambda m: 1440 - m)


@settings(max_examples=300, deadline=None)
@given(
    changes=st.lists(
        st.tuples(_minute, st.integers(min_value=0, max_value=120), _window),
        min_size=1,
        max_size=4,
    ),
    updates=st.lists(st.integers(min_value=0, max_value=1440), max_size=25),
    until=_later,
    informed=st.none() | _later,
    closed=st.none() | _later,
    reopenings=_reopenings(first=0),
)
def test_adherence_agrees_with_the_pre_refactor_algorithm(
    changes: list[tuple[int, int, Window | None]],
    updates: list[int],
    until: int,
    informed: int | None,
    closed: int | None,
    reopenings: list[tuple[int, int, int | None, bool]],
) -> None:
    """The walk against an independent oracle (tests/cadence_reference.py), with cadence
    windows and reopened incidents (each reopen may restart the clock, as the verb does)."""
    base = at("09:00")
    inc = make(cadence=None)
    inc.cadence_changes = [
        CadenceChange(base + mins(t), mins(i), agreed=True, window=w) for t, i, w in changes
    ]
    for n, (closed_at, reopened_at, told, restart) in enumerate(reopenings, start=1):
        inc.reopenings.append(Reopening(
            n, base + mins(reopened_at), "U1", "back", closed_at=base + mins(closed_at),
            customer_informed_at=None if told is None else base + mins(told)))
        if restart and inc.cadence_changes:
            last = max(inc.cadence_changes, key=lambda c: c.at)
            inc.cadence_changes.append(CadenceChange(
                base + mins(reopened_at), last.interval, agreed=True, window=last.window))
    inc.updates = [
        CustomerUpdate(n + 1, "u", "U1", base + mins(t)) for n, t in enumerate(sorted(updates))
    ]
    inc.customer_informed_at = None if informed is None else base + mins(informed)
    if closed is not None:
        inc.closed_at, inc.status = base + mins(closed), Status.CLOSED
    end = base + mins(until)
    a = adherence(inc, end)
    assert a == reference_adherence(inc, end)
    tl = cadence_timeline(inc, end)
    assert len(tl.judged) == a.updates
    assert len(tl.judged) + len(tl.unjudged) == len(inc.updates)
    assert max((g.length for g in tl.gaps), default=None) == a.longest_gap
    assert [d.at for d in tl.dues] == sorted(d.at for d in tl.dues)
    assert all(d.at < (tl.window_end or end) for d in tl.dues if d.state is DueState.MISSED)


def test_a_reopened_incident_owes_nothing_while_closed() -> None:
    """Closed at 11:00 without telling the customer, reopened at 14:00 with the clock restarted:
    the three closed hours list no missed dues, and the update logged meanwhile is not judged."""
    inc = make(updates=("10:20", "12:00", "14:25"))
    inc.reopenings = [Reopening(1, at("14:00"), "U1", "it came back", closed_at=at("11:00"))]
    inc.cadence_changes.append(CadenceChange(at("14:00"), mins(30), agreed=True))
    tl = cadence_timeline(inc, at("14:40"))
    a = adherence(inc, at("14:40"))
    assert [(d.at, d.state) for d in tl.dues] == [
        (at("10:30"), DueState.ON_TIME),  # answered at 10:20
        (at("10:50"), DueState.MISSED),  # nothing by the close at 11:00
        (at("14:30"), DueState.ON_TIME),  # the reopened clock, answered at 14:25
        (at("14:55"), DueState.NEXT),
    ]
    assert [u.at for u in tl.unjudged] == [at("12:00")]
    assert (a.on_time, a.late, a.missed) == (2, 0, 1)
    assert a.longest_gap == mins(25)
    assert a == reference_adherence(inc, at("14:40"))
