"""`crisisbot stats`: figures for leads across incidents, from the database, without Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import Settings
from playbook import store
from playbook.domain import stats


def print_stats(settings: Settings, *, period: str, team: str | None) -> int:
    days = stats.parse_period(period)
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    engine = store.make_engine(settings.database_url)
    try:
        with store.make_session_factory(engine)() as session:
            incidents = store.list_all_incidents(session, team_id=team, opened_since=since)
    finally:
        engine.dispose()
    print(stats.render(stats.compute(incidents, since=since, now=now), days)
          .replace("*", ""))
    return 0
