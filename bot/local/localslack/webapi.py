"""Web API dispatch: fault injection, token checks, rate tiers, scopes, then the method.

Order matters and follows Slack: an injected fault (standing in for an outage) comes first,
then an unknown method, then authentication, then the method's rate tier (HTTP 429 with
Retry-After, see ratelimits), then its scope (missing_scope, see scopes), then the method.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from . import api_conversations, api_messages, api_oauth, api_views  # noqa: F401
from .apibase import APP_TOKEN_METHODS, METHODS, Params
from .models import ApiError, Call
from .scopes import needed, require
from .state import Workspace


def _scope_of(ws: Workspace, method: str, params: dict[str, Any]) -> str | None:
    """The scope this call needs: for conversations.* it depends on the conversation."""
    if method == "conversations.create":
        return needed(method, private=Params(method, params).flag("is_private"))
    if method == "conversations.open" and not params.get("channel"):
        users = [u for u in Params(method, params).csv("users") if u != ws.bot_user_id]
        return needed(method, dm=len(users) <= 1, mpim=len(users) > 1)
    cid = params.get("channel") or params.get("channel_id")
    chan = ws._channels.get(cid) if isinstance(cid, str) else None
    return needed(method, chan)


def _post_channel(ws: Workspace, params: dict[str, Any]) -> str | None:
    """The conversation a chat.postMessage lands in, for its per-channel limit."""
    target = params.get("channel")
    if not isinstance(target, str):
        return None
    with ws._lock:
        if target[:1] in "UW" and target in ws._users:
            return ws.dm_channel_id(target) or "dm:" + target
    return target

log = logging.getLogger(__name__)


def dispatch(ws: Workspace, method: str, params: dict[str, Any],
             token: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Run one call; returns (HTTP status, JSON body, extra headers)."""
    recorded = {k: v for k, v in params.items() if k != "token"}
    with ws._lock:
        ws.calls.append(Call(method, recorded))
    delay = ws._take_delay(method)
    if delay:
        time.sleep(delay)  # outside the lock: a slow method must not stall the others
    fault = ws._take_fault(method)
    if fault is not None:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return fault.status, {"ok": False, "error": fault.error}, headers
    oauth = api_oauth.answer(ws, method, params, token)  # several workspaces (api_oauth.py)
    if oauth is not None:
        return 200, oauth, {}
    handler = METHODS.get(method)
    if handler is None:
        return 200, {"ok": False, "error": "unknown_method"}, {}
    if params.get("__invalid_json__"):
        return 200, {"ok": False, "error": "invalid_json"}, {}
    if not token:
        return 200, {"ok": False, "error": "not_authed"}, {}
    if token not in (ws.bot_token, ws.app_token) and not api_oauth.knows(ws, token):
        return 200, {"ok": False, "error": "invalid_auth"}, {}
    revoked = getattr(ws, "token_error", None)
    if revoked and token == ws.bot_token:  # revoked or uninstalled (localslack.lifecycle)
        return 200, {"ok": False, "error": revoked}, {}
    if (token == ws.app_token) != (method in APP_TOKEN_METHODS):
        return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
    channel = _post_channel(ws, params) if method == "chat.postMessage" else None
    target = params.get("channel") or params.get("channel_id")
    team = ws.rate_teams.get(target, ws.team_id) if isinstance(target, str) else ws.team_id
    wait = ws.rate_limits.check(team, method, channel)
    if wait is not None:
        log.debug("localslack: %s rate limited (Retry-After %d)", method, wait)
        return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
    try:
        with ws._lock:
            require(ws.scopes, _scope_of(ws, method, params))
            body = handler(ws, Params(method, params))
    except ApiError as exc:
        body = exc.body()
    except Exception:  # a bug here must not look like a Slack answer
        log.exception("localslack: %s crashed", method)
        return 500, {"ok": False, "error": "internal_error"}, {}
    api_oauth.after(ws, method, token, body, params)
    if not body.get("ok"):
        log.debug("localslack: %s -> %s", method, json.dumps(body)[:500])
    lost = ws._take_lost_answer(method) if body.get("ok") else None
    if lost is not None:  # done, but the answer never reaches the app
        return lost.status, {"ok": False, "error": lost.error}, {}
    return 200, body, {}
