"""The summary as JSON with a documented, versioned shape (`crisisbot report --format json`).

Other tools read this file, so its shape is a contract: `SCHEMA` names the version, fields are
only ever added within a version, and docs/report-format.md describes each one. Times are ISO
8601 UTC strings, durations whole seconds, user ids as Slack sends them (`U…`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from playbook.domain.summary import Summary
from playbook.domain.timeline import Entry

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


def report_json(summary: Summary, entries: Sequence[Entry] = ()) -> dict[str, Any]:
    """The whole report: the summary's figures and its corrected timeline, under a version.

    `entries` (the stored timeline with its revisions) adds ``corrections``: every change people
    made to the timeline, with the original it replaced, so the record stays auditable.
    """
    body = _plain(summary)
    body.pop("timeline", None)  # it is the top-level "timeline"
    body["adherence"]["ratio"] = summary.adherence.ratio
    corrections = []
    for e in entries:
        before = (e.at, e.text)
        for r in e.revisions:
            corrections.append({
                "ref": e.ref, "by": r.by, "made_at": _plain(r.made_at), "removed": r.removed,
                "from": {"at": _plain(before[0]), "text": before[1]},
                "to": None if r.removed else {"at": _plain(r.at), "text": r.text},
            })
            before = (r.at, r.text)
    return {
        "schema": SCHEMA,
        "incident": summary.key,
        "summary": body,
        "timeline": [
            {"at": _plain(e.at), "kind": e.kind, "actor": e.actor, "text": e.text,
             "ref": e.ref, "edited": e.edited}
            for e in summary.timeline
        ],
        "corrections": corrections,
    }
