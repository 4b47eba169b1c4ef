"""The summary as JSON with a documented, versioned shape (`crisisbot report --format json`).

Other tools read this file, so its shape is a contract: `SCHEMA` names the version, fields are
only ever added within a version, and docs/report-format.md describes each one. Times are ISO
8601 UTC strings, durations whole seconds, user ids as Slack sends them (`U…`).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from playbook.model import TimelineEntry
from playbook.summary import Summary

SCHEMA = "crisisbot.report/1"


def _plain(value: Any) -> Any:
    """JSON-ready form of summary values: dataclasses to objects, times to ISO, spans to s."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def report_json(summary: Summary, timeline: list[TimelineEntry]) -> dict[str, Any]:
    """The whole report: the summary's figures and the timeline, under a schema version."""
    body = _plain(summary)
    body["adherence"]["ratio"] = summary.adherence.ratio
    return {
        "schema": SCHEMA,
        "incident": summary.key,
        "summary": body,
        "timeline": [
            {"at": _plain(e.at), "kind": e.kind, "actor": e.actor, "text": e.text}
            for e in timeline
        ],
    }
