"""Numbers people type for what the card numbers: ``P2``, ``A1``, ``recommend 2 <why>``, and the
incident named first (``reopen INC-4 <why>``)."""

from __future__ import annotations

import re

from playbook.domain.errors import ParseError
from playbook.domain.parse.common import code, echo, plain_errors

__all__ = ["MAX_INCIDENT_DIGITS", "parse_numbered", "parse_ref", "split_incident_key"]

MAX_INCIDENT_DIGITS = 9  # incident numbers are per team; a billion is out of reach
# ``INC-`` and a run of ASCII digits as one word: ``INC-12x`` or ``INC-`` alone name nothing
_INCIDENT_KEY = re.compile(r"INC-([0-9]+)(?![\w-])\s*", re.IGNORECASE | re.ASCII)


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


@plain_errors
def parse_ref(token: str, prefix: str, noun: str) -> int:
    """The number of a promise (``P2``), action (``A1``) or option (``2``, with prefix ``""``).

    The prefix is optional and case-insensitive, so ``p2`` and ``2`` both mean ``P2``. Numbers
    start at 1, as shown on the status card.
    """
    forms = ", ".join(f"`{prefix}{n}`" for n in (1, 2)) + ", …"
    t = token.strip()
    if not t:
        raise ParseError(f"Which {noun}? Use {forms} as shown on the card.")
    m = re.fullmatch(rf"(?:{re.escape(prefix)})?([0-9]{{1,9}})", t, re.IGNORECASE | re.ASCII)
    if m is None or int(m.group(1)) < 1:
        raise ParseError(
            f"{echo(t)} is not {_article(noun)} {noun} number; use {forms} as shown on the card."
        )
    return int(m.group(1))


@plain_errors
def parse_numbered(text: str, noun: str, *, command: str = "recommend") -> tuple[int, str]:
    """Read ``<n> <why>`` (as in ``recommend 2 fastest safe fix``) into (n, why).

    The reason is required: a recommendation without one cannot be weighed by the customer.
    `command` only shapes the usage shown in refusals.
    """
    usage = code(f"{command} <n> <why>")
    s = text.strip()
    if not s:
        raise ParseError(f"Which {noun}, and why? Use {usage}, with the number shown on the card.")
    first, *more = s.split(maxsplit=1)
    why = more[0].strip() if more else ""
    m = re.fullmatch(r"#?([0-9]{1,9})[.):]?", first)
    if m is None or int(m.group(1)) < 1:
        raise ParseError(
            f"{echo(first)} is not {_article(noun)} {noun} number. Use {usage}, with the "
            f"number shown on the card."
        )
    if not why:
        raise ParseError(f"Give the reason after the number: {usage}.")
    return int(m.group(1)), why


@plain_errors
def split_incident_key(text: str) -> tuple[int | None, str]:
    """``(n, rest)`` when `text` starts with the key ``INC-<n>``, else ``(None, text)``.

    A key too long to be a number we give out (``INC-12345678901``) is refused, never read as
    something else: before, such a key fell through and the command acted on the incident of
    the channel it was typed in.
    """
    m = _INCIDENT_KEY.match(text.lstrip())
    if m is None:
        return None, text
    digits = m.group(1)
    if len(digits) > MAX_INCIDENT_DIGITS:
        raise ParseError(f"There is no {echo('INC-' + digits)}: incident numbers have at most "
                         f"{MAX_INCIDENT_DIGITS} digits. `/incident list` shows the open ones.")
    return int(digits), text.lstrip()[m.end():]
