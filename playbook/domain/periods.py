"""The open periods of an incident that was reopened, and the figures that must skip the rest.

A reopened incident (`playbook.domain.verbs.reopen`) was open, closed, then open again: the time
it spent closed is not time an update was owed, and time to resolution counts the first fix, so
the summary and the stats read its periods from here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from playbook.domain.model import Incident

__all__ = ["Period", "first_resolved_at", "open_time", "paused_spans", "periods"]


class Period(NamedTuple):
    """One stretch the incident was open: opened (or reopened) until closed (None: still)."""

    number: int
    opened_at: datetime
    closed_at: datetime | None
    reopened_by: str | None = None
    reason: str | None = None


def periods(inc: Incident) -> list[Period]:
    """Opened→closed, then reopened→closed again, … in order."""
    out: list[Period] = []
    start, by, why = inc.opened_at, None, None
    for n, r in enumerate(inc.reopenings, start=1):
        out.append(Period(n, start, r.closed_at, by, why))
        start, by, why = r.at, r.by, r.reason
    out.append(Period(len(inc.reopenings) + 1, start, inc.closed_at, by, why))
    return out


def paused_spans(inc: Incident) -> list[tuple[datetime, datetime]]:
    """Stretches when no customer update was owed before a reopening: from the earlier
    period's end of updates (the customer told it was resolved, else the close) to the reopen."""
    spans = []
    for r in inc.reopenings:
        stop = min(t for t in (r.customer_informed_at, r.closed_at) if t is not None)
        spans.append((stop, r.at))
    return spans


def open_time(inc: Incident, until: datetime) -> timedelta:
    """Time spent open (closed stretches between periods left out) up to `until`."""
    total = timedelta(0)
    for p in periods(inc):
        end = p.closed_at if p.closed_at is not None else until
        if end > p.opened_at:
            total += end - p.opened_at
    return total


def first_resolved_at(inc: Incident) -> datetime | None:
    """When it was first resolved: time to resolution counts the first fix, not the last."""
    for r in inc.reopenings:
        if r.resolved_at is not None:
            return r.resolved_at
    return inc.resolved_at


def first_relief_at(inc: Incident) -> datetime | None:
    """When the customer's pain first stopped: the relief recorded, or the lasting fix if that
    came first (or without any relief before it). Time to relief counts to it from open."""
    times = [t for t in (inc.relief_at, first_resolved_at(inc)) if t is not None]
    return min(times, default=None)
