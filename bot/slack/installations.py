"""Many workspaces: each call with its own workspace's token.

In multi-workspace mode (`Settings.multi_workspace`: an OAuth client id and secret, no single
bot token) the tokens live in slack_sdk's SQLAlchemy installation store, in our database (the
tables are ours: playbook/store/installations.py, migration 0013_installations).

* Bolt's listeners get their token from Bolt's `authorize` (bot/slack/oauth.py hands it the
  store below).
* Everything else (the outbox, forms and lookups opened after the ack) uses one shared client
  whose token is looked up for *the workspace being acted for*: a `ContextVar` set by
  `acting_for(team_id)` around each outbox row (bot/outbox/runner.py), each request
  (bot/listeners/installs.py) and each form. A call with no workspace set fails loudly
  instead of guessing a token, so one workspace's work can never carry another's token.
* Lookups are cached briefly (`TOKEN_TTL`) and forgotten at once when this process saves or
  deletes an installation; another replica sees a change within the TTL, and until then Slack
  refuses the old token (the outbox then pauses the team like any revoked token).
* Token rotation: a bot token within `ROTATE_BEFORE` of expiry is refreshed through
  slack_sdk's `TokenRotator` (oauth.v2.access with the refresh token, on our API base URL)
  and saved before use. The expiry is checked before any lock, so a token that is not due
  costs no waiting; a due one is refreshed under its installation's own lock, read again
  from the database inside it (double-checked: a thread that waited uses the refresh it
  waited for), so one installation is never refreshed twice at once, and one workspace's
  slow refresh never holds up another's calls.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from slack_sdk.web import SlackResponse
from sqlalchemy import Engine

from bot.slack.keepalive import KeepAliveWebClient
from playbook.services.workspaces import WorkspaceService

log = logging.getLogger(__name__)

TOKEN_TTL = 10.0  # seconds a looked-up installation is trusted in this process
ROTATE_BEFORE = timedelta(minutes=120)  # Bolt's default for token rotation
STATE_TTL = 600  # seconds an "Add to Slack" link stays valid


@dataclass(frozen=True)
class Acting:
    team_id: str
    enterprise_id: str | None = None


_ACTING: ContextVar[Acting | None] = ContextVar("crisisbot_acting_workspace", default=None)


@contextlib.contextmanager
def acting_for(team_id: str | None, enterprise_id: str | None = None) -> Iterator[None]:
    """Every Slack call made inside uses `team_id`'s token (multi-workspace mode)."""
    reset = _ACTING.set(Acting(team_id, enterprise_id) if team_id else None)
    try:
        yield
    finally:
        _ACTING.reset(reset)


def act_for_request(team_id: str | None, enterprise_id: str | None = None) -> None:
    """The rest of this request, listener included, acts for `team_id`.

    Bolt runs a request's listener only after its middleware chain has returned, so a
    middleware's `with acting_for(...)` has ended by then. The request's first middleware
    (bot/listeners/middleware.py) sets the workspace here instead, for the thread serving it;
    the next request on that thread sets its own (or none) before anything else runs, and the
    threads forms and lookups start copy it (`contextvars.copy_context`)."""
    _ACTING.set(Acting(team_id, enterprise_id) if team_id else None)


def acting() -> Acting | None:
    return _ACTING.get()


class NoWorkspace(RuntimeError):
    """A Slack call in multi-workspace mode with no workspace to take a token from: a bug."""


class CachedStore(InstallationStore):
    """slack_sdk's store with brief read caching; every save or delete here forgets all."""

    def __init__(self, inner: InstallationStore, *, ttl: float = TOKEN_TTL) -> None:
        self.inner = inner
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}

    @property
    def logger(self) -> logging.Logger:
        return log

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _cached(self, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        found = read()
        with self._lock:
            self._cache[key] = (now, found)
        return found

    def save(self, installation: Installation) -> None:
        self.inner.save(installation)
        self.forget()

    def save_bot(self, bot: Bot) -> None:
        self.inner.save_bot(bot)
        self.forget()

    def find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                 is_enterprise_install: bool | None = False) -> Bot | None:
        return self._cached(("bot", enterprise_id, team_id, bool(is_enterprise_install)),
                            lambda: self.inner.find_bot(
                                enterprise_id=enterprise_id, team_id=team_id,
                                is_enterprise_install=is_enterprise_install))

    def find_installation(self, *, enterprise_id: str | None, team_id: str | None,
                          user_id: str | None = None,
                          is_enterprise_install: bool | None = False) -> Installation | None:
        return self._cached(("inst", enterprise_id, team_id, user_id,
                             bool(is_enterprise_install)),
                            lambda: self.inner.find_installation(
                                enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
                                is_enterprise_install=is_enterprise_install))

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.inner.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.forget()

    def delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                            user_id: str | None = None) -> None:
        self.inner.delete_installation(enterprise_id=enterprise_id, team_id=team_id,
                                       user_id=user_id)
        self.forget()

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.delete_installation(enterprise_id=enterprise_id, team_id=team_id)


def _due(bot: Bot) -> bool:
    """A rotating token within `ROTATE_BEFORE` of its expiry (TokenRotator's own test)."""
    expires = bot.bot_token_expires_at
    return bool(bot.bot_refresh_token) and expires is not None and \
        expires <= time.time() + ROTATE_BEFORE.total_seconds()


def _not_installed(team_id: str) -> SlackApiError:
    """What a call for a workspace without an installation raises: Slack's own answer to a
    token it no longer knows (`invalid_auth`), so the outbox pauses and holds, as for any
    revoked token, and nothing is sent with some other workspace's token."""
    response = SlackResponse(client=None, http_verb="POST", api_url="", req_args={},
                             data={"ok": False, "error": "invalid_auth"}, headers={},
                             status_code=200)
    return SlackApiError(f"the app is not installed in workspace {team_id}", response)


class Installations:
    """The installation and state stores on our engine, and a token for each workspace."""

    def __init__(self, engine: Engine, *, client_id: str, client_secret: str,
                 client: WebClient, workspaces: WorkspaceService,
                 ttl: float = TOKEN_TTL) -> None:
        self.installation_store = CachedStore(
            SQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log), ttl=ttl)
        self.states = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_TTL, engine=engine,
                                                logger=log)
        self.rotator = TokenRotator(client_id=client_id, client_secret=client_secret,
                                    client=client)
        self.workspaces = workspaces
        self._orgs: dict[str, tuple[float, str | None]] = {}
        self._remembered: set[tuple[str, str | None]] = set()  # (team, org) written already
        self._lock = threading.Lock()
        self._rotating: dict[tuple[str | None, str | None, bool], threading.Lock] = {}
        self.ttl = ttl

    def enterprise_of(self, team_id: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            hit = self._orgs.get(team_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        found = self.workspaces.enterprise_of(team_id)
        with self._lock:
            self._orgs[team_id] = (now, found)
        return found

    def seen(self, team_id: str, enterprise_id: str | None) -> None:
        """A request from `team_id`: remember its Grid org. Written once per process and pair,
        so a burst of requests costs no write transaction before their acks."""
        key = (team_id, enterprise_id)
        with self._lock:
            if key in self._remembered:
                return
        if not (self.enterprise_of(team_id) == enterprise_id and enterprise_id is not None) \
                and self.workspaces.remember(team_id, enterprise_id):
            with self._lock:
                self._orgs.pop(team_id, None)
        with self._lock:
            self._remembered.add(key)

    def bot_for(self, team_id: str, enterprise_id: str | None = None, *,
                cached: bool = True) -> Bot | None:
        """The workspace's own installation, else its org's org-wide one (`cached` False:
        read from the database, not from this process's brief cache)."""
        org = enterprise_id or self.enterprise_of(team_id)
        found: InstallationStore = self.installation_store if cached else \
            self.installation_store.inner
        bot = found.find_bot(enterprise_id=org, team_id=team_id)
        if bot is None and org is not None:
            bot = found.find_bot(enterprise_id=org, team_id=None, is_enterprise_install=True)
        return bot

    def token_for(self, team_id: str, enterprise_id: str | None = None) -> str:
        bot = self.bot_for(team_id, enterprise_id)
        if bot is None or not bot.bot_token:
            raise _not_installed(team_id)
        if _due(bot):  # checked before any lock: a token not due waits for nobody
            bot = self._refreshed(team_id, enterprise_id, bot)
        assert bot.bot_token is not None
        return bot.bot_token

    def _refreshed(self, team_id: str, enterprise_id: str | None, bot: Bot) -> Bot:
        """`bot` with its token refreshed, once per installation at a time: whoever waited
        for the lock finds the refreshed token in the database and uses it."""
        with self._lock_of(bot):
            bot = self.bot_for(team_id, enterprise_id, cached=False) or bot
            if _due(bot):
                fresh = self.rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=int(ROTATE_BEFORE.total_seconds() // 60))
                if fresh is not None:
                    self.installation_store.save_bot(fresh)
                    bot = fresh
        return bot

    def _lock_of(self, bot: Bot) -> threading.Lock:
        """The refresh lock of `bot`'s installation (an org-wide one serves many workspaces
        with one token: one lock)."""
        key = (bot.enterprise_id, None if bot.is_enterprise_install else bot.team_id,
               bool(bot.is_enterprise_install))
        with self._lock:
            return self._rotating.setdefault(key, threading.Lock())

    def org_wide_for(self, team_id: str, enterprise_id: str | None = None) -> bool:
        """`team_id` is served by its Grid org's org-wide install (not one of its own)."""
        bot = self.bot_for(team_id, enterprise_id)
        return bool(bot is not None and bot.is_enterprise_install)

    def current_token(self) -> str:
        """The token of the workspace being acted for (`acting_for`)."""
        who = acting()
        if who is None:
            raise NoWorkspace("a Slack call with no workspace to act for")
        return self.token_for(who.team_id, who.enterprise_id)

    def remove(self, team_id: str | None, enterprise_id: str | None, *,
               org_wide: bool) -> list[str]:
        """Slack took the install (uninstalled, tokens revoked): delete it, so its token is
        never used again. Returns the workspaces it served (for an org-wide install, every
        workspace of the org we have heard from)."""
        self.installation_store.delete_all(enterprise_id=enterprise_id,
                              team_id=None if org_wide else team_id)
        with self._lock:
            self._orgs.clear()
        teams = self.workspaces.teams_of(enterprise_id) if org_wide and enterprise_id else []
        if team_id and team_id not in teams:
            teams.append(team_id)
        return teams

    def served_by(self, installation: Installation) -> list[str]:
        """The workspaces an (org-wide) installation serves, as far as we know them."""
        if installation.is_enterprise_install and installation.enterprise_id:
            return self.workspaces.teams_of(installation.enterprise_id)
        if installation.team_id:
            self.workspaces.remember(installation.team_id, installation.enterprise_id)
            with self._lock:
                self._orgs.pop(installation.team_id, None)
            return [installation.team_id]
        return []


class _Routed:
    """`token` is read per call from the workspace being acted for."""

    _tokens: Installations

    @property
    def token(self) -> str | None:
        return self._tokens.current_token()

    @token.setter
    def token(self, value: str | None) -> None:
        """slack_sdk sets the token at construction; ours is never fixed."""


class RoutedClient(_Routed, KeepAliveWebClient):
    """The outbox's client (keep-alive) in multi-workspace mode."""

    def __init__(self, tokens: Installations, **kwargs: Any) -> None:
        self._tokens = tokens
        super().__init__(**kwargs)

    def conversations_create(self, *, name: str, is_private: bool | None = None,
                             team_id: str | None = None, **kwargs: Any) -> SlackResponse:
        """An org-wide install's token names no one workspace: conversations.create then
        needs the workspace's `team_id` ("required if org token is used", Slack's
        conversations.create page), which is the one being acted for."""
        who = acting()
        if team_id is None and who is not None and \
                self._tokens.org_wide_for(who.team_id, who.enterprise_id):
            team_id = who.team_id
        return super().conversations_create(name=name, is_private=is_private,
                                            team_id=team_id, **kwargs)


class RoutedLookupClient(_Routed, WebClient):
    """The short-timeout client of lookups and forms in multi-workspace mode."""

    def __init__(self, tokens: Installations, **kwargs: Any) -> None:
        self._tokens = tokens
        super().__init__(**kwargs)
