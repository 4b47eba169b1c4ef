"""Each workspace's settings through the service, on SQLite and PostgreSQL: admins only, all
or nothing, defaults from the environment, per workspace, and what opens and reminders read."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from playbook.domain.errors import PermissionDenied
from playbook.domain.model import Actor
from playbook.domain.playbook_file import (
    REMINDER_PLACEHOLDERS,
    dump_playbook,
    playbook_from_dict,
)
from playbook.domain.workspace_settings import SettingsError
from playbook.services.incidents import Service, ServiceConfig
from playbook.services.settings import Editor
from playbook.store import installations as tables
from tests.playbooks import builtin_data, default_policy

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADA = Editor("U0ADA", is_admin=True)


def _short_playbook() -> str:
    """A team's own playbook, terse enough for Slack's 3000-character text box."""
    data = builtin_data()
    data["name"] = "Ours"
    data["default_severity"] = "sev2"
    for level in data["severities"]:
        level["description"] = level["name"]
        if level["name"] == "sev2":
            level["cadence"] = "45m"
    for step in data["steps"].values():
        step["prompt"] = "Go."
        for item in step["items"]:
            item["label"] = item["key"]
            item["how"] = "-"
    for kind, names in REMINDER_PLACEHOLDERS.items():
        data["reminders"][kind] = f"Reminder: {{{names[0]}}}"
    text = dump_playbook(playbook_from_dict(data, "short"))
    assert len(text) <= 3000, len(text)
    return text


def _service(sessions: sessionmaker[Session]) -> Service:
    config = ServiceConfig(policy=default_policy(), responders=("U0CAROL",),
                           leads=("U0LEAD",), leads_channel="C0LEADS")
    return Service(sessions, config, lambda: NOW)


def test_defaults_come_from_the_environment_and_changes_are_per_workspace(
        session_factory: sessionmaker[Session]) -> None:
    service = _service(session_factory)
    settings = service.workspaces
    assert settings.settings_of("T1").leads_channel == "C0LEADS"
    changed = settings.change("T1", ADA, {"leads-channel": "<#C0WAR|war>",
                                          "nudge-before": "10m", "leads": "<@U0ANN|ann> S0GRP"})
    assert set(changed.fields) == {"leads_channel", "nudge_before", "leads"} and changed.timings
    assert "Saved" in changed.reply
    one, two = settings.get("T1"), settings.get("T2")
    assert one.settings.leads_channel == "C0WAR" and one.settings.leads == ("U0ANN", "S0GRP")
    assert one.policy.nudge_before == timedelta(minutes=10)
    assert two.settings.leads_channel == "C0LEADS", "the other workspace keeps the defaults"
    assert two.policy.nudge_before == timedelta(minutes=5)
    with session_factory() as session:
        assert tables.workspace_settings(session, "T1")["leads_channel"] == "C0WAR"
        assert tables.workspace_settings(session, "T2") == {}
    # a new process (another replica) reads the same
    assert _service(session_factory).workspaces.settings_of("T1").leads_channel == "C0WAR"


def test_only_admins_change_and_a_bad_value_changes_nothing(
        session_factory: sessionmaker[Session]) -> None:
    settings = _service(session_factory).workspaces
    with pytest.raises(PermissionDenied, match="admins"):
        settings.change("T1", Editor("U0BOB", is_admin=False), {"private": "on"})
    with pytest.raises(PermissionDenied, match="couldn't check"):
        settings.change("T1", Editor("U0BOB", is_admin=None), {"private": "on"})
    with pytest.raises(SettingsError) as bad:
        settings.change("T1", ADA, {"private": "on", "escalate-after": "later"})
    assert bad.value.key == "escalate-after"
    with pytest.raises(SettingsError, match="does not parse"):
        settings.change("T1", ADA, {"playbook": "name = ["})
    assert settings.settings_of("T1").private_channels is False, "all or nothing"
    with session_factory() as session:
        assert tables.workspace_settings(session, "T1") == {}


def test_the_default_value_and_reset_forget_the_override(
        session_factory: sessionmaker[Session]) -> None:
    settings = _service(session_factory).workspaces
    settings.change("T1", ADA, {"private": "on", "leads-channel": "none"})
    assert settings.settings_of("T1").leads_channel is None
    assert settings.policy_of("T1").has_leads_channel is False
    settings.change("T1", ADA, {"private": "off", "leads-channel": None})
    with session_factory() as session:
        assert tables.workspace_settings(session, "T1") == {}, "back to the environment"
    assert settings.policy_of("T1").has_leads_channel is True


def test_a_workspace_playbook_and_responders_are_what_its_incidents_open_under(
        session_factory: sessionmaker[Session]) -> None:
    service = _service(session_factory)
    service.workspaces.change("T1", ADA, {"playbook": _short_playbook(), "responders": "none",
                                          "private": "on"})
    mine = service.open("T1", Actor("U0ALICE"), "Acme: down").incident
    other = service.open("T2", Actor("U0ALICE"), "Globex: down").incident
    assert mine.severity == "sev2" and mine.cadence == timedelta(minutes=45)
    assert service.playbooks.policy_for(mine).playbook.name == "Ours"
    assert other.playbook_version != mine.playbook_version
    with session_factory() as session:
        from playbook import store
        rows = {r.kind: r.payload for r in session.query(store.OutboxRow)
                .filter(store.OutboxRow.incident_id == mine.id)}
    assert rows["create_channel"].get("private") is True


def test_two_admins_changing_different_keys_at_once_both_land(
        session_factory: sessionmaker[Session]) -> None:
    settings = _service(session_factory).workspaces
    settings.change("T1", ADA, {"private": "on"})  # the row exists: both lock the same row
    errors: list[BaseException] = []

    def change(values: dict[str, str | None]) -> None:
        try:
            settings.change("T1", ADA, values)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)
    threads = [threading.Thread(target=change, args=({key: value},))
               for key, value in (("nudge-before", "7m"), ("escalate-after", "20m"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    settings.forget()
    found = settings.settings_of("T1")
    assert found.nudge_before == timedelta(minutes=7)
    assert found.escalate_after == timedelta(minutes=20)
    assert found.private_channels is True
