"""Keep Slack credentials out of logs, at every level.

slack_sdk's Socket Mode client logs whole envelopes at DEBUG, and exceptions can carry request
bodies, so redaction is applied to the finished text of every log record (message and traceback),
not to the arguments we think of:

- Slack tokens: ``xoxb-``, ``xoxp-``, ``xoxa-``, ``xoxr-`` (and rotating ``xoxe``) and
  app-level ``xapp-`` tokens, wherever they appear;
- the values of credential-looking fields (``"token": "..."``, ``client_secret=...``): the
  legacy verification token in event envelopes has no recognisable shape;
- the password in a URL (``smtp://user:password@host``, a database URL), wherever it appears;
- any literal secret we were given (the signing secret, the database and SMTP passwords,
  the inbound email secret).

Each is replaced by ``[redacted]``.

`configure_logging(settings)` is what the program calls at start: root level from
``LOG_LEVEL``, one stderr handler, redaction installed. `install_redaction(settings)` alone adds
redaction to whatever handlers exist, and to every record created from then on (through the log
record factory), so handlers added later and records from ``slack_sdk``/``slack_bolt`` loggers
are covered too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import IO, Any

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "configure_logging",
    "install_redaction",
    "redact",
]

REDACTED = "[redacted]"

# Slack tokens. `xoxe.xoxp-…` is a rotating access token, `xoxe-…` a refresh token.
_TOKEN_RE = re.compile(r"(?:xox[abeprs](?:\.xox[abp])?|xapp)-[A-Za-z0-9-]+")
# Credential-looking fields in JSON, Python reprs, query strings and `key=value` text.
_FIELD_RE = re.compile(
    r"""(?P<key>["']?\b(?:token|[A-Za-z_]*_token|[A-Za-z_]*secret|[A-Za-z_]*password)["']?"""
    r"""\s*[:=]\s*)"""
    r"""(?P<quote>["']?)(?P<value>(?!\[redacted\]|None\b|null\b)[^"'\s,&;}\]]+)"""
)
# user:password@ in any URL (smtp://, smtps://, postgresql+psycopg://, ...)
_URL_PASSWORD_RE = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Marks objects this module installed, so installing twice replaces rather than stacks.
_MARK = "_crisisbot_redaction"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with Slack tokens, credential fields and the given literal secrets redacted."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _TOKEN_RE.sub(REDACTED, text)
    text = _URL_PASSWORD_RE.sub(lambda m: f"{m['head']}{REDACTED}", text)
    return _FIELD_RE.sub(lambda m: f"{m['key']}{m['quote']}{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """A filter that rewrites each record so no secret survives into any handler's output.

    The message is formatted first (``msg % args``), redacted, and stored back with
    ``args=None``; an exception's traceback text and the stack info are redacted the same way
    (the live exception is dropped from the record, so no formatter can render it raw).
    The filter never drops a record.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A bad format string or args: keep both, as text, rather than lose the record.
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = _formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_formatter = logging.Formatter()
# The one filter shared by the record factory and the handlers we decorate.
_shared_filter = RedactingFilter()


def _secrets_of(settings: Any) -> tuple[str, ...]:
    if settings is None:
        return ()
    found = getattr(settings, "secrets", None)
    if found is not None:
        return tuple(found)
    names = ("slack_bot_token", "slack_app_token", "slack_signing_secret", "inbound_secret")
    return tuple(v for v in (getattr(settings, n, None) for n in names) if v)


def install_redaction(settings: Any = None, *, extra_secrets: Iterable[str] = ()) -> None:
    """Redact every log record from now on, whatever logger or handler it goes through.

    Attaches the redacting filter to every handler of the root logger (records from
    ``slack_sdk``/``slack_bolt`` loggers propagate to those), and wraps the log record factory
    so records are also redacted as they are created, which covers handlers added later.
    Calling it again updates the secrets; it never stacks filters.
    """
    _shared_filter.secrets = tuple(
        dict.fromkeys(s for s in (*_secrets_of(settings), *extra_secrets) if s)
    )
    for handler in logging.getLogger().handlers:
        if _shared_filter not in handler.filters:
            handler.addFilter(_shared_filter)

    current = logging.getLogRecordFactory()
    if getattr(current, _MARK, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _shared_filter.filter(record)
        return record

    setattr(factory, _MARK, True)
    factory.wrapped = current  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def uninstall_redaction() -> None:
    """Undo `install_redaction` (for tests): restore the record factory, detach the filter."""
    current = logging.getLogRecordFactory()
    if getattr(current, _MARK, False):
        logging.setLogRecordFactory(current.wrapped)  # type: ignore[attr-defined]
    for handler in logging.getLogger().handlers:
        handler.removeFilter(_shared_filter)
    _shared_filter.secrets = ()


def configure_logging(settings: Any = None, *, stream: IO[str] | None = None) -> logging.Handler:
    """Set up logging for the program: level from ``settings.log_level``, one stream handler
    (stderr by default) with a timestamped format, and redaction installed.

    Calling it again replaces the handler it installed before instead of adding a second one.
    Returns the handler.
    """
    root = logging.getLogger()
    level = getattr(settings, "log_level", None) or "INFO"
    root.setLevel(level)
    # Alembic narrates every plugin it loads at INFO; keep start-up quiet unless debugging.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    # waitress warns "Task queue depth is N" each time a request waits for a thread: dozens of
    # lines in every burst, which the intake (bot/intake.py) is there to absorb. The ack
    # histogram and the intake's counters (GET /metrics) say how bursts went; debug shows them.
    logging.getLogger("waitress.queue").setLevel(
        logging.DEBUG if level == "DEBUG" else logging.ERROR)
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    install_redaction(settings)
    return handler
