"""The checks every request passes before any listener: a request for another workspace is
turned away, Slack's retried events are dropped, and a user's request from a paused workspace
resumes it.

In multi-workspace mode (OAuth installs) Bolt's `authorize` (bot/slack/oauth.py) has already
turned away a workspace without an installation ("a team we have an installation for") and
given the listener a client with that workspace's token; `act_for_the_workspace` runs first
and names the workspace for the rest of the request (`act_for_request`), so the shared
clients used during and after the ack (lookups, forms: bot/listeners/deps.py) carry that
workspace's token and no other. It also notes the workspace's Grid org (an org-wide
install's token serves all of its workspaces; the outbox finds it through that note).

Bolt runs these in the order they are registered (`register`), before whichever listener the
request is for.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltResponse

from bot.listeners.deps import Deps
from bot.slack.installations import act_for_request

log = logging.getLogger(__name__)

# Slack sends these when it has taken the install away: nothing to note about the workspace.
GONE = ("app_uninstalled", "tokens_revoked")

# Only a person can send these, and Slack delivers them only to an installed app.
USER_REQUESTS = ("block_actions", "view_submission")

ELSEWHERE = ("This app is installed in another Slack workspace, so it can't act on anything "
             "here. Nothing was done.")


def foreign_team(context: BoltContext) -> str | None:
    """The request's workspace when it is not the one whose token we hold, else None.

    A single-token deployment serves the workspace `auth.test` names (Bolt's authorize result);
    a correctly signed request naming another `team_id` (another install of the same app, or a
    payload someone edited) is for somebody else. The services refuse another workspace's
    incidents anyway (`playbook.services.incidents.owned_incident`): this only spares them the
    work and says so politely. Without a known installed workspace it lets everything through.
    """
    result = context.authorize_result
    installed = result.team_id if result is not None else None
    if not installed or context.team_id == installed:
        return None
    return context.team_id or "(none)"


class ResumeOnUse:
    """After a user's request: if the team's sends are paused, resume them (it was installed
    again, or the request could not have reached us).

    The pause is read from the database, never cached: the outbox and other replicas pause a
    team too, and a cached "not paused" would keep its sends paused after the reinstall. But
    the read runs after the ack (`Deps.later`), not before it, and checks coalesce: a check
    that is queued and has not begun answers for every request that arrives meanwhile, since
    it reads after all of them arrived. A burst of 60 commands makes one or two reads, none
    on an ack's way; a request arriving while a check reads queues the next one.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._queued: set[str] = set()
        self._lock = threading.Lock()

    def request(self, team: str) -> None:
        with self._lock:
            if team in self._queued:
                return
            self._queued.add(team)
        self.deps.later(lambda: self._check(team))

    def _check(self, team: str) -> None:
        with self._lock:
            self._queued.discard(team)  # before the read: later requests queue another check
        lifecycle = self.deps.lifecycle
        if lifecycle.paused(team) is not None and lifecycle.resume(team):
            log.warning("team %s uses the app again: sends resume", team)
            self.deps.wake_outbox()


def register(app: App, deps: Deps) -> None:
    resume = ResumeOnUse(deps)
    if deps.installations is not None:
        _act_for_the_workspace(app, deps)
    else:
        _name_the_workspace(app)

    @app.middleware
    def only_this_workspace(body: dict, context: BoltContext,
                            next: Callable[[], None]) -> BoltResponse | None:
        """Turn away requests for another workspace before anything reads or records them:
        a slash command hears why (its own reply, no Slack call); the rest get an empty 200
        so Slack does not retry."""
        # multi-workspace mode: Bolt's authorize already required an installation for the
        # request's workspace (or its org); an org-wide install's result names no one team
        stranger = foreign_team(context) if deps.installations is None else None
        if stranger is None:
            next()
            return None
        log.warning("refused a request for workspace %s (installed: %s)", stranger,
                    context.authorize_result.team_id if context.authorize_result else None)
        if body.get("command"):
            return BoltResponse(status=200, body=json.dumps(
                {"response_type": "ephemeral", "text": ELSEWHERE}),
                headers={"content-type": "application/json;charset=utf-8"})
        return BoltResponse(status=200, body="")

    @app.middleware
    def drop_retried_events(body: dict, next: Callable[[], None]) -> BoltResponse | None:
        """Slack re-sends an event it thinks we missed; handle each event_id once."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not deps.service.remember_event(body.get("team_id", ""), event_id):
            log.info("event %s already handled; ignoring the retry", event_id)
            return BoltResponse(status=200, body="")
        next()
        return None

    @app.middleware
    def resume_when_reinstalled(body: dict, next: Callable[[], None]) -> None:
        """A slash command or a click reaches only an installed app: if the team was paused
        (tokens revoked, uninstalled), it has been installed again (`ResumeOnUse`, after the
        ack). Events never pay for the read."""
        team = body.get("team_id") or (body.get("team") or {}).get("id")
        if team and (bool(body.get("command")) or body.get("type") in USER_REQUESTS):
            resume.request(team)
        next()


def _act_for_the_workspace(app: App, deps: Deps) -> None:
    installs = deps.installations
    assert installs is not None

    @app.middleware
    def act_for_the_workspace(body: dict, context: BoltContext,
                              next: Callable[[], None]) -> None:
        """Multi-workspace mode: the rest of the request acts for its own workspace."""
        team, org = context.team_id, context.enterprise_id
        event = (body.get("event") or {}).get("type") if isinstance(body, dict) else None
        if team and event not in GONE:
            try:
                installs.seen(team, org)
            except Exception:  # the token lookup still works; never hold up the ack for this
                log.exception("could not record workspace %s", team)
        act_for_request(team, org)  # for the listener too, which runs after this returns
        next()


def _name_the_workspace(app: App) -> None:
    @app.middleware
    def name_the_workspace(context: BoltContext, next: Callable[[], None]) -> None:
        """One bot token: the request's workspace is still named for what runs inside (the
        lookups read its own settings and key their caches by it: bot/listeners/deps.py);
        the single token is used whatever it says."""
        act_for_request(context.team_id, context.enterprise_id)
        next()
