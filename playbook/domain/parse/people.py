"""People and channels: the mention and channel tokens Slack's autocomplete inserts."""

from __future__ import annotations

import re

from playbook.domain.errors import ParseError
from playbook.domain.parse.common import echo, plain_errors

__all__ = ["parse_channel", "parse_user", "split_trailing_user"]

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^<>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^<>]*))?>")


@plain_errors
def parse_user(token: str) -> str:
    """The user ID (``U…`` or ``W…``) of a mention token such as ``<@U123|name>``.

    A bare ``@name`` is refused: it is not linked to anyone, and guessing by display name picks
    the wrong person when two share one. The autocomplete inserts a real mention.
    """
    t = token.strip()
    if not t:
        raise ParseError("Who? Type @ and pick the person from the autocomplete.")
    m = _USER.fullmatch(t)
    if m is not None:
        return m.group(1)
    group = _SUBTEAM.fullmatch(t)
    if group is not None:
        label = echo(group.group(1)) if group.group(1) else "That"
        raise ParseError(
            f"{label} is a user group; pick one person from the autocomplete when you type @."
        )
    raise ParseError(f"Pick the person from the autocomplete when you type @ (I got {echo(t)}).")


@plain_errors
def parse_channel(token: str) -> str:
    """The channel ID (``C…``, or ``G…`` for older private channels) of a channel token.

    Slack sends ``<#C123|name>``, ``<#C123|>`` or ``<#C123>``; a bare ``#name`` is refused for
    the same reason as a bare ``@name``: names change and are not unique across Slack Connect.
    """
    t = token.strip()
    if not t:
        raise ParseError("Which channel? Type # and pick the channel from the autocomplete.")
    m = _CHANNEL.fullmatch(t)
    if m is not None:
        return m.group(1)
    raise ParseError(f"Pick the channel from the autocomplete when you type # (I got {echo(t)}).")


def split_trailing_user(text: str) -> tuple[str, str | None]:
    """Split an optional trailing mention off free text: ``action <text> [@owner]``.

    Returns (text without the mention, user ID) or (text, None). Only a mention at the very end
    counts, so people named in the middle of the sentence stay part of it.
    """
    s = text.rstrip()
    if s.endswith(">"):
        start = s.rfind("<@")
        if start != -1:
            m = _USER.fullmatch(s, start)
            if m is not None:
                return s[:start].strip(), m.group(1)
    return s.strip(), None
