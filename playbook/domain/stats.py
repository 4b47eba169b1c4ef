"""Figures for leads across incidents: how fast we own and fix, and whether we keep our word.

Pure: incidents and `now` in, a `Stats` value out. Percentiles use the nearest-rank method, so
every figure shown is one a real incident had.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from playbook.domain.cadence_walk import adherence
from playbook.domain.errors import ParseError
from playbook.domain.model import Incident, PromiseStatus, Status
from playbook.domain.parse import normalize_customer
from playbook.domain.periods import first_relief_at, first_resolved_at
from playbook.domain.text import esc, fmt_duration

PERIODS = {"7d": 7, "30d": 30, "90d": 90}


@dataclass(frozen=True)
class Stats:
    since: datetime
    opened: int
    closed: int
    still_open: int
    median_to_owner: timedelta | None
    p90_to_owner: timedelta | None
    median_to_resolution: timedelta | None
    p90_to_resolution: timedelta | None
    median_to_relief: timedelta | None
    p90_to_relief: timedelta | None
    updates_on_time: int
    updates_due: int
    promises_kept: int
    promises_settled: int
    repeat_customers: tuple[tuple[str, int], ...]
    open_actions: int
    by_severity: tuple[tuple[str, int], ...]

    @property
    def adherence(self) -> float | None:
        return self.updates_on_time / self.updates_due if self.updates_due else None

    @property
    def promises_kept_rate(self) -> float | None:
        return self.promises_kept / self.promises_settled if self.promises_settled else None


def parse_period(text: str) -> int:
    """`7d`, `30d` or `90d` (default 30d) as a number of days."""
    key = text.strip().lower() or "30d"
    if key not in PERIODS:
        raise ParseError("Use `/incident stats 7d`, `30d` or `90d`.")
    return PERIODS[key]


def percentile(values: list[timedelta], share: float) -> timedelta | None:
    """Nearest-rank percentile (share 0.5 is the median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def compute(incidents: list[Incident], *, since: datetime, now: datetime) -> Stats:
    """Figures over the incidents opened since `since`."""
    chosen = [i for i in incidents if i.opened_at >= since]
    to_owner = [i.owner_set_at - i.opened_at for i in chosen if i.owner_set_at]
    # the first fix: a reopened incident's later resolution would count its closed stretch
    to_fix = [fixed - i.opened_at for i in chosen if (fixed := first_resolved_at(i))]
    # relief: when the pain first stopped (the fix counts when no relief came before it)
    to_relief = [eased - i.opened_at for i in chosen if (eased := first_relief_at(i))]
    on_time = due = kept = settled = open_actions = 0
    for inc in chosen:
        counted = adherence(inc, inc.closed_at or now)
        on_time += counted.on_time
        due += counted.on_time + counted.late + counted.missed
        kept += sum(p.status is PromiseStatus.KEPT for p in inc.promises)
        settled += sum(p.status is not PromiseStatus.OPEN for p in inc.promises)
        open_actions += sum(a.done_at is None for a in inc.actions)
    names: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for inc in chosen:
        key = normalize_customer(inc.customer)
        names.setdefault(key, inc.customer)
        counts[key] += 1
    repeats = tuple((names[k], n) for k, n in counts.most_common() if n > 1)
    severities = Counter(i.severity for i in chosen)
    return Stats(
        since=since, opened=len(chosen),
        closed=sum(i.status is Status.CLOSED for i in chosen),
        still_open=sum(i.status is not Status.CLOSED for i in chosen),
        median_to_owner=percentile(to_owner, 0.5), p90_to_owner=percentile(to_owner, 0.9),
        median_to_resolution=percentile(to_fix, 0.5), p90_to_resolution=percentile(to_fix, 0.9),
        median_to_relief=percentile(to_relief, 0.5), p90_to_relief=percentile(to_relief, 0.9),
        updates_on_time=on_time, updates_due=due, promises_kept=kept, promises_settled=settled,
        repeat_customers=repeats, open_actions=open_actions,
        by_severity=tuple(sorted(severities.items())),
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value * 100)}%"


def render(stats: Stats, days: int) -> str:
    """Slack mrkdwn for `/incident stats`."""

    def dur(value: timedelta | None) -> str:
        return "n/a" if value is None else fmt_duration(value)

    lines = [
        f"*Incidents in the last {days} days*: {stats.opened} opened, {stats.closed} closed, "
        f"{stats.still_open} still open"
        + (f" ({', '.join(f'{s}: {n}' for s, n in stats.by_severity)})"
           if stats.by_severity else ""),
        f"Time to owner: median {dur(stats.median_to_owner)}, p90 {dur(stats.p90_to_owner)}",
        f"Time to relief: median {dur(stats.median_to_relief)}, "
        f"p90 {dur(stats.p90_to_relief)}",
        f"Time to resolution: median {dur(stats.median_to_resolution)}, "
        f"p90 {dur(stats.p90_to_resolution)}",
        f"Customer updates on time: {_pct(stats.adherence)} "
        f"({stats.updates_on_time} of {stats.updates_due})",
        f"Promises kept: {_pct(stats.promises_kept_rate)} "
        f"({stats.promises_kept} of {stats.promises_settled} settled)",
        f"Prevention actions still open: {stats.open_actions}",
    ]
    if stats.repeat_customers:
        repeats = ", ".join(f"{esc(name)} ({n})" for name, n in stats.repeat_customers[:10])
        lines.append(f"Customers in crisis more than once: {repeats}")
    return "\n".join(lines)
