"""What listeners need (`Deps`), passed explicitly so tests can build an app around any of it,
and `People`: who is a lead and each person's time zone, looked up in Slack and cached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.config import Settings
from bot.slack.errors import reason_of
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
