"""Incidents keep the playbook they were opened under, across a change of the team's file.

Two `Service`s on one database stand for the bot before and after the file changed (a restart
with a new CRISISBOT_PLAYBOOK): the second one has never seen the first playbook, so the old
incident's checklist can only come from the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import card
from playbook.domain.model import Actor, Incident, Policy, Step
from playbook.domain.playbook_file import Playbook
from playbook.domain.steps import missing
from playbook.services.builtin import builtin_playbook
from playbook.services.incidents import Service, ServiceConfig
from playbook.store import tables
from tests.playbooks import edited, with_items

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE")

VERSION_1 = edited(lambda d: d["steps"]["listen"]["items"][0].update(
    label="Their words, verbatim (v1)"))
# version 2: new wording, and a new required item in the listen step's gate
VERSION_2 = edited(lambda d: (
    d["steps"]["listen"]["items"][0].update(label="Their words, verbatim (v2)"),
    d["steps"]["listen"]["items"].append(
        {"key": "contract", "label": "Contract tier", "required": True, "value": True}),
))


def _service(sessions: sessionmaker[Session], playbook: Playbook) -> Service:
    return Service(sessions, ServiceConfig(policy=Policy(playbook=playbook)), lambda: T0)


def _listen(service: Service, inc: Incident) -> Incident:
    assert inc.id is not None
    service.command(inc.id, ALICE, "listen", "it is all broken", team_id="T1")
    return service.command(inc.id, ALICE, "cadence", "30m", team_id="T1").incident


def test_an_open_incident_keeps_its_checklist_after_the_file_changes(
        session_factory: sessionmaker[Session]) -> None:
    before = _service(session_factory, VERSION_1)
    old = before.open("T1", ALICE, "Acme: down").incident
    assert old.playbook_version == VERSION_1.version

    after = _service(session_factory, VERSION_2)  # the bot restarted with the changed file
    old = after.get("T1", old.number)
    stored = after.playbooks.playbook_for(old)
    assert stored.version == VERSION_1.version and stored is not VERSION_1, "read back from the DB"
    assert "Their words, verbatim (v1)" in str(card(old, T0, stored))
    assert "Contract tier" not in str(card(old, T0, stored))

    old = _listen(after, old)
    assert old.step is Step.RESTATE, "version 1's gate: no contract tier needed"

    new = after.open("T1", ALICE, "Globex: down").incident
    assert new.playbook_version == VERSION_2.version
    new = _listen(after, new)
    assert new.step is Step.LISTEN, "version 2's gate holds new incidents"
    gate = missing(new, Step.LISTEN, after.playbooks.playbook_for(new))
    assert [i.key for i in gate] == ["contract"]
    assert new.id is not None
    new = after.command(new.id, ALICE, "check", "contract gold", team_id="T1").incident
    assert new.step is Step.RESTATE and new.checks == {"contract": "gold"}

    with session_factory() as session:
        versions = session.scalar(select(func.count()).select_from(tables.PlaybookVersionRow))
    assert versions == 2


def test_incidents_from_before_playbook_files_use_the_built_in_one(
        session_factory: sessionmaker[Session]) -> None:
    service = _service(session_factory, with_items("listen", {"key": "x", "label": "X",
                                                              "required": True}))
    inc = service.open("T1", ALICE, "Acme: down").incident
    assert inc.id is not None
    with session_factory.begin() as session:  # as the migration leaves an older incident
        session.execute(tables.IncidentRow.__table__.update().values(playbook_version=None))
    inc = service.get("T1", inc.number)
    assert service.playbooks.playbook_for(inc) is builtin_playbook()
    assert _listen(service, inc).step is Step.RESTATE


def test_two_replicas_store_a_version_once(session_factory: sessionmaker[Session]) -> None:
    first, second = (_service(session_factory, VERSION_2) for _ in range(2))
    first.open("T1", ALICE, "Acme: down")
    second.open("T1", ALICE, "Globex: down")
    with session_factory() as session:
        rows = session.execute(select(tables.PlaybookVersionRow.version)).scalars().all()
    assert rows == [VERSION_2.version]
