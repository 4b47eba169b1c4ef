"""Reading one setting: each parser takes the environment's getter and returns the checked,
typed value (or the setting's default when the key is unset), or raises `ConfigError`.

`bot.config.load_settings` calls one parser per key. An error names the key and what is
expected; a value is quoted back only through `shown`, which masks secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.redact import redact
from playbook.domain import parse as typed_text
from playbook.domain.errors import ParseError

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


Get = Callable[[str], str | None]


def shown(value: str, limit: int = 60) -> str:
    """A user's value quoted for an error message: secrets masked, one line, not too long."""
    value = redact(value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return repr(value)


def token(get: Get, key: str, prefix: str, what: str) -> str | None:
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


def signing_secret(get: Get) -> str | None:
    value = get("SLACK_SIGNING_SECRET")
    if value is not None and any(ch.isspace() for ch in value):
        raise ConfigError(
            "SLACK_SIGNING_SECRET",
            "expected the Signing Secret from Basic Information, with no spaces (value not shown)",
        )
    return value


def api_url(get: Get) -> str:
    value = get("SLACK_API_URL")
    if value is None:
        return DEFAULT_API_URL
    expected = "expected an http(s) URL like https://slack.com/api/"
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ConfigError("SLACK_API_URL", f"{expected}, got an unreadable URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("SLACK_API_URL", f"{expected}, got {shown(value)}")
    if parts.query or parts.fragment:
        raise ConfigError("SLACK_API_URL", f"{expected} without ?query or #fragment")
    return value if value.endswith("/") else value + "/"


def database_url(get: Get) -> str:
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


def port(get: Get) -> int:
    value = get("PORT")
    if value is None:
        return 3000
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ConfigError("PORT", f"expected a port number from 1 to 65535, got {shown(value)}")
    return port


def _split_list(value: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", value) if item]


def member_ids(get: Get, key: str) -> tuple[str, ...]:
    value = get(key)
    if value is None:
        return ()
    ids: list[str] = []
    for item in _split_list(value):
        if not _MEMBER_ID.fullmatch(item):
            raise ConfigError(
                key,
                "expected comma-separated Slack user IDs (U… or W…) and user-group IDs (S…), "
                f"like U012AB3CD,S0614TZR7, got {shown(item)}",
            )
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def channel_id(get: Get, key: str) -> str | None:
    value = get(key)
    if value is None:
        return None
    if not _CHANNEL_ID.fullmatch(value):
        raise ConfigError(
            key,
            "expected a channel ID (C… or G…) like C0123ABCDEF, not a #name "
            f"(channel details show the ID), got {shown(value)}",
        )
    return value


def boolean(get: Get, key: str, default: bool) -> bool:
    value = get(key)
    if value is None:
        return default
    folded = value.casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ConfigError(key, f"expected true or false (also yes/no, 1/0), got {shown(value)}")


def _parse_duration(key: str, text: str) -> timedelta:
    try:
        result = typed_text.parse_duration(text)
    except ParseError:
        result = None
    if not isinstance(result, timedelta):
        raise ConfigError(key, f"expected a duration like 5m or 1h, got {shown(text)}")
    return result


def duration(
    get: Get,
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
            key, f"expected a duration of at least {_human(minimum)}, got {shown(value)}"
        )
    if result <= timedelta(0):
        raise ConfigError(key, f"expected a duration greater than zero, got {shown(value)}")
    return result


def leader_call(get: Get) -> timedelta | None:
    """CRISISBOT_LEADER_CALL: within how long a lead calls the customer at the top severity;
    ``off`` (or none/0) asks for no call. Default 30m."""
    key = "CRISISBOT_LEADER_CALL"
    value = get(key)
    if value is None:
        return timedelta(minutes=30)
    if value.strip().casefold() in ("off", "none", "no", "0", "false"):
        return None
    return duration(get, key, timedelta(minutes=30), minimum=timedelta(minutes=1))


def checkins(get: Get) -> tuple[timedelta, ...]:
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
                key, f"expected comma-separated durations like 1d,7d (or none), got {shown(value)}"
            )
        try:
            delta = _parse_duration(key, item)
        except ConfigError:
            raise ConfigError(
                key,
                "expected comma-separated durations like 1d,7d (or none), "
                f"got {shown(item)} in {shown(value)}",
            ) from None
        if delta <= timedelta(0):
            raise ConfigError(key, f"expected durations greater than zero, got {shown(item)}")
        found.add(delta)
    return tuple(sorted(found))


def recurrence_days(get: Get) -> int:
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
            f"expected a whole number of days, at least 1, like 90, got {shown(value)}",
        )
    return days


def whole(get: Get, key: str, default: int, low: int, high: int) -> int:
    value = get(key)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ConfigError(key, f"expected a whole number from {low} to {high}, like {default}, "
                               f"got {shown(value)}")
    return number


def timezone(get: Get) -> str:
    value = get("CRISISBOT_TIMEZONE")
    if value is None:
        return "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            "CRISISBOT_TIMEZONE",
            f"expected an IANA time zone like UTC or Europe/Paris, got {shown(value)}",
        ) from None
    return value


_EMOJI_NAME = re.compile(r"[a-z0-9_+'-]{1,100}")


def capture_reaction(get: Get) -> str:
    """The emoji whose reaction captures a message onto the timeline, without colons."""
    value = get("CRISISBOT_CAPTURE_REACTION")
    if value is None:
        return "pushpin"
    name = value.strip().strip(":").lower()
    if not _EMOJI_NAME.fullmatch(name):
        raise ConfigError(
            "CRISISBOT_CAPTURE_REACTION",
            f"expected an emoji name like pushpin or :memo:, got {shown(value)}",
        )
    return name


def playbook_path(get: Get) -> str | None:
    value = get("CRISISBOT_PLAYBOOK")
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            "CRISISBOT_PLAYBOOK",
            f"expected the path of a readable playbook file, got {shown(value)} (no such file)",
        )
    return str(path)


def log_level(get: Get) -> str:
    value = get("LOG_LEVEL")
    if value is None:
        return "INFO"
    level = value.upper()
    if level == "WARN":
        level = "WARNING"
    if level not in LOG_LEVELS:
        raise ConfigError(
            "LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}, got {shown(value)}"
        )
    return level


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


# --------------------------------------------------------------------------------------------
# Email to customers


def smtp_url(get: Get) -> str | None:
    """`CRISISBOT_SMTP_URL`, checked by the parser the outbox uses (never quoted: it may hold
    the password)."""
    from bot.email.smtp import parse_smtp_url

    value = get("CRISISBOT_SMTP_URL")
    if value is None:
        return None
    try:
        parse_smtp_url(value)
    except ValueError as err:
        raise ConfigError("CRISISBOT_SMTP_URL", f"{err} (value not shown)") from None
    return value


def email_from(get: Get) -> str | None:
    """`CRISISBOT_EMAIL_FROM`: ``Name <address>`` or a bare address, checked like the
    customer's (`playbook.domain.mail.check_address`)."""
    from email.utils import getaddresses

    from playbook.domain.mail import check_address

    value = get("CRISISBOT_EMAIL_FROM")
    if value is None:
        return None
    expected = "expected a sender like Acme Support <support@acme.example>"
    found = getaddresses([value])
    if len(found) != 1 or not found[0][1] or "@" not in found[0][1]:
        raise ConfigError("CRISISBOT_EMAIL_FROM", f"{expected}, got {shown(value)}")
    try:
        check_address(found[0][1])
    except ParseError as err:
        raise ConfigError("CRISISBOT_EMAIL_FROM",
                          f"{expected}: {typed_text_plain(err.message)}") from None
    return value


def inbound_secret(get: Get) -> str | None:
    value = get("CRISISBOT_INBOUND_SECRET")
    if value is None:
        return None
    if len(value) < 16 or any(ch.isspace() for ch in value):
        raise ConfigError("CRISISBOT_INBOUND_SECRET", "expected a random secret of at least 16 "
                          "characters with no spaces, e.g. from `openssl rand -hex 32` "
                          "(value not shown)")
    return value


def typed_text_plain(mrkdwn: str) -> str:
    """A refusal written for Slack, as one plain line (backticks and entities gone)."""
    return mrkdwn.replace("`", "").replace("&lt;", "<").replace("&gt;", ">") \
        .replace("&amp;", "&")


# The bot scopes of manifest.yml / manifest.http.yml (tests/unit/test_oauth.py keeps them in
# step): what an OAuth install asks for unless SLACK_SCOPES says otherwise.
MANIFEST_BOT_SCOPES = (
    "commands", "chat:write", "channels:manage", "groups:write", "pins:write", "users:read",
    "usergroups:read", "files:write", "im:write", "reactions:read", "pins:read",
    "channels:history", "groups:history", "channels:read", "groups:read", "bookmarks:read",
    "bookmarks:write",
)
_SCOPE = re.compile(r"^[a-z][a-z0-9_.]*(:[a-z0-9_.]+)*$")


def scopes(get: Get) -> tuple[str, ...]:
    """SLACK_SCOPES: comma-separated bot scopes asked for at install (default: the manifest's)."""
    raw = get("SLACK_SCOPES")
    if raw is None:
        return MANIFEST_BOT_SCOPES
    found = tuple(s for s in _split_list(raw) if s)
    bad = [s for s in found if not _SCOPE.match(s)]
    if not found or bad:
        raise ConfigError("SLACK_SCOPES", "expected comma-separated Slack scopes such as "
                          f"chat:write,commands; got {shown(raw)}")
    return found


_CLIENT_ID = re.compile(r"^\d+\.\d+$")


def client_credentials(get: Get) -> tuple[str | None, str | None]:
    """SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (Basic Information → App Credentials): both or
    neither. The secret is never shown."""
    client_id, secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
    if client_id is not None and not _CLIENT_ID.match(client_id):
        raise ConfigError("SLACK_CLIENT_ID", "expected the Client ID from Basic Information, "
                          f"digits.digits like 1234567890.1234567890; got {shown(client_id)}")
    if secret is not None and (any(ch.isspace() for ch in secret) or len(secret) < 8
                               or secret.lower().startswith("your")):
        raise ConfigError("SLACK_CLIENT_SECRET", "expected the Client Secret from Basic "
                          "Information, with no spaces (value not shown)")
    if (client_id is None) != (secret is None):
        missing = "SLACK_CLIENT_SECRET" if secret is None else "SLACK_CLIENT_ID"
        raise ConfigError(missing, "set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to install "
                          "by OAuth into several workspaces, or neither")
    return client_id, secret
