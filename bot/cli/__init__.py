"""`crisisbot`: run the bot, migrate the database, and the commands that need no Slack.

This module parses the command line and hands each command to its own module: `run`, `db`,
`report`, `stats`, `playbook`, `demo`, `email`. Every refusal ends the program with one line
and exit code 2 (`errors`); `email receive` exits 1 for a message it cannot record.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.cli.errors import database_errors, plain_text
from bot.config import load_settings
from bot.redact import configure_logging
from bot.settings_parse import ConfigError
from playbook.domain.errors import PlaybookError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crisisbot", description=(
        "A Slack bot that walks a team through a customer-crisis playbook."))
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (Socket Mode with SLACK_APP_TOKEN, or --http)")
    run.add_argument("--http", action="store_true", help="serve Slack's HTTP requests")
    run.add_argument("--port", type=int, help="HTTP port (beats PORT; default 3000)")
    run.add_argument("--metrics-port", type=int, metavar="N",
                     help="serve GET /metrics (Prometheus) on port N; with --http it is "
                          "served on the HTTP port already")
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
    em = sub.add_parser("email", help="email from customers")
    emsub = em.add_subparsers(dest="email_command", required=True)
    emsub.add_parser("receive", help="record one customer reply (an RFC 822 message on "
                                     "standard input, e.g. from an MTA pipe)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, load the settings, and hand the command to its module (imported only when used,
    so `db upgrade` or `playbook check` never load Slack or the Bolt app)."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as err:
        print(f"crisisbot: {err}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        if args.command == "db":
            from bot.cli import db

            return db.upgrade(settings)
        if args.command == "run":
            from bot.cli.run import run

            return run(settings, http=args.http, port=args.port, migrate=not args.no_migrate,
                       metrics_port=args.metrics_port)
        if args.command == "playbook":
            from bot.cli import playbook as playbook_cli

            if args.playbook_command == "check":
                return playbook_cli.check(args.file)
            return playbook_cli.show(settings)
        if args.command == "demo":
            from bot.cli.demo import run_demo

            return run_demo()
        if args.command == "report":
            from bot.cli.report import report

            with database_errors(settings):
                return report(settings, args.incident, fmt=args.format, out=args.out,
                              team=args.team, chart_out=args.chart)
        if args.command == "email":
            from bot.cli import email as email_cli

            with database_errors(settings):
                return email_cli.receive(settings)
        if args.command == "stats":
            from bot.cli.stats import print_stats

            with database_errors(settings):
                return print_stats(settings, period=args.since, team=args.team)
    except ConfigError as err:
        print(f"crisisbot: {err}", file=sys.stderr)
        return 2
    except PlaybookError as err:
        print(f"crisisbot: {plain_text(err.message)}", file=sys.stderr)
        return 2
    return 2
