"""Carries out outage effects from the outbox: the outage channel and card, drafts, prompts.

Outage rows (``outage_*``) carry no incident; they name the outage in their payload. A row for
an outage whose channel does not exist yet does nothing: the channel's creation posts the card
from the state current at that moment, and the lines are in the database.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.blocks.outage import draft_message, outage_card, resolve_prompt
from playbook.domain.model import Incident
from playbook.domain.outage import Outage
from playbook.domain.rules import slack_channel_name
from playbook.services.outages import OutageService
from playbook.store import OutboxItem

if TYPE_CHECKING:
    from bot.outbox.effects import EffectRunner

log = logging.getLogger(__name__)
def channel_name(out: Outage, attempt: int = 0) -> str:
    """The outage's channel: `out-<number>-<title>`."""
    return slack_channel_name(f"out-{out.number}", out.title, "outage", attempt)


class OutageEffects:
    def __init__(self, runner: EffectRunner) -> None:
        self.runner = runner
        self.service = OutageService(runner.service)

    @property
    def client(self):
        return self.runner.client

    # --- rows without an incident -------------------------------------------------------------

    def run_outage_row(self, item: OutboxItem) -> None:
        out = self.service.get(int(item.payload.get("outage_id", 0)))
        if out is None or out.id is None:
            log.warning("outbox %s: outage is gone; dropping", item.id)
            return
        if item.kind == "outage_open":
            self._open(out, item.payload)
        elif out.channel_id is None or not self.runner.lifecycle.service.channel_usable(
                out.channel_id):
            return
        elif item.kind == "outage_post":
            self.client.chat_postMessage(channel=out.channel_id, text=item.payload["text"])
        elif item.kind == "outage_card":
            self.refresh_card(out)

    def _open(self, out: Outage, payload: dict) -> None:
        assert out.id is not None
        if out.channel_id is None:
            for attempt in range(25):
                try:
                    resp = self.client.conversations_create(
                        name=channel_name(out, attempt),
                        is_private=self.runner.settings.private_channels)
                except SlackApiError as err:
                    if err.response.get("error") == "name_taken":
                        continue
                    raise
                out = self.service.set_channel(out.id, resp["channel"]["id"],
                                               resp["channel"]["name"])
                break
        assert out.channel_id is not None
        try:
            self.client.conversations_setTopic(
                channel=out.channel_id, topic=f"{out.key} outage: {out.title}"[:250])
        except SlackApiError as err:
            log.warning("%s: could not set the topic: %s", out.key, err.response.get("error"))
        inc_stub = Incident(out.team_id, 0, "", "", out.opened_by, out.opened_at,
                            channel_id=out.channel_id)
        problems = self.runner._invite(inc_stub, [u for u in payload.get("invite", []) if u])
        if out.card_ts is None:
            self._post_card(out)
        text = (f"*{out.key}* is open: <#{out.channel_id}>. Customers' incidents attach with "
                f"`/incident attach {out.key}`; updates typed there reach each as a draft.")
        if problems:
            text += "\n⚠️ " + "; ".join(problems) + "."
        self.runner._tell(payload.get("notify") or {}, text)

    def _post_card(self, out: Outage) -> None:
        assert out.id is not None and out.channel_id is not None
        card = outage_card(out, self.service.attached(out.id), self.runner.clock())
        resp = self.client.chat_postMessage(channel=out.channel_id, **card)
        self.service.set_card(out.id, resp["ts"])
        try:
            self.client.pins_add(channel=out.channel_id, timestamp=resp["ts"])
        except SlackApiError as err:
            if err.response.get("error") != "already_pinned":
                log.warning("%s: could not pin the card: %s", out.key, err.response.get("error"))

    def refresh_card(self, out: Outage) -> None:
        assert out.id is not None
        if out.channel_id is None:
            return
        if out.card_ts is None:
            self._post_card(out)
            return
        card = outage_card(out, self.service.attached(out.id), self.runner.clock())
        try:
            self.client.chat_update(channel=out.channel_id, ts=out.card_ts, **card)
        except SlackApiError as err:
            if err.response.get("error") not in ("message_not_found", "cant_update_message"):
                raise
            self._post_card(out)

    def after_incident_card(self, inc: Incident) -> None:
        """An attached incident's card changed: the outage card's row for it did too."""
        if inc.id is None or self.runner.facts.in_outage(inc.id) is False:
            return
        out = self.service.outage_of(inc.id)
        if out is None or out.channel_id is None or \
                not self.runner.lifecycle.service.channel_usable(out.channel_id):
            return
        try:
            self.refresh_card(out)
        except SlackApiError as err:  # the incident's own card is done: don't repeat it
            log.warning("%s: could not refresh the outage card: %s", out.key,
                        err.response.get("error"))

    # --- rows of an incident ------------------------------------------------------------------

    def _where(self, inc: Incident) -> str | None:
        if self.runner.lifecycle.usable(inc):
            return inc.channel_id
        return self.runner.lifecycle.reminder_target(inc) if inc.channel_id else None

    def do_draft(self, inc: Incident, payload: dict) -> None:
        draft = self.service.draft(int(payload["draft_id"]))
        out = self.service.get(draft.outage_id) if draft else None
        where = self._where(inc)
        if draft is None or draft.id is None or out is None or where is None:
            return
        resp = self.client.chat_postMessage(channel=where, **draft_message(draft, inc, out))
        self.service.set_draft_message(draft.id, resp["channel"], resp["ts"])

    def do_draft_settled(self, inc: Incident, payload: dict) -> None:
        draft = self.service.draft(int(payload["draft_id"]))
        out = self.service.get(draft.outage_id) if draft else None
        if draft is None or out is None or not draft.channel_id or not draft.message_ts:
            return
        try:
            self.client.chat_update(channel=draft.channel_id, ts=draft.message_ts,
                                    **draft_message(draft, inc, out))
        except SlackApiError as err:  # cosmetic: the draft's state is saved
            log.info("%s: could not mark the draft message: %s", inc.key,
                     err.response.get("error"))

    def do_resolve_prompt(self, inc: Incident, payload: dict) -> None:
        out = self.service.get(int(payload["outage_id"]))
        where = self._where(inc)
        if out is None or where is None or inc.resolved_at is not None:
            return
        self.client.chat_postMessage(channel=where, **resolve_prompt(inc, out))
