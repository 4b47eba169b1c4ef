"""What listeners need (`Deps`), passed explicitly so tests can build an app around any of it;
`People`: who is a lead and each person's time zone, looked up in Slack and cached; `Forms`:
modals opened after the ack.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.config import Settings
from bot.intake import Intake
from bot.slack.errors import code_of, reason_of
from bot.slack.installations import Installations, acting, acting_for
from bot.slack.tell import tell
from playbook.domain.model import Actor, Incident, Outcome
from playbook.services.incidents import Service, needs_reschedule
from playbook.services.lifecycle import LifecycleService
from playbook.services.outages import OutageService

log = logging.getLogger(__name__)
T = TypeVar("T")


def acting_team(context: BoltContext) -> str:
    """The workspace a request acts for, as Bolt reads it from the payload (an event's
    `authorizations`, an interaction's `team`, a form's installed team): the same value
    `bot.listeners.middleware` checks against the installed workspace. Every service call a
    request makes passes it, and the services find nothing another workspace owns.
    """
    return context.team_id or ""


def _in_thread(work: Callable[[], None]) -> None:
    # in the caller's context: the workspace acted for (bot.slack.installations) goes along
    threading.Thread(target=contextvars.copy_context().run, args=(work,), daemon=True,
                     name="people-refresh").start()


@dataclass
class People:
    """Who is a lead, each person's time zone and whether they are a workspace admin, cached
    so a listener rarely calls Slack.

    Every answer is kept per workspace (`team`, by default the one being acted for:
    bot/slack/installations.py `acting`): the same user or user-group id in two workspaces
    (an Enterprise Grid user, an org-wide group) may lead, sit in another zone or administer
    one and not the other. The leads are the workspace's own (`leads_of`, its settings:
    playbook/services/settings.py), else the environment's.

    Its `client` must be a short-timeout one without retries
    (`bot.slack.client.make_lookup_client`): a lookup runs before the ack, and a slow Slack
    must cost the fallback, not the ack.

    Only answers are cached, never failures: one 429 or timeout must not make every lead by
    user group a non-lead (or everyone's zone the default) for the whole `ttl`. A stale answer
    is used while `refresh` reads it again in the background; a failed read is tried again off
    the ack path (in the background, `retry_waits` apart; requests within `backoff` of a
    failure never wait on Slack), and meanwhile the last good answer serves. With no answer at
    all, `lead_unknown` says so, so a refusal can tell the person their lead status could not
    be checked.
    """

    client: WebClient
    settings: Settings
    ttl: float = 600.0
    backoff: float = 10.0
    refresh: Callable[[Callable[[], None]], None] = _in_thread
    # a background read waits this long before each try (Slack just failed or is busy)
    retry_waits: tuple[float, ...] = (0.5, 5.0, 30.0)
    # a workspace's leads (its settings); None: the environment's for every workspace
    leads_of: Callable[[str], tuple[str, ...]] | None = None
    # keyed by (workspace, user) and (workspace, group)
    _users: dict[tuple[str, str], tuple[float, tuple[str, bool]]] = field(default_factory=dict)
    _groups: dict[tuple[str, str], tuple[float, frozenset[str]]] = field(default_factory=dict)
    _failed: dict[str, float] = field(default_factory=dict)  # key -> when a read last failed
    _busy: set[str] = field(default_factory=set)  # keys being refreshed in the background
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def _team(team: str | None) -> str:
        if team is not None:
            return team
        who = acting()
        return who.team_id if who is not None else ""

    def leads(self, team: str | None = None) -> tuple[str, ...]:
        if self.leads_of is None:
            return self.settings.leads
        return self.leads_of(self._team(team))

    # --- users.info: time zone and admin ------------------------------------------------------

    def _user(self, user_id: str, team: str) -> tuple[str, bool] | None:
        key = (team, user_id)
        return self._cached(f"user:{team}:{user_id}", self._users.get(key),
                            lambda: self._read_user(team, user_id))

    def tz(self, user_id: str, team: str | None = None) -> str:
        found = self._user(user_id, self._team(team))
        return found[0] if found is not None else self.settings.timezone

    def is_admin(self, user_id: str, team: str | None = None) -> bool | None:
        """users.info `is_admin` or `is_owner` in the workspace; None when Slack can't say."""
        found = self._user(user_id, self._team(team))
        return found[1] if found is not None else None

    def known_admin(self, user_id: str, team: str | None = None) -> bool | None:
        """`is_admin` from what is cached (even stale), never asking Slack; None: not known."""
        with self._lock:
            hit = self._users.get((self._team(team), user_id))
        return hit[1][1] if hit is not None else None

    def _read_user(self, team: str, user_id: str) -> tuple[str, bool] | None:
        try:
            with acting_for(team or None):  # that workspace's token (multi-workspace mode)
                user = self.client.users_info(user=user_id)["user"]
        except (SlackClientError, OSError) as err:  # the settings' zone serves meanwhile
            log.info("users.info %s failed (%s); using %s for now", user_id, reason_of(err),
                     self.settings.timezone)
            return None
        found = user.get("tz")
        zone = str(found) if found else self.settings.timezone  # no zone set: an answer
        answer = (zone, bool(user.get("is_admin") or user.get("is_owner")))
        with self._lock:
            self._users[(team, user_id)] = (time.monotonic(), answer)
        return answer

    # --- leads --------------------------------------------------------------------------------

    def _lead_groups(self, team: str) -> list[str]:
        return [g for g in self.leads(team) if g.startswith("S")]

    def lead_status(self, user_id: str, team: str | None = None) -> bool | None:
        """True or False; None when a lead group that could make them one can't be read."""
        team = self._team(team)
        if user_id in self.leads(team):
            return True
        unknown = False
        for group in self._lead_groups(team):
            members = self._cached(f"group:{team}:{group}", self._groups.get((team, group)),
                                   lambda group=group: self._read_group(team, group))
            if members is None:
                unknown = True
            elif user_id in members:
                return True
        return None if unknown else False

    def is_lead(self, user_id: str, team: str | None = None) -> bool:
        return self.lead_status(user_id, team) is True

    def lead_unknown(self, user_id: str, team: str | None = None) -> bool:
        """From what is cached, no Slack call: could `user_id` be a lead we failed to see?"""
        team = self._team(team)
        if user_id in self.leads(team):
            return False
        with self._lock:
            known = [self._groups.get((team, g)) for g in self._lead_groups(team)]
        if any(hit is not None and user_id in hit[1] for hit in known):
            return False
        return any(hit is None for hit in known)

    def _read_group(self, team: str, group: str) -> frozenset[str] | None:
        try:
            with acting_for(team or None):
                members = frozenset(
                    self.client.usergroups_users_list(usergroup=group)["users"])
        except (SlackClientError, OSError) as err:
            log.warning("could not read lead group %s: %s", group, reason_of(err))
            return None
        with self._lock:
            self._groups[(team, group)] = (time.monotonic(), members)
        return members

    # --- the cache ----------------------------------------------------------------------------

    def _cached(self, key: str, hit: tuple[float, T] | None,
                read: Callable[[], T | None]) -> T | None:
        """A fresh answer as is; a stale one while `read` runs in the background; none: one
        quick `read` now, unless one failed within `backoff` (then in the background)."""
        now = time.monotonic()
        if hit is not None:
            if now - hit[0] >= self.ttl:
                self._in_background(key, read)
            return hit[1]
        with self._lock:
            failed = self._failed.get(key)
        if failed is not None and now - failed < self.backoff:
            self._in_background(key, read)
            return None
        found = read()
        if found is None:
            with self._lock:
                self._failed[key] = now
            self._in_background(key, read)
        return found

    def _in_background(self, key: str, read: Callable[[], object]) -> None:
        with self._lock:
            if key in self._busy:
                return
            self._busy.add(key)

        def work() -> None:
            try:
                for wait in self.retry_waits:
                    time.sleep(wait)
                    found = read()
                    with self._lock:
                        if found is not None:
                            self._failed.pop(key, None)
                            return
                        self._failed[key] = time.monotonic()
            finally:
                with self._lock:
                    self._busy.discard(key)
        self.refresh(work)

    def actor(self, user_id: str, *, with_tz: bool = False, team: str | None = None) -> Actor:
        tz = self.tz(user_id, team) if with_tz else self.settings.timezone
        return Actor(user_id=user_id, is_lead=self.is_lead(user_id, team), tz=tz)


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

    A form's follow-up (`FormRequest.then`: the capture shortcut's lookups and views.update)
    is handed to `later` (the runtime's post-ack executor) once the form is open: on the
    pool it would hold one of the few threads that open forms, and the next person's trigger
    would expire queued behind it.
    """

    def __init__(self, quick: WebClient, client: WebClient, *, workers: int = 0,
                 later: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.quick = quick
        self.client = client
        self.later = later  # None: follow-ups run where the form was opened
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
            # in the caller's context: the workspace acted for (bot.slack.installations)
            self._pool.submit(contextvars.copy_context().run, self._run, request)
        except RuntimeError:  # shutting down: the person can click again once we are back
            self._done()

    def _run(self, request: FormRequest) -> None:
        follow_up = None
        try:
            view_id = self._open(request)
            if view_id is not None and request.then is not None:
                follow_up = functools.partial(request.then, view_id)
        except Exception:
            log.exception("opening a form failed")
        if follow_up is None:
            self._done()
        else:
            self._hand_on(follow_up)

    def _hand_on(self, follow_up: Callable[[], None]) -> None:
        """`follow_up` on `later`, in this context (the workspace acted for); the form counts
        as being opened (`idle`) until it has run."""
        context = contextvars.copy_context()

        def run() -> None:
            try:
                context.run(follow_up)
            except Exception:
                log.exception("a form's follow-up failed")
            finally:
                self._done()
        if self.later is None:
            run()
            return
        try:
            self.later(run)
        except Exception:
            log.exception("could not hand on a form's follow-up")
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
        """Open it in this thread, its follow-up too; False when it could not open."""
        view_id = self._open(request)
        if view_id is None:
            return False
        if request.then is not None:
            request.then(view_id)
        return True

    def _open(self, request: FormRequest) -> str | None:
        """views.open; the new view's id, or None when it failed (the person is told)."""
        try:
            resp = self.quick.views_open(trigger_id=request.trigger_id, view=request.view)
        except (SlackClientError, OSError) as err:
            log.info("views.open for %s failed: %s", request.user, reason_of(err))
            self._tell(request, err)
            return None
        return str((resp.get("view") or {}).get("id") or "")

    def _tell(self, request: FormRequest, err: Exception) -> None:
        instead = f" {request.instead}" if request.instead else ""
        text = (f"I couldn't open the form: {_why(err)}. Nothing was changed; please try "
                f"again.{instead}")
        try:
            tell(self.client, text, user=request.user, channel=request.channel,
                 response_url=request.response_url)
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
    # multi-workspace mode (OAuth installs): the installations; None with a single bot token
    installations: Installations | None = None
    # runs a piece of work off the ack's thread (the runtime's post-ack thread); default: now
    later: Callable[[Callable[[], None]], None] = lambda work: work()
    # a workspace's settings changed here: an HTTP worker tells the main process, whose
    # cached settings would otherwise plan the moved reminders with the old timings
    settings_changed: Callable[[str], None] = lambda team_id: None
    # opens under load are recorded raw and opened a moment later (bot/intake.py); None: never
    intake: Intake | None = None
    # runs the after-work of an ack (`after`): the runtime's waits for a lull while other
    # requests are in flight (bot/load.py `Lull`); default: now
    lull: Callable[[Callable[[], None]], None] = lambda work: work()
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
        Both wait for a lull while other requests are in flight (`lull`).
        """
        self.lull(lambda: self._after(outcome, saved))

    def _after(self, outcome: Outcome, saved: bool) -> None:
        self.wake_outbox()
        inc = outcome.incident
        if inc.id is not None and needs_reschedule(outcome):
            if saved:
                self.schedule(inc)
            else:
                self.reschedule(inc.id)
