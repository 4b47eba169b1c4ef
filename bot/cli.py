"""`crisisbot`: run the bot, migrate the database, and the commands that need no Slack."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_settings

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
        if args.command == "demo":
            from bot.demo import run_demo

            return run_demo()
    except ConfigError as err:
        print(f"crisisbot: {err}", file=sys.stderr)
        return 2
    return 2


def _db_upgrade(settings: Settings) -> int:
    from bot import db

    db.upgrade(settings.database_url)
    print(f"Database is up to date ({db.current_revision(settings.database_url)}).")
    return 0


def _run(settings: Settings, *, http: bool, port: int | None, migrate: bool) -> int:
    if not http and not settings.slack_app_token:
        print("crisisbot: choose how Slack reaches the bot: set SLACK_APP_TOKEN (xapp-…) for "
              "Socket Mode, or run `crisisbot run --http` behind a public URL.", file=sys.stderr)
        return 2
    settings.require_for_run(http=http)
    from bot.runtime import Runtime

    runtime = Runtime.build(settings, migrate=migrate)
    auth = runtime.client.auth_test()
    log.info("connected to Slack as %s in %s", auth.get("user"), auth.get("team"))
    runtime.start_background()
    try:
        if http:
            chosen = port or settings.port
            server = runtime.http_server(chosen)
            signal.signal(signal.SIGTERM, lambda *_: server.close())
            log.info("serving Slack requests on :%d/slack/events (health: /healthz)", chosen)
            with contextlib.suppress(KeyboardInterrupt, OSError):
                server.run()
        else:
            assert settings.slack_app_token is not None
            log.info("connecting to Slack in Socket Mode")
            runtime.socket_handler(settings.slack_app_token).start()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
