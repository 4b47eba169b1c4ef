"""`crisisbot run`: connect to Slack and serve it, over HTTP or in Socket Mode, until stopped."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from urllib.error import URLError

from alembic.script import ScriptDirectory
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from bot import schema
from bot.cli.errors import database_errors, reason
from bot.config import Settings
from bot.runtime import Runtime
from bot.settings_parse import ConfigError

log = logging.getLogger("crisisbot")


def run(settings: Settings, *, http: bool, port: int | None, migrate: bool,
        metrics_port: int | None = None) -> int:
    if not http and not settings.slack_app_token:
        print("crisisbot: choose how Slack reaches the bot: set SLACK_APP_TOKEN (xapp-…) for "
              "Socket Mode, or run `crisisbot run --http` behind a public URL.", file=sys.stderr)
        return 2
    settings.require_for_run(http=http)
    runtime = _build_runtime(settings, migrate=migrate)
    runtime.start_background()
    metrics_server = None
    try:
        if metrics_port is not None:
            try:
                metrics_server = runtime.metrics_server(metrics_port)
            except OSError as err:
                raise ConfigError("--metrics-port", f"could not listen on port {metrics_port}"
                                  f": {err.strerror or err}") from None
            log.info("serving metrics on :%d/metrics", metrics_port)
        if http:
            chosen = port or settings.port
            try:
                server = runtime.http_server(chosen, workers=settings.http_workers)
            except OSError as err:  # e.g. the port is taken
                raise ConfigError("PORT", f"could not listen on port {chosen}: "
                                  f"{err.strerror or err}") from None
            signal.signal(signal.SIGTERM, lambda *_: server.close())
            log.info("serving Slack requests on :%d/slack/events (health: /healthz)", chosen)
            with contextlib.suppress(KeyboardInterrupt, OSError):
                server.run()
        else:
            assert settings.slack_app_token is not None
            _socket_mode(runtime, settings.slack_app_token)
    except KeyboardInterrupt:
        pass
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
        runtime.stop()
    return 0


def _check_migrated(settings: Settings) -> None:
    """With --no-migrate the schema must already be at the code's head revision."""
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    if settings.log_level != "DEBUG":  # a check, not a migration: keep its INFO chatter out
        alembic_log.setLevel(logging.WARNING)
    try:
        with database_errors(settings):
            current = schema.current_revision(settings.database_url)
        config = schema.alembic_config(settings.database_url)
        heads = ScriptDirectory.from_config(config).get_heads()
    finally:
        alembic_log.setLevel(level)
    if current not in heads:
        state = "has no schema yet" if current is None else f"is at revision {current}"
        raise ConfigError("DATABASE_URL", f"the database {state}, this version needs "
                          f"{', '.join(heads)}: run `crisisbot db upgrade` (or start without "
                          "--no-migrate)")


def _build_runtime(settings: Settings, *, migrate: bool) -> Runtime:
    """The Runtime, connected to Slack (auth.test); start-up failures become one line."""
    if not migrate:
        _check_migrated(settings)
    with database_errors(settings):
        try:
            runtime = Runtime.build(settings, migrate=migrate)
            if settings.multi_workspace:  # no token of our own: each install brings one
                log.info("serving every workspace that installs the app at /slack/install")
                return runtime
            auth = runtime.client.auth_test()
        except (BoltError, SlackApiError) as err:
            raise ConfigError("SLACK_BOT_TOKEN", "Slack did not accept the bot token: "
                              f"{reason(err, settings)}") from None
        except (URLError, ConnectionError, TimeoutError) as err:
            raise ConfigError("SLACK_API_URL", f"could not reach Slack at {settings.slack_api_url}"
                              f": {reason(err, settings)}") from None
    log.info("connected to Slack as %s in %s", auth.get("user"), auth.get("team"))
    return runtime


def _socket_mode(runtime: Runtime, app_token: str) -> None:
    """Connect in Socket Mode and serve until SIGTERM or SIGINT, then disconnect cleanly.

    Bolt's `SocketModeHandler.start()` blocks forever and leaves SIGTERM to its default (the
    process dies without stopping the worker and scheduler), so connect and wait here instead.
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    handler = runtime.socket_handler(app_token)
    log.info("connecting to Slack in Socket Mode")
    try:
        handler.connect()
    except SlackApiError as err:  # apps.connections.open refused the app-level token
        raise ConfigError("SLACK_APP_TOKEN", "Slack did not open a Socket Mode connection: "
                          f"{err.response.get('error', 'error')} (expected an app-level token "
                          "with connections:write)") from None
    try:
        while not stop.wait(0.5):
            pass
        log.info("stopping: closing the Socket Mode connection")
    finally:
        handler.client.auto_reconnect_enabled = False
        handler.close()
