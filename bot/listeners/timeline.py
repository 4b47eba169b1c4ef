"""`/incident timeline`, its "Correct" buttons and the correction form.

Listing and opening the form only read; a correction is saved by `TimelineService.correct` as a
new revision (never overwriting the entry) before the ack, and confirmed through the outbox.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.blocks.timeline import PAGE_SIZE, edit_modal, timeline_list
from bot.listeners.deps import Deps, FormRequest, acting_team, type_instead
from bot.listeners.errors import inline_error
from playbook.domain import timeline as tl
from playbook.domain.errors import NotFound, ParseError, PermissionDenied, PlaybookError
from playbook.domain.model import Incident
from playbook.services.outcomes import Origin
from playbook.services.timeline import TimelineService

USAGE = "`/incident timeline [page]` or `/incident timeline edit T3`"


def _service(deps: Deps) -> TimelineService:
    return TimelineService(deps.service.sessions, deps.service.clock)


def _incident_here(deps: Deps, team: str, channel: str) -> Incident:
    inc = deps.service.incident_for_channel(team, channel)
    if inc is None or inc.id is None:
        raise PlaybookError("`/incident timeline` works in an incident's channel. "
                            "`/incident list` shows the open ones.")
    return inc


def command(deps: Deps, ack: Ack, body: dict, client: WebClient, arg: str) -> None:
    """`timeline [page]` lists; `timeline edit Tn` (or `timeline Tn`) opens the form."""
    inc = _incident_here(deps, body["team_id"], body["channel_id"])
    assert inc.id is not None
    words = arg.split()
    if words and words[0].lower() in ("edit", "correct", "remove", "fix"):
        if len(words) != 2:
            raise ParseError(f"Name the entry to correct: {USAGE}.")
        ref = words[1]
    elif len(words) == 1 and words[0].lower().startswith("t"):
        ref = words[0]
    elif not words or (len(words) == 1 and words[0].isdigit()):
        entries = _service(deps).entries(inc.id)
        shown, pages = tl.page(entries, int(words[0]) if words else 1, PAGE_SIZE)
        number = min(max(int(words[0]) if words else 1, 1), pages)
        ack(timeline_list(inc, shown, number, pages))
        return
    else:
        raise ParseError(f"I can't read that: {USAGE}.")
    entry = tl.find(_service(deps).entries(inc.id), tl.parse_ref(ref))
    tl.check_may_correct(entry, deps.people.actor(body["user_id"]))
    # after the ack, at once: a trigger_id lives 3 seconds
    deps.open_form(FormRequest(body["trigger_id"], edit_modal(inc, entry), body["user_id"],
                               body["channel_id"], body.get("response_url")))
    ack()


def register(app: App, deps: Deps) -> None:
    @app.action(re.compile(r"^timeline:edit:\d+$"))
    def on_correct(ack: Ack, body: dict, action: dict,
                   context: BoltContext) -> None:
        incident_id, _, entry_id = str(action.get("value") or "").partition(":")
        team = acting_team(context)
        inc = deps.service.owned(team, int(incident_id)) if incident_id.isdigit() else None
        entries = _service(deps).entries(inc.id) if inc and inc.id else []
        entry = next((e for e in entries if str(e.id) == entry_id), None)
        if inc is None or entry is None:
            raise NotFound("I can't find that timeline entry any more.")
        tl.check_may_correct(entry, deps.people.actor(body["user"]["id"]))
        deps.open_form(FormRequest(body["trigger_id"], edit_modal(inc, entry),
                                   body["user"]["id"], (body.get("channel") or {}).get("id"),
                                   body.get("response_url"),
                                   instead=type_instead(
                                       f"/incident timeline edit {entry.ref}")))
        ack()

    @app.view("timeline:edit")
    def on_submit(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
        team = acting_team(context)
        meta = json.loads(view.get("private_metadata") or "{}")
        values = view["state"]["values"]
        typed = ((values.get("text") or {}).get("v") or {}).get("value") or ""
        picked = ((values.get("at") or {}).get("v") or {}).get("selected_date_time")
        ticked = ((values.get("remove") or {}).get("v") or {}).get("selected_options") or []
        remove = any(o.get("value") == "yes" for o in ticked)
        if picked is None and not remove:
            ack(response_action="errors", errors={"at": "Pick when it happened."})
            return
        user = body["user"]["id"]
        incident_id = int(meta.get("incident_id", 0))
        at = datetime.fromtimestamp(int(picked), UTC) if picked is not None else \
            deps.clock()  # unused for a removal, which keeps the entry's time
        try:
            reply = _service(deps).correct(incident_id, int(meta.get("entry_id", 0)),
                                           deps.people.actor(user), team_id=team,
                                           typed=typed, at=at, remove=remove)
        except (ParseError, PermissionDenied, NotFound) as err:
            field = "at" if re.search(r"\btime\b", err.message) else "text"
            ack(response_action="errors", errors={field: inline_error(err.message)})
            return
        ack()
        inc = deps.service.owned(team, incident_id)
        if inc is not None and inc.id is not None:
            deps.service.tell(team, inc.id, user, reply,
                              Origin(channel_id=inc.channel_id, reply_later=True))
            deps.wake_outbox()
