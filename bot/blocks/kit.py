"""Shared pieces of the Block Kit builders: Slack's limits, safe text splitting, small blocks.

Every builder in this package goes through `slack_sdk.models` objects (which check most limits
when serialized) and uses the helpers here to stay inside the limits those models do not know
about or cannot fix for us: long text is either cut without breaking markup (`truncate`) or
split into several sections without losing a character (`split_text`, `pack`). The objects
become dicts through `to_dicts`, `message` and `view_dict`, which use `serialize`
(`bot.blocks._serialize`): ``to_dict()``'s result and checks at a fraction of its cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks._serialize import serialize
from playbook.domain.model import Incident
from playbook.domain.text import esc, truncate

# Slack's limits (Slack's Block Kit reference).
MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
SECTION_TEXT_MAX = 3000
CONTEXT_TEXT_MAX = 3000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
VIEW_TITLE_MAX = 24
SELECT_MAX_OPTIONS = 100
OPTION_TEXT_MAX = 75
ACTIONS_MAX_ELEMENTS = 25
INPUT_MAX_LENGTH = 3000  # plain_text_input max_length ceiling
FALLBACK_MAX = 3000  # the top-level `text` may be longer, but notifications show little of it

_ENTITY = re.compile(r"&(?:[A-Za-z]{1,10}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_ENTITY_MAX = 12


def require_id(inc: Incident) -> int:
    """Buttons and modals carry the incident id: an unsaved incident has none to carry."""
    if inc.id is None:
        raise ValueError(f"{inc.key} has no id yet: render blocks from the saved incident")
    return inc.id


def plain(text: str, limit: int) -> PlainTextObject:
    """A plain_text object; `text` is escaped mrkdwn-safe text (see `label`), cut to `limit`."""
    return PlainTextObject(text=truncate(text, limit), emoji=True)


def label(raw: str) -> str:
    """User text for a plain_text object (headers, select options, titles).

    plain_text never pings, but Slack decodes ``&amp; &lt; &gt;`` there as everywhere, so
    escaping keeps the text shown as typed and keeps raw ``<!channel>`` out of every payload.
    Line breaks are folded: headers and options are one line.
    """
    return esc(" ".join(raw.split()))


def mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def header(text: str) -> HeaderBlock:
    """A header block; `text` is already safe (escaped user parts), cut to 150 characters."""
    return HeaderBlock(text=plain(text, HEADER_TEXT_MAX))


def section(text: str, *, block_id: str | None = None) -> SectionBlock:
    if len(text) > SECTION_TEXT_MAX:  # callers split first; this is the last line of defence
        text = truncate(text, SECTION_TEXT_MAX)
    return SectionBlock(text=mrkdwn(text), block_id=block_id)


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[mrkdwn(truncate(t, CONTEXT_TEXT_MAX)) for t in texts[:10]])


def quote(raw: str, limit: int | None = None) -> str:
    """User text in curly quotes, escaped, optionally cut to `limit` (markup-safe)."""
    text = esc(raw.strip())
    if limit is not None:
        text = truncate(text, limit)
    return f"“{text}”"


def fallback(text: str) -> str:
    return truncate(text, FALLBACK_MAX) if text.strip() else "Crisis playbook"


# --- splitting long text without losing any of it --------------------------------------------


def _safe_cut(s: str, limit: int) -> int:
    """Where to cut `s` (longer than `limit`) so that ``s[:cut]`` fits and breaks no markup.

    Prefers the end of a line, then a space, in the second half of the window; never falls
    inside an entity (``&amp;``) or a ``<...>`` token (mention, channel link, date token).
    """
    floor = limit // 2
    cut = s.rfind("\n", floor, limit)
    if cut == -1:
        cut = s.rfind(" ", floor, limit)
    cut = limit if cut == -1 else cut + 1  # keep the separator with the first piece
    amp = s.rfind("&", max(0, cut - _ENTITY_MAX), cut)
    if amp > 0:
        entity = _ENTITY.match(s, amp)
        if entity is not None and entity.end() > cut:
            cut = amp
    lt = s.rfind("<", 0, cut)
    if lt > 0 and s.find(">", lt, cut) == -1 and s.find(">", cut) != -1:
        cut = lt
    return max(cut, 1)


def split_text(s: str, limit: int = SECTION_TEXT_MAX) -> list[str]:
    """Split `s` into pieces of at most `limit` characters; ``"".join(pieces) == s``."""
    pieces: list[str] = []
    while len(s) > limit:
        cut = _safe_cut(s, limit)
        pieces.append(s[:cut])
        s = s[cut:]
    if s or not pieces:
        pieces.append(s)
    return pieces


def pack(lines: Iterable[str], limit: int = SECTION_TEXT_MAX) -> list[str]:
    """Join lines with newlines into as few chunks of at most `limit` characters as possible.

    A line longer than `limit` is split (`split_text`); its pieces stay in order and each
    starts a chunk of its own, so concatenating the chunks' texts gives every line back whole.
    Blank chunks are dropped (Slack refuses empty text).
    """
    chunks: list[str] = []
    current = ""
    for line in lines:
        pieces = split_text(line, limit)
        if len(pieces) > 1:
            if current.strip():
                chunks.append(current)
            chunks.extend(pieces[:-1])
            current = pieces[-1]
            continue
        piece = pieces[0]
        if not current:
            current = piece
        elif len(current) + 1 + len(piece) <= limit:
            current = f"{current}\n{piece}"
        else:
            chunks.append(current)
            current = piece
    if current.strip():
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def sections(lines: Iterable[str]) -> list[SectionBlock]:
    return [SectionBlock(text=mrkdwn(chunk)) for chunk in pack(lines)]


def to_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """The blocks as dicts, checked like ``to_dict()`` (raises SlackObjectFormationError)."""
    return [serialize(b) for b in blocks]


def view_dict(view: View) -> dict[str, Any]:
    """A modal or Home view as a dict, checked like ``view.to_dict()``."""
    return serialize(view)


def message(text: str, blocks: Sequence[Block]) -> dict[str, Any]:
    """A message body: fallback `text` (required with blocks) and the validated blocks."""
    if len(blocks) > MESSAGE_MAX_BLOCKS:
        raise ValueError(f"{len(blocks)} blocks in one message (max {MESSAGE_MAX_BLOCKS})")
    return {"text": fallback(text), "blocks": to_dicts(blocks)}
