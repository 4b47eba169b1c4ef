"""What every parser here shares: the refusal types, the public boundary, and echoing input.

Every refusal is a `ParseError` written for the person; the refinements below let one parser tell
another (`split_when`, `parse_cadence`) *why* it refused, and `plain_errors` turns them back into
plain `ParseError`s wherever a public parser hands one out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from playbook.domain.errors import ParseError
from playbook.domain.text import esc, unescape

__all__ = [
    "ECHO_LIMIT",
    "PastError",
    "SureError",
    "code",
    "echo",
    "norm",
    "outside",
    "plain_errors",
    "token_spans",
]

ECHO_LIMIT = 100

_P = ParamSpec("_P")
_R = TypeVar("_R")


class SureError(ParseError):
    """The text clearly *was* a time or duration, but an unusable one (13pm, 0m, 400 days).

    `split_when` surfaces these instead of its generic usage text, because "13pm is not a time
    of day" helps more than "say when it's due". Never leaves this package: its public parsers
    re-raise it as a plain `ParseError` (`plain_errors`).
    """


class PastError(SureError):
    """A time of day today that has already passed; the most useful refusal of all."""


def plain_errors(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Re-raise the refinements above as plain `ParseError`s at the public boundary."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except ParseError as err:
            if type(err) is ParseError:
                raise
            raise ParseError(err.message) from None

    return wrapper


def echo(typed: str) -> str:
    """What the person typed, safe to quote in a message: one line, short, escaped, in code."""
    flat = " ".join(unescape(typed).split()).replace("`", "'")
    if len(flat) > ECHO_LIMIT:
        flat = flat[: ECHO_LIMIT - 1].rstrip() + "…"
    return f"`{esc(flat)}`"


def code(form: str) -> str:
    """One of our own usage forms in code style; escaped because forms contain ``<what>``."""
    return f"`{esc(form)}`"


def norm(text: str) -> str:
    """Case- and spacing-insensitive form of a time or duration phrase."""
    return " ".join(unescape(text).split()).casefold()


def token_spans(text: str) -> list[tuple[int, int]]:
    """Where Slack's ``<...>`` tokens (mentions, channels, links) sit in escaped text."""
    return [m.span() for m in re.finditer(r"<[^<>]*>", text)]


def outside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return not any(start <= pos < end for start, end in spans)
