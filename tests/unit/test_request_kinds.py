"""The ack histogram's `kind` label, read from a signed request's body (bot/web.py) or a
Socket Mode payload (bot/metrics.py `request_kind`): a known kind, else "other", never
anything a person typed."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.metrics import request_kind
from bot.web import request_kind_of

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("body", "content_type", "kind"), [
    (urlencode({"command": "/incident", "text": "open Acme: down"}), FORM, "command"),
    (urlencode({"payload": json.dumps({"type": "block_actions"})}), FORM, "block_actions"),
    (urlencode({"payload": json.dumps({"type": "view_submission"})}), FORM, "view_submission"),
    (urlencode({"payload": json.dumps({"type": "message_action"})}), FORM, "message_action"),
    (json.dumps({"type": "event_callback", "event": {}}), "application/json", "event_callback"),
    (json.dumps({"type": "url_verification"}), "application/json; charset=utf-8", "other"),
    (urlencode({"payload": json.dumps({"type": "@channel hi"})}), FORM, "other"),
    (urlencode({"payload": "{not json"}), FORM, "other"),
    ("[" * 100_000, "application/json", "other"),
    ("", FORM, "other"),
])
def test_the_kind_of_a_request(body: str, content_type: str, kind: str) -> None:
    assert request_kind_of(body.encode(), content_type) == kind


def test_the_kind_of_a_socket_mode_payload() -> None:
    assert request_kind({"command": "/incident"}) == "command"
    assert request_kind({"type": "view_closed"}) == "view_closed"
    assert request_kind({"type": "anything else"}) == "other"
    assert request_kind(["not", "a", "dict"]) == "other"
