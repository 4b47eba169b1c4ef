"""The lookups made before an ack keep each workspace's answers apart: the same user or
user-group id may lead, administer or sit in another zone in another workspace (Grid)."""

from __future__ import annotations

from typing import Any, cast

from slack_sdk import WebClient

from bot.config import Settings
from bot.listeners.deps import People
from bot.slack.installations import acting, acting_for


class _Slack:
    """Answers as the workspace being acted for would, and counts the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def _team(self) -> str:
        who = acting()
        assert who is not None, "every lookup names its workspace"
        return who.team_id

    def users_info(self, user: str) -> dict[str, Any]:
        team = self._team()
        self.calls.append(("users.info", team))
        return {"user": {"id": user, "tz": "Asia/Tokyo" if team == "T2" else "Europe/Paris",
                         "is_admin": team == "T1"}}

    def usergroups_users_list(self, usergroup: str) -> dict[str, Any]:
        team = self._team()
        self.calls.append(("usergroups.users.list", team))
        return {"users": ["U0ANN"] if team == "T1" else []}


def test_answers_are_kept_per_workspace() -> None:
    slack = _Slack()
    leads = {"T1": ("S0SAME",), "T2": ("S0SAME", "U0BOB")}
    people = People(cast(WebClient, slack), Settings(), leads_of=lambda team: leads[team])
    assert people.is_lead("U0ANN", "T1") is True
    assert people.is_lead("U0ANN", "T2") is False, "same group id, other workspace's members"
    assert people.is_lead("U0BOB", "T2") and not people.is_lead("U0BOB", "T1")
    assert people.is_admin("U0ANN", "T1") is True
    assert people.is_admin("U0ANN", "T2") is False, "an admin of one is not of the other"
    assert people.tz("U0ANN", "T2") == "Asia/Tokyo" and people.tz("U0ANN", "T1") == "Europe/Paris"
    before = len(slack.calls)
    assert people.is_admin("U0ANN", "T1") and people.tz("U0ANN", "T2") == "Asia/Tokyo"
    assert len(slack.calls) == before, "cached, per workspace"


def test_the_workspace_acted_for_is_the_default() -> None:
    slack = _Slack()
    people = People(cast(WebClient, slack), Settings(), leads_of=lambda team: ("S0SAME",))
    with acting_for("T1"):
        assert people.actor("U0ANN").is_lead is True
    with acting_for("T2"):
        assert people.actor("U0ANN").is_lead is False
