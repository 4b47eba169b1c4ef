"""The rows added for captured messages, handovers, reopenings and links, on SQLite and
PostgreSQL: written through the service's use cases, read back whole, deleted with the incident.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from playbook.domain.capture import MessageRef
from playbook.domain.model import Actor, CaptureKind, Status
from playbook.services.incidents import Service, ServiceConfig
from playbook.store import tables

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE, BOB = Actor("U0ALICE"), Actor("U0BOB")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_new_rows_round_trip_through_the_use_cases(
        session_factory: sessionmaker[Session]) -> None:
    clock = Clock()
    service = Service(session_factory, ServiceConfig(), clock)
    inc = service.open("T1", ALICE, "sev2 Acme: screens down").incident
    assert inc.id is not None
    ref = MessageRef("C0CUST", "1763902860.000200", "U0DANA", "Dana",
                     "https://acme.slack.com/archives/C0CUST/p1763902860000200")
    for line in ("own", "cadence 30m", "link <https://acme.zendesk.com/t/42|ticket 42>"):
        verb, _, arg = line.partition(" ")
        clock.now += timedelta(minutes=1)
        service.command(inc.id, ALICE, verb, arg, team_id="T1")
    clock.now += timedelta(minutes=1)
    service.capture(inc.id, ALICE, CaptureKind.LISTEN, "we are losing orders & <money>", ref,
                    team_id="T1")
    clock.now += timedelta(minutes=1)
    service.command(inc.id, ALICE, "handover", "<@U0BOB|bob> RCA call at 4pm", team_id="T1")
    for line in ("skip customer unreachable", "skip solved in the field", "skip later",
                 "close"):
        verb, _, arg = line.partition(" ")
        clock.now += timedelta(minutes=1)
        service.command(inc.id, BOB, verb, arg, team_id="T1")
    closed = service.get_by_id(inc.id)
    assert closed is not None and closed.status is Status.CLOSED, closed
    clock.now += timedelta(hours=5)
    service.command(inc.id, BOB, "reopen", "it failed again", team_id="T1")

    loaded = service.get_by_id(inc.id)
    assert loaded is not None
    [c] = loaded.captures
    assert (c.kind, c.text, c.author, c.author_name, c.channel_id, c.message_ts) == (
        CaptureKind.LISTEN, "we are losing orders & <money>", "U0DANA", "Dana", "C0CUST",
        "1763902860.000200")
    assert c.written_at == datetime.fromtimestamp(1763902860.0002, UTC)
    assert [(h.from_user, h.to_user, h.notes) for h in loaded.handovers] == [
        ("U0ALICE", "U0BOB", "RCA call at 4pm")]
    [r] = loaded.reopenings
    assert (r.reason, r.by, r.closed_at) == ("it failed again", "U0BOB", closed.closed_at)
    assert r.at == clock.now and loaded.status is Status.OPEN and loaded.closed_at is None
    assert [(lk.url, lk.label, lk.kind) for lk in loaded.links] == [
        ("https://acme.zendesk.com/t/42", "ticket 42", "ticket")]

    with session_factory.begin() as session:
        session.execute(delete(tables.IncidentRow).where(tables.IncidentRow.id == inc.id))
    with session_factory() as session:
        for row in (tables.CapturedMessageRow, tables.HandoverRow, tables.ReopeningRow,
                    tables.LinkRow):
            assert session.execute(select(func.count()).select_from(row)).scalar_one() == 0
