"""Outage and lifecycle rows against real SQLite and PostgreSQL (see `db_url`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain.errors import PlaybookError
from playbook.domain.model import Actor, Incident
from playbook.domain.outage import Draft, DraftStatus, Outage, OutageStatus, OutageUpdate
from playbook.services.incidents import Service, ServiceConfig
from playbook.services.lifecycle import Change, LifecycleService
from playbook.services.outages import OutageService
from playbook.store import lifecycle as lifecycle_store
from playbook.store import outages as outage_store
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE, BOB = Actor("U0ALICE"), Actor("U0BOB")


def _incident(session: Session, customer: str, channel: str, team: str = "T1") -> Incident:
    inc = Incident(team_id=team, number=0, customer=customer, description="down",
                   opened_by="U1", opened_at=T0, channel_id=channel)
    return store.add_incident(session, inc)


def _outage(session: Session, title: str = "Payments down", team: str = "T1") -> Outage:
    return outage_store.add_outage(session, Outage(team, 0, title, "U1", T0))


def test_outages_are_numbered_per_team_and_round_trip(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        first, second = _outage(session), _outage(session, "Login down")
        other = _outage(session, team="T2")
    assert (first.key, second.key, other.key) == ("OUT-1", "OUT-2", "OUT-1")
    with session_factory.begin() as session:
        changed = outage_store.get_outage(session, "T1", 1)
        assert changed is not None
        changed.updates.append(OutageUpdate(1, "fix rolling out & <soon>", "U2",
                                            T0 + timedelta(minutes=5)))
        changed.status, changed.resolution = OutageStatus.RESOLVED, "rolled back"
        changed.resolved_at, changed.channel_id = T0 + timedelta(hours=1), "C0OUT"
        outage_store.save_outage(session, changed)
    with session_factory() as session:
        loaded = outage_store.get_outage_by_channel(session, "C0OUT")
        assert loaded is not None and loaded.status is OutageStatus.RESOLVED
        assert loaded.updates == [OutageUpdate(1, "fix rolling out & <soon>", "U2",
                                               T0 + timedelta(minutes=5))]
        assert loaded.resolved_at == T0 + timedelta(hours=1)
        assert loaded.resolved_at.tzinfo is not None
        assert [o.key for o in outage_store.list_outages(session, "T1")] == ["OUT-2"]


def test_an_incident_has_one_live_link(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        a, b = _outage(session), _outage(session, "Login down")
        inc = _incident(session, "Acme", "C1")
        assert a.id and b.id and inc.id
        outage_store.attach(session, team_id="T1", outage_id=a.id, incident_id=inc.id,
                            by="U1", now=T0)
    with pytest.raises(IntegrityError), session_factory.begin() as session:
        outage_store.attach(session, team_id="T1", outage_id=b.id, incident_id=inc.id,
                            by="U1", now=T0)
    with session_factory.begin() as session:
        assert outage_store.detach(session, incident_id=inc.id, by="U1", now=T0)
        outage_store.attach(session, team_id="T1", outage_id=b.id, incident_id=inc.id,
                            by="U1", now=T0)
    with session_factory() as session:
        assert outage_store.attached_ids(session, a.id) == []
        assert outage_store.attached_ids(session, b.id) == [inc.id]
        now_in = outage_store.outage_of(session, inc.id)
        assert now_in is not None and now_in.key == "OUT-2"
        alone = _incident(session, "Globex", "C2")
        assert alone.id is not None
        # what the outbox reads once per batch: only live links, only the incidents asked about
        assert outage_store.outage_ids_of(session, [inc.id, alone.id]) == {inc.id: b.id}
        assert outage_store.outage_ids_of(session, [alone.id]) == {}
        assert outage_store.outage_ids_of(session, []) == {}


def test_a_draft_is_settled_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        out, inc = _outage(session), _incident(session, "Acme", "C1")
        assert out.id and inc.id
        draft = outage_store.add_draft(session, "T1", Draft(out.id, inc.id, 1, "we're on it",
                                                            T0))
        assert draft.id is not None
        outage_store.set_draft_message(session, draft.id, "C1", "1.000100")
    with session_factory.begin() as session:
        assert outage_store.settle_draft(session, draft.id, DraftStatus.LOGGED, "U2", T0)
        assert not outage_store.settle_draft(session, draft.id, DraftStatus.DISMISSED, "U3", T0)
    with session_factory() as session:
        saved = outage_store.get_draft(session, draft.id)
        assert saved is not None and saved.status is DraftStatus.LOGGED
        assert (saved.settled_by, saved.message_ts) == ("U2", "1.000100")


def test_channel_states_and_team_pauses(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        assert lifecycle_store.channel_usable(session, "C1")
        lifecycle_store.set_channel_state(session, "T1", "C1", T0, archived_at=T0)
        lifecycle_store.set_channel_state(session, "T1", "C1", T0, fallback_channel="C9",
                                          fallback_ts="2.0")
        assert lifecycle_store.pause_team(session, "T1", "app_uninstalled", T0)
        assert not lifecycle_store.pause_team(session, "T1", "tokens_revoked", T0)
        item = store.enqueue(session, team_id="T1", incident_id=None, kind="home",
                             payload={"user": "U1"}, requested_by=None, now=T0)
        lifecycle_store.hold_outbox(session, item, until=T0 + timedelta(minutes=5),
                                    why="paused")
    with session_factory.begin() as session:
        state = lifecycle_store.get_channel_state(session, "T1", "C1")
        assert not state.usable and state.fallback_channel == "C9" and state.archived_at == T0
        assert not lifecycle_store.channel_usable(session, "C1")
        lifecycle_store.set_channel_state(session, "T2", "C3", T0, removed_at=T0)
        lifecycle_store.set_channel_state(session, "T1", "C4", T0, name="renamed")
        # the batch form: lost (archived or removed, any team) among those asked about
        assert lifecycle_store.lost_channels(session, ["C1", "C2", "C3", "C4"]) == {"C1", "C3"}
        assert lifecycle_store.lost_channels(session, ["C2", "C4"]) == set()
        assert lifecycle_store.paused_reason(session, "T1") == "app_uninstalled"
        assert not lifecycle_store.is_paused(session, "T2")
        held = session.get(store.OutboxRow, item)
        assert held is not None and held.attempts == 0 and held.failed_at is None
        assert held.next_attempt_at == T0 + timedelta(minutes=5), "held, not counted"
        assert store.outbox.claim_chains(session, now=T0, worker="w",
                                         lease=timedelta(minutes=1)) == []
        assert lifecycle_store.resume_team(session, "T1")
        lifecycle_store.set_channel_state(session, "T1", "C1", T0, archived_at=None)
    with session_factory() as session:
        assert lifecycle_store.channel_usable(session, "C1")
        assert not lifecycle_store.is_paused(session, "T1")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def services(session_factory: sessionmaker[Session]) -> tuple[Service, OutageService, Clock]:
    clock = Clock()
    service = Service(session_factory, ServiceConfig(policy=default_policy()), clock)
    return service, OutageService(service), clock


def test_update_fans_out_and_logging_counts_for_one_customer(
        services: tuple[Service, OutageService, Clock]) -> None:
    service, outages, clock = services
    opened = outages.shell("T1", ALICE, "outage", "Payments API down", channel_id="C0GEN")
    assert opened.outage is not None and opened.outage.id is not None
    out_id = opened.outage.id
    ids = []
    for customer, channel in (("Acme", "C1"), ("Globex", "C2")):
        inc = service.open("T1", ALICE, f"{customer}: cards fail").incident
        assert inc.id is not None
        service.attach_channel(inc.id, channel, f"inc-{customer.lower()}")
        outages.shell("T1", ALICE, "attach", "OUT-1", channel_id=channel)
        ids.append(inc.id)
    clock.now = T0 + timedelta(minutes=10)
    result = outages.channel_command(out_id, ALICE, "update", "fix rolling out", team_id="T1")
    assert len(result.drafts) == 2
    with service.sessions() as session:
        drafts = [outage_store.drafts_for(session, i)[0] for i in ids]
        kinds = [k for (k,) in session.query(store.OutboxRow.kind).all()]
    assert kinds.count("draft") == 2 and "outage_open" in kinds and "outage_card" in kinds
    assert drafts[0].id is not None
    outcome = outages.log_draft(drafts[0].id, BOB, None, team_id="T1")
    assert [u.text for u in outcome.incident.updates] == ["fix rolling out"]
    assert service.get_by_id(ids[1]).updates == [], "the other customer's clock is untouched"
    with pytest.raises(PlaybookError, match="already logged"):
        outages.dismiss_draft(drafts[0].id, ALICE, team_id="T1")


def test_two_people_logging_one_draft_log_it_once(
        services: tuple[Service, OutageService, Clock]) -> None:
    service, outages, _ = services
    out = outages.shell("T1", ALICE, "outage", "Payments API down", channel_id="C0GEN").outage
    inc = service.open("T1", ALICE, "Acme: cards fail").incident
    assert inc.id is not None and out is not None and out.id is not None
    service.attach_channel(inc.id, "C1", "inc-acme")
    outages.shell("T1", ALICE, "attach", "OUT-1", channel_id="C1")
    outages.channel_command(out.id, ALICE, "update", "fix rolling out", team_id="T1")
    with service.sessions() as session:
        draft_id = outage_store.drafts_for(session, inc.id)[0].id
    assert draft_id is not None
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def log(actor: Actor) -> None:
        barrier.wait()
        try:
            outages.log_draft(draft_id, actor, None, team_id="T1")
            outcomes.append("logged")
        except PlaybookError as err:
            outcomes.append(err.message)

    threads = [threading.Thread(target=log, args=(a,)) for a in (ALICE, BOB)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "logged" and outcomes.count("logged") == 1, outcomes
    assert len(service.get_by_id(inc.id).updates) == 1


def test_lifecycle_records_changes_once(services: tuple[Service, OutageService, Clock]) -> None:
    service, _, _ = services
    lifecycle = LifecycleService(service)
    inc = service.open("T1", ALICE, "Acme: cards fail").incident
    assert inc.id is not None
    service.attach_channel(inc.id, "C1", "inc-1-acme")
    assert not lifecycle.channel_changed("T1", "C0OTHER", Change.ARCHIVED), "not our channel"
    assert lifecycle.channel_changed("T1", "C1", Change.ARCHIVED, actor="U0BOB")
    assert not lifecycle.channel_changed("T1", "C1", Change.ARCHIVED), "a retry is no news"
    assert lifecycle.channel_changed("T1", "C1", Change.RENAMED, name="acme-war-room")
    assert service.get_by_id(inc.id).channel_name == "acme-war-room"
    assert not lifecycle.channel_usable("C1")
    assert lifecycle.channel_changed("T1", "C1", Change.UNARCHIVED)
    assert lifecycle.channel_usable("C1")
    kinds = [e.kind for e in service.timeline(inc.id)]
    assert kinds.count("lifecycle") == 3
