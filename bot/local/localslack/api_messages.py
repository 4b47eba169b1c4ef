"""Web API: chat.*, pins, bookmarks, reactions, files; plus response_url posts and the
content of slash-command acks, which reach users just like messages do."""

from __future__ import annotations

import copy
import time
from typing import Any

from .apibase import (
    Params,
    api,
    channel,
    fill_ids,
    find_message,
    member_channel,
    message_content,
    message_json,
    postable_channel,
)
from .limits import check_blocks, fallback_missing
from .models import ApiError, Bookmark, Ephemeral, FileRecord, Message, ResponsePost
from .state import Workspace


@api("chat.postMessage")
def chat_post_message(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = postable_channel(ws, p.req("channel", "channel_not_found"))
    text, blocks, attachments = message_content(ws, p)
    msg = Message(ws._new_ts(), chan.id, ws.bot_user_id, text or "", blocks,
                  thread_ts=p.opt("thread_ts"), attachments=attachments,
                  metadata=p.json("metadata"), reply_broadcast=p.flag("reply_broadcast"))
    ws._messages[chan.id].append(msg)
    return {"ok": True, "channel": chan.id, "ts": msg.ts, "message": message_json(ws, msg)}


@api("chat.update")
def chat_update(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    if chan.is_archived:
        raise ApiError("is_archived")
    msg = find_message(ws, chan, p.req("ts", "message_not_found"))
    if msg.user != ws.bot_user_id:
        raise ApiError("cant_update_message")
    text, blocks, attachments = message_content(ws, p, require=False)
    if text is None and blocks is None and attachments is None:
        raise ApiError("no_text")
    msg.history.append({"text": msg.text, "blocks": copy.deepcopy(msg.blocks)})
    msg.edits += 1
    if text is not None:
        msg.text = text
    if blocks is not None:
        msg.blocks = blocks or None
    if attachments is not None:
        msg.attachments = attachments
    return {"ok": True, "channel": chan.id, "ts": msg.ts, "text": msg.text,
            "message": message_json(ws, msg)}


@api("chat.delete")
def chat_delete(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    msg = find_message(ws, chan, p.req("ts", "message_not_found"))
    if msg.user != ws.bot_user_id:
        raise ApiError("cant_delete_message")
    ws._messages[chan.id].remove(msg)
    return {"ok": True, "channel": chan.id, "ts": msg.ts}


@api("chat.postEphemeral")
def chat_post_ephemeral(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = postable_channel(ws, p.req("channel", "channel_not_found"))
    user = p.req("user", "user_not_found")
    if user not in ws._users:
        raise ApiError("user_not_found")
    if user not in chan.members:
        raise ApiError("user_not_in_channel")
    text, blocks, _ = message_content(ws, p)
    eph = Ephemeral(ws._new_ts(), chan.id, user, text or "", blocks,
                    thread_ts=p.opt("thread_ts"))
    ws._ephemerals.append(eph)
    return {"ok": True, "message_ts": eph.ts}


@api("chat.getPermalink")
def chat_get_permalink(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    if chan.is_private and ws.bot_user_id not in chan.members:
        raise ApiError("channel_not_found")  # private channels are invisible to non-members
    msg = find_message(ws, chan, p.req("message_ts", "message_not_found"))
    link = f"{ws.base_url}/archives/{chan.id}/p{msg.ts.replace('.', '')}"
    return {"ok": True, "channel": chan.id, "permalink": link}


@api("pins.add")
def pins_add(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = member_channel(ws, p.req("channel", "channel_not_found"))
    ts = p.opt("timestamp")
    if not ts:
        raise ApiError("no_item_specified")
    find_message(ws, chan, ts)
    pins = ws._pins.setdefault(chan.id, [])
    if ts in pins:
        raise ApiError("already_pinned")
    pins.append(ts)
    msg = find_message(ws, chan, ts)
    # pin_added (https://docs.slack.dev/reference/events/pin_added) reaches the app for its
    # own pin too: ``user`` is the bot, the item carries the message.
    ws._emit({"type": "pin_added", "user": ws.bot_user_id, "channel_id": chan.id,
              "item": {"type": "message", "channel": chan.id, "created": int(time.time()),
                       "created_by": ws.bot_user_id, "message": message_json(ws, msg)},
              "pin_count": len(pins)})
    return {"ok": True}


@api("pins.remove")
def pins_remove(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = member_channel(ws, p.req("channel", "channel_not_found"))
    ts = p.opt("timestamp")
    if not ts:
        raise ApiError("no_item_specified")
    pins = ws._pins.get(chan.id, [])
    if ts not in pins:
        raise ApiError("no_pin")
    pins.remove(ts)
    return {"ok": True}


@api("pins.list")
def pins_list(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    items = []
    for ts in ws._pins.get(chan.id, []):
        msg = ws._find_message(chan.id, ts)
        if msg:
            items.append({"type": "message", "channel": chan.id, "created_by": ws.bot_user_id,
                          "message": message_json(ws, msg)})
    return {"ok": True, "items": items}


BOOKMARK_TITLE_MAX = 255  # longer titles are refused rather than cut
# bookmarks.add (https://docs.slack.dev/reference/methods/bookmarks.add): a link is at most
# 2048 characters ("invalid_link"), and a channel holds at most 100 bookmarks
# ("too_many_bookmarks").
BOOKMARK_LINK_MAX = 2048
BOOKMARKS_MAX = 100


@api("bookmarks.add")
def bookmarks_add(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = member_channel(ws, p.req("channel_id", "channel_not_found"))
    title = p.req("title")
    kind = p.req("type")
    if kind != "link":
        raise ApiError("invalid_bookmark_type")
    if len(title) > BOOKMARK_TITLE_MAX:
        raise ApiError("invalid_arguments", response_metadata={
            "messages": [f"[ERROR] title is over {BOOKMARK_TITLE_MAX} characters"]})
    link = p.opt("link") or ""
    if (not link.startswith(("http://", "https://")) or any(c in link for c in " <>|\n")
            or len(link) > BOOKMARK_LINK_MAX):
        raise ApiError("invalid_link")
    if chan.bookmarks_restricted:
        raise ApiError("restricted_action")
    if len(ws._bookmarks.get(chan.id, [])) >= BOOKMARKS_MAX:
        raise ApiError("too_many_bookmarks")
    mark = Bookmark(ws._new_id("Bk"), chan.id, title, kind, link, p.opt("emoji"))
    ws._bookmarks.setdefault(chan.id, []).append(mark)
    return {"ok": True, "bookmark": {
        "id": mark.id, "channel_id": chan.id, "title": title, "link": link, "type": kind,
        "emoji": mark.emoji, "date_created": int(time.time()), "rank": "U"}}


@api("bookmarks.list")
def bookmarks_list(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel_id", "channel_not_found"))
    if chan.is_private and ws.bot_user_id not in chan.members:
        raise ApiError("channel_not_found")
    return {"ok": True, "bookmarks": [
        {"id": b.id, "channel_id": b.channel_id, "title": b.title, "link": b.link,
         "type": b.type, "emoji": b.emoji} for b in ws._bookmarks.get(chan.id, [])]}


@api("reactions.add")
def reactions_add(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = member_channel(ws, p.req("channel", "channel_not_found"))
    msg = find_message(ws, chan, p.req("timestamp", "no_item_specified"))
    name = p.req("name", "invalid_name").strip(":")
    users = ws._reactions.setdefault((chan.id, msg.ts), {}).setdefault(name, [])
    if ws.bot_user_id in users:
        raise ApiError("already_reacted")
    users.append(ws.bot_user_id)
    return {"ok": True}


@api("reactions.get")
def reactions_get(ws: Workspace, p: Params) -> dict[str, Any]:
    chan = channel(ws, p.req("channel", "channel_not_found"))
    msg = find_message(ws, chan, p.req("timestamp", "no_item_specified"))
    body = message_json(ws, msg)
    got = ws._reactions.get((chan.id, msg.ts), {})
    if got:
        body["reactions"] = [{"name": n, "users": list(u), "count": len(u)}
                             for n, u in got.items()]
    return {"ok": True, "type": "message", "channel": chan.id, "message": body}


@api("files.getUploadURLExternal")
def files_get_upload_url(ws: Workspace, p: Params) -> dict[str, Any]:
    filename = p.req("filename")
    try:
        length = int(p.req("length"))
    except ValueError as exc:
        raise ApiError("invalid_arguments") from exc
    fid = ws._new_id("F")
    ws._files[fid] = FileRecord(fid, filename, length)
    return {"ok": True, "upload_url": f"{ws.base_url}/upload/{fid}", "file_id": fid}


@api("files.completeUploadExternal")
def files_complete_upload(ws: Workspace, p: Params) -> dict[str, Any]:
    files = p.json("files")
    if not isinstance(files, list) or not files:
        raise ApiError("invalid_arguments")
    records = []
    for item in files:
        rec = ws._files.get(item.get("id", "")) if isinstance(item, dict) else None
        if rec is None or not rec.uploaded:
            raise ApiError("file_not_found")
        rec.title = item.get("title") or rec.filename
        records.append(rec)
    target = p.opt("channel_id") or (p.csv("channels") or [None])[0]
    comment = p.opt("initial_comment")
    if target:
        chan = postable_channel(ws, target)
        thread_ts = p.opt("thread_ts")
        for rec in records:
            rec.channel_id, rec.initial_comment, rec.thread_ts = chan.id, comment, thread_ts
        ws._messages[chan.id].append(Message(ws._new_ts(), chan.id, ws.bot_user_id, comment or "",
                                             thread_ts=thread_ts,
                                             files=[r.id for r in records]))
    return {"ok": True, "files": [{"id": r.id, "title": r.title, "name": r.filename}
                                  for r in records]}


# ---------------------------------------------------------------------- replies to users
def _content_problems(ws: Workspace, where: str, text: Any, blocks: Any,
                      attachments: Any = None) -> list[str]:
    errors = check_blocks(blocks, surface="message") if blocks is not None else []
    for e in errors:
        ws.violation(f"{where}: {e}")
    if not errors and fallback_missing(text, blocks, attachments):
        ws.violation(f"{where}: blocks sent without fallback text")
    return errors


def deliver_reply(ws: Workspace, *, source: str, user_id: str, channel_id: str | None,
                  data: dict[str, Any], replace: Message | Ephemeral | None = None) -> None:
    """Show a respond()/ack body to people: in the channel, to the user only, or in place
    of the message it came from."""
    text = data.get("text") or ""
    blocks = fill_ids(data["blocks"]) if isinstance(data.get("blocks"), list) else None
    if replace is not None:
        if isinstance(replace, Message):
            replace.history.append({"text": replace.text, "blocks": replace.blocks})
        replace.text, replace.blocks = text, blocks
        replace.edits += 1
    elif data.get("response_type") == "in_channel" and channel_id in ws._messages:
        ws._messages[channel_id].append(Message(ws._new_ts(), channel_id, ws.bot_user_id, text,
                                                blocks, thread_ts=data.get("thread_ts")))
    else:
        ws._ephemerals.append(Ephemeral(ws._new_ts(), channel_id or "", user_id, text, blocks,
                                        thread_ts=data.get("thread_ts"), source=source))


def apply_ack(ws: Workspace, where: str, user_id: str, channel_id: str | None,
              body: Any) -> None:
    """A slash command's ack body is shown to the user like a respond() call."""
    data = {"text": body} if isinstance(body, str) else body
    if not isinstance(data, dict) or not (data.get("text") or data.get("blocks")):
        return
    with ws._lock:
        if not _content_problems(ws, where, data.get("text"), data.get("blocks")):
            deliver_reply(ws, source="ack", user_id=user_id, channel_id=channel_id, data=data)


def post_response_url(ws: Workspace, rid: str, data: Any) -> tuple[int, str]:
    """POST to a response_url: (HTTP status, body text) as Slack's hooks answer."""
    with ws._lock:
        ru = ws._response_urls.get(rid)
        if ru is None:
            return 404, "invalid_url"
        if time.monotonic() - ru.issued > ws.response_url_ttl:
            return 404, "expired_url"
        if ru.uses >= ws.response_url_max_uses:
            ws.violation(f"response_url used more than {ws.response_url_max_uses} times")
            return 404, "used_url"
        if not isinstance(data, dict):
            return 400, "invalid_payload"
        delete = bool(data.get("delete_original"))
        if _content_problems(ws, "response_url", data.get("text"), data.get("blocks"),
                             data.get("attachments")):
            return 400, "invalid_blocks"
        if not delete and not (data.get("text") or data.get("blocks")
                               or data.get("attachments")):
            return 400, "no_text"
        ru.uses += 1
        ws.responses.append(ResponsePost(
            rid, ru.kind, ru.channel_id, ru.user_id, copy.deepcopy(data),
            response_type=data.get("response_type") or "ephemeral",
            text=data.get("text") or "", blocks=copy.deepcopy(data.get("blocks")),
            replace_original=bool(data.get("replace_original")), delete_original=delete))
        original: Message | Ephemeral | None = None
        if ru.message_ts and ru.channel_id:
            if ru.is_ephemeral:
                original = next((e for e in ws._ephemerals if e.ts == ru.message_ts), None)
            else:
                original = ws._find_message(ru.channel_id, ru.message_ts)
        elif ru.kind == "command":
            original = next((e for e in reversed(ws._ephemerals) if e.user == ru.user_id
                             and e.channel == ru.channel_id and e.source != "chat.postEphemeral"
                             and not e.deleted), None)
        if delete:
            if isinstance(original, Ephemeral):
                original.deleted = True
            elif isinstance(original, Message) and ru.channel_id:
                ws._messages[ru.channel_id].remove(original)
            return 200, "ok"
        replace = original if data.get("replace_original") else None
        deliver_reply(ws, source="response_url", user_id=ru.user_id, channel_id=ru.channel_id,
                      data=data, replace=replace)
        return 200, "ok"
