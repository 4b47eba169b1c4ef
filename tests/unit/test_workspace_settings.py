"""Reading and checking a change of a workspace's settings (pure): every key, accepted and
refused, and the settings in force from the environment's defaults under the overrides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from playbook.domain import workspace_settings as ws
from tests.playbooks import default_policy

ACCEPTED: list[tuple[str, str, Any]] = [
    ("leads", "<@U0ANN|ann> <!subteam^S0GRP|@leads>", ["U0ANN", "S0GRP"]),
    ("leads", "U0ANN, S0GRP, U0ANN", ["U0ANN", "S0GRP"]),
    ("leads", "none", []),
    ("responders", "<@W0GRID|grid>", ["W0GRID"]),
    ("leads-channel", "<#C0WAR|war-room>", "C0WAR"),
    ("leads-channel", "<#G0OLD|>", "G0OLD"),
    ("leads-channel", "C0WAR", "C0WAR"),
    ("leads-channel", "none", None),
    ("private", "on", True),
    ("private", "OFF", False),
    ("nudge-before", "10m", 600),
    ("escalate-after", "1 h 30 min", 5400),
    ("escalate-repeat", "1m", 60),
    ("checkins", "7d, 1d", [86400, 604800]),
    ("checkins", "none", []),
    ("leader-call", "off", None),
    ("leader-call", "45m", 2700),
]
REFUSED: list[tuple[str, str, str]] = [
    ("leads", "@ann", "autocomplete"),
    ("leads-channel", "#war-room", "pick the channel"),
    ("private", "maybe", "`on` or `off`"),
    ("nudge-before", "soon", "as a duration"),
    ("escalate-repeat", "30s", "duration"),
    ("escalate-repeat", "0.5m", "at least 1 min"),
    ("leader-call", "0.5m", "at least 1 min"),
    ("checkins", "1d, later", "as a duration"),
    ("playbook", "name = [", "does not parse: playbook: bad TOML syntax"),
    ("playbook", "x" * 3001, "CRISISBOT_PLAYBOOK"),
]


@pytest.mark.parametrize(("key", "typed", "stored"), ACCEPTED)
def test_accepted(key: str, typed: str, stored: Any) -> None:
    assert ws.parse_value(key, typed) == stored


@pytest.mark.parametrize(("key", "typed", "says"), REFUSED)
def test_refused(key: str, typed: str, says: str) -> None:
    with pytest.raises(ws.SettingsError) as refused:
        ws.parse_value(key, typed)
    assert says in refused.value.message and refused.value.key == key


def test_every_key_has_an_accepted_and_a_refused_case() -> None:
    assert {k for k, _, _ in ACCEPTED} | {"playbook"} == set(ws.KEYS)
    assert {k for k, _, _ in REFUSED} >= set(ws.KEYS) - {"responders", "nudge-before"} - {
        "escalate-after"}


def test_the_command_forms() -> None:
    assert ws.parse_command("") == ws.SettingsChange()
    assert ws.parse_command("reset Leads-Channel") == ws.SettingsChange("leads-channel",
                                                                         reset=True)
    assert ws.parse_command("nudge-before 10m") == ws.SettingsChange("nudge-before", "10m")
    with pytest.raises(ws.SettingsError, match="the settings are"):
        ws.parse_command("colour blue")
    with pytest.raises(ws.SettingsError, match="What should"):
        ws.parse_command("leads")


def test_overrides_over_defaults_and_the_policy_they_make() -> None:
    defaults = ws.WorkspaceSettings(leads=("U0LEAD",), leads_channel="C0ENV")
    stored = {"leads_channel": "C0WAR", "nudge_before": 600, "checkins": [],
              "unknown_later_key": 1, "escalate_after": "garbage"}
    found = ws.resolve(defaults, stored)
    assert found.leads_channel == "C0WAR" and found.leads == ("U0LEAD",)
    assert found.nudge_before == timedelta(minutes=10) and found.checkins == ()
    assert found.escalate_after == timedelta(minutes=15), "unreadable: the default serves"
    base = default_policy(has_leads_channel=True)
    policy = ws.team_policy(base, ws.resolve(defaults, {"leads_channel": None}),
                            base.playbook, {"leads_channel": None})
    assert policy.has_leads_channel is False
    assert ws.team_policy(base, found, base.playbook, stored).nudge_before == \
        timedelta(minutes=10)


def test_what_people_read_names_the_defaults_and_who_may_change() -> None:
    text = ws.describe(ws.WorkspaceSettings(), {"private_channels": True}, can_edit=False)
    assert "`private`" in text and "_(default)_" in text and "ask one of them" in text
    assert "admin" in ws.describe(ws.WorkspaceSettings(), {}, can_edit=True)
