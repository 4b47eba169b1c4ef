"""Log redaction: tokens and the signing secret never reach log output, at any level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.redact import (
    REDACTED,
    RedactingFilter,
    configure_logging,
    install_redaction,
    redact,
    uninstall_redaction,
)

BOT_TOKEN = "xoxb-1111-2222-BoTsEcReTvAlUe"
APP_TOKEN = "xapp-1-A111-3333-ApPsEcReTvAlUe"
USER_TOKEN = "xoxp-4444-5555-UsErSeCrEtVaLuE"
SIGNING_SECRET = "8f3c0d2e9b7a41c6a5e4d3c2b1a09f8e"
VERIFICATION_TOKEN = "LeGaCyVeRiFiCaTiOn42"
SECRET_MARKERS = (
    BOT_TOKEN,
    APP_TOKEN,
    USER_TOKEN,
    SIGNING_SECRET,
    VERIFICATION_TOKEN,
    "BoTsEcReTvAlUe",
    "ApPsEcReTvAlUe",
    "UsErSeCrEtVaLuE",
)


def assert_clean(text: str) -> None:
    for marker in SECRET_MARKERS:
        assert marker not in text, f"{marker!r} leaked into: {text!r}"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        log_level="DEBUG",
    )


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    factory = logging.getLogRecordFactory()
    # A Bolt App built by another test pins its logger's level; these tests log through it.
    pinned = {name: logging.getLogger(name).level for name in
              ("slack_bolt", "slack_bolt.App", "slack_sdk", "slack_sdk.socket_mode")}
    for name in pinned:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    for name, old in pinned.items():
        logging.getLogger(name).setLevel(old)
    uninstall_redaction()
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


def _envelope() -> dict[str, object]:
    """A Socket Mode envelope as slack_sdk logs it at DEBUG."""
    return {
        "envelope_id": "a1b2c3",
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "payload": {
            "token": VERIFICATION_TOKEN,
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event": {
                "type": "reaction_added",
                "user": "U0001",
                "text": f"oops I pasted {BOT_TOKEN} and {SIGNING_SECRET}",
            },
            "authorizations": [{"team_id": "T0001", "user_id": "U0BOT", "is_bot": True}],
        },
    }


# -- redact() ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        BOT_TOKEN,
        APP_TOKEN,
        USER_TOKEN,
        "xoxa-2-abc-DEF",
        "xoxr-1-refresh-XYZ",
        "xoxe.xoxp-1-RoTaTiNg",
        "xoxe-1-ReFrEsH",
    ],
)
def test_redact_tokens_anywhere(token: str) -> None:
    for text in (token, f"Bearer {token}", f"?token={token}&x=1", f'{{"t":"{token}"}}'):
        out = redact(text)
        assert token not in out
        assert REDACTED in out


def test_redact_literal_secrets_and_keeps_the_rest() -> None:
    out = redact(f"sig={SIGNING_SECRET}; team T0001", secrets=[SIGNING_SECRET, ""])
    assert out == f"sig={REDACTED}; team T0001"


@pytest.mark.parametrize(
    "text",
    [
        f'{{"token": "{VERIFICATION_TOKEN}", "team_id": "T1"}}',
        f"{{'token': '{VERIFICATION_TOKEN}', 'team_id': 'T1'}}",
        f"token={VERIFICATION_TOKEN}&team_id=T1",
        f'client_secret="{VERIFICATION_TOKEN}"',
        f"signing_secret: {VERIFICATION_TOKEN}",
    ],
)
def test_redact_credential_fields(text: str) -> None:
    out = redact(text)
    assert VERIFICATION_TOKEN not in out
    assert "T1" in out or "team_id" not in text


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "token_rotation_enabled: false; tokens_revoked; 'token': None; xoxb- prefix"
    assert redact(text) == text


def test_redact_is_idempotent() -> None:
    once = redact(f"token={BOT_TOKEN} {SIGNING_SECRET}", [SIGNING_SECRET])
    assert redact(once, [SIGNING_SECRET]) == once


# -- the filter ----------------------------------------------------------------------------------


def _record(msg: object, args: object = None, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("slack_sdk", logging.DEBUG, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


def test_filter_formats_then_redacts_then_clears_args() -> None:
    record = _record("sending %s with %r", (BOT_TOKEN, {"secret": SIGNING_SECRET}))
    assert RedactingFilter([SIGNING_SECRET]).filter(record) is True
    assert record.args is None
    assert record.msg.startswith(f"sending {REDACTED} with ")
    assert_clean(record.getMessage())


def test_filter_handles_non_string_messages_and_bad_args() -> None:
    record = _record({"token": VERIFICATION_TOKEN, "bot": BOT_TOKEN})
    RedactingFilter().filter(record)
    assert_clean(record.getMessage())

    bad = _record("two %s %s", (BOT_TOKEN,))  # too few args: still logged, still redacted
    RedactingFilter().filter(bad)
    assert_clean(bad.getMessage())
    assert "two" in bad.getMessage()


def test_filter_redacts_exception_text() -> None:
    try:
        raise RuntimeError(f"invalid_auth for {BOT_TOKEN} / {SIGNING_SECRET}")
    except RuntimeError:
        import sys

        record = _record("call failed", exc_info=sys.exc_info())
    RedactingFilter([SIGNING_SECRET]).filter(record)
    assert record.exc_info is None
    assert "RuntimeError: invalid_auth for" in record.exc_text
    assert_clean(record.exc_text)
    assert_clean(logging.Formatter().format(record))


# -- wired into logging --------------------------------------------------------------------------


def test_socket_mode_debug_envelope_and_exception_are_redacted(settings: Settings) -> None:
    out = io.StringIO()
    configure_logging(settings, stream=out)
    assert logging.getLogger().level == logging.DEBUG

    log = logging.getLogger("slack_sdk.socket_mode")
    envelope = _envelope()
    # The shapes slack_sdk and slack_bolt use: f-strings, %-args, raw objects.
    log.debug(f"on_message invoked: (message: {json.dumps(envelope)})")
    log.debug("Received message: %s", envelope)
    log.debug(envelope)
    logging.getLogger("slack_sdk.socket_mode.builtin.client").debug(
        "Sending a message: %s (session id: s-1)",
        json.dumps({"envelope_id": "a1", "token": APP_TOKEN}),
    )
    logging.getLogger("slack_bolt.App").debug("Authorization: Bearer %s", BOT_TOKEN)
    try:
        raise ConnectionError(f"Failed to connect with {APP_TOKEN}; secret {SIGNING_SECRET}")
    except ConnectionError:
        log.exception("Failed to establish a connection")

    text = out.getvalue()
    assert_clean(text)
    assert "on_message invoked" in text
    assert "Received message" in text
    assert "slack_sdk.socket_mode" in text
    assert "Traceback (most recent call last)" in text
    assert "ConnectionError: Failed to connect with [redacted]; secret [redacted]" in text
    assert "Bearer [redacted]" in text


def test_handlers_added_later_are_covered(settings: Settings) -> None:
    install_redaction(settings)
    later = io.StringIO()
    handler = logging.StreamHandler(later)
    logger = logging.getLogger("slack_sdk.web.base_client")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("body_params: %s", {"token": BOT_TOKEN, "secret": SIGNING_SECRET})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert_clean(later.getvalue())
    assert REDACTED in later.getvalue()


def test_existing_root_handlers_get_the_filter(settings: Settings) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    root.addHandler(handler)
    install_redaction(settings)
    # A record that did not come through the record factory (e.g. from a socket/queue
    # listener) is still filtered by the handler.
    handler.handle(logging.makeLogRecord({"msg": f"late {APP_TOKEN}", "levelno": 10}))
    assert_clean(out.getvalue())
    assert "late [redacted]" in out.getvalue()


def test_caplog_sees_redacted_records(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    install_redaction(settings)
    with caplog.at_level(logging.DEBUG, logger="slack_bolt"):
        logging.getLogger("slack_bolt.App").debug("token %s / %s", BOT_TOKEN, SIGNING_SECRET)
    assert_clean(caplog.text)
    assert "token [redacted] / [redacted]" in caplog.text


def test_configure_logging_twice_keeps_one_handler(settings: Settings) -> None:
    before = len(logging.getLogger().handlers)
    configure_logging(settings, stream=io.StringIO())
    configure_logging(settings, stream=io.StringIO())
    assert len(logging.getLogger().handlers) == before + 1
    install_redaction(settings)
    factory = logging.getLogRecordFactory()
    install_redaction(settings)
    assert logging.getLogRecordFactory() is factory  # not wrapped twice


def test_configure_logging_level_from_settings() -> None:
    configure_logging(Settings(log_level="WARNING"), stream=io.StringIO())
    assert logging.getLogger().level == logging.WARNING


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_waitress_queue_depth_lines_are_left_out_unless_debugging(level: str,
                                                                  shown: bool) -> None:
    """A burst of requests made waitress warn "Task queue depth is N" dozens of times."""
    out = io.StringIO()
    configure_logging(Settings(log_level=level), stream=out)
    try:
        logging.getLogger("waitress.queue").warning("Task queue depth is %d", 7)
        logging.getLogger("waitress").error("Socket error")
    finally:
        configure_logging(Settings(log_level="INFO"), stream=io.StringIO())
    assert ("Task queue depth is 7" in out.getvalue()) is shown
    assert "Socket error" in out.getvalue(), "waitress's other warnings and errors still show"


def test_uninstall_restores_the_record_factory(settings: Settings) -> None:
    original = logging.getLogRecordFactory()
    install_redaction(settings)
    assert logging.getLogRecordFactory() is not original
    uninstall_redaction()
    assert logging.getLogRecordFactory() is original
