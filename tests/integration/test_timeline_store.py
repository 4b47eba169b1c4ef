"""Timeline captures and corrections on real SQLite and PostgreSQL (see the `db_url` fixture)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain.model import Actor, Incident, TimelineEntry
from playbook.domain.timeline import Revision, check_correction, corrected
from playbook.services.timeline import TimelineService
from playbook.store import tables
from playbook.store import timeline as timeline_store

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
BOB, CAROL, LEAD = Actor("U0BOB"), Actor("U0CAROL"), Actor("U0LEAD", is_lead=True)


def _incident(factory: sessionmaker[Session]) -> Incident:
    with factory.begin() as session:
        inc = store.add_incident(session, Incident("T1", 0, "Acme", "down", "U0BOB", T0,
                                                   channel_id="C1"))
        assert inc.id is not None
        store.append_timeline(session, inc.id, "T1",
                              [TimelineEntry(T0, "open", "opened", "U0BOB")])
    return inc


def _capture(factory: sessionmaker[Session], inc: Incident, ts: str, by: str,
             text: str = "the CDN is down") -> tuple[int, bool]:
    assert inc.id is not None
    with factory.begin() as session:
        return timeline_store.capture(
            session, incident_id=inc.id, team_id="T1", channel_id="C1", message_ts=ts,
            entry=TimelineEntry(T0 + timedelta(minutes=3), "captured", text, "U0BOB"),
            captured_by=by, via="reaction", now=T0 + timedelta(minutes=4))


def test_capture_numbers_entries_and_never_adds_a_message_twice(
        session_factory: sessionmaker[Session]) -> None:
    inc = _incident(session_factory)
    assert inc.id is not None
    assert _capture(session_factory, inc, "1763902800.000100", "U0ALICE") == (2, True)
    assert _capture(session_factory, inc, "1763902800.000100", "U0CAROL") == (2, False)
    assert _capture(session_factory, inc, "1763902900.000200", "U0CAROL", "rolled back") \
        == (3, True)
    with session_factory() as session:
        entries = timeline_store.load_entries(session, inc.id)
    assert [(e.ref, e.kind, e.actor, e.captured_by) for e in entries] == [
        ("T1", "open", "U0BOB", None),
        ("T2", "captured", "U0BOB", "U0ALICE"),
        ("T3", "captured", "U0BOB", "U0CAROL"),
    ]
    assert entries[1].at == T0 + timedelta(minutes=3)


def test_racing_captures_of_one_message_add_one_entry(
        session_factory: sessionmaker[Session]) -> None:
    inc = _incident(session_factory)
    barrier = threading.Barrier(2)
    results: list[tuple[int, bool]] = []

    def race(by: str) -> None:
        barrier.wait()
        results.append(_capture(session_factory, inc, "1763902800.000100", by))

    threads = [threading.Thread(target=race, args=(who,)) for who in ("U0ALICE", "U0CAROL")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(added for _, added in results) == [False, True]
    assert {number for number, _ in results} == {2}
    with session_factory() as session:
        count = session.execute(
            select(func.count()).select_from(timeline_store.TimelineCaptureRow)).scalar_one()
    assert count == 1


def test_corrections_are_new_rows_and_the_original_stays(
        session_factory: sessionmaker[Session]) -> None:
    inc = _incident(session_factory)
    assert inc.id is not None
    _capture(session_factory, inc, "1763902800.000100", "U0ALICE")
    service = TimelineService(session_factory, lambda: T0 + timedelta(hours=1))
    entry = service.entries(inc.id)[1]

    reply = service.correct(inc.id, entry.id, BOB, typed="the CDN in eu-west is down",
                            at=T0 + timedelta(minutes=2), remove=False, team_id="T1")
    assert "Corrected T2" in reply
    reply = service.correct(inc.id, entry.id, LEAD, typed="", at=T0, remove=True, team_id="T1")
    assert "Removed T2" in reply

    with session_factory() as session:
        texts = session.execute(select(tables.TimelineRow.text)
                                .where(tables.TimelineRow.incident_id == inc.id)).scalars().all()
        revisions = session.execute(
            select(timeline_store.TimelineRevisionRow.text,
                   timeline_store.TimelineRevisionRow.removed,
                   timeline_store.TimelineRevisionRow.by)
            .order_by(timeline_store.TimelineRevisionRow.id)).all()
    assert "the CDN is down" in texts, "the entry as captured is never overwritten"
    assert [tuple(r) for r in revisions] == [
        ("the CDN in eu-west is down", False, "U0BOB"),
        ("the CDN in eu-west is down", True, "U0LEAD"),
    ]
    after = service.entries(inc.id)[1]
    assert after.removed and after.text == "the CDN is down"
    assert [line.ref for line in corrected(service.entries(inc.id))] == ["T1"]


def test_a_correction_round_trips_times_in_utc(session_factory: sessionmaker[Session]) -> None:
    inc = _incident(session_factory)
    assert inc.id is not None
    with session_factory() as session:
        entry = timeline_store.load_entries(session, inc.id)[0]
    later = T0 + timedelta(days=1, hours=2)
    revision = check_correction(entry, BOB, typed="opened (late)", at=later, remove=False,
                                now=later + timedelta(hours=1))
    assert isinstance(revision, Revision)
    with session_factory.begin() as session:
        timeline_store.add_revision(session, incident_id=inc.id, team_id="T1",
                                    entry_id=entry.id, revision=revision)
    with session_factory() as session:
        again = timeline_store.load_entries(session, inc.id)[0]
    assert again.shown_at == later and again.shown_at.tzinfo is not None
    assert again.revisions[0].made_at == later + timedelta(hours=1)


def test_deleting_an_incident_takes_its_captures_and_revisions(
        session_factory: sessionmaker[Session]) -> None:
    inc = _incident(session_factory)
    assert inc.id is not None
    _capture(session_factory, inc, "1763902800.000100", "U0ALICE")
    service = TimelineService(session_factory, lambda: T0 + timedelta(hours=1))
    entry = service.entries(inc.id)[1]
    service.correct(inc.id, entry.id, BOB, typed="x", at=T0, remove=False, team_id="T1")
    with session_factory.begin() as session:
        session.execute(tables.IncidentRow.__table__.delete())
    with session_factory() as session:
        for row in (timeline_store.TimelineCaptureRow, timeline_store.TimelineRevisionRow):
            assert session.execute(select(func.count()).select_from(row)).scalar_one() == 0
