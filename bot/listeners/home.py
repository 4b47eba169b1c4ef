"""App Home: each person's open incidents and every overdue one, refreshed when they look."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.deps import Deps


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict, body: dict) -> None:
        if event.get("tab", "home") != "home":
            return
        deps.service.enqueue_home(body.get("team_id", ""), event["user"])
        deps.wake_outbox()
