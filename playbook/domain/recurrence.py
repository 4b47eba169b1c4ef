"""Is this customer in crisis again? Earlier incidents that look like the one being opened.

Two signals: the same customer (names compared case- and punctuation-insensitively) or a
description that closely matches an earlier one (a shared failure behind different customers).
Pure: incidents in, matches and the note out.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from playbook.domain.model import Incident
from playbook.domain.parse import normalize_customer
from playbook.domain.text import channel_link, esc, truncate

SIMILAR = 0.75  # difflib ratio of two descriptions' words that counts as "the same problem"
SHOWN = 5  # matches the note details; the rest are counted


class Earlier(Protocol):
    """What the check reads of an earlier incident (an Incident, or a Candidate row)."""

    @property
    def id(self) -> int | None: ...
    @property
    def customer(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def opened_at(self) -> datetime: ...


@dataclass(frozen=True)
class Candidate:
    """An earlier incident as the check needs it: four columns, no child lists, so comparing
    against hundreds of them costs little (it runs after every open)."""

    id: int
    customer: str
    description: str
    opened_at: datetime


E = TypeVar("E", bound=Earlier)


@dataclass(frozen=True)
class Match(Generic[E]):
    incident: E
    same_customer: bool
    similarity: float


# The same earlier incidents are compared again at every open: normalise each text once.
_customer_key = functools.lru_cache(maxsize=16384)(normalize_customer)


@functools.lru_cache(maxsize=16384)
def _words(text: str) -> tuple[str, ...]:
    """A description as its normalised words: descriptions are compared word by word, which
    reads like a person would ("screens show a setup error" ~ "all screens show a setup error")
    and costs a fraction of comparing characters."""
    return tuple(normalize_customer(text).split())


def related(new: Incident, earlier: Iterable[E]) -> list[Match[E]]:
    """Earlier incidents of the same customer or with a closely matching description, newest
    first."""
    key = _customer_key(new.customer)
    # As difflib.get_close_matches does: the new description is the fixed second sequence, so
    # its index is built once, and each earlier one is only set as the first. real_quick_ratio
    # and quick_ratio are cheap upper bounds of ratio: most pairs stop there.
    matcher = difflib.SequenceMatcher(None)
    matcher.set_seq2(_words(new.description))
    found = []
    for inc in earlier:
        if inc.id is not None and inc.id == new.id:
            continue
        same = _customer_key(inc.customer) == key
        matcher.set_seq1(_words(inc.description))
        if not same and (matcher.real_quick_ratio() < SIMILAR or matcher.quick_ratio() < SIMILAR):
            continue
        ratio = matcher.ratio()
        if same or ratio >= SIMILAR:
            found.append(Match(inc, same, ratio))
    return sorted(found, key=lambda m: m.incident.opened_at, reverse=True)


def note(matches: Sequence[Match[Any]], customer: str, days: int) -> str | None:
    """The warning for the card, the timeline and the opener; None when nothing matches.

    The first SHOWN matches must carry whole Incidents (their channel, root cause and actions
    are listed); the rest are only counted, so they may be Candidates.
    """
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
    for m in matches[:SHOWN]:
        inc = m.incident
        where = f" {channel_link(inc.channel_id)}" if inc.channel_id else ""
        who = "" if m.same_customer else f" ({esc(inc.customer)})"
        cause = (f" root cause: “{esc(truncate(inc.root_cause, 200))}”" if inc.root_cause
                 else " no root cause recorded")
        actions = "; ".join(f"A{a.number} {esc(truncate(a.text, 80))}"
                            f"{' ✅' if a.done_at else ''}" for a in inc.actions[:3])
        lines.append(f"• *{inc.key}*{who}{where}:{cause}"
                     + (f"; actions: {actions}" if actions else ""))
    if len(matches) > SHOWN:
        lines.append(f"…and {len(matches) - SHOWN} more.")
    return "\n".join(lines)
