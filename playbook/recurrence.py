"""Is this customer in crisis again? Earlier incidents that look like the one being opened.

Two signals: the same customer (names compared case- and punctuation-insensitively) or a
description that closely matches an earlier one (a shared failure behind different customers).
Pure: incidents in, matches and the note out.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from playbook.model import Incident
from playbook.parse import normalize_customer
from playbook.text import channel_link, esc, truncate

SIMILAR = 0.75  # difflib ratio of normalised descriptions that counts as "the same problem"


@dataclass(frozen=True)
class Match:
    incident: Incident
    same_customer: bool
    similarity: float


def _words(text: str) -> str:
    return " ".join(normalize_customer(text).split())


def related(new: Incident, earlier: list[Incident]) -> list[Match]:
    """Earlier incidents of the same customer or with a closely matching description."""
    key, what = normalize_customer(new.customer), _words(new.description)
    found = []
    for inc in earlier:
        if inc.id is not None and inc.id == new.id:
            continue
        same = normalize_customer(inc.customer) == key
        ratio = difflib.SequenceMatcher(None, what, _words(inc.description)).ratio()
        if same or ratio >= SIMILAR:
            found.append(Match(inc, same, ratio))
    return sorted(found, key=lambda m: m.incident.opened_at, reverse=True)


def note(matches: list[Match], customer: str, days: int) -> str | None:
    """The warning for the card, the timeline and the opener; None when nothing matches."""
    if not matches:
        return None
    mine = [m for m in matches if m.same_customer]
    head = []
    if mine:
        ordinal = {1: "second", 2: "third"}.get(len(mine), f"{len(mine) + 1}th")
        head.append(f"⚠️ This is the {ordinal} crisis for {esc(customer)} in {days} days.")
    if len(mine) < len(matches):
        head.append("⚠️ Earlier incidents describe a very similar problem.")
    lines = [" ".join(head) + " Close the gap instead of running the same fire drill:"]
    for m in matches[:5]:
        inc = m.incident
        where = f" {channel_link(inc.channel_id)}" if inc.channel_id else ""
        who = "" if m.same_customer else f" ({esc(inc.customer)})"
        cause = (f" root cause: “{esc(truncate(inc.root_cause, 200))}”" if inc.root_cause
                 else " no root cause recorded")
        actions = "; ".join(f"A{a.number} {esc(truncate(a.text, 80))}"
                            f"{' ✅' if a.done_at else ''}" for a in inc.actions[:3])
        lines.append(f"• *{inc.key}*{who}{where}:{cause}"
                     + (f"; actions: {actions}" if actions else ""))
    if len(matches) > 5:
        lines.append(f"…and {len(matches) - 5} more.")
    return "\n".join(lines)
