"""Settings from the environment (and a `.env` in the working directory).

`load_settings()` reads every key documented in .env.example, checks it and returns a
frozen `Settings`. Anything missing or malformed raises `ConfigError` (`bot.settings_parse`, which
reads each value), whose text is one line naming the key and what is expected, so start-up can
print it and stop. Secrets never appear in
an error, in `repr(settings)` or in `settings.redacted()`.

Which keys a run needs depends on the mode (Socket Mode or HTTP), so that check is separate:
`settings.require_for_run(http=...)`. Commands that do not talk to Slack (`db upgrade`, `report`,
`stats`, `demo`, `playbook`) never call it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot import settings_parse as parse
from bot.settings_parse import DEFAULT_API_URL, DEFAULT_DATABASE_URL, ConfigError
from playbook.domain.playbook_file import Playbook, PlaybookFileError, parse_playbook
from playbook.services.builtin import builtin_playbook

__all__ = [
    "Settings",
    "load_playbook",
    "load_settings",
    "read_playbook_file",
]


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
    leader_call: timedelta | None = timedelta(minutes=30)  # top severity; None: off
    checkins: tuple[timedelta, ...] = (timedelta(days=1), timedelta(days=7))
    stale_after: timedelta = timedelta(days=2)
    stale_resolved: timedelta = timedelta(days=3)
    recurrence_days: int = 90
    # finished outbox rows and handled event ids older than this are pruned (bot/scheduler.py)
    retention: timedelta = timedelta(days=30)
    timezone: str = "UTC"
    playbook_path: str | None = None
    log_level: str = "INFO"
    capture_reaction: str = "pushpin"
    outbox_threads: int = 4
    # `crisisbot run` starts this many outbox children (bot/outbox/processes.py); the sandbox
    # (demo, tests) sets 0: its worker shares the test clock, which children could not
    outbox_processes: int = 1
    # `crisisbot run --http` serves with this many processes on one socket (bot/http_workers.py)
    http_workers: int = 2
    # with this many Slack requests in a process at once (being answered or waiting for a
    # server thread, the new one counted), an `/incident open` is recorded raw and opened a
    # moment later (bot/intake.py); 0: never
    intake_after: int = 4
    # email to customers: the SMTP server (the URL may hold a password), the sender, and the
    # HMAC key of POST /email/inbound (unset: the endpoint answers 404)
    smtp_url: str | None = None
    email_from: str | None = None
    inbound_secret: str | None = None
    # OAuth install for many workspaces (bot/slack/oauth.py): both set and no bot token
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_scopes: tuple[str, ...] = parse.MANIFEST_BOT_SCOPES

    # -- derived, read-only ------------------------------------------------------------------

    @property
    def socket_mode(self) -> bool:
        """True when an app-level token is set (``crisisbot run`` then uses Socket Mode)."""
        return self.slack_app_token is not None

    @property
    def email_enabled(self) -> bool:
        """`send` may email customers: an SMTP server and a sender are set."""
        return self.smtp_url is not None and self.email_from is not None

    @property
    def multi_workspace(self) -> bool:
        """True when the app installs by OAuth into many workspaces (client id and secret
        set, no single bot token): tokens then come from the installations table."""
        return bool(self.slack_client_id and self.slack_client_secret
                    and not self.slack_bot_token)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The literal secret values held here (for log redaction); empty ones left out."""
        values = [self.slack_bot_token, self.slack_app_token, self.slack_signing_secret,
                  self.inbound_secret, _smtp_password(self.smtp_url),
                  self.slack_client_secret]
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
        if self.slack_bot_token is None and not (http and self.multi_workspace):
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
            elif f.name in ("slack_signing_secret", "inbound_secret", "slack_client_secret"):
                value = None if value is None else "…(redacted)"
            elif f.name == "smtp_url":
                value = _mask_smtp_url(value)
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

    client_id, client_secret = parse.client_credentials(get)
    settings = Settings(
        slack_bot_token=parse.token(get, "SLACK_BOT_TOKEN", "xoxb-", "a bot token"),
        slack_signing_secret=parse.signing_secret(get),
        slack_app_token=parse.token(get, "SLACK_APP_TOKEN", "xapp-", "an app-level token"),
        slack_api_url=parse.api_url(get),
        database_url=parse.database_url(get),
        port=parse.port(get),
        leads=parse.member_ids(get, "CRISISBOT_LEADS"),
        leads_channel=parse.channel_id(get, "CRISISBOT_LEADS_CHANNEL"),
        responders=parse.member_ids(get, "CRISISBOT_RESPONDERS"),
        private_channels=parse.boolean(get, "CRISISBOT_PRIVATE_CHANNELS", False),
        nudge_before=parse.duration(get, "CRISISBOT_NUDGE_BEFORE", timedelta(minutes=5)),
        escalate_after=parse.duration(get, "CRISISBOT_ESCALATE_AFTER", timedelta(minutes=15)),
        escalate_repeat=parse.duration(
            get, "CRISISBOT_ESCALATE_REPEAT", timedelta(minutes=30), minimum=timedelta(minutes=1)
        ),
        leader_call=parse.leader_call(get),
        checkins=parse.checkins(get),
        stale_after=parse.duration(get, "CRISISBOT_STALE_AFTER", timedelta(days=2),
                                   minimum=timedelta(hours=1)),
        stale_resolved=parse.duration(get, "CRISISBOT_STALE_RESOLVED", timedelta(days=3),
                                      minimum=timedelta(hours=1)),
        recurrence_days=parse.recurrence_days(get),
        retention=parse.duration(get, "CRISISBOT_RETENTION", timedelta(days=30),
                                 minimum=timedelta(hours=1)),
        timezone=parse.timezone(get),
        playbook_path=parse.playbook_path(get),
        log_level=parse.log_level(get),
        capture_reaction=parse.capture_reaction(get),
        outbox_threads=parse.whole(get, "CRISISBOT_OUTBOX_THREADS", 4, 1, 64),
        outbox_processes=parse.whole(get, "CRISISBOT_OUTBOX_PROCESSES", 1, 0, 16),
        http_workers=parse.whole(get, "CRISISBOT_HTTP_WORKERS", 2, 1, 16),
        intake_after=parse.whole(get, "CRISISBOT_INTAKE_AFTER", 4, 0, 64),
        smtp_url=parse.smtp_url(get),
        email_from=parse.email_from(get),
        inbound_secret=parse.inbound_secret(get),
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        slack_scopes=parse.scopes(get),
    )
    if settings.smtp_url is not None and settings.email_from is None:
        raise ConfigError("CRISISBOT_EMAIL_FROM", "required with CRISISBOT_SMTP_URL; expected "
                          "the sender customers see, like Acme Support <support@acme.example>")
    return settings


def _load_dotenv_from_cwd() -> None:
    # Import here so `bot.config` stays importable (e.g. by tools) without touching the disk.
    from dotenv import find_dotenv, load_dotenv

    # usecwd=True: search from the working directory, not from this file (site-packages once
    # installed). override=False: a real environment variable always wins over .env.
    path = find_dotenv(usecwd=True)
    if path:
        load_dotenv(path, override=False)


# --------------------------------------------------------------------------------------------
# Display helpers


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


def _smtp_password(url: str | None) -> str | None:
    from urllib.parse import unquote, urlsplit

    if not url:
        return None
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _mask_smtp_url(url: str | None) -> str | None:
    from urllib.parse import urlsplit

    if url is None:
        return None
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "(unreadable URL, not shown)"
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


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
    if settings.playbook_path is None:
        return builtin_playbook()
    try:
        return read_playbook_file(settings.playbook_path)
    except PlaybookFileError as err:
        raise ConfigError("CRISISBOT_PLAYBOOK", str(err)) from None
