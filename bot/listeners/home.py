"""App Home: each person's open incidents and every overdue one, refreshed when they look."""

from __future__ import annotations

from slack_bolt import App, BoltContext

from bot.listeners.deps import Deps, acting_team


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict, context: BoltContext) -> None:
        if event.get("tab", "home") != "home":
            return
        deps.service.enqueue_home(acting_team(context), event["user"])
        deps.wake_outbox()
