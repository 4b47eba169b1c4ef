"""Web API: views.open/push/update/publish, with Slack's trigger and hash rules.

Modals form a per-user stack (at most 3 deep); App Home is one view per user. The driver's
``submit_view`` and ``close_view`` pop the stack the way Slack's client does.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from .apibase import Params, api, view_content
from .models import ApiError, StoredView
from .state import Workspace

MAX_STACK = 3


def new_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"


def new_view(ws: Workspace, user_id: str, view: dict[str, Any], *, root: str | None = None,
              previous: str | None = None) -> StoredView:
    external = view.get("external_id") or ""
    if external and any(v.external_id == external for v in ws._views.values()):
        raise ApiError("duplicate_external_id")
    vid = ws._new_id("V")
    stored = StoredView(vid, user_id, view["type"], view, new_hash(), external_id=external,
                        root_view_id=root or vid, previous_view_id=previous)
    ws._views[vid] = stored
    return stored


def _answer(ws: Workspace, stored: StoredView) -> dict[str, Any]:
    return {"ok": True, "view": ws._view_json(stored)}


def close_stack(ws: Workspace, user_id: str, *, upto: str | None = None) -> None:
    """Close ``upto`` and every view pushed above it, or the whole stack when None."""
    stack = ws._stacks.get(user_id, [])
    while stack:
        vid = stack.pop()
        ws._views[vid].closed = True
        if vid == upto:
            break
    if not stack:
        ws._stacks.pop(user_id, None)


@api("views.open")
def views_open(ws: Workspace, p: Params) -> dict[str, Any]:
    view = view_content(ws, p)
    if view["type"] != "modal":
        raise ApiError("invalid_arguments", response_metadata={
            "messages": ["[ERROR] views.open only opens modals [json-pointer:/view/type]"]})
    trig = ws._consume_trigger(p.opt("trigger_id") or p.opt("interactivity_pointer"))
    close_stack(ws, trig.user_id)
    stored = new_view(ws, trig.user_id, view)
    ws._stacks[trig.user_id] = [stored.id]
    return _answer(ws, stored)


@api("views.push")
def views_push(ws: Workspace, p: Params) -> dict[str, Any]:
    view = view_content(ws, p)
    if view["type"] != "modal":
        raise ApiError("invalid_arguments")
    trig = ws._consume_trigger(p.opt("trigger_id") or p.opt("interactivity_pointer"))
    stack = ws._stacks.get(trig.user_id) or []
    if not stack:
        raise ApiError("not_found")  # nothing to push onto: the modal was closed
    if len(stack) >= MAX_STACK:
        raise ApiError("push_limit_reached")
    stored = new_view(ws, trig.user_id, view, root=stack[0], previous=stack[-1])
    stack.append(stored.id)
    return _answer(ws, stored)


@api("views.update")
def views_update(ws: Workspace, p: Params) -> dict[str, Any]:
    view = view_content(ws, p)
    vid, external = p.opt("view_id"), p.opt("external_id")
    if not vid and not external:
        raise ApiError("invalid_arguments", response_metadata={
            "messages": ["[ERROR] view_id or external_id is required"]})
    stored = ws._views.get(vid or "") if vid else next(
        (v for v in ws._views.values() if v.external_id == external), None)
    if stored is None or stored.closed:
        raise ApiError("not_found")
    if view["type"] != stored.type:
        raise ApiError("invalid_arguments")
    given = p.opt("hash")
    if given and given != stored.hash:
        raise ApiError("hash_conflict")
    new_external = view.get("external_id") or ""
    if new_external and new_external != stored.external_id and any(
            v.external_id == new_external for v in ws._views.values()):
        raise ApiError("duplicate_external_id")
    keep = {b.get("block_id") for b in view["blocks"]}
    stored.state = {"values": {k: v for k, v in stored.state.get("values", {}).items()
                               if k in keep}}
    stored.view, stored.hash, stored.external_id = view, new_hash(), new_external
    stored.updates += 1
    return _answer(ws, stored)


@api("views.publish")
def views_publish(ws: Workspace, p: Params) -> dict[str, Any]:
    view = view_content(ws, p)
    user_id = p.req("user_id", "invalid_arguments")
    if user_id not in ws._users:
        raise ApiError("user_not_found")
    if view["type"] != "home":
        raise ApiError("invalid_arguments", response_metadata={
            "messages": ["[ERROR] views.publish needs a home view [json-pointer:/view/type]"]})
    current = ws._views.get(ws._homes.get(user_id, ""))
    given = p.opt("hash")
    if current is not None:
        if given and given != current.hash:
            raise ApiError("hash_conflict")
        current.view, current.hash = view, new_hash()
        current.external_id = view.get("external_id") or current.external_id
        current.updates += 1
        return _answer(ws, current)
    stored = new_view(ws, user_id, view)
    ws._homes[user_id] = stored.id
    return _answer(ws, stored)
