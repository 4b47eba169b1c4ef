"""Persistence: SQLAlchemy 2 tables and the repository functions (the only SQL there is).

The rest of the program sees plain `playbook.domain.model` dataclasses; rows never leave this
package. This `__init__` re-exports what other packages call (``from playbook import store;
store.add_incident(...)``) and, by importing every module, puts every table on `metadata`, which
the migrations and `alembic check` read from here. The modules, innermost first:

* `base`: the declarative base (named constraints) and the column types (`UTCDateTime`).
* `engine`: engines, sessions, SQLite's writer queue, read-only sessions.
* `tables`: the core tables (incidents and their children, timeline, outbox, claims, events).
* `mapping`: incidents <-> rows; `children`: every child row of some incidents in one UNION.
* `incidents`, `timeline`, `outbox`, `reminder_claims`, `events`, `outages`, `lifecycle`,
  `playbooks`, `emails`, `intake` (raw commands recorded under load), `retention` (pruning
  finished outbox rows, old event ids and done intake rows): the repositories (outages,
  lifecycle, timeline and intake declare their own extra tables).

Decisions worth knowing before changing anything here:

* Transactions belong to the caller. Every repository function takes a `Session` and only
  flushes; the service decides when to commit. On SQLite every transaction starts with
  `BEGIN IMMEDIATE` (see `make_engine`), so read-then-write use cases serialize instead of failing
  with "database is locked" at the first write; only a session whose first call is a repository
  read (``with sessions() as s:``, never `sessions.begin()`) runs as a plain, lock-free reader.
* Times are aware UTC datetimes in Python and UTC in the database (`UTCDateTime`); naive
  datetimes are refused on the way in, because guessing their zone is how reminders end up an
  hour off. Intervals are stored as whole seconds.
* `team_id` is on every row so several workspaces can share one database later.
* Claims that must hold across processes (outbox items, reminders, Slack event ids) are made with
  a unique key or a conditional UPDATE checked by rowcount, never with `FOR UPDATE`, which SQLite
  ignores.
"""

from __future__ import annotations

# The repositories other packages use as modules (``from playbook.store import outages``);
# importing them here also puts their tables on `metadata`.
from playbook.store import (
    emails,
    installations,
    intake,
    lifecycle,
    outages,
    outbox,
    playbooks,
    retention,
    timeline,
)
from playbook.store.base import UTCDateTime, metadata
from playbook.store.engine import make_engine, make_session_factory, probe_write, reading
from playbook.store.events import remember_event
from playbook.store.incidents import (
    Snapshot,
    StaleIncident,
    active_versions,
    add_incident,
    children_snapshot,
    find_by_number,
    get_incident,
    get_incident_by_channel,
    get_incident_by_id,
    list_active,
    list_all_incidents,
    list_incidents,
    load_incidents,
    number_incident,
    recurrence_candidates,
    save_incident,
    save_incidents,
)
from playbook.store.outbox import (
    OutboxItem,
    defer_outbox,
    enqueue,
    enqueue_for,
    enqueue_many,
    fail_outbox,
    open_by_kind,
    pending_outbox_count,
    retry_outbox,
)
from playbook.store.reminder_claims import take_reminders
from playbook.store.tables import OutboxRow
from playbook.store.timeline import (
    append_timeline,
    append_timelines,
    get_timeline,
    has_timeline_kind,
)

__all__ = [
    "OutboxItem",
    "OutboxRow",
    "Snapshot",
    "StaleIncident",
    "UTCDateTime",
    "active_versions",
    "add_incident",
    "append_timeline",
    "append_timelines",
    "children_snapshot",
    "defer_outbox",
    "emails",
    "enqueue",
    "enqueue_for",
    "enqueue_many",
    "fail_outbox",
    "find_by_number",
    "get_incident",
    "get_incident_by_channel",
    "get_incident_by_id",
    "get_timeline",
    "has_timeline_kind",
    "installations",
    "intake",
    "lifecycle",
    "list_active",
    "list_all_incidents",
    "list_incidents",
    "load_incidents",
    "make_engine",
    "make_session_factory",
    "metadata",
    "number_incident",
    "open_by_kind",
    "outages",
    "outbox",
    "pending_outbox_count",
    "playbooks",
    "probe_write",
    "reading",
    "recurrence_candidates",
    "remember_event",
    "retention",
    "retry_outbox",
    "save_incident",
    "save_incidents",
    "take_reminders",
    "timeline",
]
