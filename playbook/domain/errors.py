"""Errors the playbook raises when it refuses something a person asked for.

Every refusal is a `PlaybookError` whose message is shown to the person as it is: it says what is
missing and how to supply it, so the Slack layer never has to invent wording of its own.
"""

from __future__ import annotations


class PlaybookError(Exception):
    """A refusal a person can act on. ``str(err)`` is the user-facing text (Slack mrkdwn)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ParseError(PlaybookError):
    """What someone typed could not be read; the message shows the accepted forms."""


class GateError(PlaybookError):
    """A step, close or resolve was asked for before its exit criteria hold."""


class PermissionDenied(PlaybookError):
    """The person may not do this; the message says who can."""


class NotFound(PlaybookError):
    """A referenced incident, option, promise or action does not exist."""
