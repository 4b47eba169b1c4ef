"""Workspace events: a message captured onto the timeline by a reaction or a pin.

Slack's retries of an event never get here (`bot.listeners.middleware` drops them). Every event
the manifest subscribes to has a listener: App Home's is in `home`, the channel and install
lifecycle (archive, rename, membership, tokens revoked, uninstall) in `lifecycle`.
Capturing a message onto the timeline (a reaction with the capture emoji, or a pin) is only
recorded here: the outbox worker reads the message and adds the entry, so the ack never waits on
Slack.
"""

from __future__ import annotations

from slack_bolt import App, BoltContext

from bot.listeners.deps import Deps, acting_team
from playbook.services.timeline import TimelineService


def register(app: App, deps: Deps) -> None:
    timeline = TimelineService(deps.service.sessions, deps.service.clock)

    def capture(channel: str | None, ts: str | None, by: str | None, via: str,
                message: dict | None, context: BoltContext) -> None:
        if not channel or not ts or not by or by == context.bot_user_id:
            return
        inc = deps.service.incident_for_channel(acting_team(context), channel)
        if inc is None or inc.id is None:
            return  # not an incident channel: pins and reactions there are none of our business
        if ts == inc.card_ts:
            return  # the status card (the bot pins it itself); it is not a timeline moment
        timeline.request_capture(inc, channel_id=channel, message_ts=ts, by=by, via=via,
                                 message=message)
        deps.wake_outbox()

    @app.event("reaction_added")
    def on_reaction(event: dict, context: BoltContext) -> None:
        name = str(event.get("reaction") or "").split("::", 1)[0]  # skin tones don't matter
        item = event.get("item") or {}
        if name != deps.settings.capture_reaction or item.get("type") != "message":
            return
        capture(item.get("channel"), item.get("ts"), event.get("user"), "reaction", None,
                context)

    @app.event("pin_added")
    def on_pin(event: dict, context: BoltContext) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        message = item.get("message") if isinstance(item.get("message"), dict) else None
        ts = (message or {}).get("ts") or item.get("ts")
        channel = item.get("channel") or event.get("channel_id")
        capture(channel, ts, event.get("user"), "pin", message, context)
