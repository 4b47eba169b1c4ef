"""Buttons on outage drafts and resolve prompts, and the "edit and log" form.

``draft:log`` logs the draft's text as the incident's customer update as is; ``draft:edit``
opens a form prefilled with it (the trigger_id first: it lives three seconds); ``draft:dismiss``
drops it for this customer. ``outage:resolve`` opens the incident's resolve form prefilled with
the outage's resolution. Results reach the person as ephemeral messages from the outbox.
"""

from __future__ import annotations

import json
import re

from slack_bolt import Ack, App, BoltContext

from bot import blocks
from bot.blocks.outage import draft_modal
from bot.listeners.deps import Deps, FormRequest, acting_team, type_instead
from bot.listeners.errors import inline_error
from bot.listeners.forms import value
from playbook.domain.errors import PlaybookError
from playbook.domain.text import esc
from playbook.services.outcomes import Origin

MAX_TEXT = 3000


def _int(raw: object) -> int:
    try:
        return int(str(raw))
    except ValueError as err:
        raise PlaybookError("That button is no longer valid; use `/incident help`.") from err


def register(app: App, deps: Deps) -> None:
    @app.action(re.compile(r"^draft:(log|edit|dismiss)$"))
    def on_draft(ack: Ack, body: dict, action: dict,
                 context: BoltContext) -> None:
        what = action["action_id"].split(":", 1)[1]
        user = body["user"]["id"]
        team = acting_team(context)
        draft = deps.outages.owned_draft(team, _int(action.get("value")))
        if draft is None or draft.id is None:
            raise PlaybookError("I can't find that draft any more.")
        inc = deps.service.owned(team, draft.incident_id)
        out = deps.outages.owned(team, draft.outage_id)
        if inc is None or inc.id is None or out is None:
            raise PlaybookError("That incident or outage no longer exists.")
        if what == "edit":
            deps.open_form(FormRequest(
                body["trigger_id"], draft_modal(draft, inc, out), user,
                (body.get("channel") or {}).get("id"), body.get("response_url"),
                instead=type_instead(
                    "/incident update &lt;what you told the customer&gt;")))
            ack()
            return
        where = (body.get("channel") or {}).get("id") or inc.channel_id
        origin = Origin(channel_id=where, response_url=body.get("response_url"),
                        reply_later=True)
        if what == "log":
            deps.after(deps.outages.log_draft(draft.id, deps.people.actor(user), None,
                                              team_id=team, origin=origin))
        else:
            reply = deps.outages.dismiss_draft(draft.id, deps.people.actor(user), team_id=team,
                                               origin=origin)
            deps.service.tell(team, inc.id, user, reply, origin)
            deps.wake_outbox()
        ack()

    @app.action("outage:resolve")
    def on_resolve(ack: Ack, body: dict, action: dict,
                   context: BoltContext) -> None:
        incident_id, _, outage_id = str(action.get("value") or "").partition(":")
        team = acting_team(context)
        inc = deps.service.owned(team, _int(incident_id))
        out = deps.outages.owned(team, _int(outage_id))
        if inc is None or out is None:
            raise PlaybookError("That incident or outage no longer exists.")
        deps.open_form(FormRequest(
            body["trigger_id"], blocks.resolve_modal(inc, initial=out.resolution),
            body["user"]["id"], (body.get("channel") or {}).get("id"), body.get("response_url"),
            instead=type_instead("/incident resolve &lt;resolution&gt;")))
        ack()

    @app.view("modal:draft")
    def on_draft_submit(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
        team = acting_team(context)
        values = view["state"]["values"]
        text = value(values, "text") or ""
        if not text:
            ack(response_action="errors", errors={"text": "Write what the customer was told."})
            return
        if len(text) > MAX_TEXT:
            ack(response_action="errors", errors={"text": f"Keep it under {MAX_TEXT} "
                                                          "characters."})
            return
        meta = json.loads(view.get("private_metadata") or "{}")
        inc = deps.service.owned(team, _int(meta.get("incident_id", 0)))
        origin = Origin(channel_id=inc.channel_id if inc else None, reply_later=True)
        try:
            outcome = deps.outages.log_draft(_int(meta.get("draft_id", 0)),
                                             deps.people.actor(body["user"]["id"]), esc(text),
                                             team_id=team, origin=origin)
        except PlaybookError as err:
            ack(response_action="errors", errors={"text": inline_error(err.message)})
            return
        ack()
        deps.after(outcome)
