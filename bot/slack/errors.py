"""What the bot makes of each error name Slack answers with, in one table.

Whether a refusal is worth a retry, means the install is gone, or loses us a channel is decided
here, so it is judged the same way everywhere; a handler names an error itself only where one
call gives it a meaning of its own (``already_pinned`` for a pin, ``already_in_channel`` for an
invite). The kinds:

* **permanent**: a retry will not fix it; the person who asked is told why (`explain`);
* **transient**: worth another try from the outbox;
* **revoked**: the app lost its install; the team's sends are paused, not failed;
* **lost channel**: the channel is gone for the bot (archived, or the bot removed).

An error may be of several kinds (`token_revoked` is permanent and revoked; `is_archived` is
permanent and a lost channel). Names not in the table are none of these: the outbox retries
them a few times, then reports them as "Slack said `<name>`".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from slack_sdk.errors import SlackApiError


class Lost(Enum):
    """How a channel was lost to the bot."""

    ARCHIVED = "archived"
    REMOVED = "removed"


@dataclass(frozen=True)
class SlackError:
    """One error name's kinds; `why` (for the person) is set exactly for permanent ones."""

    why: str | None = None
    transient: bool = False
    revoked: bool = False
    lost: Lost | None = None

    @property
    def permanent(self) -> bool:
        return self.why is not None


_REINSTALL = "the bot token is no longer valid; reinstall the app"

ERRORS: dict[str, SlackError] = {
    # permanent: told to the person who asked
    "channel_not_found": SlackError("the channel no longer exists or I can't see it",
                                    lost=Lost.REMOVED),
    "not_in_channel": SlackError("I'm not a member of that channel; invite me with "
                                 "`/invite @crisisbot`", lost=Lost.REMOVED),
    "is_archived": SlackError("the channel is archived; unarchive it or link another one",
                              lost=Lost.ARCHIVED),
    "restricted_action": SlackError("a workspace setting doesn't allow me to do that; ask a "
                                    "Slack admin"),
    "missing_scope": SlackError("the app lacks a permission; reinstall it from the manifest"),
    "user_not_found": SlackError("that person isn't in this workspace"),
    "cant_invite_self": SlackError("I can't invite myself"),
    "invalid_auth": SlackError(_REINSTALL, revoked=True),
    "account_inactive": SlackError(_REINSTALL, revoked=True),
    "token_revoked": SlackError("the bot token was revoked; reinstall the app", revoked=True),
    "msg_too_long": SlackError("the message is too long for Slack"),
    "invalid_blocks": SlackError("Slack refused the message layout (a bug: please report it)"),
    # revoked but not permanent: the install is gone, so the team is paused
    "not_authed": SlackError(revoked=True),
    # transient: the outbox tries again
    "ratelimited": SlackError(transient=True),
    "internal_error": SlackError(transient=True),
    "fatal_error": SlackError(transient=True),
    "service_unavailable": SlackError(transient=True),
    "request_timeout": SlackError(transient=True),
}
_NONE = SlackError()

# conversations.invite's refusals of one person (not of the channel or the app): the person is
# skipped, never retried, and named to whoever asked and on the card, with these words after
# "couldn't invite @person: ". A name not here falls back to the table above (`explain`).
INVITE_REFUSALS: dict[str, str] = {
    "user_is_restricted": "they are a guest account, and guests join only the channels a "
                          "Slack admin adds them to",
    "ura_max_channels": "they are a single-channel guest who is already in their one channel",
    "cant_invite": "Slack doesn't allow inviting them to this channel (a guest or "
                   "workspace setting)",
    "no_permission": "I'm not allowed to invite people to this channel; ask a Slack admin",
    "org_user_not_in_team": "they are in the organization but not in this workspace",
    "user_not_found": "that person isn't in this workspace",
    "user_is_bot": "it's an app, not a person; add apps from the channel's settings",
    "user_disabled": "their account is deactivated",
}


def invite_refusal(code: str | None) -> str | None:
    """Why Slack would not let us invite one person, in words; None if `code` is no such
    refusal (then it is the channel's or the app's problem, or worth a retry)."""
    return INVITE_REFUSALS.get(code) if code is not None else None


# chat.update of a message that is no longer there to update: post it afresh instead.
MESSAGE_GONE = frozenset({"message_not_found", "cant_update_message"})


def code_of(err: Exception) -> str | None:
    """Slack's error name for an API refusal; None for anything else (no answer at all)."""
    if not isinstance(err, SlackApiError):
        return None
    code = err.response.get("error")
    return None if code is None else str(code)


def kind_of(code: str | None) -> SlackError:
    return ERRORS.get(code, _NONE) if code is not None else _NONE


def reason_of(err: Exception) -> str:
    """For a log line: Slack's error name, or the exception's type when Slack never answered."""
    return code_of(err) or type(err).__name__


def is_permanent(code: str | None) -> bool:
    return kind_of(code).permanent


def is_transient(code: str | None) -> bool:
    return kind_of(code).transient


def is_revoked(code: str | None) -> bool:
    return kind_of(code).revoked


def lost_channel(code: str | None) -> Lost | None:
    return kind_of(code).lost


def explain(err: Exception) -> str:
    """Why it failed, in words for the person who asked."""
    if not isinstance(err, SlackApiError):
        return "Slack could not be reached"
    code = str(err.response.get("error", "unknown_error"))
    return kind_of(code).why or f"Slack said `{code}`"
