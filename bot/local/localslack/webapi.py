"""Web API dispatch: fault injection, token checks, then the method implementation.

Order matters and follows Slack: an injected fault (standing in for Slack's own rate limiter
or an outage) comes first, then an unknown method, then authentication, then the method.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from . import api_conversations, api_messages, api_oauth, api_views  # noqa: F401
from .apibase import APP_TOKEN_METHODS, METHODS, Params
from .models import ApiError, Call
from .state import Workspace

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
    try:
        with ws._lock:
            body = handler(ws, Params(method, params))
    except ApiError as exc:
        body = exc.body()
    except Exception:  # a bug here must not look like a Slack answer
        log.exception("localslack: %s crashed", method)
        return 500, {"ok": False, "error": "internal_error"}, {}
    api_oauth.after(ws, method, token, body)
    if not body.get("ok"):
        log.debug("localslack: %s -> %s", method, json.dumps(body)[:500])
    return 200, body, {}
