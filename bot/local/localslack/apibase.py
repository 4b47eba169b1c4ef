"""Shared plumbing of the Web API methods: the registry, argument parsing and lookups.

Method handlers run with the workspace lock held and signal failures by raising
``ApiError``; the dispatcher turns that into Slack's ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
from collections.abc import Callable
from typing import Any

from .limits import MESSAGE_TEXT_MAX, check_blocks, check_view, fallback_missing
from .models import ApiError, Channel, Message
from .state import Workspace

Handler = Callable[[Workspace, "Params"], dict[str, Any]]
METHODS: dict[str, Handler] = {}
APP_TOKEN_METHODS = {"apps.connections.open"}
_ID_CHARS = string.ascii_letters + string.digits


def api(name: str) -> Callable[[Handler], Handler]:
    """Register a Web API method implementation under its Slack name."""

    def register(fn: Handler) -> Handler:
        METHODS[name] = fn
        return fn

    return register


class Params:
    """Arguments of one call: form fields are strings, JSON bodies keep their types."""

    def __init__(self, method: str, data: dict[str, Any]) -> None:
        self.method = method
        self.data = data

    def has(self, name: str) -> bool:
        return self.data.get(name) not in (None, "")

    def opt(self, name: str, *, required: bool = False, error: str = "invalid_arguments",
            default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(error, response_metadata={
                    "messages": [f"[ERROR] missing required field: {name}"]})
            return default
        return value if isinstance(value, str) else str(value)

    def req(self, name: str, error: str = "invalid_arguments") -> str:
        value = self.opt(name, required=True, error=error)
        assert value is not None
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def json(self, name: str, *, error: str = "invalid_arguments") -> Any:
        """A JSON argument: sent as a string in forms, as a value in JSON bodies."""
        value = self.data.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ApiError(error, response_metadata={
                    "messages": [f"[ERROR] invalid JSON in {name}: {exc}"]}) from exc
        return value

    def csv(self, name: str) -> list[str]:
        value = self.data.get(name)
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        if not value:
            return []
        return [v.strip() for v in str(value).split(",") if v.strip()]


# ---------------------------------------------------------------------- lookups
def channel(ws: Workspace, cid: str | None) -> Channel:
    chan = ws._channels.get(cid or "")
    if chan is None:
        raise ApiError("channel_not_found")
    return chan


def member_channel(ws: Workspace, cid: str | None, *, allow_archived: bool = False) -> Channel:
    """A channel the bot acts in: it must exist, be live and have the bot as a member."""
    chan = channel(ws, cid)
    if chan.is_archived and not allow_archived:
        raise ApiError("is_archived")
    if ws.bot_user_id not in chan.members:
        raise ApiError("not_in_channel")
    return chan


def postable_channel(ws: Workspace, target: str | None) -> Channel:
    """Where chat.postMessage lands: a conversation id, or a user id meaning their DM."""
    if target and target[0] in "UW" and target in ws._users:
        return ws._dm_channel(target)
    if target and target not in ws._channels:  # Slack also takes "#name" / "name" here
        named = ws.channel_by_name(target)
        target = named.id if named else target
    chan = channel(ws, target)
    if chan.is_archived:
        raise ApiError("is_archived")
    public_ok = ws.chat_write_public and not chan.is_private
    if ws.bot_user_id not in chan.members and not public_ok:
        raise ApiError("not_in_channel")
    return chan


def find_message(ws: Workspace, chan: Channel, ts: str | None) -> Message:
    msg = ws._find_message(chan.id, ts)
    if msg is None:
        raise ApiError("message_not_found")
    return msg


def message_json(ws: Workspace, msg: Message) -> dict[str, Any]:
    return msg.to_slack(bot_id=ws.bot_id, app_id=ws.app_id, team_id=ws.team_id)


# ---------------------------------------------------------------------- content checks
def _random_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(5))


def fill_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give blocks and interactive elements the random ids Slack assigns when omitted, so
    apps that assume a block_id they never set break here as they would in Slack."""
    out = copy.deepcopy(blocks)
    for block in out:
        block.setdefault("block_id", _random_id())
        elements: list[Any] = []
        if block.get("type") == "actions":
            elements = block.get("elements") or []
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            elements = [block["accessory"]]
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            elements = [block["element"]]
        for el in elements:
            if isinstance(el, dict) and el.get("type") not in ("image", None):
                el.setdefault("action_id", _random_id())
    return out


def refuse_blocks(ws: Workspace, where: str, errors: list[str], error: str) -> ApiError:
    for e in errors:
        ws.violation(f"{where}: {e}")
    return ApiError(error, errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})


def message_content(ws: Workspace, p: Params, *, require: bool = True
                    ) -> tuple[str | None, list[dict[str, Any]] | None, Any]:
    """(text, blocks, attachments) of a chat.* call, checked like Slack checks them."""
    text = p.opt("text")
    blocks = p.json("blocks", error="invalid_blocks_format")
    attachments = p.json("attachments", error="invalid_attachments")
    if blocks is not None:
        errors = check_blocks(blocks, surface="message")
        if errors:
            raise refuse_blocks(ws, p.method, errors, "invalid_blocks")
    if require and not text and not blocks and not attachments:
        raise ApiError("no_text")
    if text and len(text) > MESSAGE_TEXT_MAX:
        ws.violation(f"{p.method}: text is {len(text)} characters (max {MESSAGE_TEXT_MAX})")
        raise ApiError("msg_too_long")
    if fallback_missing(text, blocks, attachments):
        ws.violation(f"{p.method}: blocks sent without fallback text "
                     "(notifications and screen readers get nothing)")
    return text, (fill_ids(blocks) if blocks is not None else None), attachments


def view_content(ws: Workspace, p: Params) -> dict[str, Any]:
    view = p.json("view")
    if view is None:
        raise ApiError("invalid_arguments", response_metadata={
            "messages": ["[ERROR] missing required field: view"]})
    errors = check_view(view)
    if errors:
        raise refuse_blocks(ws, p.method, errors, "invalid_arguments")
    out = copy.deepcopy(view)
    out["blocks"] = fill_ids(view.get("blocks") or [])
    return out
