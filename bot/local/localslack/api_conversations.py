"""Web API: auth, users, user groups, Socket Mode URLs and conversations.*."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .apibase import Params, api, channel, member_channel, message_json
from .models import ApiError, Channel
from .state import Workspace

NAME_MAX = 80
TOPIC_MAX = 250
_NAME_OK = re.compile(r"^[a-z0-9_\-]+$")


def channel_json(ws: Workspace, chan: Channel) -> dict[str, Any]:
    """A conversation object shaped like Slack's (the fields apps actually read)."""
    if chan.is_im:
        return {"id": chan.id, "created": chan.created, "is_im": True, "is_org_shared": False,
                "user": chan.im_user, "is_user_deleted": False, "priority": 0}
    return {
        "id": chan.id, "name": chan.name, "name_normalized": chan.name,
        "is_channel": not chan.is_private and not chan.is_mpim,
        "is_group": chan.is_private and not chan.is_mpim, "is_im": False,
        "is_mpim": chan.is_mpim, "is_private": chan.is_private,
        "is_archived": chan.is_archived, "is_general": chan.id == "C0GENERAL",
        "is_shared": chan.is_ext_shared, "is_ext_shared": chan.is_ext_shared,
        "is_org_shared": False,
        "is_member": ws.bot_user_id in chan.members, "created": chan.created,
        "creator": chan.creator, "context_team_id": ws.team_id,
        "topic": {"value": chan.topic, "creator": "", "last_set": 0},
        "purpose": {"value": chan.purpose, "creator": "", "last_set": 0},
        "num_members": len(chan.members),
    }


@api("auth.test")
def auth_test(ws: Workspace, p: Params) -> dict[str, Any]:
    bot = ws._users[ws.bot_user_id]
    return {"ok": True, "url": f"{ws.base_url}/", "team": "Local Slack", "user": bot.name,
            "team_id": ws.team_id, "user_id": ws.bot_user_id, "bot_id": ws.bot_id,
            "app_id": ws.app_id, "is_enterprise_install": False}


@api("apps.connections.open")
def apps_connections_open(ws: Workspace, p: Params) -> dict[str, Any]:
    return {"ok": True, "url": ws._issue_socket_url()}


def _tz_offset(tz: str) -> tuple[int, str]:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return 0, tz
    now = datetime.now(UTC).astimezone(zone)
    offset = now.utcoffset()
    return int(offset.total_seconds()) if offset else 0, now.tzname() or tz


@api("users.info")
def users_info(ws: Workspace, p: Params) -> dict[str, Any]:
    user = ws._users.get(p.req("user", "user_not_found"))
    if user is None:
        raise ApiError("user_not_found")
    offset, label = _tz_offset(user.tz)
    real = user.real_name or user.name
    return {"ok": True, "user": {
        "id": user.id, "team_id": ws.team_id, "name": user.name, "deleted": user.deleted,
        "real_name": real, "tz": user.tz, "tz_label": label, "tz_offset": offset,
        "is_bot": user.is_bot, "is_app_user": False, "is_admin": user.is_admin,
        "is_owner": user.is_owner,
        "is_restricted": user.is_restricted, "is_ultra_restricted": user.is_ultra_restricted,
        "updated": int(time.time()),
        "profile": {"real_name": real, "display_name": user.name, "team": ws.team_id},
    }}


@api("usergroups.users.list")
def usergroups_users_list(ws: Workspace, p: Params) -> dict[str, Any]:
    group = ws._usergroups.get(p.req("usergroup", "no_such_subteam"))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}


def _check_name(ws: Workspace, name: str | None) -> str:
    """Slack's channel-name rules; the error names are the ones Slack returns."""
    if not name:
        raise ApiError("invalid_name_required")
    if len(name) > NAME_MAX:
        raise ApiError("invalid_name_maxlength")
    if not _NAME_OK.match(name):
        raise ApiError("invalid_name_specials")
    if set(name) <= {"-", "_"}:
        raise ApiError("invalid_name_punctuation")
    if any(c.name == name for c in ws._channels.values() if not c.is_im):
        raise ApiError("name_taken")
    return name


@api("conversations.create")
def conversations_create(ws: Workspace, p: Params) -> dict[str, Any]:
    name = _check_name(ws, p.opt("name"))
    private = p.flag("is_private")
    cid = ws._new_id("C")
    chan = Channel(cid, name, is_private=private, members={ws.bot_user_id},
                   created=int(time.time()), creator=ws.bot_user_id)
    ws._channels[cid] = chan
    ws._messages[cid] = []
    joined(ws, chan, ws.bot_user_id)  # the creator joins its new channel, and hears it
    return {"ok": True, "channel": channel_json(ws, chan)}


def joined(ws: Workspace, chan: Channel, user_id: str, inviter: str | None = None) -> None:
    """member_joined_channel as Slack sends it (https://docs.slack.dev/reference/events/
    member_joined_channel): ``channel_type`` C or G, ``inviter`` when someone added them."""
    event: dict[str, Any] = {"type": "member_joined_channel", "user": user_id,
                             "channel": chan.id, "channel_type": "G" if chan.is_private else "C",
                             "team": ws.team_id}
    if inviter:
        event["inviter"] = inviter
    ws._emit(event)


def invite_refusal(ws: Workspace, chan: Channel, uid: str) -> str | None:
    """Why Slack would refuse to invite ``uid`` (conversations.invite's error table,
    https://docs.slack.dev/reference/methods/conversations.invite), or None."""
    user = ws._users.get(uid)
    if uid == ws.bot_user_id:
        return "cant_invite_self"  # "Authenticated user cannot invite themselves"
    if user is None or user.deleted:
        return "user_not_found"  # "Value passed for users was invalid"
    if uid in chan.members:
        return "already_in_channel"
    if user.org_only:
        # "One or more members invited are part of the Enterprise organization but not the
        # specific workspace you're interfacing with."
        return "org_user_not_in_team"
    if user.team_id and user.team_id != ws.team_id:
        # Someone of another organisation: only a Slack Connect channel can hold them, and
        # even there the app "does not have permission to invite that specific user".
        return "no_permission" if chan.is_ext_shared else "cant_invite"
    if user.is_ultra_restricted and any(
            uid in c.members for c in ws._channels.values() if not c.is_im and not c.is_mpim):
        # "An invited user is a single-channel guest user ('ultra restricted access') that is
        # already in the maximum number of conversations."
        return "ura_max_channels"
    if user.is_restricted and not user.is_ultra_restricted and chan.id not in user.guest_channels:
        # "An invited user is a guest user that is restricted from accessing this conversation."
        return "user_is_restricted"
    return None


@api("conversations.info")
def conversations_info(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    if chan.is_private and ws.bot_user_id not in chan.members:
        raise ApiError("channel_not_found")  # private channels are invisible to non-members
    return {"ok": True, "channel": channel_json(ws, chan)}


def _set_text(ws: Workspace, p: Params, field: str) -> dict[str, Any]:
    chan = member_channel(ws, p.req("channel", "channel_not_found"))
    value = p.opt(field, default="") or ""
    if len(value) > TOPIC_MAX:
        raise ApiError("too_long")
    setattr(chan, field, value)
    return {"ok": True, "channel": channel_json(ws, chan)}


@api("conversations.setTopic")
def conversations_set_topic(ws: Workspace, p: Params) -> dict[str, Any]:
    return _set_text(ws, p, "topic")


@api("conversations.setPurpose")
def conversations_set_purpose(ws: Workspace, p: Params) -> dict[str, Any]:
    return _set_text(ws, p, "purpose")


@api("conversations.invite")
def conversations_invite(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    if chan.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if chan.is_archived:
        raise ApiError("is_archived")
    if ws.bot_user_id not in chan.members:
        raise ApiError("not_in_channel")
    users = p.csv("users")
    if not users:
        raise ApiError("no_user")
    if len(users) > 1000:
        raise ApiError("too_many_users")
    errors: list[dict[str, Any]] = []
    valid: list[str] = []
    for uid in users:
        error = invite_refusal(ws, chan, uid)
        if error is None:
            valid.append(uid)
        else:
            errors.append({"user": uid, "ok": False, "error": error})
    # The page: with several users, one refusal fails the whole call (nobody is invited)
    # unless ``force`` asks to invite the valid ones anyway.
    if errors and not p.flag("force"):
        raise ApiError(errors[0]["error"], errors=errors)
    chan.members.update(valid)
    for uid in valid:
        joined(ws, chan, uid, inviter=ws.bot_user_id)
    out: dict[str, Any] = {"ok": True, "channel": channel_json(ws, chan)}
    if errors:
        out["errors"] = errors
    return out


@api("conversations.join")
def conversations_join(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    if chan.is_private or chan.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if chan.is_archived:
        raise ApiError("is_archived")
    out: dict[str, Any] = {"ok": True}
    if ws.bot_user_id in chan.members:
        out["warning"] = "already_in_channel"
    else:
        joined(ws, chan, ws.bot_user_id)
    chan.members.add(ws.bot_user_id)
    out["channel"] = channel_json(ws, chan)
    return out


@api("conversations.members")
def conversations_members(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    if chan.is_private and ws.bot_user_id not in chan.members:
        raise ApiError("channel_not_found")
    members = sorted(chan.members)
    start = int(p.opt("cursor", default="0") or 0)
    limit = int(p.opt("limit", default="100") or 100)
    page = members[start:start + limit]
    nxt = str(start + limit) if start + limit < len(members) else ""
    return {"ok": True, "members": page, "response_metadata": {"next_cursor": nxt}}


@api("conversations.archive")
def conversations_archive(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    if chan.id == "C0GENERAL":
        raise ApiError("cant_archive_general")
    if chan.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if chan.is_archived:
        raise ApiError("already_archived")
    if ws.bot_user_id not in chan.members:
        raise ApiError("not_in_channel")
    chan.is_archived = True
    ws._emit(archive_event(chan, ws.bot_user_id, archived=True))
    return {"ok": True}


def archive_event(chan: Channel, user_id: str, *, archived: bool) -> dict[str, Any]:
    """channel_archive, channel_unarchive and group_archive name the person in ``user``
    (https://docs.slack.dev/reference/events/channel_archive, .../channel_unarchive, the node
    SDK's GroupArchiveEvent); group_unarchive names them in ``actor_id``
    (GroupUnarchiveEvent)."""
    kind = ("group_" if chan.is_private else "channel_") + ("archive" if archived
                                                            else "unarchive")
    who = "actor_id" if chan.is_private and not archived else "user"
    return {"type": kind, "channel": chan.id, who: user_id}


@api("conversations.unarchive")
def conversations_unarchive(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    if chan.is_im or chan.is_mpim:
        raise ApiError("method_not_supported_for_channel_type")
    if chan.is_private and ws.bot_user_id not in chan.members:
        raise ApiError("channel_not_found")  # private channels are invisible to non-members
    if not chan.is_archived:
        raise ApiError("not_archived")
    if ws.bot_unarchive_error:  # bot tokens cannot unarchive: see Workspace.bot_unarchive_error
        raise ApiError(ws.bot_unarchive_error)
    chan.is_archived = False
    chan.members.add(ws.bot_user_id)  # Slack: "the calling user is added to the conversation"
    ws._emit(archive_event(chan, ws.bot_user_id, archived=False))
    return {"ok": True}


@api("conversations.open")
def conversations_open(ws: Workspace, p: Params) -> dict[str, Any]:
    if p.has("channel"):
        chan = channel(ws, p.opt("channel"))
        return {"ok": True, "channel": {"id": chan.id}}
    users = [u for u in p.csv("users") if u != ws.bot_user_id]
    if not users:
        raise ApiError("users_list_not_supplied")
    for uid in users:
        if uid not in ws._users:
            raise ApiError("user_not_found")
    if len(users) == 1:
        existed = ws.dm_channel_id(users[0]) is not None
        chan = ws._dm_channel(users[0])
    else:
        wanted = {*users, ws.bot_user_id}
        found = [c for c in ws._channels.values() if c.is_mpim and c.members == wanted]
        existed = bool(found)
        if found:
            chan = found[0]
        else:
            cid = ws._new_id("C")
            chan = Channel(cid, "mpdm-" + "--".join(sorted(wanted)) + "-1", is_private=True,
                           is_mpim=True, members=wanted, created=int(time.time()),
                           creator=ws.bot_user_id)
            ws._channels[cid] = chan
            ws._messages[cid] = []
    body: dict[str, Any] = {"ok": True, "channel": {"id": chan.id}}
    if existed:
        body.update(no_op=True, already_open=True)
    if p.flag("return_im"):
        body["channel"] = channel_json(ws, chan)
    return body


@api("conversations.history")
def conversations_history(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = member_channel(ws, p.req("channel", "channel_not_found"), allow_archived=True)
    msgs = [m for m in ws._messages[chan.id]
            if not m.thread_ts or m.thread_ts == m.ts or m.reply_broadcast]
    # Slack's window: oldest < ts < latest, bounds included with inclusive=true
    inclusive = p.flag("inclusive")
    oldest, latest = p.opt("oldest"), p.opt("latest")
    if oldest:
        msgs = [m for m in msgs if float(m.ts) > float(oldest)
                or (inclusive and m.ts == oldest)]
    if latest:
        msgs = [m for m in msgs if float(m.ts) < float(latest)
                or (inclusive and m.ts == latest)]
    limit = int(p.opt("limit", default="100") or 100)
    newest = list(reversed(msgs))
    start = int(p.opt("cursor", default="0") or 0)
    page = newest[start:start + limit]
    more = start + limit < len(newest)
    shown = [message_json(ws, m) for m in page]
    if not p.flag("include_all_metadata"):
        # Slack: message metadata comes back only with include_all_metadata=true
        for body in shown:
            body.pop("metadata", None)
    return {"ok": True, "messages": shown, "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""}}


@api("users.conversations")
def users_conversations(ws: Workspace, p: Params) -> dict[str, Any]:
    """The conversations the calling user (here: the bot) is a member of, each with its
    `creator`. Slack: types default to public_channel; limit at most 999 (Tier 3)."""
    types = set(p.csv("types") or ["public_channel"])
    limit = int(p.opt("limit", default="100") or 100)
    if limit > 999:
        raise ApiError("invalid_limit")
    mine = []
    for chan in ws._channels.values():
        kind = ("im" if chan.is_im else "mpim" if chan.is_mpim
                else "private_channel" if chan.is_private else "public_channel")
        if kind not in types or ws.bot_user_id not in chan.members:
            continue
        if chan.is_archived and p.flag("exclude_archived"):
            continue
        mine.append(chan)
    start = int(p.opt("cursor", default="0") or 0)
    page = mine[start:start + limit]
    nxt = str(start + limit) if start + limit < len(mine) else ""
    return {"ok": True, "channels": [channel_json(ws, c) for c in page],
            "response_metadata": {"next_cursor": nxt}}


@api("conversations.replies")
def conversations_replies(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = member_channel(ws, p.req("channel", "channel_not_found"), allow_archived=True)
    ts = p.req("ts", "thread_not_found")
    msgs = [m for m in ws._messages[chan.id] if m.ts == ts or m.thread_ts == ts]
    if not msgs:
        raise ApiError("thread_not_found")
    return {"ok": True, "messages": [message_json(ws, m) for m in msgs], "has_more": False,
            "response_metadata": {"next_cursor": ""}}
