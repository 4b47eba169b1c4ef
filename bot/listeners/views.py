"""Modal submissions: each modal becomes the same verbs a person could type.

The form's values reach the verbs as they are (`playbook.domain.verbs.Request`): free text as
typed, people from the person pickers, the due time from the date picker, so nothing is turned
back into command text to be parsed again. A refused verb comes back as `response_action:
errors` on the field that caused it, so the form stays open with everything the person wrote.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from slack_bolt import Ack, App, BoltContext

from bot.listeners.deps import Deps, acting_team
from bot.listeners.errors import inline_error
from bot.listeners.forms import submission_key, value
from playbook.domain import links, mail
from playbook.domain.errors import PlaybookError
from playbook.domain.model import Incident
from playbook.domain.text import esc
from playbook.domain.verbs import Request, Said, Written
from playbook.domain.verbs.followup import AddAction
from playbook.domain.verbs.handover import HandOver
from playbook.domain.verbs.listen import AgreeCadence
from playbook.domain.verbs.own import Comms, Own
from playbook.domain.verbs.promises import MakePromise
from playbook.domain.verbs.snooze import SnoozeFor
from playbook.domain.verbs.solve import AddOption, Choose, Recommend
from playbook.services.incidents import BatchError, Duplicate
from playbook.services.outcomes import Origin

Steps = list[tuple[Request, str]]  # (the verb with the form's values, block_id for an error)

MAX_FIELD = 3000


def _steps(name: str, inc: Incident, values: dict) -> Steps:
    steps: Steps = []
    if name == "listen":
        steps.append((Written("listen", value(values, "words") or ""), "words"))
        if value(values, "impact"):
            steps.append((Written("impact", value(values, "impact")), "impact"))
        if value(values, "driver"):
            steps.append((Written("driver", value(values, "driver")), "driver"))
        window = " ".join(value(values, block) for block in
                          ("window_days", "window_hours", "window_zone") if value(values, block))
        if value(values, "cadence"):
            steps.append((AgreeCadence(value(values, "cadence"), window),
                          "window_hours" if window else "cadence"))
        elif window:  # hours without an interval: the cadence verb asks for the interval
            steps.append((AgreeCadence("", window), "cadence"))
    elif name == "restate":
        typed = value(values, "restatement") or ""
        if typed != (inc.restatement or ""):
            steps.append((Written("restate", typed), "restatement"))
        confirmed = "yes" in (value(values, "confirmed") or [])
        if confirmed and (inc.restatement_confirmed_at is None or steps):
            steps.append((Said("confirm"), "confirmed"))
    elif name == "own":
        owner = value(values, "owner")
        if owner and owner != inc.owner:
            steps.append((Own(owner), "owner"))
        communicator = value(values, "communicator")
        if communicator and communicator != inc.communicator:
            steps.append((Comms(communicator), "communicator"))
        if value(values, "apology"):
            steps.append((Written("apology", value(values, "apology")), "apology"))
    elif name == "option":
        steps.append((AddOption(value(values, "text") or "", value(values, "risk"),
                                relief="yes" in (value(values, "relief") or [])), "text"))
    elif name == "choose":
        recommended = value(values, "recommended")
        if recommended:
            steps.append((Recommend(int(recommended), value(values, "why") or ""), "why"))
        if value(values, "chosen"):
            steps.append((Choose(int(value(values, "chosen"))), "chosen"))
    elif name == "promise":
        due = value(values, "due")
        when = datetime.fromtimestamp(int(due), UTC) if due else None
        steps.append((MakePromise(value(values, "what") or "", when), "due"))
    elif name == "update":
        verb = "send" if "yes" in (value(values, "send") or []) else "update"
        steps.append((Written(verb, value(values, "text") or ""), "text"))
    elif name == "resolve":
        steps.append((Written("resolve", value(values, "resolution") or ""), "resolution"))
    elif name == "relief":
        steps.append((Written("relief", value(values, "relief") or ""), "relief"))
    elif name == "followup":
        root = value(values, "rootcause")
        if root and root != inc.root_cause:
            steps.append((Written("rootcause", root), "rootcause"))
        if value(values, "lesson"):
            steps.append((Written("lesson", value(values, "lesson")), "lesson"))
        if value(values, "action"):
            steps.append((AddAction(value(values, "action"), value(values, "action_owner")),
                          "action"))
    elif name == "skip":
        steps.append((Written("skip", value(values, "reason") or ""), "reason"))
    elif name == "snooze":
        minutes = value(values, "minutes")
        length = timedelta(minutes=int(minutes)) if minutes else None
        steps.append((SnoozeFor(length, value(values, "reason") or ""), "reason"))
    elif name == "handover":
        steps.append((HandOver(value(values, "to") or "", value(values, "notes") or ""), "to"))
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
    def on_submit(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
        name = view["callback_id"].split(":", 1)[1]
        values = view["state"]["values"]
        user, team = body["user"]["id"], acting_team(context)
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
            emails: list[str] = []
            if typed := (value(values, "emails") or "").strip():
                try:
                    emails = mail.parse_addresses(esc(typed))
                except PlaybookError as err:
                    ack(response_action="errors", errors={"emails": inline_error(err.message)})
                    return
            try:
                outcome = deps.service.open_parsed(
                    team, deps.people.actor(user), customer=value(values, "customer") or "",
                    description=value(values, "what") or "",
                    severity=value(values, "severity"),
                    origin=Origin(channel_id=channel, reply_later=True), dedupe_key=dedupe,
                    ticket_url=ticket, customer_emails=emails)
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
                                                 int(number), team_id=team,
                                                 origin=Origin(channel_id=channel))
                except PlaybookError as err:
                    deps.service.tell(team, outcome.incident.id, user, err.message,
                                      Origin(channel_id=channel, reply_later=True))
                deps.wake_outbox()
            return
        inc = deps.service.owned(team, int(meta.get("incident_id", 0)))
        if inc is None or inc.id is None:
            raise PlaybookError("I can't find that incident any more.")
        steps = _steps(name, inc, values)
        if not steps:
            ack()
            return
        # the listen form's working hours are read in the person's zone when none is picked;
        # the promise form's date picker sends an absolute time, so it needs no zone
        actor = deps.people.actor(user, with_tz=name == "listen")
        try:
            outcome = deps.service.command_many(
                inc.id, actor, [step for step, _ in steps], team_id=team,
                origin=Origin(channel_id=inc.channel_id, reply_later=True), dedupe_key=dedupe)
        except BatchError as err:
            block = steps[err.index][1]
            ack(response_action="errors", errors={block: inline_error(err.message)})
            return
        ack()
        deps.after(outcome, saved=True)
