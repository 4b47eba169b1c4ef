"""How the commands report what stops them: one line on standard error, never a traceback and
never a secret."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bot.config import Settings
from bot.redact import redact
from bot.settings_parse import ConfigError
from playbook.domain.text import unescape


def plain_text(mrkdwn: str) -> str:
    """A refusal written for Slack, readable in a terminal."""
    return unescape(mrkdwn.replace("`", "").replace("*", ""))


@contextlib.contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """A database that cannot be reached stops the program with one line, not a traceback."""
    from sqlalchemy.exc import OperationalError  # not loaded for commands without a database

    try:
        yield
    except OperationalError as err:
        raise ConfigError("DATABASE_URL", f"could not use the database: {reason(err, settings)}"
                          ) from None


def reason(err: BaseException, settings: Settings) -> str:
    """The first line of an error's own message (its driver's, for SQLAlchemy), no secrets."""
    cause = getattr(err, "orig", None) or err
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return redact(lines[0], settings.secrets)
