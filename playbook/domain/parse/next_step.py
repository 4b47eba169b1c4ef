"""Does a customer update say what happens next, or when they will hear from us again?

An update that leaves the customer guessing ("we are looking into it") invites the anxious
follow-up call; one that names the next step or the next contact ("next update at 15:30",
"we'll call you back in 30 minutes", "the patch goes out tomorrow") sets their expectations.
`names_next_step` is the check behind the hint on `update`, `send` and the update form; it
never blocks anything, so it leans towards "yes" when the text plausibly names a time or a
next step, and says "no" only when nothing of the kind is there.

Pure: plain text in (as the person meant it, not Slack-escaped), a bool out.
"""

from __future__ import annotations

import re

__all__ = ["names_next_step"]

_WEEKDAYS = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?"
_UNITS = r"(?:min(?:ute)?s?|m|h(?:ou)?rs?|h|hours?|days?|d|weeks?|w)"
_NUMBER = r"(?:\d+(?:[.,]\d+)?|an?|one|two|three|four|five|ten|fifteen|twenty|thirty|forty-five)"

_PATTERNS = tuple(re.compile(p, re.IGNORECASE) for p in (
    # a clock time: 15:30, 3pm, 3 p.m., 9am, 15h30, noon, midnight, end of day
    r"\b\d{1,2}[:.h]\d{2}\b",
    r"\b\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)",
    r"\b(?:noon|midday|midnight|end of (?:the )?(?:day|business|week)|eod|eob|cob)\b",
    # a day: tomorrow, tonight, this afternoon, on Monday, next week
    r"\b(?:tomorrow|tonight|this (?:morning|afternoon|evening)|later today)\b",
    rf"\b(?:on|by|until|next|this|before) {_WEEKDAYS}\b",
    r"\bnext (?:week|month|business day|working day)\b",
    # a span: in 30 minutes, within the hour, within 2 hours, every 30m, half an hour
    rf"\b(?:in|within|every) (?:the next )?{_NUMBER}\s*{_UNITS}\b",
    r"\b(?:in|within) (?:the|an|half an) hour\b",
    r"\bhalf an hour\b",
    # the next contact or step, named: next update, we'll call, next step(s), follow up, ETA
    r"\bnext (?:update|step|steps|call|check-?in|report|contact|message)\b",
    r"\b(?:we|i)(?:'ll| will| are going to| plan to) "
    r"(?:call|update|ring|email|write|message|get back|follow up|send|reach out|be in touch"
    r"|let you know|keep you posted|check)\b",
    r"\b(?:will|'ll) (?:update|call|contact|get back to|follow up with) you\b",
    r"\b(?:follow[- ]?up|eta|estimated time)\b",
    r"\b(?:expect|expected|planned|scheduled) (?:by|at|around|before|on|in)\b",
))


def names_next_step(text: str) -> bool:
    """True when `text` names a next step or a time for the next contact (see the module)."""
    flat = " ".join(text.replace("’", "'").split())
    return any(p.search(flat) for p in _PATTERNS)
