"""Cadence windows: parsing (golden tables), window time, and the rules that use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.domain import rules, windows
from playbook.domain.cadence import (
    ReminderKind,
    due_reminders,
    next_update_due,
    upcoming,
)
from playbook.domain.cadence_walk import DueState, adherence, cadence_timeline
from playbook.domain.errors import ParseError
from playbook.domain.model import Actor, CustomerUpdate, Incident
from playbook.domain.parse import parse_cadence, parse_window
from playbook.domain.windows import Window
from tests.playbooks import default_policy

K = ReminderKind
PARIS = ZoneInfo("Europe/Paris")
POLICY = default_policy(owner_nags=(), stale_after=timedelta(0), stale_resolved=timedelta(0))
WEEKDAYS = frozenset(range(5))
ALL = frozenset(range(7))


def paris(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=PARIS).astimezone(UTC)


# --- parsing: golden tables ----------------------------------------------------------------------

ACCEPTED_WINDOWS = [
    ("weekdays 9-18 Europe/Paris", Window(WEEKDAYS, 540, 1080, "Europe/Paris")),
    ("mon-fri 09:00-17:30 America/New_York", Window(WEEKDAYS, 540, 1050, "America/New_York")),
    ("daily 8-20 UTC", Window(ALL, 480, 1200, "UTC")),
    ("every day 8-20 utc", Window(ALL, 480, 1200, "UTC")),
    ("Every Day 8am-6pm europe/paris", Window(ALL, 480, 1080, "Europe/Paris")),
    ("weekends 10-14 Asia/Tokyo", Window(frozenset({5, 6}), 600, 840, "Asia/Tokyo")),
    ("mon,wed,fri 9-17 UTC", Window(frozenset({0, 2, 4}), 540, 1020, "UTC")),
    ("tue-thu,sat 9-12 UTC", Window(frozenset({1, 2, 3, 5}), 540, 720, "UTC")),
    ("fri-mon 9-17 UTC", Window(frozenset({4, 5, 6, 0}), 540, 1020, "UTC")),
    ("9-18 weekdays Europe/Paris", Window(WEEKDAYS, 540, 1080, "Europe/Paris")),
    ("monday-friday 9 - 18 Europe/Paris", Window(WEEKDAYS, 540, 1080, "Europe/Paris")),
    ("weekdays 9–18 Europe/Paris", Window(WEEKDAYS, 540, 1080, "Europe/Paris")),
    ("weekdays 9 to 18 Europe/Paris", Window(WEEKDAYS, 540, 1080, "Europe/Paris")),
    ("daily 18-24 UTC", Window(ALL, 1080, 1440, "UTC")),
    ("daily 18-0 UTC", Window(ALL, 1080, 1440, "UTC")),
    ("weekdays 9-18", Window(WEEKDAYS, 540, 1080, "America/Chicago")),  # the typist's zone
    ("9-18", Window(ALL, 540, 1080, "America/Chicago")),
]


@pytest.mark.parametrize(("typed", "window"), ACCEPTED_WINDOWS)
def test_window_forms_accepted(typed: str, window: Window) -> None:
    assert parse_window(typed, default_tz="America/Chicago") == window
    assert parse_window(window.spec) == window, "the stored form reads back the same"


REJECTED_WINDOWS = [
    ("", "Which hours"),
    ("weekdays Europe/Paris", "which hours"),
    ("weekdays 9-18 Mars/Olympus", "time zone `mars/olympus`"),
    ("weekdays 9-18 Paris", "time zone `paris`"),
    ("weekdays 18-9 UTC", "overnight"),
    ("weekdays 9-9 UTC", "overnight"),
    ("weekdays 9-25 UTC", "not a time of day"),
    ("weekdays 9:75-18 UTC", "not a time of day"),
    ("weekdays 13pm-5pm UTC", "1 to 12"),
    ("someday 9-18 UTC", "couldn't read `someday`"),
    ("weekdays 9-18 UTC extra", "couldn't read `extra`"),
]


@pytest.mark.parametrize(("typed", "says"), REJECTED_WINDOWS)
def test_window_forms_refused_with_a_clear_message(typed: str, says: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_window(typed)
    assert says.lower() in err.value.message.lower()
    assert "<" not in err.value.message.replace("&lt;", "").replace("&gt;", "")


ACCEPTED_CADENCES = [
    ("1h", timedelta(hours=1), None),
    ("every 2 hours", timedelta(hours=2), None),
    ("every day", timedelta(days=1), None),
    ("1h weekdays 9-18 Europe/Paris", timedelta(hours=1), "weekdays 09:00-18:00 Europe/Paris"),
    ("1h 30m mon-fri 09:00-17:30 UTC", timedelta(minutes=90), "weekdays 09:00-17:30 UTC"),
    ("every 2 hours every day 8-20 UTC", timedelta(hours=2), "daily 08:00-20:00 UTC"),
    ("30 min 9-18 Europe/Paris", timedelta(minutes=30), "daily 09:00-18:00 Europe/Paris"),
]


@pytest.mark.parametrize(("typed", "interval", "spec"), ACCEPTED_CADENCES)
def test_cadence_forms_accepted(typed: str, interval: timedelta, spec: str | None) -> None:
    got, window = parse_cadence(typed)
    assert got == interval
    assert (window.spec if window else None) == spec


@pytest.mark.parametrize(("typed", "says"), [
    ("soonish weekdays 9-18 UTC", "as a duration"),
    ("1h weekdays 9-18 Nowhere/Land", "time zone"),
    ("1h weekdays", "which hours"),
    ("", "interval"),
])
def test_cadence_forms_refused(typed: str, says: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_cadence(typed)
    assert says.lower() in err.value.message.lower()


# --- window time -------------------------------------------------------------------------------

OFFICE = Window(WEEKDAYS, 9 * 60, 18 * 60, "Europe/Paris")


def test_window_time_skips_nights_and_the_weekend() -> None:
    friday_1730 = paris(2026, 3, 6, 17, 30)
    assert windows.advance(OFFICE, friday_1730, timedelta(minutes=30)) == paris(2026, 3, 6, 18)
    assert windows.advance(OFFICE, friday_1730, timedelta(hours=1)) == paris(2026, 3, 9, 9, 30)
    assert windows.elapsed(OFFICE, friday_1730, paris(2026, 3, 9, 9, 30)) == timedelta(hours=1)
    assert not windows.is_open(OFFICE, paris(2026, 3, 7, 12))
    assert windows.next_open(OFFICE, paris(2026, 3, 7, 12)) == paris(2026, 3, 9, 9)
    assert windows.next_open(OFFICE, paris(2026, 3, 9, 10)) == paris(2026, 3, 9, 10)


def test_window_hours_stay_local_across_a_dst_change() -> None:
    # Paris springs forward on Sunday 29 March 2026: 09:00 is 08:00 UTC before, 07:00 after.
    daily = Window(ALL, 9 * 60, 18 * 60, "Europe/Paris")
    saturday = paris(2026, 3, 28, 17, 30)
    assert saturday == datetime(2026, 3, 28, 16, 30, tzinfo=UTC)
    assert windows.advance(daily, saturday, timedelta(hours=1)) == \
        datetime(2026, 3, 29, 7, 30, tzinfo=UTC)  # 09:30 CEST
    whole_day = Window(ALL, 0, 24 * 60, "Europe/Paris")
    assert windows.elapsed(whole_day, paris(2026, 3, 29, 0), paris(2026, 3, 30, 0)) == \
        timedelta(hours=23), "the short night has 23 hours"
    autumn = windows.elapsed(whole_day, paris(2026, 10, 25, 0), paris(2026, 10, 26, 0))
    assert autumn == timedelta(hours=25)


def test_a_window_starting_inside_the_spring_gap_opens_when_the_clocks_jump() -> None:
    early = Window(ALL, 2 * 60 + 30, 6 * 60, "Europe/Paris")
    assert windows.next_open(early, datetime(2026, 3, 29, 0, 10, tzinfo=UTC)) == \
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, the first instant after 02:30


@settings(max_examples=150, deadline=None)
@given(start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)),
       minutes=st.integers(1, 60 * 24 * 9),
       days=st.sets(st.integers(0, 6), min_size=1),
       hours=st.tuples(st.integers(0, 23), st.integers(1, 24)).filter(lambda h: h[0] < h[1]),
       tz=st.sampled_from(["Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"]))
def test_advance_is_the_inverse_of_elapsed(start: datetime, minutes: int, days: set[int],
                                           hours: tuple[int, int], tz: str) -> None:
    """Oracle: the instant `advance` finds has exactly that much window time before it, and
    nothing earlier has; it is inside the window or on its closing edge."""
    w = Window(frozenset(days), hours[0] * 60, hours[1] * 60, tz)
    a = start.replace(tzinfo=UTC)
    d = timedelta(minutes=minutes)
    t = windows.advance(w, a, d)
    assert windows.elapsed(w, a, t) == d
    assert windows.elapsed(w, a, t - timedelta(seconds=1)) < d
    assert windows.is_open(w, t - timedelta(seconds=1))


# --- the rules with a window ---------------------------------------------------------------------


def incident_with(cadence: str, at: datetime) -> Incident:
    alice = Actor("U0ALICE", tz="Europe/Paris")
    inc = rules.open_incident(team_id="T1", customer="Acme", description="exports fail",
                              severity="sev2", actor=alice, now=at, policy=POLICY).incident
    inc.id, inc.number = 1, 2
    return rules.run_command(inc, "cadence", cadence, alice, now=at, policy=POLICY).incident


def test_reminders_pause_over_the_weekend_and_resume_monday() -> None:
    friday_1730 = paris(2026, 3, 6, 17, 30)
    inc = incident_with("1h weekdays 9-18", friday_1730)  # Alice's Slack zone: Paris
    assert inc.window == OFFICE
    monday = paris(2026, 3, 9, 9, 30)
    assert next_update_due(inc) == monday
    weekend = upcoming(inc, POLICY, friday_1730, timedelta(days=3, hours=1))
    assert [(r.kind, r.due_at) for r in weekend][:3] == [
        (K.NUDGE, paris(2026, 3, 9, 9, 25)), (K.DUE, monday),
        (K.ESCALATE, paris(2026, 3, 9, 9, 45))]
    for hour in range(1, 60):  # nothing fires while the customer's office is closed
        assert due_reminders(inc, POLICY, friday_1730 + timedelta(hours=hour)) == []


def test_an_update_due_at_the_close_is_reminded_then_escalated_next_morning() -> None:
    friday_1700 = paris(2026, 3, 6, 17)
    inc = incident_with("1h weekdays 9-18 Europe/Paris", friday_1700)
    assert [(r.kind, r.due_at) for r in due_reminders(inc, POLICY, paris(2026, 3, 7, 11))] == [
        (K.DUE, paris(2026, 3, 6, 18))]
    assert [(r.kind, r.due_at, r.ref) for r in
            upcoming(inc, POLICY, paris(2026, 3, 7, 11), timedelta(days=3))][:2] == [
        (K.ESCALATE, paris(2026, 3, 9, 9, 15), "1"), (K.ESCALATE, paris(2026, 3, 9, 9, 45), "2")]


def test_adherence_counts_only_inside_the_window() -> None:
    friday_1730 = paris(2026, 3, 6, 17, 30)
    windowed = incident_with("1h weekdays 9-18 Europe/Paris", friday_1730)
    around_the_clock = incident_with("1h", friday_1730)
    for inc in (windowed, around_the_clock):
        inc.updates.append(CustomerUpdate(1, "still on it", "U0ALICE", paris(2026, 3, 9, 9, 20)))
    a = adherence(windowed, paris(2026, 3, 9, 9, 25))
    assert (a.on_time, a.late, a.missed) == (1, 0, 0)
    assert a.longest_gap == timedelta(minutes=50), "the gap is measured in their hours"
    b = adherence(around_the_clock, paris(2026, 3, 9, 9, 25))
    assert b.late == 1 and b.missed > 50


def test_a_window_across_a_dst_weekend_keeps_local_due_times() -> None:
    saturday = paris(2026, 3, 28, 17, 30)  # the night before Paris springs forward
    inc = incident_with("1h daily 9-18 Europe/Paris", saturday)
    assert next_update_due(inc) == paris(2026, 3, 29, 9, 30)
    assert due_reminders(inc, POLICY, paris(2026, 3, 29, 9, 29)) == [
        next(r for r in due_reminders(inc, POLICY, paris(2026, 3, 29, 9, 29))
             if r.kind is K.NUDGE)]
    a = adherence(inc, paris(2026, 3, 29, 18))
    assert a.missed == 9, "09:30, 10:30 … 17:30 (local, after the change) lapsed unanswered"


def test_the_cadence_chart_counts_a_window_like_adherence() -> None:
    friday_1730 = paris(2026, 3, 6, 17, 30)
    inc = incident_with("1h weekdays 9-18 Europe/Paris", friday_1730)
    inc.updates.append(CustomerUpdate(1, "on it", "U0ALICE", paris(2026, 3, 9, 11, 0)))
    until = paris(2026, 3, 9, 14, 10)
    a, tl = adherence(inc, until), cadence_timeline(inc, until)
    assert (tl.count(DueState.ON_TIME), tl.count(DueState.LATE), tl.count(DueState.MISSED)) == \
        (a.on_time, a.late, a.missed) == (0, 1, 4)
    missed = [d.at for d in tl.dues if d.state is DueState.MISSED]
    assert missed == [paris(2026, 3, 9, 10, 30), paris(2026, 3, 9, 12), paris(2026, 3, 9, 13),
                      paris(2026, 3, 9, 14)], "every due is inside the customer's hours"
