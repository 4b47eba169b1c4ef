"""Upgrades keep the data: a database filled at every earlier revision upgrades to head with
nothing lost, on SQLite and PostgreSQL.

The data is what a real bot leaves behind (the app over HTTP against the local Slack, at head):
incidents open in each step, resolved and closed, with promises, options, actions, check-ins,
parked topics, timeline lines, outbox rows, handled events and an outage with incidents
attached. For each earlier revision (discovered from the migrations folder, so a migration
added later is covered the day it lands), the database is migrated to that revision and the
rows are inserted with the columns and tables that revision has, then upgraded to head. Each
table then holds as many rows as were inserted, and every incident reads back, and summarizes,
exactly as the same rows inserted straight into a head database do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, Table, func, inspect, select

from bot import schema
from bot.local.sandbox import LocalBot
from playbook import store
from playbook.domain.summary import summarize
from playbook.domain.timeline import corrected
from playbook.store import timeline as timeline_store

NOW = datetime(2027, 1, 1, tzinfo=UTC)
Rows = dict[str, list[dict[str, Any]]]


def _earlier_revisions() -> list[str]:
    script = ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
    heads = set(script.get_heads())
    revisions = [r.revision for r in script.walk_revisions() if r.revision not in heads]
    return sorted(revisions)


EARLIER = _earlier_revisions()

STEPS = {  # incident -> the commands that bring it to its state
    "listen": [],
    "restate": ["listen all 12 screens are down", "cadence 30m"],
    "own": ["listen all 12 screens are down", "cadence 30m", "restate twelve screens down",
            "confirm", "park they want a refund"],
    "solve": ["listen all 12 screens are down", "cadence 30m", "restate twelve screens down",
              "confirm", "own", "comms <@U0BOB|bob>",
              "option power down all screens risk: lobby dark",
              "option remote firmware fix risk: two days", "recommend 1 fastest relief",
              "promise root cause in writing in 2h", "update we are on it"],
    "resolved": ["listen all 12 screens are down", "cadence 30m", "restate twelve screens down",
                 "confirm", "own", "option power down all screens", "choose 1",
                 "promise a call in 1h", "kept P1", "resolve screens powered down",
                 "update told them it is fixed", "rootcause stale setup state",
                 "lesson test recovery", "action add a recovery mode <@U0CAROL|carol>"],
    "closed": ["listen the screens are all broken", "cadence 30m", "own",
               "skip customer unreachable", "skip customer unreachable",
               "update told them it is fixed", "skip fixed in the field",
               "action check the fleet", "done A1", "skip postmortem next week", "close"],
}


@pytest.fixture(scope="module")
def bot_rows(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    """Every row of every table after a real bot worked incidents in every state."""
    db = tmp_path_factory.mktemp("source") / "bot.db"
    with LocalBot(database_url=f"sqlite:///{db}") as bot:
        for number, (customer, lines) in enumerate(STEPS.items(), start=1):
            assert bot.command(f"open sev2 {customer.title()} Corp: screens down").ok
            channel = bot.incident_channel(number)
            for line in lines:
                reply = bot.command(line, channel=channel)
                assert reply.ok, (customer, line, reply.body)
        assert bot.command("outage Payments API is down").ok
        reply = bot.command("attach OUT-1", channel=bot.incident_channel(4))
        assert "OUT-1" in reply.body["text"], reply.body
        engine = store.make_engine(f"sqlite:///{db}")
        try:
            with store.make_session_factory(engine).begin() as session:  # a retried event's id
                store.remember_event(session, bot.slack.team_id, "Ev0123ABCD", NOW)
            with engine.connect() as conn:
                rows = {t.name: [dict(r._mapping) for r in conn.execute(select(t))]
                        for t in store.metadata.sorted_tables}
        finally:
            engine.dispose()
    filled = {name for name, found in rows.items() if found}
    for needed in ("incidents", "options", "promises", "actions", "timeline_entries", "outbox",
                   "outages", "outage_links", "handled_events"):
        assert needed in filled, f"the scenario left no {needed}"
    return rows


def _insert_as_of(engine: Engine, rows: Rows) -> Rows:
    """Insert `rows` with only the tables and columns the database has now (its revision);
    return the rows as inserted. Column defaults of the models are left out:
    what a column gets when its migration adds it is the migration's business."""
    inserted: Rows = {}
    with engine.begin() as conn:
        present = inspect(conn)
        tables = set(present.get_table_names())
        for model in store.metadata.sorted_tables:
            if model.name not in tables or not rows.get(model.name):
                continue
            columns = {c["name"] for c in present.get_columns(model.name)}
            shape = Table(model.name, MetaData(),
                          *[Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False)
                            for c in model.columns if c.name in columns])
            values = [{k: v for k, v in row.items() if k in columns} for row in rows[model.name]]
            conn.execute(shape.insert(), values)
            inserted[model.name] = values
    return inserted


def _read_back(engine: Engine) -> tuple[dict[str, int], list[Any], list[Any]]:
    """Row counts, the incidents as the program loads them, and their summaries."""
    with engine.connect() as conn:
        counts = {t.name: conn.scalar(select(func.count()).select_from(t)) or 0
                  for t in store.metadata.sorted_tables}
    with store.make_session_factory(engine)() as session:
        incidents = sorted(store.list_all_incidents(session), key=lambda i: i.id or 0)
        summaries = [summarize(inc, NOW, corrected(timeline_store.load_entries(session, inc.id)))
                     for inc in incidents if inc.id is not None]
    return counts, incidents, summaries


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[str]:
    """A head database on SQLite, to insert the same rows into straight away."""
    url = f"sqlite:///{tmp_path / 'reference.db'}"
    schema.upgrade(url)
    yield url


@pytest.mark.parametrize("revision", EARLIER)
def test_data_written_at_an_earlier_revision_survives_the_upgrade(
        revision: str, empty_db_url: str, reference: str, bot_rows: Rows) -> None:
    schema.upgrade(empty_db_url, revision)
    engine = store.make_engine(empty_db_url)
    try:
        inserted = _insert_as_of(engine, bot_rows)
        assert len(inserted["incidents"]) == len(STEPS)
    finally:
        engine.dispose()

    schema.upgrade(empty_db_url)
    assert schema.current_revision(empty_db_url) != revision

    upgraded = store.make_engine(empty_db_url)
    same = store.make_engine(reference)
    try:
        assert _insert_as_of(same, inserted) == inserted  # the same rows, the same columns
        counts, incidents, summaries = _read_back(upgraded)
        want_counts, want_incidents, want_summaries = _read_back(same)
    finally:
        upgraded.dispose()
        same.dispose()
    for table, values in inserted.items():
        n = len(values)
        assert counts[table] == n, f"{table}: {counts[table]} rows after the upgrade, not {n}"
    assert counts == want_counts
    assert [i.key for i in incidents] == [f"INC-{n}" for n in range(1, len(STEPS) + 1)]
    # A column the revision did not have yet is the migration's to fill (0006 dates the last
    # activity from the timeline); every other field reads back exactly as written.
    head_columns = set(store.metadata.tables["incidents"].columns.keys())
    filled_by_migration = head_columns - set(inserted["incidents"][0])
    for got, want in zip(incidents, want_incidents, strict=True):
        differ = {f.name: (getattr(got, f.name), getattr(want, f.name))
                  for f in dataclasses.fields(got)
                  if f.name not in filled_by_migration
                  and getattr(got, f.name) != getattr(want, f.name)}
        assert not differ, f"{got.key} differs after the upgrade: {differ}"
    assert summaries == want_summaries
