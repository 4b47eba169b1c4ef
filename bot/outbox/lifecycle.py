"""Where the bot posts when an incident's channel is gone for it, and the lifecycle effects.

When the incident channel is archived or the bot was removed from it, nothing can be posted
there. Then:

* the status card lives on as a copy in the *fallback* place: the leads channel
  (``CRISISBOT_LEADS_CHANNEL``) when configured, else the owner's DM (the opener's without an
  owner), kept current like the pinned one;
* reminders that would go to the channel (nudge, due, a missed promise, a check-in without an
  owner) go to the owner's DM, or the fallback place when there is no owner; escalations
  already go to the owner and the leads, so they are not repeated;
* every other timeline line stays in the database (the summary has it) and is not posted.

Once the channel is usable again (unarchived, the bot invited back), the copy says where the
card is and everything goes to the channel again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.blocks._kit import MESSAGE_MAX_BLOCKS, context, section, to_dicts
from playbook.domain.model import Incident
from playbook.domain.text import channel_link
from playbook.domain.verbs import Ctx
from playbook.domain.verbs.views import status_text
from playbook.services.lifecycle import Change, LifecycleService

if TYPE_CHECKING:
    from bot.outbox.effects import EffectRunner

log = logging.getLogger(__name__)

# Slack errors that mean "this channel is gone for the bot" (as opposed to a bad request).
LOST_CODES = {"is_archived": Change.ARCHIVED, "not_in_channel": Change.REMOVED,
              "channel_not_found": Change.REMOVED}
# Outbox kinds that write to the incident's own channel.
CHANNEL_KINDS = {"timeline", "refresh_card", "invite", "draft", "draft_settled",
                 "resolve_prompt", "brief", "channel_back"}
# Timeline kinds that are reminders for the people working the incident.
REMINDER_KINDS = {"nudge", "due", "promise-due", "checkin"}


class Lifecycle:
    """Routing around lost channels, for the `EffectRunner` that owns it."""

    def __init__(self, runner: EffectRunner) -> None:
        self.runner = runner
        self.service = LifecycleService(runner.service)

    @property
    def client(self) -> Any:
        return self.runner.client

    # --- where ---------------------------------------------------------------------------------

    def usable(self, inc: Incident) -> bool:
        if inc.channel_id is None:
            return False
        known = self.runner.facts.usable(inc.channel_id)
        return self.service.channel_usable(inc.channel_id) if known is None else known

    def fallback(self, inc: Incident) -> str:
        """The place the card and notes go while the channel is unusable."""
        return self.runner.settings.leads_channel or inc.owner or inc.opened_by

    def reminder_target(self, inc: Incident) -> str:
        return inc.owner or self.fallback(inc)

    # --- the outbox worker found out from an error ----------------------------------------------

    def lost_by_error(self, inc: Incident, kind: str, payload: dict, err: SlackApiError) -> bool:
        """True if `err` says the incident channel is gone and we now know it (so re-run)."""
        code = str(err.response.get("error", ""))
        change = LOST_CODES.get(code)
        targets_channel = kind in CHANNEL_KINDS or (
            kind in ("post", "summary") and payload.get("target") == "incident")
        if change is None or not targets_channel or inc.channel_id is None:
            return False
        self.runner.facts.forget()
        return self.service.channel_changed(inc.team_id, inc.channel_id, change,
                                            why=f"Slack answered {code}")

    # --- kinds -----------------------------------------------------------------------------------

    def redirect_timeline(self, inc: Incident, payload: dict) -> None:
        """A timeline line for an unusable channel: reminders go to a person, the rest stays."""
        kind = payload.get("kind", "")
        if kind not in REMINDER_KINDS or (kind == "checkin" and inc.owner):
            return
        assert inc.id is not None
        msg = blocks.timeline_message(kind, payload["text"], inc.id)
        self.client.chat_postMessage(channel=self.reminder_target(inc), **msg)

    def fallback_card(self, inc: Incident) -> None:
        """Keep the card's copy current in the fallback place (posting it the first time)."""
        assert inc.channel_id is not None
        state = self.service.channel_state(inc.team_id, inc.channel_id)
        why = "archived" if state.archived_at else "not open to me"
        msg = blocks.card(inc, self.runner.clock(), self.runner.service.playbook_for(inc))
        note = context(f"📌 A copy of {inc.key}'s card: its channel {channel_link(inc.channel_id)} "
                       f"is {why}. Kept current here until it is back.")
        msg["blocks"] = [*to_dicts([note]), *msg["blocks"]][:MESSAGE_MAX_BLOCKS]
        if state.fallback_channel and state.fallback_ts:
            try:
                self.client.chat_update(channel=state.fallback_channel, ts=state.fallback_ts,
                                        **msg)
                return
            except SlackApiError as err:
                if err.response.get("error") not in ("message_not_found", "cant_update_message",
                                                     "channel_not_found"):
                    raise
        resp = self.client.chat_postMessage(channel=self.fallback(inc), **msg)
        self.service.set_fallback(inc.team_id, inc.channel_id, resp["channel"], resp["ts"])

    def do_channel_lost(self, inc: Incident, payload: dict) -> None:
        """Say where things continue: the fallback place, and the owner by DM."""
        places = dict.fromkeys(p for p in (self.fallback(inc), inc.owner) if p)
        for place in places:
            self.client.chat_postMessage(channel=place, text=payload["text"])

    def do_channel_back(self, inc: Incident, payload: dict) -> None:
        """Back in the channel: say so there, and point the copy of the card at it."""
        assert inc.channel_id is not None
        self.client.chat_postMessage(channel=inc.channel_id, text=payload["text"])
        state = self.service.channel_state(inc.team_id, inc.channel_id)
        if state.fallback_channel and state.fallback_ts:
            try:
                back = f"📌 {inc.key}'s card is back in {channel_link(inc.channel_id)}."
                self.client.chat_update(channel=state.fallback_channel, ts=state.fallback_ts,
                                        text=back, blocks=to_dicts([section(back)]))
            except SlackApiError as err:
                log.info("%s: could not retire the card's copy: %s", inc.key,
                         err.response.get("error"))
            self.service.set_fallback(inc.team_id, inc.channel_id, None, None)

    def do_brief(self, inc: Incident, payload: dict) -> None:
        """A short "where we are" for someone who just joined, only they can see it."""
        if not self.usable(inc):
            return
        ctx = Ctx(now=self.runner.clock(), policy=self.runner.service.config.policy)
        text = (f"👋 Welcome to {inc.key}. Where we are:\n{status_text(inc, ctx)}\n"
                "The pinned card has the details; `/incident help` lists what you can do.")
        assert inc.channel_id is not None
        self.client.chat_postEphemeral(channel=inc.channel_id, user=payload["user"], text=text)
