"""What GET /healthz answers: 200 only when a command acked now would really be kept.

A ``SELECT 1`` said "up" while SQLite was read-only, while PostgreSQL had been recreated empty
(every command then failed), and after the SQLite file was deleted under the bot (commands were
acked, then lost at the next start). So the check proves what a command needs:

* the database takes a write: a real write in a transaction that is rolled back
  (`playbook.store.engine.probe_write`), which also reads the schema's revision;
* the schema is the one this code was written for: ``alembic_version`` equals the heads of the
  migrations shipped with it (empty means the database was recreated or never migrated);
* on SQLite, the file is the one opened at start (same device and inode), not deleted or
  replaced since.

Each failure is a 503 with one short reason a person on call can act on. The answer is
cheap (one tiny transaction, rolled back) and leaves no trace, so replicas and frequent
probes are fine.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from bot.redact import redact
from playbook.store import probe_write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    """The verdict: `ok`, or the reasons it is not (short, no secrets)."""

    reasons: tuple[str, ...] = ()
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def body(self) -> bytes:
        doc: dict[str, Any] = {"ok": self.ok, "database": "up" if self.ok else "down",
                               **self.checks}
        if self.reasons:
            doc["reason"] = "; ".join(self.reasons)
        return json.dumps(doc).encode()


def migration_heads() -> tuple[str, ...]:
    """The revisions a database must be at for this code: the heads of its migrations."""
    from alembic.script import ScriptDirectory

    from bot import schema

    return tuple(sorted(ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
                        .get_heads()))


class HealthCheck:
    """Checks one engine against the schema this code needs; log lines only on a change."""

    def __init__(self, engine: Callable[[], Engine], heads: Iterable[str],
                 secrets: Iterable[str] = ()) -> None:
        self.engine = engine
        self.heads = tuple(sorted(heads))
        self.secrets = tuple(secrets)
        self._last_ok = True
        self._lock = threading.Lock()

    def __call__(self) -> Health:
        health = self.check()
        with self._lock:
            if health.ok != self._last_ok:
                self._last_ok = health.ok
                if health.ok:
                    log.warning("health: the database is usable again")
                else:
                    log.error("health: %s", "; ".join(health.reasons))
        return health

    def check(self) -> Health:
        try:
            versions = probe_write(self.engine())
        except Exception as err:
            return Health((f"the database cannot be written: {self._why(err)}",),
                          {"write": "failed"})
        if not versions:
            return Health(("the database has no schema (recreated or never migrated); run "
                           "`crisisbot db upgrade` or restart the bot",),
                          {"write": "ok", "schema": "missing"})
        if tuple(versions) != self.heads:
            return Health((f"the schema is at {', '.join(versions)}, this bot needs "
                           f"{', '.join(self.heads)}",),
                          {"write": "ok", "schema": ", ".join(versions)})
        return Health((), {"write": "ok", "schema": ", ".join(versions)})

    def _why(self, err: BaseException) -> str:
        cause = getattr(err, "why", None) or getattr(err, "orig", None) or err
        lines = str(cause).strip().splitlines() or [type(cause).__name__]
        return redact(lines[0], self.secrets)[:200]


def respond(health: Health, start_response: Callable[..., Any]) -> list[bytes]:
    """The WSGI answer of /healthz: 200 or 503 with the verdict as JSON."""
    body = health.body()
    start_response("200 OK" if health.ok else "503 Service Unavailable",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                    ("Cache-Control", "no-store")])
    return [body]
