"""Installations in our own database, on SQLite and PostgreSQL: slack_sdk's stores work on the
tables our migration created, each workspace's token is found (an org-wide install's for any
workspace of its org), a reinstall releases exactly the rows held for that workspace, and a
slow token refresh holds up only its own workspace."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, MetaData, Table, select
from sqlalchemy.orm import Session, sessionmaker

from bot.slack.installations import Installations, acting_for
from playbook import store
from playbook.services.workspaces import WorkspaceService
from playbook.store import installations as tables
from playbook.store import lifecycle as lifecycle_store

CLIENT = "1111.2222"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _shape(table: Table) -> list[tuple[str, str, bool]]:
    return [(c.name, repr(c.type), bool(c.nullable)) for c in table.columns]


def test_our_tables_are_slack_sdks() -> None:
    md = MetaData()
    theirs = [SQLAlchemyInstallationStore.build_installations_table(md, "slack_installations"),
              SQLAlchemyInstallationStore.build_bots_table(md, "slack_bots"),
              SQLAlchemyOAuthStateStore.build_oauth_states_table(md, "slack_oauth_states")]
    for table, ours in zip(theirs, (tables.INSTALLATIONS, tables.BOTS, tables.OAUTH_STATES),
                           strict=True):
        assert _shape(table) == _shape(ours), table.name
        assert sorted(i.name for i in table.indexes) == sorted(i.name for i in ours.indexes)


def _install(team: str | None, org: str | None = None, *, org_wide: bool = False,
             token: str = "") -> Installation:
    return Installation(app_id="A1", enterprise_id=org, team_id=team, user_id="U0ADMIN",
                        bot_token=token or f"xoxb-{team or org}", bot_id="B1",
                        bot_user_id="UBOT", bot_scopes="commands,chat:write",
                        is_enterprise_install=org_wide, installed_at=time.time())


def _installs(engine: Engine, sessions: sessionmaker[Session]) -> Installations:
    return Installations(engine, client_id=CLIENT, client_secret="s3cr3t-client",
                         client=WebClient(base_url="http://127.0.0.1:9/api/"),
                         workspaces=WorkspaceService(sessions, lambda: NOW), ttl=0.0)


def test_each_workspace_finds_its_own_token(engine: Engine,
                                            session_factory: sessionmaker[Session]) -> None:
    installs = _installs(engine, session_factory)
    installs.installation_store.save(_install("T1"))
    installs.installation_store.save(_install("T2"))
    installs.installation_store.save(_install(None, "E1", org_wide=True))
    installs.seen("T3", "E1")  # a workspace of the org, heard from by a request
    assert installs.token_for("T1") == "xoxb-T1"
    assert installs.token_for("T2") == "xoxb-T2"
    assert installs.token_for("T3") == "xoxb-E1"
    with acting_for("T2"):
        assert installs.current_token() == "xoxb-T2"
    assert installs.remove("T2", None, org_wide=False) == ["T2"]
    try:
        installs.token_for("T2")
        raise AssertionError("an uninstalled workspace has no token")
    except Exception as err:  # SlackApiError: invalid_auth
        assert "invalid_auth" in str(getattr(err, "response", {}).get("error"))
    assert installs.token_for("T1") == "xoxb-T1", "the other workspace is untouched"
    assert installs.remove(None, "E1", org_wide=True) == ["T3"]


def test_the_state_store_issues_and_consumes_once(engine: Engine) -> None:
    states = SQLAlchemyOAuthStateStore(expiration_seconds=60, engine=engine)
    state = states.issue()
    assert states.consume(state) is True
    assert states.consume(state) is False


def test_a_reinstall_releases_only_that_workspaces_held_rows(
        session_factory: sessionmaker[Session]) -> None:
    row = store.OutboxRow
    later = NOW + timedelta(minutes=5)
    with session_factory.begin() as session:
        for team, error in (("T1", "paused: invalid_auth"), ("T1", "ratelimited"),
                            ("T2", "paused: invalid_auth")):
            session.add(row(team_id=team, kind="post", payload={}, created_at=NOW,
                            next_attempt_at=later, attempts=0, last_error=error))
        lifecycle_store.pause_team(session, "T1", "app_uninstalled", NOW)
        lifecycle_store.pause_team(session, "T2", "app_uninstalled", NOW)
    workspaces = WorkspaceService(session_factory, lambda: NOW)
    assert workspaces.installed(["T1"]) == {"T1": 1}
    with session_factory() as session:
        due = dict(session.execute(select(row.team_id, row.next_attempt_at)
                                   .where(row.last_error == "paused: invalid_auth")).all())
        assert due["T1"] == NOW and due["T2"] == later
        assert session.execute(select(row.next_attempt_at)
                               .where(row.last_error == "ratelimited")).scalar_one() == later
        assert lifecycle_store.paused_reason(session, "T1") is None
        assert lifecycle_store.paused_reason(session, "T2") == "app_uninstalled"
    assert workspaces.installed(["T1"]) == {}, "nothing more to resume"


def test_workspace_rows_keep_the_org_and_the_settings_apart_per_team(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        assert tables.remember_workspace(session, "T1", "E1") is True
        assert tables.remember_workspace(session, "T1", "E1") is False
        tables.save_workspace_settings(session, "T1", {"leads_channel": "C1"}, by="U1", now=NOW)
        tables.save_workspace_settings(session, "T2", {"leads_channel": "C2"}, by="U2", now=NOW)
    with session_factory() as session:
        assert tables.enterprise_of(session, "T1") == "E1"
        assert tables.workspace_settings(session, "T1") == {"leads_channel": "C1"}
        assert tables.workspace_settings(session, "T2") == {"leads_channel": "C2"}
        assert tables.workspace_settings(session, "T3") == {}


class _Rotator:
    """Stands in for slack_sdk's TokenRotator: each refresh counted; T1's blocks until
    `release` (a slow oauth.v2.access)."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []
        self.lock = threading.Lock()
        self.t1_started, self.release = threading.Event(), threading.Event()

    def perform_bot_token_rotation(self, *, bot: Bot, minutes_before_expiration: int) -> Bot:
        with self.lock:
            self.calls.append(bot.team_id)
        if bot.team_id == "T1":
            self.t1_started.set()
            assert self.release.wait(30)
        fresh = Bot(**bot.to_dict_for_copying())
        fresh.bot_token = f"xoxb-{bot.team_id}-fresh"
        fresh.bot_refresh_token = f"xoxe-{bot.team_id}-next"
        fresh.bot_token_expires_at = int(time.time()) + 12 * 3600
        return fresh


def _rotating(team: str, *, expires_in: int) -> Installation:
    install = _install(team)
    install.bot_refresh_token = f"xoxe-{team}"
    install.bot_token_expires_at = int(time.time()) + expires_in
    return install


def test_one_workspaces_slow_token_refresh_holds_up_no_other_workspace(
        engine: Engine, session_factory: sessionmaker[Session]) -> None:
    """T1's refresh hangs in oauth.v2.access. Meanwhile T2 (also due) is refreshed and T3
    (not due) answered; a second caller for T1 waits for the first's refresh and uses it,
    so T1 is refreshed once."""
    installs = _installs(engine, session_factory)
    rotator = _Rotator()
    installs.rotator = rotator  # type: ignore[assignment]
    installs.installation_store.save(_rotating("T1", expires_in=600))
    installs.installation_store.save(_rotating("T2", expires_in=600))
    installs.installation_store.save(_rotating("T3", expires_in=24 * 3600))
    tokens: dict[str, list[str]] = {"T1": []}

    def t1() -> None:
        tokens["T1"].append(installs.token_for("T1"))

    first = threading.Thread(target=t1, daemon=True)
    first.start()
    assert rotator.t1_started.wait(10)
    second = threading.Thread(target=t1, daemon=True)
    second.start()
    others: dict[str, str] = {}
    done = threading.Event()

    def other_workspaces() -> None:
        others["T3"] = installs.token_for("T3")
        others["T2"] = installs.token_for("T2")
        done.set()

    threading.Thread(target=other_workspaces, daemon=True).start()
    try:
        assert done.wait(10), "T1's slow refresh held up the other workspaces"
        assert others == {"T3": "xoxb-T3", "T2": "xoxb-T2-fresh"}
    finally:
        rotator.release.set()
        first.join(10)
        second.join(10)
    assert tokens["T1"] == ["xoxb-T1-fresh", "xoxb-T1-fresh"]
    assert sorted(str(t) for t in rotator.calls) == ["T1", "T2"], \
        "each due workspace refreshed once; the one not due never"
