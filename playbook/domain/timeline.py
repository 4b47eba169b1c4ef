"""The incident timeline as people correct it: numbered entries, their revisions, the rules.

The history is append-only (`playbook.store` never updates a timeline row): a correction or a
removal is a new *revision* of an entry, so the original stays on record while the summary
shows the corrected version. This module decides who may correct what, what a correction may
say, how the corrected timeline reads, and how a Slack message captured onto the timeline is
made safe to post again (a captured ``<!channel>`` must never ping anyone through the bot).

No database, no Slack and no clock here: `now` is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from playbook.domain.errors import NotFound, ParseError, PermissionDenied
from playbook.domain.model import Actor
from playbook.domain.text import esc, mention, plain, unescape

__all__ = [
    "CAPTURED",
    "NOTE",
    "Entry",
    "Line",
    "Revision",
    "check_correction",
    "check_may_correct",
    "corrected",
    "display",
    "editable_text",
    "find",
    "mentioned_users",
    "neutralise",
    "page",
    "parse_ref",
    "spans_days",
]

NOTE = "note"
CAPTURED = "captured"
MAX_TEXT = 3000
# A corrected time a little ahead of the server's clock is a clock skew, not the future.
FUTURE_SLACK = timedelta(minutes=2)
# Kinds that record what someone was refused: only a lead may correct those, or the person
# refused could quietly remove the trace of the attempt.
LEAD_ONLY_KINDS = frozenset({"refused"})


@dataclass(frozen=True)
class Revision:
    """One correction of an entry: its time and text from now on, or its removal."""

    at: datetime
    text: str
    removed: bool
    by: str
    made_at: datetime


@dataclass(frozen=True)
class Entry:
    """A timeline row as written, its number in the incident (``T<n>``) and its corrections.

    ``actor`` is the entry's author (for a captured message, the message's author);
    ``captured_by`` is who captured a message onto the timeline (by reaction or pin).
    """

    id: int
    number: int
    at: datetime
    kind: str
    text: str
    actor: str | None = None
    captured_by: str | None = None
    revisions: tuple[Revision, ...] = field(default_factory=tuple)

    @property
    def ref(self) -> str:
        return f"T{self.number}"

    @property
    def latest(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def shown_at(self) -> datetime:
        return self.latest.at if self.latest else self.at

    @property
    def shown_text(self) -> str:
        return self.latest.text if self.latest else self.text

    @property
    def removed(self) -> bool:
        return bool(self.latest and self.latest.removed)

    @property
    def edited(self) -> bool:
        return self.latest is not None and (
            self.latest.at != self.at or self.latest.text != self.text
        )


@dataclass(frozen=True)
class Line:
    """One line of the corrected timeline, ready for a renderer. ``text`` is mrkdwn."""

    ref: str
    at: datetime
    kind: str
    actor: str | None
    text: str
    edited: bool = False


def display(kind: str, text: str, actor: str | None) -> str:
    """The line as people read it: notes and captured messages say whose words they are."""
    if kind == NOTE:
        return f"📝 {mention(actor)}: {text}" if actor else f"📝 {text}"
    if kind == CAPTURED:
        return f"💬 {mention(actor)}: {text}" if actor else f"💬 {text}"
    return text


def corrected(entries: Iterable[Entry]) -> tuple[Line, ...]:
    """The timeline as the summary shows it: removed entries gone, corrections applied.

    Ordered by the (corrected) time, then by entry number, so fixing a time moves the line.
    """
    kept = [e for e in entries if not e.removed]
    kept.sort(key=lambda e: (e.shown_at, e.number))
    return tuple(
        Line(e.ref, e.shown_at, e.kind, e.actor, display(e.kind, e.shown_text, e.actor), e.edited)
        for e in kept
    )


def spans_days(times: Iterable[datetime]) -> bool:
    """True when the times fall on more than one (UTC) day: then each needs its date shown."""
    return len({t.astimezone(UTC).date() for t in times}) > 1


_REF = re.compile(r"^[Tt]?\s*(\d{1,9})$")


def parse_ref(text: str) -> int:
    """``T12`` (or ``12``) -> 12."""
    match = _REF.match(text.strip())
    if not match or int(match.group(1)) < 1:
        shown = esc(text.strip()[:20]) or "nothing"
        raise ParseError(
            f"`{shown}` is not a timeline entry: use its number from `/incident timeline`, "
            "e.g. `/incident timeline edit T3`."
        )
    return int(match.group(1))


def find(entries: Sequence[Entry], number: int) -> Entry:
    for entry in entries:
        if entry.number == number:
            return entry
    raise NotFound(f"There is no T{number} on this timeline; `/incident timeline` lists them.")


def check_may_correct(entry: Entry, actor: Actor) -> None:
    """Its author (or whoever captured it) or a lead; refusals say who can."""
    if actor.is_lead:
        return
    if entry.kind in LEAD_ONLY_KINDS:
        raise PermissionDenied(f"Only a lead can correct {entry.ref}: it records a refusal.")
    if actor.user_id in {entry.actor, entry.captured_by} - {None}:
        return
    who = " or ".join(mention(u) for u in dict.fromkeys((entry.actor, entry.captured_by)) if u)
    by = f"its author ({who}) or a lead" if who else "a lead"
    raise PermissionDenied(f"Only {by} can correct or remove {entry.ref}.")


def editable_text(entry: Entry) -> str:
    """The entry's text as a person would type it, for the edit form's text box."""
    return plain(entry.shown_text)


def check_correction(
    entry: Entry, actor: Actor, *, typed: str, at: datetime, remove: bool, now: datetime
) -> Revision | None:
    """The revision a correction makes, or None when it changes nothing.

    `typed` is what the person left in the form's text box, unescaped (as modals send it); an
    unchanged box keeps the entry's text exactly as stored (mentions and links included).
    """
    check_may_correct(entry, actor)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be an aware datetime")
    if remove:
        if entry.removed:
            return None
        return Revision(entry.shown_at, entry.shown_text, True, actor.user_id, now)
    stripped = typed.strip()
    if not stripped:
        raise ParseError("The text can't be empty; tick “Remove” to take the entry off instead.")
    if len(stripped) > MAX_TEXT:
        raise ParseError(f"Keep the text under {MAX_TEXT} characters.")
    if at > now + FUTURE_SLACK:
        raise ParseError("That time is in the future; pick when it actually happened.")
    text = entry.shown_text if stripped == editable_text(entry).strip() else esc(stripped)
    when = at.astimezone(UTC).replace(second=0, microsecond=0)
    if when == entry.shown_at.replace(second=0, microsecond=0):
        when = entry.shown_at  # the picker has whole minutes: an untouched time stays exact
    if not entry.removed and text == entry.shown_text and when == entry.shown_at:
        return None
    return Revision(when, text, False, actor.user_id, now)


def page(entries: Sequence[Entry], number: int, size: int) -> tuple[list[Entry], int]:
    """Page `number` (1 = the newest entries) of the list, in time order, and the page count."""
    ordered = sorted(entries, key=lambda e: (e.shown_at, e.number))
    pages = max(1, -(-len(ordered) // size))
    number = min(max(number, 1), pages)
    end = len(ordered) - (number - 1) * size
    return ordered[max(0, end - size) : end], pages


# --- captured messages ------------------------------------------------------------------------

_TOKEN = re.compile(r"<([^<>]*)>")
_BROADCASTS = {"channel", "here", "everyone", "group"}


def neutralise(text: str, names: Mapping[str, str] | None = None) -> str:
    """A Slack message's mrkdwn made safe to post again: it can never notify anyone.

    ``<!channel>``, ``<!here>``, ``<!everyone>`` and user-group mentions become plain text
    (``@here``), and people's mentions become ``@name`` (from `names`, else the id), so quoting
    a message in the timeline or the summary pings nobody. Links, channel links and date
    tokens stay as they are: they notify no one. Entities stay escaped, so the result is mrkdwn
    with nothing a reader did not write.
    """
    names = names or {}

    def render(token: re.Match[str]) -> str:
        target, _, label = token.group(1).partition("|")
        label = unescape(label)
        if target.startswith("@"):
            uid = target[1:]
            name = names.get(uid) or label.lstrip("@") or uid
            return esc(f"@{name}")
        if target.startswith("!subteam^"):
            name = label or target[len("!subteam^") :]
            return esc(name if name.startswith("@") else f"@{name}")
        if target.startswith("!date^"):
            return token.group(0)
        if target.startswith("!"):
            word = target[1:].split("^", 1)[0]
            if word in _BROADCASTS or not label:
                return esc(f"@{label.lstrip('@') or word}")
            return esc(label)
        if target.startswith("#") or "://" in target or target.startswith("mailto:"):
            return token.group(0)
        return esc(f"<{token.group(1)}>")  # not a Slack token: show it as typed

    out: list[str] = []
    last = 0
    for token in _TOKEN.finditer(text):
        out.append(_stray(text[last : token.start()]))
        out.append(render(token))
        last = token.end()
    out.append(_stray(text[last:]))
    return "".join(out)


def _stray(gap: str) -> str:
    """Text between tokens: a bare ``<`` or ``>`` (never sent by Slack) is shown, not parsed."""
    return gap.replace("<", "&lt;").replace(">", "&gt;")


def mentioned_users(text: str) -> list[str]:
    """The user ids a message mentions, in order, each once (to look their names up)."""
    return list(dict.fromkeys(re.findall(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>", text)))
