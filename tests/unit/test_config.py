"""Settings: defaults, every documented form, one-line errors naming the key, .env handling,
and secrets that never show."""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.settings_parse import ConfigError

BOT_TOKEN = "xoxb-1111-2222-BoTsEcReTvAlUe"
APP_TOKEN = "xapp-1-A111-3333-ApPsEcReTvAlUe"
SIGNING_SECRET = "8f3c0d2e9b7a41c6a5e4d3c2b1a09f8e"
DB_PASSWORD = "pgPa55wordVaLue"

ALL_KEYS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "PORT",
    "CRISISBOT_LEADS",
    "CRISISBOT_LEADS_CHANNEL",
    "CRISISBOT_RESPONDERS",
    "CRISISBOT_PRIVATE_CHANNELS",
    "CRISISBOT_NUDGE_BEFORE",
    "CRISISBOT_ESCALATE_AFTER",
    "CRISISBOT_ESCALATE_REPEAT",
    "CRISISBOT_LEADER_CALL",
    "CRISISBOT_CHECKINS",
    "CRISISBOT_STALE_AFTER",
    "CRISISBOT_STALE_RESOLVED",
    "CRISISBOT_RECURRENCE_DAYS",
    "CRISISBOT_RETENTION",
    "CRISISBOT_TIMEZONE",
    "CRISISBOT_PLAYBOOK",
    "LOG_LEVEL",
    "CRISISBOT_CAPTURE_REACTION",
    "CRISISBOT_OUTBOX_PROCESSES",
    "CRISISBOT_OUTBOX_THREADS",
    "CRISISBOT_HTTP_WORKERS",
    "CRISISBOT_INTAKE_AFTER",
    "CRISISBOT_SMTP_URL",
    "CRISISBOT_EMAIL_FROM",
    "CRISISBOT_INBOUND_SECRET",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_SCOPES",
)


@pytest.fixture(autouse=True)
def _away_from_real_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in an empty temp directory, so a developer's .env is never in reach."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def fake_environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A controlled os.environ (load_dotenv writes into it; restored after the test)."""
    environ = {"PATH": os.environ.get("PATH", "")}
    monkeypatch.setattr(os, "environ", environ)
    return environ


# -- defaults ------------------------------------------------------------------------------------


def test_defaults() -> None:
    s = load_settings({})
    assert s == Settings()
    assert s.slack_bot_token is None
    assert s.slack_signing_secret is None
    assert s.slack_app_token is None
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.database_url == "sqlite:///crisisbot.db"
    assert s.port == 3000
    assert s.leads == ()
    assert s.leads_channel is None
    assert s.responders == ()
    assert s.private_channels is False
    assert s.nudge_before == timedelta(minutes=5)
    assert s.escalate_after == timedelta(minutes=15)
    assert s.escalate_repeat == timedelta(minutes=30)
    assert s.checkins == (timedelta(days=1), timedelta(days=7))
    assert s.recurrence_days == 90
    assert s.timezone == "UTC"
    assert s.playbook_path is None
    assert s.log_level == "INFO"
    assert s.socket_mode is False


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_empty_values_count_as_unset(blank: str) -> None:
    assert load_settings(dict.fromkeys(ALL_KEYS, blank)) == Settings()


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


# -- accepted forms ------------------------------------------------------------------------------


def test_every_key_read(tmp_path: Path) -> None:
    playbook = tmp_path / "playbook.yml"
    playbook.write_text("steps: []\n")
    s = load_settings(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": "http://127.0.0.1:8999/api",
            "DATABASE_URL": "postgresql+psycopg://bot@db:5432/crisis",
            "PORT": "8080",
            "CRISISBOT_LEADS": "U012AB3CD, W0ABCDEF1 ,S0614TZR7",
            "CRISISBOT_LEADS_CHANNEL": "C0123ABCDEF",
            "CRISISBOT_RESPONDERS": "U0RESP1,U0RESP2",
            "CRISISBOT_PRIVATE_CHANNELS": "yes",
            "CRISISBOT_NUDGE_BEFORE": "10m",
            "CRISISBOT_ESCALATE_AFTER": "1h",
            "CRISISBOT_ESCALATE_REPEAT": "90 min",
            "CRISISBOT_CHECKINS": "7d, 1d, 3d",
            "CRISISBOT_RECURRENCE_DAYS": "30",
            "CRISISBOT_TIMEZONE": "Europe/Paris",
            "CRISISBOT_PLAYBOOK": str(playbook),
            "LOG_LEVEL": "debug",
        }
    )
    assert s.slack_bot_token == BOT_TOKEN
    assert s.slack_signing_secret == SIGNING_SECRET
    assert s.slack_app_token == APP_TOKEN
    assert s.socket_mode is True
    assert s.slack_api_url == "http://127.0.0.1:8999/api/"
    assert s.database_url == "postgresql+psycopg://bot@db:5432/crisis"
    assert s.port == 8080
    assert s.leads == ("U012AB3CD", "W0ABCDEF1", "S0614TZR7")
    assert s.leads_channel == "C0123ABCDEF"
    assert s.responders == ("U0RESP1", "U0RESP2")
    assert s.private_channels is True
    assert s.nudge_before == timedelta(minutes=10)
    assert s.escalate_after == timedelta(hours=1)
    assert s.escalate_repeat == timedelta(minutes=90)
    assert s.checkins == (timedelta(days=1), timedelta(days=3), timedelta(days=7))
    assert s.recurrence_days == 30
    assert s.timezone == "Europe/Paris"
    assert s.playbook_path == str(playbook)
    assert s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:////var/lib/crisisbot/db.sqlite", "sqlite:////var/lib/crisisbot/db.sqlite"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_database_url_normalised(given: str, expected: str) -> None:
    assert load_settings({"DATABASE_URL": given}).database_url == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://slack.com/api/", "https://slack.com/api/"),
        ("https://slack.com/api", "https://slack.com/api/"),
        ("http://localhost:3001/api", "http://localhost:3001/api/"),
    ],
)
def test_api_url_gets_trailing_slash(given: str, expected: str) -> None:
    assert load_settings({"SLACK_API_URL": given}).slack_api_url == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Yes", True),
        ("false", False), ("False", False), ("0", False), ("no", False),
    ],
)  # fmt: skip
def test_private_channels_booleans(given: str, expected: bool) -> None:
    assert load_settings({"CRISISBOT_PRIVATE_CHANNELS": given}).private_channels is expected


def test_member_ids_deduplicated_and_whitespace_tolerant() -> None:
    s = load_settings({"CRISISBOT_LEADS": "U1AAA,,U1AAA  S2BBB,"})
    assert s.leads == ("U1AAA", "S2BBB")


def test_private_channel_id_accepted() -> None:
    assert load_settings({"CRISISBOT_LEADS_CHANNEL": "G0PRIV123"}).leads_channel == "G0PRIV123"


@pytest.mark.parametrize("off", ["none", "None", "off"])
def test_checkins_can_be_turned_off(off: str) -> None:
    assert load_settings({"CRISISBOT_CHECKINS": off}).checkins == ()


def test_checkins_other_forms() -> None:
    s = load_settings({"CRISISBOT_CHECKINS": "every 2 hours,1d,1d"})
    assert s.checkins == (timedelta(hours=2), timedelta(days=1))


def test_log_level_warn_alias() -> None:
    assert load_settings({"LOG_LEVEL": "warn"}).log_level == "WARNING"


def test_escalate_repeat_minimum_is_one_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    import playbook.domain.parse

    monkeypatch.setattr(playbook.domain.parse, "parse_duration", lambda text: timedelta(seconds=30))
    with pytest.raises(ConfigError) as err:
        load_settings({"CRISISBOT_ESCALATE_REPEAT": "30 seconds"})
    assert str(err.value).startswith("CRISISBOT_ESCALATE_REPEAT: ")
    assert "1 minute" in str(err.value)


def test_escalate_repeat_of_exactly_one_minute() -> None:
    assert load_settings({"CRISISBOT_ESCALATE_REPEAT": "1m"}).escalate_repeat == timedelta(
        minutes=1
    )


# -- malformed values: one line naming the key ---------------------------------------------------

MALFORMED = [
    ("SLACK_BOT_TOKEN", "xapp-1-A1-2-NoTtHeBoTtOkEn"),
    ("SLACK_BOT_TOKEN", "totally-SeCrEtBuTwRoNg"),
    ("SLACK_BOT_TOKEN", "xoxb-SeCrEt with-space"),
    ("SLACK_BOT_TOKEN", "xoxb-"),
    ("SLACK_BOT_TOKEN", "xoxb-your-bot-token"),
    ("SLACK_APP_TOKEN", "xoxb-1-2-NoTtHeApPtOkEn"),
    ("SLACK_APP_TOKEN", "xapp-your-app-level-token"),
    ("SLACK_SIGNING_SECRET", "SeCrEt with-space"),
    ("SLACK_CLIENT_ID", "your-client-id"),
    ("SLACK_CLIENT_SECRET", "SeCrEt with-space"),
    ("SLACK_SCOPES", "chat:write,<b>"),
    ("SLACK_API_URL", "ftp://slack.com/api/"),
    ("SLACK_API_URL", "slack.com/api/"),
    ("SLACK_API_URL", "https://"),
    ("SLACK_API_URL", "https://slack.com/api/?token=x"),
    ("DATABASE_URL", "not a url"),
    ("DATABASE_URL", "://user:SeCrEtPw@host/db"),
    ("DATABASE_URL", "mysql://user:SeCrEtPw@host/db"),
    ("PORT", "0"),
    ("PORT", "65536"),
    ("PORT", "http"),
    ("PORT", "30.5"),
    ("CRISISBOT_LEADS", "@alice"),
    ("CRISISBOT_LEADS", "U012AB3CD,bob"),
    ("CRISISBOT_LEADS", "C0123ABCDEF"),
    ("CRISISBOT_LEADS", "u012ab3cd"),
    ("CRISISBOT_LEADS_CHANNEL", "#incidents"),
    ("CRISISBOT_LEADS_CHANNEL", "U012AB3CD"),
    ("CRISISBOT_LEADS_CHANNEL", "C0123,C0456"),
    ("CRISISBOT_RESPONDERS", "alice"),
    ("CRISISBOT_PRIVATE_CHANNELS", "maybe"),
    ("CRISISBOT_NUDGE_BEFORE", "soon"),
    ("CRISISBOT_ESCALATE_AFTER", "later"),
    ("CRISISBOT_ESCALATE_REPEAT", "often"),
    ("CRISISBOT_ESCALATE_REPEAT", "0m"),
    ("CRISISBOT_CHECKINS", "1d,,7d"),
    ("CRISISBOT_CHECKINS", "1d,eventually"),
    ("CRISISBOT_STALE_AFTER", "a while"),
    ("CRISISBOT_STALE_AFTER", "10m"),
    ("CRISISBOT_STALE_RESOLVED", "never"),
    ("CRISISBOT_RECURRENCE_DAYS", "0"),
    ("CRISISBOT_RECURRENCE_DAYS", "-5"),
    ("CRISISBOT_RECURRENCE_DAYS", "ninety"),
    ("CRISISBOT_RETENTION", "forever"),
    ("CRISISBOT_RETENTION", "10m"),
    ("CRISISBOT_RETENTION", "0d"),
    ("CRISISBOT_TIMEZONE", "Mars/Olympus_Mons"),
    ("CRISISBOT_TIMEZONE", "../../etc/passwd"),
    ("CRISISBOT_PLAYBOOK", "/nonexistent/crisis-playbook.yml"),
    ("LOG_LEVEL", "LOUD"),
    ("CRISISBOT_CAPTURE_REACTION", "📌"),
    ("CRISISBOT_CAPTURE_REACTION", "push pin"),
    ("CRISISBOT_CAPTURE_REACTION", "::"),
    ("CRISISBOT_OUTBOX_PROCESSES", "-1"),
    ("CRISISBOT_OUTBOX_PROCESSES", "17"),
    ("CRISISBOT_OUTBOX_PROCESSES", "two"),
    ("CRISISBOT_OUTBOX_THREADS", "0"),
    ("CRISISBOT_OUTBOX_THREADS", "4.5"),
    ("CRISISBOT_HTTP_WORKERS", "0"),
    ("CRISISBOT_HTTP_WORKERS", "17"),
    ("CRISISBOT_INTAKE_AFTER", "-1"),
    ("CRISISBOT_INTAKE_AFTER", "many"),
    ("CRISISBOT_LEADER_CALL", "soon"),
    ("CRISISBOT_LEADER_CALL", "30s"),
    ("CRISISBOT_SMTP_URL", "https://u:SeCrEt@mail.example.com"),
    ("CRISISBOT_SMTP_URL", "smtp://u:SeCrEt@mail.example.com:70000"),
    ("CRISISBOT_EMAIL_FROM", "Acme Support"),
    ("CRISISBOT_INBOUND_SECRET", "SeCrEt"),
]


def test_retention_defaults_to_30_days_and_reads_durations() -> None:
    assert load_settings({}).retention == timedelta(days=30)
    assert load_settings({"CRISISBOT_RETENTION": "90d"}).retention == timedelta(days=90)
    assert load_settings({"CRISISBOT_RETENTION": "12h"}).retention == timedelta(hours=12)


def test_outbox_processes_and_threads() -> None:
    defaults = load_settings({})
    assert (defaults.outbox_processes, defaults.outbox_threads) == (1, 4)
    chosen = load_settings({"CRISISBOT_OUTBOX_PROCESSES": "0", "CRISISBOT_OUTBOX_THREADS": "8"})
    assert (chosen.outbox_processes, chosen.outbox_threads) == (0, 8)


def test_http_workers_default_to_two() -> None:
    assert load_settings({}).http_workers == 2
    assert load_settings({"CRISISBOT_HTTP_WORKERS": "1"}).http_workers == 1


def test_intake_after_defaults_to_four_and_zero_turns_it_off() -> None:
    assert load_settings({}).intake_after == 4
    assert load_settings({"CRISISBOT_INTAKE_AFTER": "0"}).intake_after == 0
    assert load_settings({"CRISISBOT_INTAKE_AFTER": "1"}).intake_after == 1


@pytest.mark.parametrize(("value", "name"), [
    ("pushpin", "pushpin"), (":memo:", "memo"), (" :White_Check_Mark: ", "white_check_mark"),
    ("+1", "+1"),
])
def test_capture_reaction_forms(value: str, name: str) -> None:
    assert load_settings({"CRISISBOT_CAPTURE_REACTION": value}).capture_reaction == name


@pytest.mark.parametrize(("key", "value"), MALFORMED)
def test_malformed_value_names_the_key_in_one_line(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({key: value})
    text = str(err.value)
    assert text.startswith(f"{key}: ")
    assert "expected" in text
    assert "\n" not in text and "\r" not in text
    assert err.value.key == key
    assert "SeCrEt" not in text  # nothing secret-looking is echoed


def test_every_key_has_a_malformed_case() -> None:
    assert {key for key, _ in MALFORMED} == set(ALL_KEYS)


def test_duration_error_wording() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"CRISISBOT_NUDGE_BEFORE": "soon"})
    assert str(err.value) == (
        "CRISISBOT_NUDGE_BEFORE: expected a duration like 5m or 1h, got 'soon'"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SLACK_BOT_TOKEN", APP_TOKEN),
        ("SLACK_APP_TOKEN", BOT_TOKEN),
        ("SLACK_BOT_TOKEN", "xoxp-9-9-UsErTokenSecret"),
        ("DATABASE_URL", f"nonsense://u:{DB_PASSWORD}@@h/d\n"),
        ("CRISISBOT_LEADS", BOT_TOKEN),
        ("CRISISBOT_LEADS_CHANNEL", APP_TOKEN),
    ],
)
def test_errors_never_echo_secrets(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({key: value})
    text = str(err.value)
    assert text.startswith(f"{key}: ")
    for secret in (BOT_TOKEN, APP_TOKEN, "UsErTokenSecret", DB_PASSWORD):
        assert secret not in text
    for tail in ("BoTsEcReTvAlUe", "ApPsEcReTvAlUe"):
        assert tail not in text


def test_wrong_kind_of_token_is_named() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"SLACK_BOT_TOKEN": APP_TOKEN})
    assert "xapp-" in str(err.value)
    assert "SLACK_BOT_TOKEN" in str(err.value)


# -- what a run needs ----------------------------------------------------------------------------


def test_require_for_run_socket_mode() -> None:
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN: "):
        load_settings({"SLACK_APP_TOKEN": APP_TOKEN}).require_for_run(http=False)
    with pytest.raises(ConfigError, match=r"^SLACK_APP_TOKEN: .*--http"):
        load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN}).require_for_run(http=False)
    load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}).require_for_run(
        http=False
    )


def test_require_for_run_http() -> None:
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN: "):
        load_settings({"SLACK_SIGNING_SECRET": SIGNING_SECRET}).require_for_run(http=True)
    with pytest.raises(ConfigError, match=r"^SLACK_SIGNING_SECRET: "):
        load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN}).require_for_run(http=True)
    # HTTP needs no app token.
    load_settings(
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    ).require_for_run(http=True)


def test_require_for_run_names_the_first_missing_key() -> None:
    with pytest.raises(ConfigError) as err:
        Settings().require_for_run(http=True)
    assert err.value.key == "SLACK_BOT_TOKEN"
    assert "\n" not in str(err.value)


# -- secrets never shown -------------------------------------------------------------------------


def _full() -> Settings:
    return load_settings(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "DATABASE_URL": f"postgresql://crisis:{DB_PASSWORD}@db.internal:5432/crisis",
        }
    )


def test_repr_and_str_never_show_secrets() -> None:
    s = _full()
    for shown in (repr(s), str(s), f"{s}", repr([s]), repr(s.redacted())):
        for secret in (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, DB_PASSWORD):
            assert secret not in shown
        assert "BoTsEcReTvAlUe" not in shown
    assert "xoxb-…(redacted)" in repr(s)
    assert "xapp-…(redacted)" in repr(s)
    assert "db.internal" in repr(s)  # the non-secret parts stay useful


def test_redacted_dict() -> None:
    red = _full().redacted()
    assert red["slack_bot_token"] == "xoxb-…(redacted)"
    assert red["slack_app_token"] == "xapp-…(redacted)"
    assert red["slack_signing_secret"] == "…(redacted)"
    assert DB_PASSWORD not in red["database_url"]
    assert red["port"] == 3000
    assert Settings().redacted()["slack_bot_token"] is None


def test_secrets_property_lists_literal_secrets() -> None:
    assert set(_full().secrets) == {BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, DB_PASSWORD}
    assert Settings().secrets == ()


# -- .env ----------------------------------------------------------------------------------------


def test_dotenv_in_cwd_read_without_overriding_real_variables(
    _away_from_real_dotenv: Path, fake_environ: dict[str, str]
) -> None:
    (_away_from_real_dotenv / ".env").write_text(
        f"CRISISBOT_NUDGE_BEFORE=10m\nCRISISBOT_RECURRENCE_DAYS=30\nSLACK_BOT_TOKEN={BOT_TOKEN}\n"
    )
    fake_environ["CRISISBOT_NUDGE_BEFORE"] = "2m"  # a real variable wins
    s = load_settings()
    assert s.nudge_before == timedelta(minutes=2)
    assert s.recurrence_days == 30
    assert s.slack_bot_token == BOT_TOKEN


def test_dotenv_found_from_cwd_not_from_the_package(
    _away_from_real_dotenv: Path, fake_environ: dict[str, str]
) -> None:
    from dotenv import find_dotenv

    (_away_from_real_dotenv / ".env").write_text("PORT=4321\n")
    assert Path(find_dotenv(usecwd=True)) == _away_from_real_dotenv / ".env"
    assert load_settings().port == 4321


def test_no_dotenv_means_environment_only(fake_environ: dict[str, str]) -> None:
    fake_environ["PORT"] = "5000"
    assert load_settings().port == 5000


def test_dotenv_false_skips_the_file(
    _away_from_real_dotenv: Path, fake_environ: dict[str, str]
) -> None:
    (_away_from_real_dotenv / ".env").write_text("PORT=4321\n")
    assert load_settings(dotenv=False).port == 3000


def test_explicit_env_ignores_dotenv_and_os_environ(
    _away_from_real_dotenv: Path, fake_environ: dict[str, str]
) -> None:
    (_away_from_real_dotenv / ".env").write_text("PORT=4321\n")
    fake_environ["LOG_LEVEL"] = "DEBUG"
    s = load_settings({})
    assert s.port == 3000
    assert s.log_level == "INFO"
    assert "PORT" not in fake_environ  # nothing was loaded


def test_malformed_value_from_dotenv_names_the_key(
    _away_from_real_dotenv: Path, fake_environ: dict[str, str]
) -> None:
    (_away_from_real_dotenv / ".env").write_text("CRISISBOT_TIMEZONE=Nowhere/Land\n")
    with pytest.raises(ConfigError, match=r"^CRISISBOT_TIMEZONE: expected"):
        load_settings()


def test_dotenv_example_documents_every_key() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    text = example.read_text()
    keys = {
        line.split("=", 1)[0].strip()
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert keys == set(ALL_KEYS)


def test_dotenv_example_values_are_accepted_as_placeholders_or_defaults() -> None:
    from dotenv import dotenv_values

    example = Path(__file__).resolve().parents[2] / ".env.example"
    values = {k: v or "" for k, v in dotenv_values(example).items()}
    tokens = {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}
    # Everything but the token placeholders loads and gives the defaults.
    assert load_settings({k: v for k, v in values.items() if k not in tokens}) == Settings()
    # A copied-but-unfilled token is refused with the key named.
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN: .*placeholder"):
        load_settings(values)


# -- the playbook file ---------------------------------------------------------------------------


def test_no_playbook_file_means_the_built_in_playbook() -> None:
    from bot.config import load_playbook
    from playbook.services.builtin import builtin_playbook

    assert load_playbook(load_settings({})) is builtin_playbook()


def test_a_playbook_file_is_read_and_a_bad_one_stops_start_up_in_one_line(
        tmp_path: Path) -> None:
    from bot.config import load_playbook
    from playbook.domain.playbook_file import dump_playbook
    from playbook.services.builtin import builtin_playbook

    good = tmp_path / "team.toml"
    good.write_text(dump_playbook(builtin_playbook()).replace('name = "built-in"',
                                                              'name = "Acme support"'))
    playbook = load_playbook(load_settings({"CRISISBOT_PLAYBOOK": str(good)}))
    assert playbook.name == "Acme support"

    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('cadence = "1h"', 'cadence = "hourly-ish"'))
    line = next(n for n, t in enumerate(bad.read_text().splitlines(), 1) if "hourly-ish" in t)
    with pytest.raises(ConfigError) as err:
        load_playbook(load_settings({"CRISISBOT_PLAYBOOK": str(bad)}))
    text = str(err.value)
    assert text.startswith(f"CRISISBOT_PLAYBOOK: {bad}:{line}:1: cadence `hourly-ish`"), text
    assert "\n" not in text

    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe name")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_playbook(load_settings({"CRISISBOT_PLAYBOOK": str(binary)}))


def test_a_yaml_playbook_file_is_read_as_yaml(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    from bot.config import read_playbook_file
    from playbook.services.builtin import builtin_playbook

    data = dict(builtin_playbook().data) | {"name": "From YAML"}
    path = tmp_path / "team.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert read_playbook_file(str(path)).name == "From YAML"


def test_stale_periods_default_and_accept_durations() -> None:
    assert load_settings({}).stale_after == timedelta(days=2)
    assert load_settings({}).stale_resolved == timedelta(days=3)
    s = load_settings({"CRISISBOT_STALE_AFTER": "36h", "CRISISBOT_STALE_RESOLVED": "1 week"})
    assert (s.stale_after, s.stale_resolved) == (timedelta(hours=36), timedelta(days=7))


@pytest.mark.parametrize(("value", "expect"), [
    (None, timedelta(minutes=30)), ("45m", timedelta(minutes=45)), ("1h", timedelta(hours=1)),
    ("off", None), ("OFF", None), ("none", None), ("0", None),
])
def test_leader_call_setting(value: str | None, expect: timedelta | None) -> None:
    env = {} if value is None else {"CRISISBOT_LEADER_CALL": value}
    assert load_settings(env).leader_call == expect
