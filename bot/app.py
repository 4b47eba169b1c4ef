"""create_app: the Bolt app, with every listener and middleware of `bot.listeners`.

Listeners are thin: they validate, record through `playbook.services.incidents` and ack with the
result. Everything Slack-side that can be slow happens afterwards in the outbox worker, so an ack
never waits on Slack. `process_before_response=True` runs each listener to completion inside the
request, which is what we want: the listener's own work *is* the ack.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.config import Settings
from bot.listeners import register_all
from bot.listeners.deps import Deps


def create_app(settings: Settings, deps: Deps, *, client: WebClient,
               token_verification: bool = True, oauth: dict[str, Any] | None = None) -> App:
    """Build the Bolt app. The same app serves HTTP (`bot.web`) and Socket Mode.

    `oauth`: Bolt's OAuth settings and authorize for many workspaces (`bot.slack.oauth`);
    `client` then holds no token (each request's comes from its installation).
    """
    app = App(
        **(oauth or {}),
        signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
        client=client,
        process_before_response=True,
        token_verification_enabled=token_verification,
        request_verification_enabled=bool(settings.slack_signing_secret),
    )
    register_all(app, deps)
    return app
