"""The one table of Slack error kinds (bot/slack/errors.py) judges every name as before.

The sets below are the ones bot/outbox kept in several places before the table existed; each
error name must land in exactly the same kinds, with the same words for the person.
"""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.outbox.lifecycle import LOST_AS
from bot.slack.errors import (
    ERRORS,
    MESSAGE_GONE,
    Lost,
    code_of,
    explain,
    is_permanent,
    is_revoked,
    is_transient,
    lost_channel,
    reason_of,
)

PERMANENT = {
    "channel_not_found": "the channel no longer exists or I can't see it",
    "not_in_channel": "I'm not a member of that channel; invite me with `/invite @crisisbot`",
    "is_archived": "the channel is archived; unarchive it or link another one",
    "restricted_action": "a workspace setting doesn't allow me to do that; ask a Slack admin",
    "missing_scope": "the app lacks a permission; reinstall it from the manifest",
    "user_not_found": "that person isn't in this workspace",
    "cant_invite_self": "I can't invite myself",
    "invalid_auth": "the bot token is no longer valid; reinstall the app",
    "account_inactive": "the bot token is no longer valid; reinstall the app",
    "token_revoked": "the bot token was revoked; reinstall the app",
    "msg_too_long": "the message is too long for Slack",
    "invalid_blocks": "Slack refused the message layout (a bug: please report it)",
}
TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
             "request_timeout"}
REVOKED = {"token_revoked", "invalid_auth", "account_inactive", "not_authed"}
LOST = {"is_archived": Lost.ARCHIVED, "not_in_channel": Lost.REMOVED,
        "channel_not_found": Lost.REMOVED}
OTHERS = ["name_taken", "already_in_channel", "user_is_bot", "already_pinned", "not_archived",
          "message_not_found", "cant_update_message", "invalid_name_specials", "unknown_error",
          ""]
EVERY = sorted({*PERMANENT, *TRANSIENT, *REVOKED, *LOST, *OTHERS})


def refusal(code: str) -> SlackApiError:
    return SlackApiError("refused", {"ok": False, "error": code})


@pytest.mark.parametrize("code", EVERY)
def test_each_error_name_is_judged_as_before(code: str) -> None:
    assert is_permanent(code) is (code in PERMANENT)
    assert is_transient(code) is (code in TRANSIENT)
    assert is_revoked(code) is (code in REVOKED)
    assert lost_channel(code) is LOST.get(code)
    assert explain(refusal(code)) == PERMANENT.get(code, f"Slack said `{code}`")


def test_the_table_holds_nothing_else() -> None:
    assert set(ERRORS) == {*PERMANENT, *TRANSIENT, *REVOKED, *LOST}
    assert set(MESSAGE_GONE) == {"message_not_found", "cant_update_message"}


def test_no_answer_is_none_of_the_kinds() -> None:
    lost = SlackClientError("connection reset")
    assert code_of(lost) is None and reason_of(lost) == "SlackClientError"
    assert reason_of(refusal("is_archived")) == "is_archived"
    assert explain(lost) == "Slack could not be reached"
    assert explain(OSError("timed out")) == "Slack could not be reached"
    assert not is_transient(None) and not is_revoked(None) and lost_channel(None) is None
    assert not is_permanent(None)
    assert explain(SlackApiError("refused", {"ok": False})) == "Slack said `unknown_error`"


def test_every_way_of_losing_a_channel_is_recorded_as_a_change() -> None:
    assert set(LOST_AS) == set(Lost)


def test_every_refusal_of_one_person_slack_documents_for_invites_has_words() -> None:
    """conversations.invite's refusals of a person (as its method page lists them) are skipped
    and explained; none of them is retried."""
    from bot.outbox.conversations import NOTHING_TO_DO
    from bot.slack.errors import INVITE_REFUSALS, invite_refusal, is_transient

    for code in ("user_is_restricted", "ura_max_channels", "cant_invite", "no_permission",
                 "org_user_not_in_team", "user_not_found"):
        words = invite_refusal(code)
        assert words and "`" not in words and not is_transient(code), code
    assert {"already_in_channel", "cant_invite_self"} <= NOTHING_TO_DO
    assert not set(INVITE_REFUSALS) & NOTHING_TO_DO
    assert invite_refusal("ratelimited") is None and invite_refusal(None) is None
