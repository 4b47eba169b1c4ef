"""`crisisbot report`: one incident's summary as Markdown or JSON (and its cadence chart), from
the database, without Slack."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from bot import blocks
from bot.cli.output import check_target, write_atomic
from bot.config import Settings
from playbook import store
from playbook.domain import export
from playbook.domain.errors import PlaybookError
from playbook.domain.model import Incident
from playbook.domain.parse import parse_ref
from playbook.domain.summary import summarize
from playbook.domain.timeline import Entry, corrected
from playbook.store import timeline as timeline_store


def _incident(settings: Settings, key: str, team: str | None) -> tuple[Incident, list[Entry]]:
    number = parse_ref(key.upper().removeprefix("INC-"), "", "incident")
    engine = store.make_engine(settings.database_url)
    try:
        with store.make_session_factory(engine)() as session:
            found = store.find_by_number(session, number, team_id=team)
            if not found:
                raise PlaybookError(f"There is no INC-{number}"
                                    + (f" in workspace {team}." if team else "."))
            if len(found) > 1:
                teams = ", ".join(sorted(i.team_id for i in found))
                raise PlaybookError(f"INC-{number} exists in several workspaces ({teams}); "
                                    "pick one with --team.")
            inc = found[0]
            assert inc.id is not None
            return inc, timeline_store.load_entries(session, inc.id)
    finally:
        engine.dispose()


def report(settings: Settings, key: str, *, fmt: str, out: str | None,
           team: str | None, chart_out: str | None = None) -> int:
    if chart_out:
        from bot import chart

        if not chart.chart_available():  # fail fast, before the database
            raise PlaybookError(chart.ENABLE_HINT)
    for target in (out, chart_out):  # a path that can never be written fails before any work
        if target:
            check_target(target)
    inc, entries = _incident(settings, key, team)
    now = datetime.now(UTC)
    summary = summarize(inc, now, corrected(entries))
    if fmt == "json":
        text = json.dumps(export.report_json(summary, entries), indent=2, ensure_ascii=False)
    else:
        text = blocks.summary_markdown(summary)
    if out:
        write_atomic(out, (text if text.endswith("\n") else text + "\n").encode("utf-8"))
        print(f"Wrote {inc.key} to {out}.", file=sys.stderr)
    else:
        print(text)
    if chart_out:
        png = chart.render_cadence_chart(inc, now)
        assert png is not None
        write_atomic(chart_out, png)
        print(f"Wrote {inc.key}'s cadence chart to {chart_out}.", file=sys.stderr)
    return 0
