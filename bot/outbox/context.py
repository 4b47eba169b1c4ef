"""What an effect handler may use: the Slack client, the clock, the services, a few settings.

Handlers (bot/outbox/channel.py, card.py, messages.py, summary.py, lifecycle.py, outages.py)
are functions of an `EffectContext`, an incident (or an outbox row) and the row's payload.
They know nothing of the runner that picks them or the worker that claims rows, so the
dependencies point one way: the worker uses the runner, the runner the handlers, and every
handler only this context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.config import Settings
from bot.email.smtp import EmailError, SmtpConfig, parse_smtp_url
from bot.outbox.batch_facts import BatchFacts
from bot.outbox.once import CurrentRow, OutboxClient
from bot.outbox.paced import Pacing, paced_client
from bot.slack.errors import explain
from bot.slack.installations import acting, acting_for
from bot.slack.pacing import Pacer
from bot.slack.tell import tell
from playbook import store
from playbook.domain.workspace_settings import WorkspaceSettings
from playbook.services.emails import EmailService
from playbook.services.incidents import Service
from playbook.services.lifecycle import LifecycleService
from playbook.services.outages import OutageService
from playbook.services.timeline import TimelineService

log = logging.getLogger(__name__)

# What a failed row was doing, in the words of "I couldn't <what>".
FAILED_WHAT = {"create_channel": "create the incident channel", "post": "post the message",
               "invite": "invite people", "timeline": "post to the channel",
               "capture": "add that message to the timeline",
               "email": "email the customer",
               "leads_channel": "check the new leads channel with Slack"}
# What is true of a failed row's request when it is not "everything you recorded is saved".
FAILED_THEN = {"leads_channel": "The leads channel was not changed; please set it again."}


@dataclass
class EffectContext:
    """One per outbox worker, shared by its threads (`facts` is per thread)."""

    client: WebClient
    clock: Callable[[], datetime]
    service: Service
    timeline: TimelineService
    lifecycle: LifecycleService
    outages: OutageService
    # email to customers (bot/outbox/email.py): None / unset when not configured
    emails: EmailService
    smtp: SmtpConfig | None = None
    email_from: str | None = None
    # what the worker read for the batch this thread runs (bot/outbox/batch_facts.py)
    facts: BatchFacts = field(default_factory=BatchFacts)
    # the bot's own user and bot ids (auth.test) per workspace, asked once (`me`)
    identity: dict[str, Any] = field(default_factory=dict)
    # the outbox row each thread is carrying out: its posts name it (bot/outbox/once.py)
    row: CurrentRow = field(default_factory=CurrentRow)

    @classmethod
    def create(cls, service: Service, client: WebClient, settings: Settings,
               clock: Callable[[], datetime]) -> EffectContext:
        row = CurrentRow()
        # Every call is paced to Slack's tiers per workspace, by the row's priority
        # (bot/outbox/paced.py); one pacer per process, each outbox process its share.
        pacer = Pacer(lambda: clock().timestamp(),
                      share=1.0 / max(1, settings.outbox_processes))
        paced = paced_client(client, Pacing(pacer, row))
        # (an OutboxClient forwards every call to `client`; it only names and adopts posts)
        once = cast(WebClient, OutboxClient(paced, row, clock))
        return cls(client=once, clock=clock, service=service, row=row,
                   timeline=TimelineService(service.sessions, service.clock),
                   lifecycle=LifecycleService(service), outages=OutageService(service),
                   emails=EmailService(service),
                   smtp=parse_smtp_url(settings.smtp_url) if settings.smtp_url else None,
                   email_from=settings.email_from)

    def team(self, team_id: str) -> WorkspaceSettings:
        """The settings in force for a workspace: its leads, leads channel, responders and
        private channels (the environment's unless its admins changed them; cached briefly:
        playbook/services/settings.py)."""
        return self.service.workspaces.settings_of(team_id)

    def me(self) -> dict[str, Any]:
        """The bot's own user and bot ids (auth.test), asked once per workspace (each install
        has its own bot user): its own messages are not captured, and a channel it created is
        known by its creator."""
        who = acting()
        key = who.team_id if who is not None else ""
        found = self.identity.get(key)
        if found is None:
            resp = self.client.auth_test()
            found = self.identity[key] = {"user_id": resp.get("user_id"),
                                          "bot_id": resp.get("bot_id")}
        return dict(found)

    def tell(self, notify: dict, text: str) -> None:
        """Tell the person who asked (`notify`: user, channel, response_url), by the most
        direct route still open (bot/slack/tell.py)."""
        tell(self.client, text, user=notify.get("user"), channel=notify.get("channel"),
             response_url=notify.get("response_url"))

    def report_failure(self, item: store.OutboxItem, err: Exception, then: str = "") -> None:
        """Tell the person who asked that a row failed for good (their data is saved)."""
        notify = item.payload.get("notify") or {}
        if isinstance(err, EmailError) and item.incident_id is not None:
            # retries ran out: recorded as not delivered, and the sender is told by that
            self.emails.failed(item.incident_id, int(item.payload["number"]),
                               f"{err} (gave up after several tries)")
            return
        if not notify.get("user"):
            return
        inc = self.service.get_by_id(item.incident_id) if item.incident_id else None
        what = FAILED_WHAT.get(item.kind, "finish that")
        key = f" for {inc.key}" if inc else ""
        try:
            with acting_for(item.team_id):
                saved = FAILED_THEN.get(item.kind, "Everything you recorded is saved.")
                self.tell({**notify, "response_url": None},
                          f"⚠️ I couldn't {what}{key}: {explain(err)}. {saved}{then}")
        except (SlackClientError, OSError):
            log.exception("could not report outbox failure %s", item.id)
