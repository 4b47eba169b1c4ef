"""Multi-workspace mode: every request acts for its own workspace.

Bolt's `authorize` (bot/slack/oauth.py) has already turned away a request from a workspace
without an installation ("a team we have an installation for") and handed the listener a
client with that workspace's token. This middleware runs next, before every other one:

* it notes the workspace's Grid org (an org-wide install's token serves all its workspaces,
  and the outbox finds it through that note, playbook/store/installations.py);
* it runs the rest of the request inside `acting_for(team)`, so the shared clients used
  during and after the ack (lookups, forms: bot/listeners/deps.py) carry that workspace's
  token and no other.

With a single bot token (no installations) nothing is registered and nothing changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltContext

from bot.listeners.deps import Deps
from bot.slack.installations import acting_for

log = logging.getLogger(__name__)

# Slack sends these when it has taken the install away: nothing to note about the workspace.
GONE = ("app_uninstalled", "tokens_revoked")


def register(app: App, deps: Deps) -> None:
    installs = deps.installations
    if installs is None:
        return

    @app.middleware
    def act_for_the_workspace(body: dict, context: BoltContext,
                              next: Callable[[], None]) -> None:
        team, org = context.team_id, context.enterprise_id
        event = (body.get("event") or {}).get("type") if isinstance(body, dict) else None
        if team and event not in GONE:
            try:
                installs.seen(team, org)
            except Exception:  # a lookup can still work from the cache; never block the ack
                log.exception("could not record workspace %s", team)
        with acting_for(team, org):
            next()
