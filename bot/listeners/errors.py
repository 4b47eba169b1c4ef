"""The one error handler of every listener, and the replies it builds.

A refusal from the playbook (`PlaybookError`) becomes an ephemeral message that says what to do;
a database that cannot be reached or refuses the data gets its own plain words; anything else is
logged with its traceback. Listeners raise and let this module answer, so every surface words
its errors alike.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import BoltResponse
from slack_sdk import WebClient
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from bot.slack.errors import reason_of
from playbook.domain.errors import PlaybookError
from playbook.domain.text import esc, plain, truncate

log = logging.getLogger(__name__)


def ephemeral(text: str) -> dict:
    return {"response_type": "ephemeral", "text": text}


def _typed(body: dict) -> str:
    if body.get("command"):
        return f"{body['command']} {body.get('text', '')}".strip()
    return ""


def _dig(node: Any, *keys: str) -> Any:
    """``node[k1][k2]…`` or None when any level is missing or not an object (bodies Slack
    never sends must not break the error handler itself)."""
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _text_at(node: Any, *keys: str) -> str | None:
    found = _dig(node, *keys)
    return found if isinstance(found, str) and found else None


def handle_error(error: Exception, body: dict, response: BoltResponse | None,
                 client: WebClient | None = None) -> BoltResponse:
    """The one error handler: refusals become ephemeral help; the rest is logged in full.

    Whatever the person typed is echoed back so nothing they wrote is lost: a command's text
    in the reply, a form by keeping it open (an inline error under its first field).
    """
    body = body if isinstance(body, dict) else {}
    typed = _typed(body)
    keep = f"\nYour text, so you can try again:\n```{_fence(typed)}```" if typed else ""
    if isinstance(error, PlaybookError):
        text = f"{error.message}{keep}"
    elif isinstance(error, OperationalError | InterfaceError) or (
            isinstance(error, DBAPIError) and error.connection_invalidated):
        log.error("database unavailable: %s", error.__class__.__name__)
        text = ("I couldn't save that: the database is not reachable right now. Nothing was "
                f"changed; please try again in a minute.{keep}")
    elif isinstance(error, DataError):
        # e.g. a NUL character, which PostgreSQL text cannot hold: retrying would not help,
        # so don't say the database is down.
        log.warning("database refused the data: %s", error.orig)
        text = ("I couldn't save that: the database can't store some of its characters (such "
                f"as NUL). Nothing was changed; remove them and try again.{keep}")
    else:
        log.exception("unhandled error in a listener", exc_info=error)
        text = f"Something went wrong on my side and nothing was changed. Please try again.{keep}"
    resp = response or BoltResponse(status=200)
    resp.status = 200
    resp.headers = {"content-type": ["application/json;charset=utf-8"]}
    field = _first_field(body) if not typed else None
    if typed:
        resp.body = json.dumps(ephemeral(text))
    elif field is not None:
        resp.body = json.dumps({"response_action": "errors",
                                "errors": {field: inline_error(text)}})
        return resp
    else:
        resp.body = ""
    if not typed and client is not None and _text_at(body, "user", "id"):
        _notify(client, body, text)
    return resp


ECHO_MAX = 35_000  # a message's text may hold 40,000 characters; the echo must fit whole


def _fence(text: str) -> str:
    """What the person typed, as they saw it while typing (mentions as @name, ``&lt;`` as
    ``<``), escaped once so Slack shows it verbatim and nothing in it pings or links."""
    return truncate(esc(plain(text)).replace("```", "`\u200b``"), ECHO_MAX)


def _first_field(body: dict) -> str | None:
    """The first input of a submitted form, to hang an error on so the form stays open."""
    if body.get("type") != "view_submission":
        return None
    values = _dig(body, "view", "state", "values")
    if not isinstance(values, dict):
        return None
    return next((k for k in values if isinstance(k, str) and k), None)


def inline_error(message: str) -> str:
    """A refusal shown under a form field: no code spans, short enough to read there."""
    return truncate(message.replace("`", ""), 300)


def _notify(client: WebClient, body: dict, text: str) -> None:
    """Errors from buttons have no reply body: tell the person by ephemeral message instead."""
    channel = _text_at(body, "channel", "id") or _text_at(body, "container", "channel_id")
    user = _text_at(body, "user", "id")
    if user is None:
        return
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            client.chat_postMessage(channel=user, text=text)
    except Exception as err:  # the error handler must never fail itself (that would be a 500)
        log.warning("could not report an error to %s: %s", user, reason_of(err))
