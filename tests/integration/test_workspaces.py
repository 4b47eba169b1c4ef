"""Every use case a request starts acts only on the acting workspace's incidents.

Ids and channels arrive in payloads; a request from workspace T2 that names T1's incident (by
id, channel, number, draft or outage) must find nothing, change nothing and queue nothing, on
SQLite and PostgreSQL alike. The same calls from T1 work (the control).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain.capture import MessageRef
from playbook.domain.errors import NotFound, PlaybookError
from playbook.domain.model import Actor, CaptureKind
from playbook.domain.verbs import Written
from playbook.services.incidents import Service, ServiceConfig
from playbook.services.lifecycle import Change, LifecycleService
from playbook.services.outages import OutageService
from playbook.services.outcomes import Origin
from playbook.services.timeline import TimelineService
from playbook.store import outages as outage_store
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE", is_lead=True)
MALLORY = Actor("U0MALLORY", is_lead=True)


class World:
    """Workspace T1 with an incident in channel C1 attached to outage OUT-1 (one pending draft);
    workspace T2 is the stranger."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.now = T0
        self.service = Service(sessions, ServiceConfig(policy=default_policy()), lambda: self.now)
        self.outages = OutageService(self.service)
        self.lifecycle = LifecycleService(self.service)
        self.timeline = TimelineService(sessions, lambda: self.now)
        inc = self.service.open("T1", ALICE, "Acme: cards fail").incident
        assert inc.id is not None
        self.incident_id = inc.id
        self.service.attach_channel(inc.id, "C1", "inc-1-acme")
        out = self.outages.shell("T1", ALICE, "outage", "Payments down", channel_id="C0GEN")
        assert out.outage is not None and out.outage.id is not None
        self.outage_id = out.outage.id
        self.outages.set_channel(self.outage_id, "C0OUT", "out-1")
        self.outages.shell("T1", ALICE, "attach", "OUT-1", channel_id="C1")
        self.now += timedelta(minutes=5)
        self.outages.channel_command(self.outage_id, ALICE, "update", "fix rolling out",
                                     team_id="T1")
        with sessions() as session:
            draft = outage_store.drafts_for(session, inc.id)[0]
        assert draft.id is not None
        self.draft_id = draft.id
        self.entry_id = self.timeline.entries(inc.id)[0].id

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a request could change: the incident, its timeline, the outbox, drafts."""
        with self.service.sessions() as session:
            rows = session.scalar(select(func.count()).select_from(store.OutboxRow))
            drafts = outage_store.drafts_for(session, self.incident_id)
        return (self.service.get_by_id(self.incident_id),
                self.service.timeline(self.incident_id), rows, drafts,
                self.timeline.entries(self.incident_id))


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    return World(session_factory)


def _calls(w: World, team: str) -> dict[str, Callable[[], Any]]:
    """Each request-side use case, acting for `team` on T1's incident, outage and draft."""
    ref = MessageRef("C1", "1.000001", "U0CUST", "customer",
                     "https://acme.slack.com/archives/C1/p1000001")
    return {
        "command": lambda: w.service.command(w.incident_id, MALLORY, "listen", "words",
                                             team_id=team),
        "command_many": lambda: w.service.command_many(
            w.incident_id, MALLORY, [Written("listen", "words")], team_id=team),
        "capture": lambda: w.service.capture(w.incident_id, MALLORY, CaptureKind.NOTE, "note",
                                             ref, team_id=team),
        "tell": lambda: w.service.tell(team, w.incident_id, MALLORY.user_id, "hi",
                                       Origin("C1")),
        "correct": lambda: w.timeline.correct(w.incident_id, w.entry_id, MALLORY,
                                              team_id=team, typed="", at=T0, remove=True),
        "outage update": lambda: w.outages.channel_command(w.outage_id, MALLORY, "update",
                                                           "all good", team_id=team),
        "log draft": lambda: w.outages.log_draft(w.draft_id, MALLORY, None, team_id=team),
        "dismiss draft": lambda: w.outages.dismiss_draft(w.draft_id, MALLORY, team_id=team),
    }


REFUSING = ["command", "command_many", "capture", "tell", "correct", "outage update",
            "log draft", "dismiss draft"]


@pytest.mark.parametrize("name", REFUSING)
def test_another_workspace_finds_nothing_and_changes_nothing(world: World, name: str) -> None:
    before = world.snapshot()
    with pytest.raises(NotFound):
        _calls(world, "T2")[name]()
    assert world.snapshot() == before


@pytest.mark.parametrize("name", REFUSING)
def test_the_owning_workspace_still_acts(world: World, name: str) -> None:
    before = world.snapshot()
    _calls(world, "T1")[name]()
    assert world.snapshot() != before


def test_lookups_by_channel_id_and_number_are_per_workspace(world: World) -> None:
    svc, outages = world.service, world.outages
    assert svc.incident_for_channel("T2", "C1") is None
    assert svc.owned("T2", world.incident_id) is None
    with pytest.raises(NotFound):
        svc.get("T2", 1)
    assert outages.for_channel("T2", "C0OUT") is None
    assert outages.owned("T2", world.outage_id) is None
    assert outages.owned_draft("T2", world.draft_id) is None
    assert svc.incident_for_channel("T1", "C1") is not None
    assert svc.owned("T1", world.incident_id) is not None
    assert outages.for_channel("T1", "C0OUT") is not None
    assert outages.owned("T1", world.outage_id) is not None
    assert outages.owned_draft("T1", world.draft_id) is not None


def test_channel_events_and_outage_commands_from_another_workspace_are_ignored(
        world: World) -> None:
    before = world.snapshot()
    for change in Change:
        assert not world.lifecycle.channel_changed("T2", "C1", change, name="evil")
        assert not world.lifecycle.channel_changed("T2", "C0OUT", change, name="evil")
    assert not world.lifecycle.brief("T2", "C1", "U0MALLORY")
    # typed in T1's incident channel by T2: not an incident channel there, so nothing attaches
    with pytest.raises(PlaybookError):
        world.outages.shell("T2", MALLORY, "detach", "", channel_id="C1")
    assert world.snapshot() == before
    assert world.lifecycle.channel_state("T1", "C1").archived_at is None
    assert world.lifecycle.channel_changed("T1", "C1", Change.ARCHIVED)
