"""Both Slack app manifests are valid against Slack's manifest schema and agree with each other."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / ".." / "shared" / "slack" / "manifest.schema.1.0.0.json"
SOCKET = REPO / "manifest.yml"
HTTP = REPO / "manifest.http.yml"
EVENTS_URL = "https://YOUR-HOST/slack/events"

# Bot events we subscribe to and the bot scopes that let Slack deliver them (any one suffices;
# an empty set means no scope is needed). An event missing here, or whose scopes the manifest
# lacks, fails the test: Slack refuses to save such a manifest.
EVENT_SCOPES: dict[str, set[str]] = {
    "app_home_opened": set(),
    "app_uninstalled": set(),
    "tokens_revoked": set(),
    "member_joined_channel": {"channels:read", "groups:read"},
    "member_left_channel": {"channels:read", "groups:read"},
    "reaction_added": {"reactions:read"},
    "channel_archive": {"channels:read"},
    "channel_unarchive": {"channels:read"},
    "channel_rename": {"channels:read"},
    "group_archive": {"groups:read"},
    "group_unarchive": {"groups:read"},
    "group_rename": {"groups:read"},
    "channel_left": {"channels:read"},
    "group_left": {"groups:read"},
    "pin_added": {"pins:read"},
}

# The bot scope each Web API method the bot calls needs (Slack's method docs). The manifest
# must ask for exactly the scopes of the methods the code calls: no more, no fewer.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "chat_postMessage": {"chat:write", "im:write"},  # im:write: DMs to owners and leads
    "chat_update": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "conversations_create": {"channels:manage", "groups:write"},  # public / private channels
    "conversations_setTopic": {"channels:manage", "groups:write"},
    "conversations_setPurpose": {"channels:manage", "groups:write"},
    "conversations_invite": {"channels:manage", "groups:write"},
    "pins_add": {"pins:write"},
    "users_info": {"users:read"},
    "usergroups_users_list": {"usergroups:read"},
    "views_open": set(),
    "views_publish": set(),
    "conversations_open": {"im:write"},
    "files_upload_v2": {"files:write"},  # getUploadURLExternal + completeUploadExternal
    # the text of a message captured onto the timeline by a reaction (public / private channels)
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_replies": {"channels:history", "groups:history"},
    "views_update": set(),
    "chat_getPermalink": set(),
    "bookmarks_add": {"bookmarks:write"},
    "bookmarks_list": {"bookmarks:read"},
    "conversations_unarchive": {"channels:manage", "groups:write"},
    # the channels the bot made: one an earlier try created is adopted, not copied
    "users_conversations": {"channels:read", "groups:read"},
    # a leads channel an admin picks must be one the app can see (bot/listeners/settings.py)
    "conversations_info": {"channels:read", "groups:read"},
}


def _called_methods() -> set[str]:
    """Web API methods the shipped bot calls (``client.<method>(`` in bot/, localslack aside)."""
    called = set()
    for path in (REPO / "bot").rglob("*.py"):
        if "localslack" in path.parts:
            continue
        called.update(re.findall(r"client\.([a-z]+_[A-Za-z0-9_]+)\(", path.read_text()))
    return called


EXPECTED_SCOPES = {"commands"}  # the /incident slash command
EXPECTED_SCOPES |= {s for m in _called_methods() for s in METHOD_SCOPES.get(m, set())}
# The events the bot listens to (bot/listeners), with the scopes Slack delivers them under: for
# events of public and private channels alike, both (channels:read and groups:read).
LISTENED_EVENTS = {"app_home_opened", "app_uninstalled", "tokens_revoked", "channel_archive",
                   "channel_unarchive", "channel_rename", "channel_left", "group_archive",
                   "group_unarchive", "group_rename", "group_left", "member_joined_channel",
                   "member_left_channel", "reaction_added", "pin_added"}
EXPECTED_SCOPES |= {s for e in LISTENED_EVENTS for s in EVENT_SCOPES[e]}


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


@pytest.fixture(scope="module")
def validator() -> Any:
    if not SCHEMA.is_file():
        reason = f"Slack manifest schema not found at {SCHEMA.resolve()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: a skip would hide a broken manifest)")
        pytest.skip(reason)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def socket_manifest() -> dict[str, Any]:
    return _load(SOCKET)


@pytest.fixture(scope="module")
def http_manifest() -> dict[str, Any]:
    return _load(HTTP)


@pytest.mark.parametrize("path", [SOCKET, HTTP], ids=lambda p: p.name)
def test_manifest_is_valid(path: Path, validator: Any) -> None:
    errors = sorted(validator.iter_errors(_load(path)), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{path.name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_schema_catches_a_broken_manifest(socket_manifest: dict[str, Any], validator: Any) -> None:
    broken = copy.deepcopy(socket_manifest)
    broken["features"]["bot_user"]["display_name"] = "x" * 81  # Slack's limit is 80
    broken["settings"]["unknown_setting"] = True
    assert len(list(validator.iter_errors(broken))) == 2


def _incident(manifest: dict[str, Any]) -> dict[str, Any]:
    commands = [c for c in manifest["features"]["slash_commands"] if c["command"] == "/incident"]
    assert len(commands) == 1
    return commands[0]


@pytest.mark.parametrize("name", ["socket_manifest", "http_manifest"])
def test_incident_command_escapes(name: str, request: pytest.FixtureRequest) -> None:
    manifest = request.getfixturevalue(name)
    command = _incident(manifest)
    assert command["should_escape"] is True
    assert command["description"]
    assert command["usage_hint"]


@pytest.mark.parametrize("name", ["socket_manifest", "http_manifest"])
def test_common_features(name: str, request: pytest.FixtureRequest) -> None:
    m = request.getfixturevalue(name)
    assert m["display_information"]["name"] == "Crisis Playbook"
    assert m["features"]["bot_user"] == {"display_name": "crisisbot", "always_online": True}
    # The Messages tab shows what the bot sends people (escalations, failures it reports),
    # but nothing answers messages typed there, so people can't type there: read-only.
    assert m["features"]["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": True,
    }
    assert [s["callback_id"] for s in m["features"]["shortcuts"]] == ["add_to_incident"], \
        "declare a shortcut only with its listener (bot/listeners/shortcuts.py)"
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["org_deploy_enabled"] is False
    assert m["settings"]["token_rotation_enabled"] is False


def test_socket_manifest_has_no_urls(socket_manifest: dict[str, Any]) -> None:
    assert socket_manifest["settings"]["socket_mode_enabled"] is True
    assert "url" not in _incident(socket_manifest)
    assert "request_url" not in socket_manifest["settings"]["interactivity"]
    assert "request_url" not in socket_manifest["settings"]["event_subscriptions"]
    assert "://" not in json.dumps(socket_manifest)


def test_http_manifest_has_the_three_urls(http_manifest: dict[str, Any]) -> None:
    settings = http_manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert _incident(http_manifest)["url"] == EVENTS_URL
    assert settings["interactivity"]["request_url"] == EVENTS_URL
    assert settings["event_subscriptions"]["request_url"] == EVENTS_URL
    assert http_manifest["oauth_config"]["redirect_urls"] == [
        "https://YOUR-HOST/slack/oauth_redirect"]


def test_oauth_installs_ask_for_the_manifest_scopes(socket_manifest: dict[str, Any]) -> None:
    from bot.settings_parse import MANIFEST_BOT_SCOPES

    assert list(MANIFEST_BOT_SCOPES) == socket_manifest["oauth_config"]["scopes"]["bot"]


def test_same_scopes_and_events(
    socket_manifest: dict[str, Any], http_manifest: dict[str, Any]
) -> None:
    def scopes(m: dict[str, Any]) -> list[str]:
        return m["oauth_config"]["scopes"]["bot"]

    def events(m: dict[str, Any]) -> list[str]:
        return m["settings"]["event_subscriptions"]["bot_events"]

    assert sorted(scopes(socket_manifest)) == sorted(scopes(http_manifest))
    assert sorted(events(socket_manifest)) == sorted(events(http_manifest))
    assert len(set(scopes(socket_manifest))) == len(scopes(socket_manifest))

    # Apart from the URLs and socket_mode_enabled, the two manifests are the same app.
    def without_transport(m: dict[str, Any]) -> dict[str, Any]:
        m = copy.deepcopy(m)
        for command in m["features"]["slash_commands"]:
            command.pop("url", None)
        m["settings"].pop("socket_mode_enabled")
        m["settings"]["interactivity"].pop("request_url", None)
        m["settings"]["event_subscriptions"].pop("request_url", None)
        m["oauth_config"].pop("redirect_urls", None)
        return m

    assert without_transport(socket_manifest) == without_transport(http_manifest)


def test_message_shortcut_in_both_manifests(
    socket_manifest: dict[str, Any], http_manifest: dict[str, Any]
) -> None:
    from bot.listeners.shortcuts import CALLBACK_ID

    for m in (socket_manifest, http_manifest):
        shortcuts = m["features"]["shortcuts"]
        assert [(s["type"], s["callback_id"]) for s in shortcuts] == [("message", CALLBACK_ID)]
        assert shortcuts[0]["name"] == "Add to incident…"


def test_every_called_method_has_a_known_scope() -> None:
    unknown = _called_methods() - set(METHOD_SCOPES)
    assert not unknown, f"add the scopes of {sorted(unknown)} to METHOD_SCOPES"
    assert {"chat_postMessage", "conversations_create", "pins_add"} <= _called_methods()


def test_scopes_are_exactly_what_the_bot_uses(socket_manifest: dict[str, Any]) -> None:
    events = socket_manifest["settings"]["event_subscriptions"]["bot_events"]
    # an event with exactly one scope that delivers it needs that scope (reactions:read, …)
    for_events = {s for e in events if len(EVENT_SCOPES.get(e, ())) == 1 for s in EVENT_SCOPES[e]}
    assert set(socket_manifest["oauth_config"]["scopes"]["bot"]) == EXPECTED_SCOPES | for_events
    assert "user" not in socket_manifest["oauth_config"]["scopes"]


def test_every_event_has_its_scope(socket_manifest: dict[str, Any]) -> None:
    scopes = set(socket_manifest["oauth_config"]["scopes"]["bot"])
    for event in socket_manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert event in EVENT_SCOPES, f"add {event} and its scopes to EVENT_SCOPES"
        needed = EVENT_SCOPES[event]
        assert not needed or needed & scopes, f"{event} needs one of {sorted(needed)}"


def test_subscribed_events_are_the_ones_listened_to(socket_manifest: dict[str, Any]) -> None:
    subscribed = set(socket_manifest["settings"]["event_subscriptions"]["bot_events"])
    assert subscribed == LISTENED_EVENTS
    listened = set()
    for path in (REPO / "bot" / "listeners").glob("*.py"):
        listened.update(re.findall(r'@app\.event\("([a-z_]+)"\)', path.read_text()))
    assert listened == LISTENED_EVENTS, "every subscribed event has a listener, and no more"
