"""Modal submissions: each modal becomes the same verbs a person could type.

A refused verb comes back as `response_action: errors` on the field that caused it, so the form
stays open with everything the person wrote. Free text from modals arrives unescaped, so it is
escaped here to look exactly like typed `/incident` text before it reaches the verbs.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from slack_bolt import Ack, App

from bot.listeners.deps import Deps
from bot.listeners.errors import inline_error
from bot.listeners.forms import submission_key, value
from playbook.domain import links
from playbook.domain.errors import PlaybookError
from playbook.domain.model import Incident
from playbook.domain.text import esc
from playbook.services.incidents import BatchError, Duplicate
from playbook.services.outbox import Origin

Steps = list[tuple[str, str, str]]  # (verb, argument, block_id for an inline error)

MAX_FIELD = 3000


def _text(values: dict, block: str) -> str:
    return esc(value(values, block) or "")


def _steps(name: str, inc: Incident, values: dict) -> Steps:
    steps: Steps = []
    if name == "listen":
        steps.append(("listen", _text(values, "words"), "words"))
        if value(values, "impact"):
            steps.append(("impact", _text(values, "impact"), "impact"))
        if value(values, "driver"):
            steps.append(("driver", esc(value(values, "driver")), "driver"))
        window = " ".join(_text(values, block) for block in
                          ("window_days", "window_hours", "window_zone") if value(values, block))
        if value(values, "cadence"):
            arg = f"{_text(values, 'cadence')} {window}".strip()
            steps.append(("cadence", arg, "window_hours" if window else "cadence"))
        elif window:  # hours without an interval: the cadence verb asks for the interval
            steps.append(("cadence", "", "cadence"))
    elif name == "restate":
        typed = value(values, "restatement") or ""
        if typed != (inc.restatement or ""):
            steps.append(("restate", esc(typed), "restatement"))
        confirmed = "yes" in (value(values, "confirmed") or [])
        if confirmed and (inc.restatement_confirmed_at is None or steps):
            steps.append(("confirm", "", "confirmed"))
    elif name == "own":
        owner = value(values, "owner")
        if owner and owner != inc.owner:
            steps.append(("own", f"<@{owner}>", "owner"))
        communicator = value(values, "communicator")
        if communicator and communicator != inc.communicator:
            steps.append(("comms", f"<@{communicator}>", "communicator"))
        if value(values, "apology"):
            steps.append(("apology", _text(values, "apology"), "apology"))
    elif name == "option":
        text, risk = _text(values, "text"), _text(values, "risk")
        steps.append(("option", f"{text} risk: {risk}" if risk else text, "text"))
    elif name == "choose":
        recommended = value(values, "recommended")
        if recommended:
            steps.append(("recommend", f"{recommended} {_text(values, 'why')}", "why"))
        if value(values, "chosen"):
            steps.append(("choose", str(value(values, "chosen")), "chosen"))
    elif name == "promise":
        due = value(values, "due")
        when = datetime.fromtimestamp(int(due), UTC).strftime("%Y-%m-%dT%H:%MZ") if due else ""
        steps.append(("promise", f"{_text(values, 'what')} by {when}", "due"))
    elif name == "update":
        verb = "send" if "yes" in (value(values, "send") or []) else "update"
        steps.append((verb, _text(values, "text"), "text"))
    elif name == "resolve":
        steps.append(("resolve", _text(values, "resolution"), "resolution"))
    elif name == "followup":
        root = value(values, "rootcause")
        if root and root != inc.root_cause:
            steps.append(("rootcause", esc(root), "rootcause"))
        if value(values, "lesson"):
            steps.append(("lesson", _text(values, "lesson"), "lesson"))
        if value(values, "action"):
            owner = value(values, "action_owner")
            text = _text(values, "action") + (f" <@{owner}>" if owner else "")
            steps.append(("action", text, "action"))
    elif name == "skip":
        steps.append(("skip", _text(values, "reason"), "reason"))
    elif name == "snooze":
        minutes = value(values, "minutes") or ""
        steps.append(("snooze", f"{minutes}m {_text(values, 'reason')}".strip(), "reason"))
    elif name == "handover":
        to = value(values, "to")
        steps.append(("handover", f"<@{to}> {_text(values, 'notes')}".strip(), "to"))
    return steps


def _too_long(values: dict) -> dict[str, str]:
    errors = {}
    for block, actions in values.items():
        element = actions.get("v") or {}
        if element.get("type") == "plain_text_input" and len(element.get("value") or "") > \
                MAX_FIELD:
            errors[block] = f"Keep this under {MAX_FIELD} characters."
    return errors


def register(app: App, deps: Deps) -> None:
    @app.view(re.compile(r"^modal:"))
    def on_submit(ack: Ack, body: dict, view: dict) -> None:
        name = view["callback_id"].split(":", 1)[1]
        values = view["state"]["values"]
        user, team = body["user"]["id"], body["team"]["id"]
        meta = json.loads(view.get("private_metadata") or "{}")
        if errors := _too_long(values):
            ack(response_action="errors", errors=errors)
            return
        dedupe = submission_key(view)
        if name == "open":
            channel = meta.get("channel_id")
            ticket = value(values, "ticket") or None
            if ticket:
                try:
                    ticket = links.parse_url(ticket)
                except PlaybookError as err:
                    ack(response_action="errors", errors={"ticket": inline_error(err.message)})
                    return
            try:
                outcome = deps.service.open_parsed(
                    team, deps.people.actor(user), customer=value(values, "customer") or "",
                    description=value(values, "what") or "",
                    severity=value(values, "severity"),
                    origin=Origin(channel_id=channel, reply_later=True), dedupe_key=dedupe,
                    ticket_url=ticket)
            except Duplicate:
                ack()
                return
            except PlaybookError as err:
                ack(response_action="errors", errors={"customer": inline_error(err.message)})
                return
            ack()
            deps.after(outcome, saved=True)
            number = value(values, "outage")
            if number and outcome.incident.id is not None:
                # after the ack: the incident exists whatever happens to the attach, and a
                # refusal (the outage was resolved meanwhile) reaches the person from the outbox
                try:
                    deps.outages.attach_incident(outcome.incident.id, deps.people.actor(user),
                                                 int(number), origin=Origin(channel_id=channel))
                except PlaybookError as err:
                    deps.service.tell(outcome.incident.id, user, err.message,
                                      Origin(channel_id=channel, reply_later=True))
                deps.wake_outbox()
            return
        inc = deps.service.get_by_id(int(meta.get("incident_id", 0)))
        if inc is None or inc.id is None:
            raise PlaybookError("I can't find that incident any more.")
        steps = _steps(name, inc, values)
        if not steps:
            ack()
            return
        actor = deps.people.actor(user, with_tz=name in ("promise", "listen"))
        try:
            outcome = deps.service.command_many(
                inc.id, actor, [(verb, arg) for verb, arg, _ in steps],
                origin=Origin(channel_id=inc.channel_id, reply_later=True), dedupe_key=dedupe)
        except BatchError as err:
            block = steps[err.index][2]
            ack(response_action="errors", errors={block: inline_error(err.message)})
            return
        ack()
        deps.after(outcome, saved=True)
