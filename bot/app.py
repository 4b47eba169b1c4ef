"""create_app: the Bolt app, its listeners (one module per Slack surface) and one error handler.

Listeners are thin: they validate, record through `playbook.services.incidents` and ack with the
result. Everything Slack-side that can be slow happens afterwards in the outbox worker, so an ack
never waits on Slack. `process_before_response=True` runs each listener to completion inside the
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
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from bot.config import Settings
from playbook.domain.errors import PlaybookError
from playbook.domain.model import Actor, Incident, Outcome
from playbook.domain.text import esc, plain, truncate
from playbook.services.incidents import Service, needs_reschedule
from playbook.services.lifecycle import LifecycleService
from playbook.services.outages import OutageService

log = logging.getLogger(__name__)


def _why(err: Exception) -> str:
    return str(err.response.get("error")) if isinstance(err, SlackApiError) else type(err).__name__


@dataclass
class People:
    """Who is a lead, and each person's time zone, cached so a listener rarely calls Slack.

    Its `client` must be a short-timeout one without retries
    (`bot.slack.client.make_lookup_client`): a lookup runs before the ack, and a slow Slack
    must cost the fallback, not the ack.
    """

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
        except (SlackClientError, OSError) as err:  # the settings' zone is a fine answer
            log.info("users.info %s failed (%s); using %s", user_id, _why(err), zone)
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
                except (SlackClientError, OSError) as err:
                    log.warning("could not read lead group %s: %s", group, _why(err))
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
    reschedule: Callable[[int], None] = lambda incident_id: None  # reads the incident again
    schedule: Callable[[Incident], None] = lambda incident: None  # from the incident as saved
    outages: OutageService = field(init=False)
    lifecycle: LifecycleService = field(init=False)

    def __post_init__(self) -> None:
        self.outages = OutageService(self.service)
        self.lifecycle = LifecycleService(self.service)

    def after(self, outcome: Outcome, *, saved: bool = False) -> None:
        """After the ack: start the Slack work and move the reminders.

        `saved`: the outcome's incident is exactly what its transaction committed (an open, a
        command), so its reminders are planned from it without reading it again; the
        scheduler's version check keeps a later change's plan from being overwritten.
        """
        self.wake_outbox()
        inc = outcome.incident
        if inc.id is not None and needs_reschedule(outcome):
            if saved:
                self.schedule(inc)
            else:
                self.reschedule(inc.id)


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
        log.warning("could not report an error to %s: %s", user, _why(err))


def create_app(settings: Settings, deps: Deps, *, client: WebClient,
               token_verification: bool = True) -> App:
    """Build the Bolt app. The same app serves HTTP (`bot.web`) and Socket Mode."""
    from bot.listeners import (
        actions,
        commands,
        events,
        home,
        lifecycle,
        outage,
        shortcuts,
        timeline,
        views,
    )

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

    # outage before views: its "modal:draft" must not fall to the generic "modal:" listener
    for surface in (commands, actions, outage, views, events, lifecycle, home, timeline,
                    shortcuts):
        surface.register(app, deps)
    return app
