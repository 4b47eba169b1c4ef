"""The "Add to incident…" message shortcut: keep a Slack message in an incident.

Works on any message, including one a customer wrote in a Slack Connect channel. The ack goes
out at once; right after it a placeholder modal opens (a trigger_id lives three seconds), and
the lookups (open incidents, the message's permalink) fill it in with `views.update`. The
submission records through `playbook.services.incidents.Service.capture`, like every other
change: validated, saved, acked.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.blocks.shortcut import (
    CALLBACK,
    CaptureMeta,
    capture_loading,
    capture_modal,
    capture_unavailable,
)
from bot.listeners.deps import Deps, FormRequest, acting_team
from bot.listeners.errors import inline_error
from bot.listeners.forms import submission_key
from playbook.domain.capture import MessageRef, build_permalink, neutralise
from playbook.domain.errors import PlaybookError
from playbook.domain.model import CaptureKind, Incident
from playbook.domain.text import esc
from playbook.services.outcomes import Origin

log = logging.getLogger(__name__)

CALLBACK_ID = "add_to_incident"  # the manifests' message shortcut
NAME_MAX = 80


def _author_name(message: dict[str, Any]) -> str | None:
    """A display name from the message itself (no lookup): profile names, then a bot's."""
    profile = message.get("user_profile") or {}
    for name in (profile.get("display_name"), profile.get("real_name"), profile.get("name"),
                 message.get("username")):
        if isinstance(name, str) and name.strip():
            return " ".join(name.split())[:NAME_MAX]
    return None


def default_incident(incidents: list[Incident], channel_id: str) -> Incident | None:
    """The incident whose own or linked customer channel the message is in, if any."""
    for inc in incidents:
        if channel_id in (inc.channel_id, inc.customer_channel_id):
            return inc
    return None


def default_kind(inc: Incident | None, channel_id: str) -> CaptureKind:
    """In a linked customer channel the message is most likely the customer's own words."""
    if inc is not None and channel_id == inc.customer_channel_id:
        return CaptureKind.LISTEN
    return CaptureKind.NOTE


def _permalink(client: WebClient, body: dict, channel_id: str, ts: str) -> str:
    try:
        link = client.chat_getPermalink(channel=channel_id, message_ts=ts).get("permalink")
        if isinstance(link, str) and link.startswith(("https://", "http://")):
            return link
    except (SlackClientError, OSError) as err:  # e.g. a channel the bot is not in
        log.info("chat.getPermalink failed (%s); building the link from the ts",
                 err.response.get("error") if isinstance(err, SlackApiError) else err)
    return build_permalink((body.get("team") or {}).get("domain"), channel_id, ts)


def _selected(values: dict, block: str) -> Any:
    element = (values.get(block) or {}).get("v") or {}
    kind = element.get("type")
    if kind in ("static_select", "radio_buttons"):
        return (element.get("selected_option") or {}).get("value")
    if kind == "datetimepicker":
        return element.get("selected_date_time")
    return element.get("value")


def register(app: App, deps: Deps) -> None:
    def fill_in(view_id: str, body: dict, client: WebClient, team: str) -> None:
        """Once the placeholder is open: list the open incidents and put the real form in."""
        try:
            message = body.get("message") or {}
            channel_id = (body.get("channel") or {}).get("id") or ""
            ts = body.get("message_ts") or message.get("ts") or ""
            incidents = deps.service.open_incidents_by_urgency(team)
            meta = CaptureMeta(channel_id, ts, message.get("user") or message.get("bot_id"),
                               _author_name(message),
                               _permalink(client, body, channel_id, ts))
            if not incidents:
                form = capture_unavailable(
                    "There is no open incident to add this message to. Open one with "
                    f"`/incident open {esc('<customer>: <what happened>')}`.")
            else:
                default = default_incident(incidents, channel_id)
                form = capture_modal(incidents, default, default_kind(default, channel_id),
                                     neutralise(message.get("text") or ""), meta)
        except Exception:
            log.exception("could not prepare the Add to incident form")
            form = capture_unavailable("Something went wrong on my side while listing the "
                                       "incidents. Please try the shortcut again.")
        _update(client, view_id, form)

    @app.shortcut(CALLBACK_ID)
    def on_shortcut(ack: Ack, body: dict, client: WebClient, context: BoltContext) -> None:
        """Ack at once; the placeholder modal opens right after (`Forms`), then the lookups
        (open incidents, the message's permalink) run and fill it in with `views.update`."""
        team = acting_team(context)
        deps.open_form(FormRequest(
            body["trigger_id"], capture_loading(), body["user"]["id"],
            (body.get("channel") or {}).get("id"), body.get("response_url"),
            instead=f"Or add the :{deps.settings.capture_reaction}: reaction to the message to "
                    "put it on its incident's timeline.",
            then=lambda view_id: fill_in(view_id, body, client, team)))
        ack()

    @app.view(CALLBACK)
    def on_submit(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
        team = acting_team(context)
        values = view["state"]["values"]
        user = body["user"]["id"]
        meta = CaptureMeta.from_json(view.get("private_metadata") or "")
        try:
            kind = CaptureKind(_selected(values, "kind") or CaptureKind.NOTE.value)
        except ValueError:
            ack(response_action="errors", errors={"kind": "Pick what this message is."})
            return
        text = _selected(values, "text") or ""
        due_ts = _selected(values, "due")
        due = datetime.fromtimestamp(int(due_ts), UTC) if due_ts else None
        if kind is CaptureKind.PROMISE and due is None:
            ack(response_action="errors", errors={"due": "A promise needs a due time."})
            return
        try:
            incident_id = int(_selected(values, "incident") or 0)
        except ValueError:
            incident_id = 0
        inc = deps.service.owned(team, incident_id)
        if inc is None or inc.id is None:
            ack(response_action="errors", errors={"incident": "Pick an incident."})
            return
        ref = MessageRef(meta.channel_id, meta.ts, meta.author, meta.author_name,
                         meta.permalink)
        try:
            outcome = deps.service.capture(
                inc.id, deps.people.actor(user), kind, text, ref, team_id=team, due=due,
                origin=Origin(channel_id=inc.channel_id, reply_later=True),
                dedupe_key=submission_key(view))
        except PlaybookError as err:
            said = err.message.lower()
            block = "text" if "text" in said else \
                "due" if kind is CaptureKind.PROMISE and "closed" not in said else "incident"
            ack(response_action="errors", errors={block: inline_error(err.message)})
            return
        ack()
        deps.after(outcome)


def _update(client: WebClient, view_id: str, form: dict) -> None:
    """Replace the placeholder modal; the user may have closed it meanwhile (then nothing)."""
    try:
        client.views_update(view_id=view_id, view=form)
    except (SlackClientError, OSError) as err:
        log.info("could not fill in the Add to incident modal: %s", err)
