"""Small, pure helpers for the Slack mrkdwn the bot writes.

Everything a person typed is shown back through `esc`, so it can never ping `@channel`, mention
someone or forge a link: Slack only treats ``<...>`` as markup, and escaping ``&``, ``<`` and
``>`` is all its mrkdwn needs (other characters such as ``*`` only style text). The other helpers
build the few markup tokens the bot itself means to send (mentions, channel links, date tokens)
and keep long text within Slack's limits without breaking that markup.

No Slack SDK, no database and no clock here: times are passed in.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

__all__ = [
    "channel_link",
    "date_token",
    "esc",
    "fmt_duration",
    "mention",
    "plain",
    "truncate",
    "unescape",
]

ELLIPSIS = "…"

# An HTML-style entity as Slack (or we) may have written it. Letters are bounded so a stray "&"
# followed by a long word is not taken for an entity.
_ENTITY = re.compile(r"&(?:[A-Za-z]{1,10}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_ENTITY_MAX = 12  # longest match of _ENTITY, e.g. "&#x10FFFF;" or a 10-letter name


def esc(s: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so text a person typed is shown, never interpreted.

    This is exactly Slack's mrkdwn escaping: ``<!channel>``, ``<@U123>`` and ``<https://x|y>``
    become inert text. ``&`` goes first so the entities we add are not escaped again.
    """
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(s: str) -> str:
    """Undo Slack's escaping of ``&``, ``<`` and ``>`` in text it sends us.

    ``&lt;`` and ``&gt;`` go first and ``&amp;`` last, so a person who typed ``&lt;`` literally
    (sent as ``&amp;lt;``) gets ``&lt;`` back rather than ``<``. Hence ``unescape(esc(s)) == s``.
    """
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_SLACK_TOKEN = re.compile(r"<([^<>]*)>")


def plain(s: str) -> str:
    """Slack-escaped command text as the person meant it to read, for storing and quoting.

    Tokens become what the reader saw when typing: ``<@U1|bob>`` -> ``@bob``, ``<#C1|ops>`` ->
    ``#ops``, ``<!subteam^S1|@oncall>`` -> ``@oncall``, ``<!here>`` -> ``@here``, a link -> its
    label (or address), a date token -> its fallback; then entities are unescaped. The result is
    plain text: it is escaped again (`esc`) whenever it is posted, so a stored ``@here`` can
    never ping. Parse IDs (people, channels) from the raw text *before* calling this.
    """

    def render(token: re.Match[str]) -> str:
        target, _, label = token.group(1).partition("|")
        if target.startswith("@") or target.startswith("#"):
            return target[0] + (label or target[1:])
        if target.startswith("!subteam^"):
            name = label or target[len("!subteam^") :]
            return name if name.startswith("@") else "@" + name
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return "@" + (label.lstrip("@") or target[1:].split("^", 1)[0])
        return label or target

    return unescape(_SLACK_TOKEN.sub(render, s))


def mention(user_id: str) -> str:
    """A mention of a user (``<@U123>``): it renders as their current display name and pings."""
    return f"<@{user_id}>"


def channel_link(channel_id: str) -> str:
    """A link to a channel (``<#C123>``): Slack renders the current name, so renames are safe."""
    return f"<#{channel_id}>"


def date_token(dt: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A Slack date token, so every reader sees `dt` in their own time zone.

    The fallback (shown where tokens are not rendered, e.g. notifications) is the UTC time, such
    as ``2026-11-23 14:05 UTC``, which is unambiguous for everyone. `dt` must be aware: a naive
    datetime has no instant, and guessing one is how reminders end up an hour off.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("date_token needs an aware datetime, got a naive one")
    unix = math.floor(dt.timestamp())
    fallback = dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{unix}^{fmt}|{fallback}>"


def fmt_duration(td: timedelta) -> str:
    """A short human form of a duration: ``45 min``, ``1 h``, ``1 h 30 min``, ``2 d 3 h``.

    Only whole minutes are shown (seconds are dropped; under a minute is ``0 min``) because
    cadences and due times are set in minutes. The sign is dropped too: callers say "late" or
    "early" themselves, which reads better than ``-5 min``.
    """
    minutes = abs(td) // timedelta(minutes=1)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} min")
    return " ".join(parts)


def truncate(s: str, limit: int) -> str:
    """Cut `s` to at most `limit` characters, ending in ``…`` when anything was cut.

    Slack refuses text over its field limits, so long user text must be cut, but a cut must not
    leave broken markup behind: the cut never falls inside an entity such as ``&amp;`` (it moves
    to before the ``&``), nor inside a ``<...>`` token such as a mention or date token (it moves
    to before the ``<``). `s` is expected to be escaped mrkdwn, where every ``<`` opens a token.
    """
    if limit < 1:
        raise ValueError(f"truncate limit must be at least 1, got {limit}")
    if len(s) <= limit:
        return s
    cut = limit - len(ELLIPSIS)
    amp = s.rfind("&", max(0, cut - _ENTITY_MAX), cut)
    if amp != -1:
        entity = _ENTITY.match(s, amp)
        if entity is not None and entity.end() > cut:
            cut = amp
    lt = s.rfind("<", 0, cut)
    if lt != -1 and s.find(">", lt, cut) == -1 and s.find(">", cut) != -1:
        cut = lt
    return s[:cut].rstrip() + ELLIPSIS
