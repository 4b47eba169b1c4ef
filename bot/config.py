"""Settings from the environment (and a `.env` in the working directory).

`load_settings()` reads every key documented in .env.example, checks it and returns a
frozen `Settings`. Anything missing or malformed raises `ConfigError`, whose text is one line
naming the key and what is expected, so start-up can print it and stop. Secrets never appear in
an error, in `repr(settings)` or in `settings.redacted()`.

Which keys a run needs depends on the mode (Socket Mode or HTTP), so that check is separate:
`settings.require_for_run(http=...)`. Commands that do not talk to Slack (`db upgrade`, `report`,
`stats`, `demo`, `playbook`) never call it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from playbook.domain.playbook_file import Playbook

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_DATABASE_URL",
    "ConfigError",
    "Settings",
    "load_playbook",
    "load_settings",
    "read_playbook_file",
]

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///crisisbot.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_MEMBER_ID = re.compile(r"[UWS][A-Z0-9]{2,}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_NO_CHECKINS = frozenset({"none", "off"})
# The placeholders of .env.example: a copied file that was never filled in.
_PLACEHOLDERS = frozenset({"xoxb-your-bot-token", "xapp-your-app-level-token"})
# Prefixes of Slack credentials we can name without showing the credential itself.
_TOKEN_KINDS = (
    ("xoxb-", "a bot token (xoxb-)"),
    ("xapp-", "an app-level token (xapp-)"),
    ("xoxp-", "a user token (xoxp-)"),
    ("xoxe", "a rotating/refresh token (xoxe)"),
    ("xoxa-", "a workspace token (xoxa-)"),
    ("xoxr-", "a refresh token (xoxr-)"),
)


class ConfigError(Exception):
    """A setting is missing or malformed. ``str(err)`` is one line: ``KEY: what is expected``."""

    def __init__(self, key: str, message: str) -> None:
        text = f"{key}: {message}"
        text = " ".join(text.splitlines())  # one line, whatever went in
        super().__init__(text)
        self.key = key
        self.message = message


@dataclass(frozen=True)
class Settings:
    """Every setting documented in .env.example, checked and typed."""

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    port: int = 3000
    leads: tuple[str, ...] = ()
    leads_channel: str | None = None
    responders: tuple[str, ...] = ()
    private_channels: bool = False
    nudge_before: timedelta = timedelta(minutes=5)
    escalate_after: timedelta = timedelta(minutes=15)
    escalate_repeat: timedelta = timedelta(minutes=30)
    checkins: tuple[timedelta, ...] = (timedelta(days=1), timedelta(days=7))
    stale_after: timedelta = timedelta(days=2)
    stale_resolved: timedelta = timedelta(days=3)
    recurrence_days: int = 90
    timezone: str = "UTC"
    playbook_path: str | None = None
    log_level: str = "INFO"
    capture_reaction: str = "pushpin"
    outbox_threads: int = 4
    # `crisisbot run` starts this many outbox children (bot/outbox/processes.py); the sandbox
    # (demo, tests) sets 0: its worker shares the test clock, which children could not
    outbox_processes: int = 1

    # -- derived, read-only ------------------------------------------------------------------

    @property
    def socket_mode(self) -> bool:
        """True when an app-level token is set (``crisisbot run`` then uses Socket Mode)."""
        return self.slack_app_token is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        """The literal secret values held here (for log redaction); empty ones left out."""
        values = [self.slack_bot_token, self.slack_app_token, self.slack_signing_secret]
        password = _database_password(self.database_url)
        if password:
            values.append(password)
        return tuple(v for v in values if v)

    # -- checks that depend on how the program runs -------------------------------------------

    def require_for_run(self, http: bool) -> None:
        """Raise `ConfigError` naming the first key ``crisisbot run`` needs and lacks.

        The bot token is always needed; HTTP mode needs the signing secret; Socket Mode needs
        the app-level token.
        """
        if self.slack_bot_token is None:
            raise ConfigError(
                "SLACK_BOT_TOKEN",
                "required to run; expected the bot token (xoxb-…) from your Slack app's "
                "OAuth & Permissions page",
            )
        if http:
            if self.slack_signing_secret is None:
                raise ConfigError(
                    "SLACK_SIGNING_SECRET",
                    "required for --http; expected the Signing Secret from your Slack app's "
                    "Basic Information page",
                )
        elif self.slack_app_token is None:
            raise ConfigError(
                "SLACK_APP_TOKEN",
                "required for Socket Mode; expected an app-level token (xapp-…) with "
                "connections:write, or run with --http to serve HTTP instead",
            )

    # -- display without secrets --------------------------------------------------------------

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict, with tokens, the signing secret and DB password masked."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("slack_bot_token", "slack_app_token"):
                value = _mask_token(value)
            elif f.name == "slack_signing_secret":
                value = None if value is None else "…(redacted)"
            elif f.name == "database_url":
                value = _mask_database_url(value)
            out[f.name] = value
        return out

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={value!r}" for name, value in self.redacted().items())
        return f"Settings({body})"

    __str__ = __repr__


# --------------------------------------------------------------------------------------------
# Loading


def load_settings(env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Read and check every setting; raise `ConfigError` on the first bad one.

    With ``env=None`` the process environment is used, after loading ``.env`` found from the
    current working directory (never overriding a variable that is already set) unless
    ``dotenv=False``. With an explicit ``env`` only that mapping is read: no ``.env``, no
    ``os.environ``.
    """
    if env is None:
        if dotenv:
            _load_dotenv_from_cwd()
        env = os.environ

    def get(key: str) -> str | None:
        value = env.get(key)
        if value is None:
            return None
        value = value.strip()
        return value or None

    return Settings(
        slack_bot_token=_token(get, "SLACK_BOT_TOKEN", "xoxb-", "a bot token"),
        slack_signing_secret=_signing_secret(get),
        slack_app_token=_token(get, "SLACK_APP_TOKEN", "xapp-", "an app-level token"),
        slack_api_url=_api_url(get),
        database_url=_database_url(get),
        port=_port(get),
        leads=_member_ids(get, "CRISISBOT_LEADS"),
        leads_channel=_channel_id(get, "CRISISBOT_LEADS_CHANNEL"),
        responders=_member_ids(get, "CRISISBOT_RESPONDERS"),
        private_channels=_boolean(get, "CRISISBOT_PRIVATE_CHANNELS", False),
        nudge_before=_duration(get, "CRISISBOT_NUDGE_BEFORE", timedelta(minutes=5)),
        escalate_after=_duration(get, "CRISISBOT_ESCALATE_AFTER", timedelta(minutes=15)),
        escalate_repeat=_duration(
            get, "CRISISBOT_ESCALATE_REPEAT", timedelta(minutes=30), minimum=timedelta(minutes=1)
        ),
        checkins=_checkins(get),
        stale_after=_duration(get, "CRISISBOT_STALE_AFTER", timedelta(days=2),
                              minimum=timedelta(hours=1)),
        stale_resolved=_duration(get, "CRISISBOT_STALE_RESOLVED", timedelta(days=3),
                                 minimum=timedelta(hours=1)),
        recurrence_days=_recurrence_days(get),
        timezone=_timezone(get),
        playbook_path=_playbook_path(get),
        log_level=_log_level(get),
        capture_reaction=_capture_reaction(get),
        outbox_threads=_whole(get, "CRISISBOT_OUTBOX_THREADS", 4, 1, 64),
        outbox_processes=_whole(get, "CRISISBOT_OUTBOX_PROCESSES", 1, 0, 16),
    )


def _load_dotenv_from_cwd() -> None:
    # Import here so `bot.config` stays importable (e.g. by tools) without touching the disk.
    from dotenv import find_dotenv, load_dotenv

    # usecwd=True: search from the working directory, not from this file (site-packages once
    # installed). override=False: a real environment variable always wins over .env.
    path = find_dotenv(usecwd=True)
    if path:
        load_dotenv(path, override=False)


_Get = Callable[[str], str | None]


def _shown(value: str, limit: int = 60) -> str:
    """A user's value quoted for an error message: secrets masked, one line, not too long."""
    from bot.redact import redact

    value = redact(value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return repr(value)


def _token(get: _Get, key: str, prefix: str, what: str) -> str | None:
    value = get(key)
    if value is None:
        return None
    if value in _PLACEHOLDERS:
        raise ConfigError(
            key, f"expected {what} starting with {prefix}, got the placeholder from .env.example"
        )
    if not value.startswith(prefix):
        found = next((kind for p, kind in _TOKEN_KINDS if value.startswith(p)), None)
        got = f"got {found}" if found else "got a value of another shape (not shown)"
        raise ConfigError(key, f"expected {what} starting with {prefix}, {got}")
    if len(value) <= len(prefix) or any(ch.isspace() for ch in value):
        raise ConfigError(
            key, f"expected {what} starting with {prefix} with no spaces in it (value not shown)"
        )
    return value


def _signing_secret(get: _Get) -> str | None:
    value = get("SLACK_SIGNING_SECRET")
    if value is not None and any(ch.isspace() for ch in value):
        raise ConfigError(
            "SLACK_SIGNING_SECRET",
            "expected the Signing Secret from Basic Information, with no spaces (value not shown)",
        )
    return value


def _api_url(get: _Get) -> str:
    value = get("SLACK_API_URL")
    if value is None:
        return DEFAULT_API_URL
    expected = "expected an http(s) URL like https://slack.com/api/"
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ConfigError("SLACK_API_URL", f"{expected}, got an unreadable URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("SLACK_API_URL", f"{expected}, got {_shown(value)}")
    if parts.query or parts.fragment:
        raise ConfigError("SLACK_API_URL", f"{expected} without ?query or #fragment")
    return value if value.endswith("/") else value + "/"


def _database_url(get: _Get) -> str:
    value = get("DATABASE_URL")
    if value is None:
        return DEFAULT_DATABASE_URL
    for old in ("postgresql://", "postgres://"):
        if value.startswith(old):
            value = "postgresql+psycopg://" + value[len(old) :]
            break
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    # The URL may hold a password: errors never echo it.
    try:
        backend = make_url(value).get_backend_name()
    except (ArgumentError, ValueError):
        raise ConfigError(
            "DATABASE_URL",
            "expected an SQLAlchemy URL like sqlite:///crisisbot.db or "
            "postgresql+psycopg://user:password@host:5432/dbname (value not shown)",
        ) from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            "DATABASE_URL",
            "expected a SQLite (sqlite:///…) or PostgreSQL (postgresql+psycopg://…) URL; "
            "other databases are not supported (value not shown)",
        )
    return value


def _port(get: _Get) -> int:
    value = get("PORT")
    if value is None:
        return 3000
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ConfigError("PORT", f"expected a port number from 1 to 65535, got {_shown(value)}")
    return port


def _split_list(value: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", value) if item]


def _member_ids(get: _Get, key: str) -> tuple[str, ...]:
    value = get(key)
    if value is None:
        return ()
    ids: list[str] = []
    for item in _split_list(value):
        if not _MEMBER_ID.fullmatch(item):
            raise ConfigError(
                key,
                "expected comma-separated Slack user IDs (U… or W…) and user-group IDs (S…), "
                f"like U012AB3CD,S0614TZR7, got {_shown(item)}",
            )
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def _channel_id(get: _Get, key: str) -> str | None:
    value = get(key)
    if value is None:
        return None
    if not _CHANNEL_ID.fullmatch(value):
        raise ConfigError(
            key,
            "expected a channel ID (C… or G…) like C0123ABCDEF, not a #name "
            f"(channel details show the ID), got {_shown(value)}",
        )
    return value


def _boolean(get: _Get, key: str, default: bool) -> bool:
    value = get(key)
    if value is None:
        return default
    folded = value.casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ConfigError(key, f"expected true or false (also yes/no, 1/0), got {_shown(value)}")


def _parse_duration(key: str, text: str) -> timedelta:
    from playbook.domain.errors import ParseError
    from playbook.domain.parse import parse_duration

    try:
        result = parse_duration(text)
    except ParseError:
        result = None
    if not isinstance(result, timedelta):
        raise ConfigError(key, f"expected a duration like 5m or 1h, got {_shown(text)}")
    return result


def _duration(
    get: _Get,
    key: str,
    default: timedelta,
    *,
    minimum: timedelta | None = None,
) -> timedelta:
    value = get(key)
    if value is None:
        return default
    result = _parse_duration(key, value)
    if minimum is not None and result < minimum:
        raise ConfigError(
            key, f"expected a duration of at least {_human(minimum)}, got {_shown(value)}"
        )
    if result <= timedelta(0):
        raise ConfigError(key, f"expected a duration greater than zero, got {_shown(value)}")
    return result


def _checkins(get: _Get) -> tuple[timedelta, ...]:
    key = "CRISISBOT_CHECKINS"
    value = get(key)
    if value is None:
        return (timedelta(days=1), timedelta(days=7))
    if value.casefold() in _NO_CHECKINS:
        return ()
    found: set[timedelta] = set()
    for item in (part.strip() for part in value.split(",")):
        if not item:
            raise ConfigError(
                key, f"expected comma-separated durations like 1d,7d (or none), got {_shown(value)}"
            )
        try:
            delta = _parse_duration(key, item)
        except ConfigError:
            raise ConfigError(
                key,
                "expected comma-separated durations like 1d,7d (or none), "
                f"got {_shown(item)} in {_shown(value)}",
            ) from None
        if delta <= timedelta(0):
            raise ConfigError(key, f"expected durations greater than zero, got {_shown(item)}")
        found.add(delta)
    return tuple(sorted(found))


def _recurrence_days(get: _Get) -> int:
    value = get("CRISISBOT_RECURRENCE_DAYS")
    if value is None:
        return 90
    try:
        days = int(value)
    except ValueError:
        days = 0
    if days < 1:
        raise ConfigError(
            "CRISISBOT_RECURRENCE_DAYS",
            f"expected a whole number of days, at least 1, like 90, got {_shown(value)}",
        )
    return days


def _whole(get: _Get, key: str, default: int, low: int, high: int) -> int:
    value = get(key)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ConfigError(key, f"expected a whole number from {low} to {high}, like {default}, "
                               f"got {_shown(value)}")
    return number


def _timezone(get: _Get) -> str:
    value = get("CRISISBOT_TIMEZONE")
    if value is None:
        return "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            "CRISISBOT_TIMEZONE",
            f"expected an IANA time zone like UTC or Europe/Paris, got {_shown(value)}",
        ) from None
    return value


_EMOJI_NAME = re.compile(r"[a-z0-9_+'-]{1,100}")


def _capture_reaction(get: _Get) -> str:
    """The emoji whose reaction captures a message onto the timeline, without colons."""
    value = get("CRISISBOT_CAPTURE_REACTION")
    if value is None:
        return "pushpin"
    name = value.strip().strip(":").lower()
    if not _EMOJI_NAME.fullmatch(name):
        raise ConfigError(
            "CRISISBOT_CAPTURE_REACTION",
            f"expected an emoji name like pushpin or :memo:, got {_shown(value)}",
        )
    return name


def _playbook_path(get: _Get) -> str | None:
    value = get("CRISISBOT_PLAYBOOK")
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            "CRISISBOT_PLAYBOOK",
            f"expected the path of a readable playbook file, got {_shown(value)} (no such file)",
        )
    return str(path)


def _log_level(get: _Get) -> str:
    value = get("LOG_LEVEL")
    if value is None:
        return "INFO"
    level = value.upper()
    if level == "WARN":
        level = "WARNING"
    if level not in LOG_LEVELS:
        raise ConfigError(
            "LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}, got {_shown(value)}"
        )
    return level


# --------------------------------------------------------------------------------------------
# Display helpers


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def _mask_token(value: str | None) -> str | None:
    if value is None:
        return None
    prefix = value.split("-", 1)[0] + "-" if "-" in value else ""
    return f"{prefix}…(redacted)"


def _database_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password
    except Exception:
        return None


def _mask_database_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return "(unreadable URL, not shown)"
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


# --------------------------------------------------------------------------------------------
# The playbook file


def read_playbook_file(path: str) -> Playbook:
    """Read and check a playbook file; `PlaybookFileError` (one line, with the place) if bad.

    TOML, or YAML for a `.yaml`/`.yml` file (with PyYAML installed).
    """
    from playbook.domain.playbook_file import PlaybookFileError, parse_playbook

    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as err:
        raise PlaybookFileError(path, f"cannot read the file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise PlaybookFileError(path, f"not UTF-8 text (byte {err.start})") from None
    syntax = "yaml" if Path(path).suffix.lower() in (".yaml", ".yml") else "toml"
    return parse_playbook(text, path, syntax=syntax)


def load_playbook(settings: Settings) -> Playbook:
    """The playbook new incidents open under: CRISISBOT_PLAYBOOK's file, or the built-in one.

    A bad file is a `ConfigError` like any bad setting, so start-up stops with one line naming
    the file, the line and column, and what is wrong.
    """
    from playbook.domain.playbook_file import PlaybookFileError
    from playbook.services.playbooks import builtin_playbook

    if settings.playbook_path is None:
        return builtin_playbook()
    try:
        return read_playbook_file(settings.playbook_path)
    except PlaybookFileError as err:
        raise ConfigError("CRISISBOT_PLAYBOOK", str(err)) from None
