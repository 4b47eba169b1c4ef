"""Free text with one structural mark: the customer's colon in ``open``, ``risk:`` in ``option``."""

from __future__ import annotations

import re

from playbook.domain.errors import ParseError
from playbook.domain.parse.common import code, echo, outside, plain_errors, token_spans

__all__ = ["OPTION_USAGE", "parse_open", "parse_option"]

_SEVERITY = re.compile(r"sev-?([0-9]+)(:?)", re.IGNORECASE | re.ASCII)
_OPEN_USAGE = (
    f"{code('/incident open [sev1-4] <customer>: <what happened>')}, e.g. "
    f"{code('/incident open Acme: all lobby screens show a setup error')}"
)


@plain_errors
def parse_open(text: str) -> tuple[str | None, str, str]:
    """Read ``[sevN] <customer>: <what happened>`` into (severity, customer, what).

    The severity is an optional first word ``sev1``…``sev9`` (also ``SEV-2``), returned as
    ``"sev2"``; what levels exist is the playbook's business. The customer ends at the first
    colon outside Slack tokens (a link ``<https://…>`` has colons of its own); it keeps its case
    with whitespace collapsed. What happened is kept as typed, trimmed.
    """
    s = text.strip()
    if not s:
        raise ParseError(f"Tell me the customer and what happened: {_OPEN_USAGE}.")
    severity: str | None = None
    first = s.split(maxsplit=1)[0]
    sev = _SEVERITY.fullmatch(first)
    if sev is not None:
        if sev.group(2):  # "sev2: …": the colon came straight after the severity
            raise ParseError(f"Who is the customer? Use {_OPEN_USAGE}.")
        digits = sev.group(1)
        level = int(digits) if len(digits) <= 2 else 0
        if not 1 <= level <= 9:
            raise ParseError(f"{echo(first)} is not a severity I know. Use {_OPEN_USAGE}.")
        severity = f"sev{level}"
        s = s[len(first) :].strip()

    spans = token_spans(s)
    colon = next((i for i, ch in enumerate(s) if ch == ":" and outside(i, spans)), -1)
    if colon == -1:
        raise ParseError(f"Put a colon after the customer's name: {_OPEN_USAGE}.")
    customer = " ".join(s[:colon].split())
    what = s[colon + 1 :].strip()
    if not customer:
        raise ParseError(f"Who is the customer? Use {_OPEN_USAGE}.")
    if not what:
        raise ParseError(f"What happened to {echo(customer)}? Use {_OPEN_USAGE}.")
    return severity, customer, what


_RISK = re.compile(r"(?<!\w)risk\s*:", re.IGNORECASE)
OPTION_USAGE = (
    f"{code('option <text> [risk: <text>]')}, e.g. "
    f"{code('option roll back to 4.2 risk: loses today’s settings')}"
)
_BRACKETS = {"(": ")", "[": "]"}


@plain_errors
def parse_option(text: str) -> tuple[str, str | None]:
    """Read ``<text> [risk: <text>]`` into (option, risk or None).

    The risk starts at the last ``risk:`` (any case, as a word of its own, outside Slack
    tokens), so an option may itself mention risk. ``(risk: …)`` in brackets and a dash or comma
    before ``risk:`` are tidied away. ``risk:`` with nothing after it is refused rather than
    dropped, since the person evidently meant to name one.
    """
    s = text.strip()
    spans = token_spans(s)
    marks = [m for m in _RISK.finditer(s) if outside(m.start(), spans)]
    if not marks:
        if not s:
            raise ParseError(f"Describe the option: {OPTION_USAGE}.")
        return s, None
    mark = marks[-1]
    option = s[: mark.start()].rstrip()
    risk = s[mark.end() :].strip()
    if option[-1:] in _BRACKETS and risk.endswith(_BRACKETS[option[-1]]):
        option, risk = option[:-1].rstrip(), risk[:-1].rstrip()
    option = option.rstrip(" ,;:-–—").rstrip()
    if not option:
        raise ParseError(f"Describe the option before its risk: {OPTION_USAGE}.")
    if not risk:
        raise ParseError(f"Say what the risk is after `risk:`, or leave it out: {OPTION_USAGE}.")
    return option, risk
