"""How long the end-of-incident summary takes to render for a big incident.

Target (issue "For leads"): under 200 ms without the chart, for an incident with 200 customer
updates and 5,000 timeline entries. Run: `.venv/bin/python bench/summary_render.py`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_incident import T0, big_incident

from bot import blocks
from playbook.domain import export
from playbook.domain.summary import summarize
from playbook.domain.timeline import corrected

TARGET_MS = 200.0


def main() -> int:
    inc, timeline = big_incident()
    lines = corrected(timeline)
    now = T0 + timedelta(days=3)
    runs: dict[str, list[float]] = {"summary+slack": [], "markdown": [], "json(+timeline)": []}
    for _ in range(20):
        start = time.perf_counter()
        messages = blocks.summary_messages(summarize(inc, now, lines))
        runs["summary+slack"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        blocks.summary_markdown(summarize(inc, now, lines))
        runs["markdown"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        json.dumps(export.report_json(summarize(inc, now, lines), timeline))
        runs["json(+timeline)"].append((time.perf_counter() - start) * 1000)
    print(f"summary render, {len(inc.updates)} updates, {len(timeline)} timeline lines, "
          f"{len(messages)} Slack messages, {sum(len(m['blocks']) for m in messages)} blocks")
    print(f"machine: {os.cpu_count()} cpu, Python {platform.python_version()}")
    print(f"{'what':<18}{'median ms':>10}{'max ms':>9}")
    for name, values in runs.items():
        print(f"{name:<18}{statistics.median(values):>10.1f}{max(values):>9.1f}")
    worst = statistics.median(runs["summary+slack"])
    ok = worst < TARGET_MS
    print(f"target: Slack summary median < {TARGET_MS:.0f} ms: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
