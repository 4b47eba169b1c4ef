"""Workspace events: each event_id handled once (Slack retries them), then acted on.

Every event the manifest subscribes to has a listener: App Home's is in `home`, the channel and
install lifecycle (archive, rename, membership, tokens revoked, uninstall) in `lifecycle`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt import App, BoltResponse

if TYPE_CHECKING:
    from bot.app import Deps

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.middleware
    def drop_retried_events(body: dict, next: Callable[[], None]) -> BoltResponse | None:
        """Slack re-sends an event it thinks we missed; handle each event_id once."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not deps.service.remember_event(body.get("team_id", ""), event_id):
            log.info("event %s already handled; ignoring the retry", event_id)
            return BoltResponse(status=200, body="")
        next()
        return None
