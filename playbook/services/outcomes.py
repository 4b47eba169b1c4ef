"""Saving a decided outcome (`persist`): its incident, timeline lines and outbox rows in one
transaction, and how the outcome becomes the rows the outbox worker carries out.

Every Slack side effect is a row written with the state that asked for it, so nothing
acknowledged is lost and a crash between "decided" and "posted" only delays the post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from playbook import store
from playbook.domain.model import (
    AddBookmark,
    CreateChannel,
    Incident,
    Invite,
    Outcome,
    Post,
    PostSummary,
    RefreshCard,
    ReopenChannel,
    SendEmail,
)
from playbook.domain.timeline import display

__all__ = ["Origin", "outbox_rows", "persist", "reply_to"]


@dataclass(frozen=True)
class Origin:
    """Where a request came from, so failures after the ack can be reported to the person."""

    channel_id: str | None = None
    response_url: str | None = None
    # Buttons and modals have no reply body: deliver the confirmation from the outbox instead.
    reply_later: bool = False


def reply_to(origin: Origin | None, requested_by: str | None) -> dict[str, Any]:
    """Where to answer the person who asked (the rows' ``notify`` payload): whom an effect's
    failure (or a later answer) is told, and where they asked."""
    return {"user": requested_by, "channel": origin.channel_id if origin else None,
            "response_url": origin.response_url if origin else None}


def outbox_rows(outcome: Outcome, origin: Origin | None = None,
                requested_by: str | None = None) -> list[tuple[str, dict]]:
    """Translate effects and timeline lines into outbox rows, in the order they must run."""
    rows: list[tuple[str, dict]] = []
    told = reply_to(origin, requested_by)
    for effect in outcome.effects:
        if isinstance(effect, CreateChannel):
            rows.append(("create_channel", {"private": effect.private,
                                            "invite": list(effect.invite), "notify": told}))
        elif isinstance(effect, ReopenChannel):  # before any line is posted to the channel
            rows.append(("reopen_channel", {"notify": told}))
    # notify: a line that can never be posted (channel archived, bot removed) is reported to
    # the person whose command it records, like every other effect they asked for
    rows.extend(("timeline", {"text": display(e.kind, e.text, e.actor), "kind": e.kind,
                              "notify": told})
                for e in outcome.timeline)
    for effect in outcome.effects:
        if isinstance(effect, Post):
            rows.append(("post", {"target": effect.target.value, "text": effect.text,
                                  "user": effect.user, "notify": told}))
        elif isinstance(effect, Invite):
            rows.append(("invite", {"users": list(effect.users), "notify": told}))
        elif isinstance(effect, PostSummary):
            rows.append(("summary", {"target": effect.target.value}))
        elif isinstance(effect, AddBookmark):
            rows.append(("bookmark", {"number": effect.number, "notify": told}))
        elif isinstance(effect, SendEmail):  # bot/outbox/email.py
            rows.append(("email", {"number": effect.number, "notify": told}))
    if any(isinstance(e, RefreshCard) for e in outcome.effects):
        rows.append(("refresh_card", {}))
    if origin is not None and origin.reply_later and outcome.reply:
        rows.append(("tell", {"text": outcome.reply, "notify": told}))
    return rows


def persist(session: Session, outcome: Outcome, *, origin: Origin | None,
            requested_by: str | None, now: datetime, new: bool = False,
            stored: store.Snapshot | None = None) -> Incident:
    """Save the outcome's incident, its timeline lines and its outbox rows; `stored`: the
    incident's child rows as loaded (`store.children_snapshot`), so they are not re-read.
    A `new` incident is added unnumbered: the caller numbers it last (`store.number_incident`)."""
    inc = store.add_incident(session, outcome.incident, numbered=False) if new \
        else store.save_incident(session, outcome.incident, stored=stored)
    assert inc.id is not None
    store.append_timeline(session, inc.id, inc.team_id, outcome.timeline)
    store.enqueue_many(session, team_id=inc.team_id, incident_id=inc.id,
                       rows=outbox_rows(outcome, origin, requested_by),
                       requested_by=requested_by, now=now)
    return inc
