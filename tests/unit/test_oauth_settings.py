"""The settings of multi-workspace mode: when it is on, what an install asks for, what is
required to run, and that the client secret never shows."""

from __future__ import annotations

import pytest

from bot.config import Settings, load_settings
from bot.settings_parse import MANIFEST_BOT_SCOPES, ConfigError

OAUTH = {"SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "s3cr3t-client",
         "SLACK_SIGNING_SECRET": "sign"}


def test_multi_workspace_needs_both_credentials_and_no_bot_token() -> None:
    assert load_settings(OAUTH).multi_workspace
    assert not load_settings({**OAUTH, "SLACK_BOT_TOKEN": "xoxb-1-2"}).multi_workspace
    assert not Settings().multi_workspace


def test_http_runs_without_a_bot_token_only_in_multi_workspace_mode() -> None:
    load_settings(OAUTH).require_for_run(http=True)
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN"):
        load_settings({"SLACK_SIGNING_SECRET": "sign"}).require_for_run(http=True)
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN"):
        load_settings(OAUTH).require_for_run(http=False)  # the install pages need HTTP


@pytest.mark.parametrize(("raw", "expected"), [
    (None, MANIFEST_BOT_SCOPES),
    ("chat:write,commands", ("chat:write", "commands")),
    (" chat:write  commands ", ("chat:write", "commands")),
    ("chat:write.public,users:read", ("chat:write.public", "users:read")),
])
def test_scopes_accepted(raw: str | None, expected: tuple[str, ...]) -> None:
    env = {} if raw is None else {"SLACK_SCOPES": raw}
    assert load_settings(env).slack_scopes == expected


@pytest.mark.parametrize("raw", ["chat:", "Chat:Write", "chat:write,<script>", ":"])
def test_scopes_refused_with_the_key_named(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"^SLACK_SCOPES: "):
        load_settings({"SLACK_SCOPES": raw})


@pytest.mark.parametrize(("env", "key"), [
    ({"SLACK_CLIENT_ID": "1111.2222"}, "SLACK_CLIENT_SECRET"),
    ({"SLACK_CLIENT_SECRET": "s3cr3t-client"}, "SLACK_CLIENT_ID"),
    ({"SLACK_CLIENT_ID": "abc", "SLACK_CLIENT_SECRET": "s3cr3t-client"}, "SLACK_CLIENT_ID"),
    ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "your-client-secret"},
     "SLACK_CLIENT_SECRET"),
])
def test_client_credentials_both_or_neither_and_well_formed(env: dict[str, str],
                                                           key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: ") as err:
        load_settings(env)
    assert "s3cr3t" not in str(err.value)


def test_the_client_secret_never_shows() -> None:
    settings = load_settings(OAUTH)
    assert "s3cr3t-client" not in repr(settings)
    assert "s3cr3t-client" in settings.secrets  # so the log filter redacts it
    assert settings.redacted()["slack_client_secret"] == "…(redacted)"
