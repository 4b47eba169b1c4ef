"""What listeners need (`Deps`), passed explicitly so tests can build an app around any of it;
`People`: who is a lead and each person's time zone, looked up in Slack and cached; `Forms`:
modals opened after the ack.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.config import Settings
from bot.slack.errors import code_of, reason_of
from playbook.domain.model import Actor, Incident, Outcome
from playbook.services.incidents import Service, needs_reschedule
from playbook.services.lifecycle import LifecycleService
from playbook.services.outages import OutageService

log = logging.getLogger(__name__)


def acting_team(context: BoltContext) -> str:
    """The workspace a request acts for, as Bolt reads it from the payload (an event's
    `authorizations`, an interaction's `team`, a form's installed team): the same value
    `bot.listeners.middleware` checks against the installed workspace. Every service call a
    request makes passes it, and the services find nothing another workspace owns.
    """
    return context.team_id or ""


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
            log.info("users.info %s failed (%s); using %s", user_id, reason_of(err), zone)
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
                    log.warning("could not read lead group %s: %s", group, reason_of(err))
            cached = (now, frozenset(members))
            self._group_members = cached
        return user_id in cached[1]

    def actor(self, user_id: str, *, with_tz: bool = False) -> Actor:
        tz = self.tz(user_id) if with_tz else self.settings.timezone
        return Actor(user_id=user_id, is_lead=self.is_lead(user_id), tz=tz)


@dataclass(frozen=True)
class FormRequest:
    """A modal to open for someone, and what to tell them if it can't be opened.

    `instead` says what does the same without the form (mrkdwn, escaped; `type_instead` words
    a command), offered when the form cannot open; `then` runs with the new view's id once it
    is open (the capture shortcut fills its placeholder in).
    """

    trigger_id: str
    view: dict
    user: str
    channel: str | None
    response_url: str | None = None
    instead: str | None = None
    then: Callable[[str], None] | None = None


def type_instead(command: str | None) -> str | None:
    """`FormRequest.instead` for a command (mrkdwn, escaped)."""
    return f"Or type `{command}`." if command else None


def _why(err: Exception) -> str:
    code = code_of(err)
    if code == "expired_trigger_id":
        return "Slack's window for opening it (3 seconds) had passed"
    if code == "ratelimited":
        return "Slack is limiting how fast I can open forms right now"
    if code is None:
        return "Slack took too long to answer"
    return f"Slack refused it ({code})"


class Forms:
    """Opens modals after the ack: at once, once, on a short-timeout client without retries.

    A trigger_id works once and for 3 seconds, so a retry (or honouring a Retry-After of
    seconds) can only expire it, and opening before the ack would make the ack wait on Slack.
    With `workers`, each open runs on a thread of its own pool while the listener acks
    (several at once: each may wait for its timeout, and the next trigger must not expire in
    a queue); with none, in the caller's thread. When the form can't open, the person is told
    why and what does the same without it: by the response_url, else an ephemeral message on
    `client` (retries allowed: nothing waits on it).
    """

    def __init__(self, quick: WebClient, client: WebClient, *, workers: int = 0) -> None:
        self.quick = quick
        self.client = client
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="views-open") \
            if workers else None
        self._pending = 0
        self._lock = threading.Lock()

    def open(self, request: FormRequest) -> None:
        if self._pool is None:
            self.open_now(request)
            return
        with self._lock:
            self._pending += 1
        try:
            self._pool.submit(self._run, request)
        except RuntimeError:  # shutting down: the person can click again once we are back
            self._done()

    def _run(self, request: FormRequest) -> None:
        try:
            self.open_now(request)
        except Exception:
            log.exception("opening a form failed")
        finally:
            self._done()

    def _done(self) -> None:
        with self._lock:
            self._pending -= 1

    def idle(self) -> bool:
        """No form is being opened (or filled in) right now."""
        with self._lock:
            return self._pending == 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def open_now(self, request: FormRequest) -> bool:
        try:
            resp = self.quick.views_open(trigger_id=request.trigger_id, view=request.view)
        except (SlackClientError, OSError) as err:
            log.info("views.open for %s failed: %s", request.user, reason_of(err))
            self._tell(request, err)
            return False
        if request.then is not None:
            request.then(str((resp.get("view") or {}).get("id") or ""))
        return True

    def _tell(self, request: FormRequest, err: Exception) -> None:
        instead = f" {request.instead}" if request.instead else ""
        text = (f"I couldn't open the form: {_why(err)}. Nothing was changed; please try "
                f"again.{instead}")
        if request.response_url:
            try:
                if WebhookClient(request.response_url, timeout=5).send(
                        response_type="ephemeral", text=text).status_code == 200:
                    return
            except (SlackClientError, OSError) as failed:
                log.info("response_url failed (%s); posting instead", reason_of(failed))
        try:
            if request.channel:
                self.client.chat_postEphemeral(channel=request.channel, user=request.user,
                                               text=text)
            else:
                self.client.chat_postMessage(channel=request.user, text=text)
        except (SlackClientError, OSError) as failed:
            log.warning("could not tell %s the form did not open: %s", request.user,
                        reason_of(failed))


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
    forms: Forms | None = None  # None: opened in the listener's thread on the lookup client
    outages: OutageService = field(init=False)
    lifecycle: LifecycleService = field(init=False)

    def __post_init__(self) -> None:
        if self.forms is None:
            self.forms = Forms(self.people.client, self.people.client)
        self.outages = OutageService(self.service)
        self.lifecycle = LifecycleService(self.service)

    def open_form(self, request: FormRequest) -> None:
        """Open a modal after the ack (`Forms`); call it, then ack."""
        assert self.forms is not None  # set in __post_init__
        self.forms.open(request)

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
