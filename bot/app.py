"""create_app: the Bolt app, its listeners (one module per Slack surface) and one error handler.

Listeners are thin: they validate, record through `playbook.service` and ack with the result.
Everything Slack-side that can be slow happens afterwards in the outbox worker, so an ack never
waits on Slack. `process_before_response=True` runs each listener to completion inside the
request, which is what we want: the listener's own work *is* the ack.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.config import Settings
from playbook.errors import PlaybookError
from playbook.model import Actor, Outcome, Reschedule
from playbook.service import Service
from playbook.text import esc

log = logging.getLogger(__name__)


@dataclass
class People:
    """Who is a lead, and each person's time zone, cached so a listener rarely calls Slack."""

    client: WebClient
    settings: Settings
    ttl: float = 600.0
    _tz: dict[str, tuple[float, str]] = field(default_factory=dict)
    _group_members: tuple[float, frozenset[str]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def tz(self, user_id: str) -> str:
        now = time.monotonic()
        with self._lock:
            hit = self._tz.get(user_id)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        zone = self.settings.timezone
        try:
            zone = self.client.users_info(user=user_id)["user"].get("tz") or zone
        except SlackApiError as err:
            log.info("users.info %s failed (%s); using %s", user_id, err.response.get("error"),
                     zone)
        with self._lock:
            self._tz[user_id] = (now, zone)
        return zone

    def is_lead(self, user_id: str) -> bool:
        if user_id in self.settings.leads:
            return True
        groups = [g for g in self.settings.leads if g.startswith("S")]
        if not groups:
            return False
        now = time.monotonic()
        cached = self._group_members
        if cached is None or now - cached[0] >= self.ttl:
            members: set[str] = set()
            for group in groups:
                try:
                    members.update(self.client.usergroups_users_list(usergroup=group)["users"])
                except SlackApiError as err:
                    log.warning("could not read lead group %s: %s", group,
                                err.response.get("error"))
            cached = (now, frozenset(members))
            self._group_members = cached
        return user_id in cached[1]

    def actor(self, user_id: str, *, with_tz: bool = False) -> Actor:
        tz = self.tz(user_id) if with_tz else self.settings.timezone
        return Actor(user_id=user_id, is_lead=self.is_lead(user_id), tz=tz)


@dataclass
class Deps:
    """What listeners need, passed explicitly so tests can build an app around any of it."""

    service: Service
    settings: Settings
    people: People
    clock: Callable[[], datetime]
    wake_outbox: Callable[[], None] = lambda: None
    reschedule: Callable[[int], None] = lambda incident_id: None

    def after(self, outcome: Outcome) -> None:
        """After the ack: start the Slack work and move the reminders."""
        self.wake_outbox()
        inc = outcome.incident
        if inc.id is not None and any(isinstance(e, Reschedule) for e in outcome.effects):
            self.reschedule(inc.id)


def ephemeral(text: str) -> dict:
    return {"response_type": "ephemeral", "text": text}


def _typed(body: dict) -> str:
    if body.get("command"):
        return f"{body['command']} {body.get('text', '')}".strip()
    return ""


def handle_error(error: Exception, body: dict, response: BoltResponse | None,
                 client: WebClient | None = None) -> BoltResponse:
    """The one error handler: refusals become ephemeral help; the rest is logged in full.

    Whatever the person typed is echoed back so nothing they wrote is lost.
    """
    typed = _typed(body or {})
    keep = f"\nYour text, so you can try again:\n```{_fence(typed)}```" if typed else ""
    if isinstance(error, PlaybookError):
        text = f"{error.message}{keep}"
    elif isinstance(error, OperationalError | DBAPIError):
        log.error("database unavailable: %s", error.__class__.__name__)
        text = ("I couldn't save that: the database is not reachable right now. Nothing was "
                f"changed; please try again in a minute.{keep}")
    else:
        log.exception("unhandled error in a listener", exc_info=error)
        text = f"Something went wrong on my side and nothing was changed. Please try again.{keep}"
    resp = response or BoltResponse(status=200)
    resp.status = 200
    resp.headers = {"content-type": ["application/json;charset=utf-8"]}
    resp.body = json.dumps(ephemeral(text)) if typed else ""
    if not typed and client is not None and body and (body.get("user") or {}).get("id"):
        _notify(client, body, text)
    return resp


def _fence(text: str) -> str:
    return esc(text).replace("```", "`\u200b``")[:2900]


def _notify(client: WebClient, body: dict, text: str) -> None:
    """Errors from buttons have no reply body: tell the person by ephemeral message instead."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id")
    user = body["user"]["id"]
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            client.chat_postMessage(channel=user, text=text)
    except SlackApiError as err:
        log.warning("could not report an error to %s: %s", user, err.response.get("error"))


def create_app(settings: Settings, deps: Deps, *, client: WebClient,
               token_verification: bool = True) -> App:
    """Build the Bolt app. The same app serves HTTP (`bot.web`) and Socket Mode."""
    from bot.listeners import actions, commands, events, home, views

    app = App(
        signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
        client=client,
        process_before_response=True,
        token_verification_enabled=token_verification,
        request_verification_enabled=bool(settings.slack_signing_secret),
    )

    @app.error
    def _on_error(error: Exception, body: dict, response: BoltResponse,
                  client: WebClient) -> BoltResponse:
        return handle_error(error, body, response, client)

    for surface in (commands, actions, views, events, home):
        surface.register(app, deps)
    return app
