"""Reading what people type after ``/incident``: durations, due times, people, channels, numbers.

Input is the command text exactly as Slack sends it with ``should_escape: true``: mentions as
``<@U123|name>`` (``W…`` on Enterprise Grid), channels as ``<#C123|name>`` (the label may be
empty or absent), user groups as ``<!subteam^S123|@name>``, links as ``<https://x|label>``, and
a literal ``&``, ``<`` or ``>`` as ``&amp;``, ``&lt;``, ``&gt;``. So every ``<`` in the input
opens a Slack token, which lets the parsers skip colons or keywords inside links and labels.

Free text handed back (a customer name, what happened, an option, a promise) is returned *as
Slack sent it*, still escaped: callers run `playbook.domain.text.unescape` before storing it and
`playbook.domain.text.esc` when posting it.

Every refusal is a `ParseError` whose message is Slack mrkdwn written for the person: it says
what was wrong and shows the accepted forms. Anything the person typed that is echoed back is
unescaped, flattened to one line, cut to about 100 characters and escaped again, so it can never
ping anyone or break the message's formatting. For any ``str`` input these functions raise
nothing but `ParseError` (a naive `now`, a programming error, is a `ValueError`).

Pure: no Slack, no database, and no clock reads; `now` is always passed in. One module per kind
of thing read (`durations`, `due`, `people`, `numbers`, `phrases`, `customers`,
`working_hours`); the parsers are imported from this package.
"""

from __future__ import annotations

from playbook.domain.parse.customers import normalize_customer
from playbook.domain.parse.due import parse_due, split_when
from playbook.domain.parse.durations import MAX_DURATION, parse_duration
from playbook.domain.parse.numbers import parse_numbered, parse_ref, split_incident_key
from playbook.domain.parse.people import parse_channel, parse_user, split_trailing_user
from playbook.domain.parse.phrases import parse_open, parse_option
from playbook.domain.parse.working_hours import parse_cadence, parse_window

__all__ = [
    "MAX_DURATION",
    "normalize_customer",
    "parse_cadence",
    "parse_channel",
    "parse_due",
    "parse_duration",
    "parse_numbered",
    "parse_open",
    "parse_option",
    "parse_ref",
    "parse_user",
    "parse_window",
    "split_incident_key",
    "split_trailing_user",
    "split_when",
]
