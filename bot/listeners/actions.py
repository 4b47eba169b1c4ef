"""Buttons on the status card and on reminder messages (action_id `card:<what>`).

A button either opens the modal for its step (before anything slow: the trigger_id lives three
seconds) or runs a verb directly; the result reaches the person as an ephemeral message.
"""

from __future__ import annotations

import re

from slack_bolt import Ack, App, BoltContext

from bot import blocks
from bot.listeners.deps import Deps, FormRequest, acting_team, type_instead
from playbook.domain.errors import PlaybookError
from playbook.domain.model import Incident
from playbook.domain.verbs import Ctx
from playbook.domain.verbs.views import status_text
from playbook.services.outcomes import Origin

DIRECT = {"confirm": "confirm", "close": "close", "checkin": "checkin"}
# What to type instead of a form's button, offered when the form can't open (mrkdwn, escaped)
TYPED = {
    "listen": "listen &lt;the customer's words&gt;", "restate": "restate &lt;their problem&gt;",
    "own": "own @person", "option": "option &lt;what&gt; risk: &lt;risk&gt;",
    "choose": "choose &lt;n&gt;", "promise": "promise &lt;what&gt; by &lt;time&gt;",
    "update": "update &lt;what you told the customer&gt;",
    "resolve": "resolve &lt;resolution&gt;", "followup": "rootcause &lt;text&gt;",
    "skip": "skip &lt;why&gt;", "snooze": "snooze &lt;minutes&gt;m &lt;why&gt;",
    "handover": "handover @person &lt;notes&gt;",
}


def typed(what: str) -> str | None:
    """The `/incident` command a form's button stands for (``snooze15`` is ``snooze``)."""
    verb = TYPED.get(what) or TYPED.get(what.rstrip("0123456789"))
    return f"/incident {verb}" if verb else None


def _incident(deps: Deps, team: str, value: str | None) -> Incident:
    try:
        inc = deps.service.owned(team, int(value or ""))
    except ValueError:
        inc = None
    if inc is None:
        raise PlaybookError("I can't find that incident any more.")
    return inc


def _where(body: dict) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id")


def register(app: App, deps: Deps) -> None:
    @app.action(re.compile(r"^card:"))
    def on_card_button(ack: Ack, body: dict, action: dict,
                       context: BoltContext) -> None:
        what = action["action_id"].split(":", 1)[1]
        user = body["user"]["id"]
        team = acting_team(context)
        inc = _incident(deps, team, action.get("value"))
        assert inc.id is not None
        builder = blocks.MODALS.get(action["action_id"])
        if builder is not None:
            view = builder(inc, deps.service.playbooks.playbook_for(inc)) \
                if builder is blocks.skip_modal else builder(inc)
            deps.open_form(FormRequest(body["trigger_id"], view, user, _where(body),
                                       body.get("response_url"),
                                       instead=type_instead(typed(what))))
            ack()
            return
        origin = Origin(channel_id=_where(body) or inc.channel_id,
                        response_url=body.get("response_url"), reply_later=True)
        if what == "status":
            deps.service.tell(team, inc.id, user, status_text(
                inc, Ctx(now=deps.clock(), policy=deps.service.playbooks.policy_for(inc))), origin)
            deps.wake_outbox()
        elif what in DIRECT:
            deps.after(deps.service.command(inc.id, deps.people.actor(user), DIRECT[what], "",
                                            team_id=team, origin=origin), saved=True)
        else:
            raise PlaybookError("That button is no longer supported; use `/incident help`.")
        ack()
