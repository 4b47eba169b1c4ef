"""`crisisbot`: run the bot, migrate the database, and the commands that need no Slack."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from bot.config import ConfigError, Settings, load_settings
from playbook.domain.errors import PlaybookError

log = logging.getLogger("crisisbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crisisbot", description=(
        "A Slack bot that walks a team through a customer-crisis playbook."))
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (Socket Mode with SLACK_APP_TOKEN, or --http)")
    run.add_argument("--http", action="store_true", help="serve Slack's HTTP requests")
    run.add_argument("--port", type=int, help="HTTP port (beats PORT; default 3000)")
    run.add_argument("--no-migrate", action="store_true",
                     help="don't apply pending database migrations on start")
    dbp = sub.add_parser("db", help="database maintenance")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="apply pending migrations")
    sub.add_parser("demo", help="a scripted incident against a local Slack; no workspace needed")
    rep = sub.add_parser("report", help="an incident's summary as Markdown or JSON")
    rep.add_argument("incident", metavar="INC-N", help="the incident, e.g. INC-3")
    rep.add_argument("--format", choices=("md", "json"), default="md")
    rep.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    rep.add_argument("--team", metavar="T", help="workspace id, when several share a database")
    rep.add_argument("--chart", metavar="FILE",
                     help="also write the cadence chart as a PNG (needs the [chart] extra)")
    st = sub.add_parser("stats", help="figures for leads across incidents")
    st.add_argument("--since", default="30d", help="7d, 30d (default) or 90d")
    st.add_argument("--team", metavar="T", help="only this workspace")
    pb = sub.add_parser("playbook", help="check a playbook file, or print the one in force")
    pbsub = pb.add_subparsers(dest="playbook_command", required=True)
    check = pbsub.add_parser("check", help="validate a playbook file (exit 1 if it is bad)")
    check.add_argument("file", metavar="FILE", help="the TOML playbook file")
    pbsub.add_parser("show", help="print the playbook in force (CRISISBOT_PLAYBOOK or the "
                                  "built-in one) as a file you can copy and edit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as err:
        print(f"crisisbot: {err}", file=sys.stderr)
        return 2
    from bot.redact import configure_logging

    configure_logging(settings)
    try:
        if args.command == "db":
            return _db_upgrade(settings)
        if args.command == "run":
            return _run(settings, http=args.http, port=args.port, migrate=not args.no_migrate)
        if args.command == "playbook":
            from bot.cli import playbook as playbook_cli

            if args.playbook_command == "check":
                return playbook_cli.check(args.file)
            return playbook_cli.show(settings)
        if args.command == "demo":
            from bot.cli.demo import run_demo

            return run_demo()
        if args.command in ("report", "stats"):
            from bot.cli import report as reports

            with _database_errors(settings):
                if args.command == "report":
                    return reports.report(settings, args.incident, fmt=args.format,
                                          out=args.out, team=args.team, chart_out=args.chart)
                return reports.print_stats(settings, period=args.since, team=args.team)
    except ConfigError as err:
        print(f"crisisbot: {err}", file=sys.stderr)
        return 2
    except PlaybookError as err:
        print(f"crisisbot: {_plain_text(err.message)}", file=sys.stderr)
        return 2
    return 2


def _plain_text(mrkdwn: str) -> str:
    """A refusal written for Slack, readable in a terminal."""
    from playbook.domain.text import unescape

    return unescape(mrkdwn.replace("`", "").replace("*", ""))


def _db_upgrade(settings: Settings) -> int:
    from bot import db

    with _database_errors(settings):
        db.upgrade(settings.database_url)
        print(f"Database is up to date ({db.current_revision(settings.database_url)}).")
    return 0


@contextlib.contextmanager
def _database_errors(settings: Settings) -> Any:
    """A database that cannot be reached stops the program with one line, not a traceback."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except OperationalError as err:
        raise ConfigError("DATABASE_URL", f"could not use the database: {_reason(err, settings)}"
                          ) from None


def _reason(err: BaseException, settings: Settings) -> str:
    """The first line of an error's own message (its driver's, for SQLAlchemy), no secrets."""
    from bot.redact import redact

    cause = getattr(err, "orig", None) or err
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return redact(lines[0], settings.secrets)


def _check_migrated(settings: Settings) -> None:
    """With --no-migrate the schema must already be at the code's head revision."""
    from alembic.script import ScriptDirectory

    from bot import db

    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    if settings.log_level != "DEBUG":  # a check, not a migration: keep its INFO chatter out
        alembic_log.setLevel(logging.WARNING)
    try:
        with _database_errors(settings):
            current = db.current_revision(settings.database_url)
        heads = ScriptDirectory.from_config(db.alembic_config(settings.database_url)).get_heads()
    finally:
        alembic_log.setLevel(level)
    if current not in heads:
        state = "has no schema yet" if current is None else f"is at revision {current}"
        raise ConfigError("DATABASE_URL", f"the database {state}, this version needs "
                          f"{', '.join(heads)}: run `crisisbot db upgrade` (or start without "
                          "--no-migrate)")


def _build_runtime(settings: Settings, *, migrate: bool) -> Any:
    """The Runtime, connected to Slack (auth.test); start-up failures become one line."""
    from urllib.error import URLError

    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    from bot.runtime import Runtime

    if not migrate:
        _check_migrated(settings)
    with _database_errors(settings):
        try:
            runtime = Runtime.build(settings, migrate=migrate)
            auth = runtime.client.auth_test()
        except (BoltError, SlackApiError) as err:
            raise ConfigError("SLACK_BOT_TOKEN", "Slack did not accept the bot token: "
                              f"{_reason(err, settings)}") from None
        except (URLError, ConnectionError, TimeoutError) as err:
            raise ConfigError("SLACK_API_URL", f"could not reach Slack at {settings.slack_api_url}"
                              f": {_reason(err, settings)}") from None
    log.info("connected to Slack as %s in %s", auth.get("user"), auth.get("team"))
    return runtime


def _run(settings: Settings, *, http: bool, port: int | None, migrate: bool) -> int:
    if not http and not settings.slack_app_token:
        print("crisisbot: choose how Slack reaches the bot: set SLACK_APP_TOKEN (xapp-…) for "
              "Socket Mode, or run `crisisbot run --http` behind a public URL.", file=sys.stderr)
        return 2
    settings.require_for_run(http=http)
    runtime = _build_runtime(settings, migrate=migrate)
    runtime.start_background()
    try:
        if http:
            chosen = port or settings.port
            try:
                server = runtime.http_server(chosen)
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
        runtime.stop()
    return 0


def _socket_mode(runtime: Any, app_token: str) -> None:
    """Connect in Socket Mode and serve until SIGTERM or SIGINT, then disconnect cleanly.

    Bolt's `SocketModeHandler.start()` blocks forever and leaves SIGTERM to its default (the
    process dies without stopping the worker and scheduler), so connect and wait here instead.
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    from slack_sdk.errors import SlackApiError

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


if __name__ == "__main__":
    raise SystemExit(main())
