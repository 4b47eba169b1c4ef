"""Outage use cases: load, let `playbook.domain.outage` decide, save with the outbox rows at once.

Same rules as `playbook.services.incidents`: one transaction per use case, every Slack side effect
written to the outbox in it. Outage rows of the outbox carry no incident (``incident_id`` NULL) and
name the outage in their payload; drafts and resolve prompts are rows of the incident they go to, so
they run in order with that incident's other effects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playbook import store
from playbook.domain import outage as rules
from playbook.domain import rules as incident_rules
from playbook.domain.errors import NotFound, PlaybookError
from playbook.domain.model import Actor, Incident, Outcome, TimelineEntry
from playbook.domain.outage import DraftStatus, Outage, OutageCtx, OutageResult
from playbook.domain.text import esc, mention
from playbook.services.incidents import Service, owned_incident
from playbook.services.outcomes import Origin, persist, reply_to
from playbook.services.transactions import retry_stale
from playbook.store import outages as outage_store

log = logging.getLogger(__name__)
T = TypeVar("T")


class OutageService:
    """Outages over the database; shares the incident service's sessions, clock and policy."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.sessions = service.sessions
        self.clock = service.clock

    def _tx(self, work: Callable[[Session, datetime], T]) -> T:
        # an incident changed under us: decide again from a fresh read
        return retry_stale(self.sessions, self.clock, work,
                           refusal="Too many people changed this at once; please try again.")

    # --- reads --------------------------------------------------------------------------------

    def for_channel(self, team_id: str, channel_id: str) -> Outage | None:
        """The outage of this channel, when workspace `team_id` owns it."""
        with store.reading(self.sessions) as session:
            out = outage_store.get_outage_by_channel(session, channel_id)
        return out if out is not None and out.team_id == team_id else None

    def get(self, outage_id: int) -> Outage | None:
        """Any workspace's outage: for the outbox. Requests use `owned`."""
        with store.reading(self.sessions) as session:
            return outage_store.get_outage_by_id(session, outage_id)

    def owned(self, team_id: str, outage_id: int) -> Outage | None:
        """The outage `outage_id` when workspace `team_id` owns it (ids from a request)."""
        out = self.get(outage_id)
        return out if out is not None and out.team_id == team_id else None

    def attached(self, outage_id: int) -> list[Incident]:
        with store.reading(self.sessions) as session:
            return self._attached(session, outage_id)

    @staticmethod
    def _attached(session: Session, outage_id: int) -> list[Incident]:
        found = (store.get_incident_by_id(session, i)
                 for i in outage_store.attached_ids(session, outage_id))
        return [i for i in found if i is not None]

    def outage_of(self, incident_id: int) -> Outage | None:
        with store.reading(self.sessions) as session:
            return outage_store.outage_of(session, incident_id)

    def list_open(self, team_id: str) -> list[tuple[Outage, list[Incident]]]:
        with store.reading(self.sessions) as session:
            return [(o, self._attached(session, o.id))
                    for o in outage_store.list_outages(session, team_id) if o.id is not None]

    def draft(self, draft_id: int) -> rules.Draft | None:
        """Any workspace's draft: for the outbox. Requests use `owned_draft`."""
        with store.reading(self.sessions) as session:
            return outage_store.get_draft(session, draft_id)

    def owned_draft(self, team_id: str, draft_id: int) -> rules.Draft | None:
        """The draft when workspace `team_id` owns its incident (a button's value)."""
        with store.reading(self.sessions) as session:
            draft = outage_store.get_draft(session, draft_id)
            if draft is None:
                return None
            try:
                owned_incident(session, team_id, draft.incident_id)
            except NotFound:
                return None
            return draft

    @staticmethod
    def _owned_draft(session: Session, team_id: str, draft_id: int) -> rules.Draft:
        draft = outage_store.get_draft(session, draft_id)
        if draft is None:
            raise NotFound("I can't find that draft any more.")
        owned_incident(session, team_id, draft.incident_id)
        return draft

    # --- verbs --------------------------------------------------------------------------------

    def shell(self, team_id: str, actor: Actor, verb: str, arg: str, *, channel_id: str | None,
              origin: Origin | None = None, invite: tuple[str, ...] = ()) -> OutageResult:
        """`outage`, `attach` and `detach`: typed anywhere / in an incident's channel."""
        spec = rules.SHELL_VERBS[verb]

        def work(session: Session, now: datetime) -> OutageResult:
            inc = store.get_incident_by_channel(session, channel_id) if channel_id else None
            if inc is not None and inc.team_id != team_id:
                inc = None  # another workspace's channel is no incident channel of this one
            current = outage_store.outage_of(session, inc.id) if inc and inc.id else None
            ctx = OutageCtx(now=now, actor=actor, team_id=team_id, incident=inc,
                            current=current,
                            find=lambda n: outage_store.get_outage(session, team_id, n))
            result = spec.handler(arg, ctx)
            return self._apply(session, result, ctx, origin, now, invite=invite)
        return self._tx(work)

    def attach_incident(self, incident_id: int, actor: Actor, number: int, *, team_id: str,
                        origin: Origin | None = None) -> OutageResult:
        """Attach right after opening (the open modal's outage select)."""
        def work(session: Session, now: datetime) -> OutageResult:
            inc = owned_incident(session, team_id, incident_id)
            ctx = OutageCtx(now=now, actor=actor, team_id=inc.team_id, incident=inc,
                            current=outage_store.outage_of(session, incident_id),
                            find=lambda n: outage_store.get_outage(session, inc.team_id, n))
            return self._apply(session, rules.attach(str(number), ctx), ctx, origin, now)
        return self._tx(work)

    def channel_command(self, outage_id: int, actor: Actor, verb: str, arg: str, *,
                        team_id: str, origin: Origin | None = None) -> OutageResult:
        """`update`, `resolve`, `status` typed in the outage's channel."""
        spec = rules.CHANNEL_VERBS[verb]

        def work(session: Session, now: datetime) -> OutageResult:
            out = outage_store.get_outage_by_id(session, outage_id)
            if out is None or out.team_id != team_id:
                raise NotFound("That outage no longer exists.")
            ctx = OutageCtx(now=now, actor=actor, team_id=out.team_id, outage=out,
                            attached=self._attached(session, outage_id))
            result = spec.handler(arg, ctx)
            if not spec.changes:
                return result
            return self._apply(session, result, ctx, origin, now)
        return self._tx(work)

    def _apply(self, session: Session, result: OutageResult, ctx: OutageCtx,
               origin: Origin | None, now: datetime,
               invite: tuple[str, ...] = ()) -> OutageResult:
        user = ctx.actor.user_id
        told = reply_to(origin, user)
        team = ctx.team_id

        def enqueue(kind: str, payload: dict, incident_id: int | None = None) -> None:
            store.enqueue(session, team_id=team, incident_id=incident_id, kind=kind,
                          payload=payload, requested_by=user, now=now)

        out = result.outage
        if out is not None and out.id is None:
            out = outage_store.add_outage(session, out)
            assert out.id is not None
            people = list(dict.fromkeys((user, *invite)))
            enqueue("outage_open", {"outage_id": out.id, "invite": people, "notify": told})
            return replace(result, outage=out,
                           reply=f"Opened *{out.key}*: {esc(out.title)}. Creating its channel…")
        if out is not None:
            out = outage_store.save_outage(session, out)
        touched: set[int] = set()
        if result.link is not None:
            action, outage_id, incident_id = result.link
            touched.add(outage_id)
            if action == "attach":
                try:
                    with session.begin_nested():
                        outage_store.attach(session, team_id=team, outage_id=outage_id,
                                            incident_id=incident_id, by=user, now=now)
                except IntegrityError as err:  # someone attached it elsewhere just now
                    raise PlaybookError("That incident was just attached to an outage; "
                                        "`/incident detach` it first.") from err
            else:
                outage_store.detach(session, incident_id=incident_id, by=user, now=now)
        if result.incident_lines and ctx.incident is not None and ctx.incident.id is not None:
            store.append_timeline(session, ctx.incident.id, team, result.incident_lines)
            for line in result.incident_lines:
                enqueue("timeline", {"text": line.text, "kind": line.kind, "notify": told},
                        ctx.incident.id)
        posts_to = out.id if out is not None else (result.link[1] if result.link else None)
        for text in result.outage_posts:
            if posts_to is not None:
                enqueue("outage_post", {"outage_id": posts_to, "text": text})
        for draft in result.drafts:
            saved = outage_store.add_draft(session, team, draft)
            enqueue("draft", {"draft_id": saved.id}, draft.incident_id)
        for incident_id in result.prompts:
            assert out is not None
            enqueue("resolve_prompt", {"outage_id": out.id}, incident_id)
        if out is not None:
            touched.add(out.id)  # type: ignore[arg-type]
        for outage_id in touched:
            enqueue("outage_card", {"outage_id": outage_id})
        return replace(result, outage=out)

    # --- drafts -------------------------------------------------------------------------------

    def log_draft(self, draft_id: int, actor: Actor, text: str | None, *, team_id: str,
                  origin: Origin | None = None) -> Outcome:
        """Log a draft as this incident's customer update (`text`: edited, escaped as typed).

        The update is an ordinary `update` of the incident, so its cadence, adherence and the
        "customer told it is resolved" gate behave exactly as if it had been typed there.
        """
        def work(session: Session, now: datetime) -> Outcome:
            draft = self._owned_draft(session, team_id, draft_id)
            _pending(draft)
            inc = store.get_incident_by_id(session, draft.incident_id)
            if inc is None:
                raise NotFound("That incident no longer exists.")
            arg = text if text is not None else esc(draft.text)
            policy = self.service.playbooks.policy_for(inc, session)
            outcome = incident_rules.run_command(inc, "update", arg, actor, now=now,
                                                 policy=policy)
            saved = persist(session, outcome, origin=origin, requested_by=actor.user_id,
                            now=now)
            if not outage_store.settle_draft(session, draft_id, DraftStatus.LOGGED,
                                             actor.user_id, now):
                raise PlaybookError("Someone settled that draft just now.")
            self._after_settle(session, saved, draft, actor, now)
            return replace(outcome, incident=saved)
        return self._tx(work)

    def dismiss_draft(self, draft_id: int, actor: Actor, *, team_id: str,
                      origin: Origin | None = None) -> str:
        def work(session: Session, now: datetime) -> str:
            draft = self._owned_draft(session, team_id, draft_id)
            _pending(draft)
            inc = store.get_incident_by_id(session, draft.incident_id)
            out = outage_store.get_outage_by_id(session, draft.outage_id)
            if inc is None or inc.id is None or out is None:
                raise NotFound("That incident or outage no longer exists.")
            if not outage_store.settle_draft(session, draft_id, DraftStatus.DISMISSED,
                                             actor.user_id, now):
                raise PlaybookError("Someone settled that draft just now.")
            line = TimelineEntry(now, "outage", f"{mention(actor.user_id)} dismissed "
                                 f"{out.key} update {draft.update_number} for this customer.",
                                 actor.user_id)
            store.append_timeline(session, inc.id, inc.team_id, [line])
            store.enqueue(session, team_id=inc.team_id, incident_id=inc.id, kind="timeline",
                          payload={"text": line.text, "kind": line.kind,
                                   "notify": reply_to(origin, actor.user_id)},
                          requested_by=actor.user_id, now=now)
            self._after_settle(session, inc, draft, actor, now)
            return (f"Dismissed: {inc.key}'s customer does not get {out.key} update "
                    f"{draft.update_number}. Their cadence is unchanged.")
        return self._tx(work)

    @staticmethod
    def _after_settle(session: Session, inc: Incident, draft: rules.Draft, actor: Actor,
                      now: datetime) -> None:
        for kind, payload in (("draft_settled", {"draft_id": draft.id}),
                              ("outage_card", {"outage_id": draft.outage_id})):
            store.enqueue(session, team_id=inc.team_id,
                          incident_id=inc.id if kind == "draft_settled" else None, kind=kind,
                          payload=payload, requested_by=actor.user_id, now=now)

    # --- bookkeeping from the outbox worker ---------------------------------------------------

    def set_channel(self, outage_id: int, channel_id: str, name: str) -> Outage:
        def work(session: Session, now: datetime) -> Outage:
            out = outage_store.get_outage_by_id(session, outage_id)
            if out is None:
                raise NotFound("That outage no longer exists.")
            return outage_store.save_outage(session, replace(out, channel_id=channel_id,
                                                             channel_name=name))
        return self._tx(work)

    def set_card(self, outage_id: int, ts: str) -> None:
        def work(session: Session, now: datetime) -> None:
            out = outage_store.get_outage_by_id(session, outage_id)
            if out is not None:
                outage_store.save_outage(session, replace(out, card_ts=ts))
        self._tx(work)

    def set_draft_message(self, draft_id: int, channel_id: str, ts: str) -> None:
        with self.sessions.begin() as session:
            outage_store.set_draft_message(session, draft_id, channel_id, ts)


def _pending(draft: rules.Draft) -> None:
    if draft.status is not DraftStatus.PENDING:
        who = f" by {mention(draft.settled_by)}" if draft.settled_by else ""
        raise PlaybookError(f"That draft was already {draft.status.value}{who}.")
