"""The outbox: Slack side effects recorded with the state that asked for them, and their leases.

A row is written in the same transaction as the change it carries out (`enqueue`,
`enqueue_many`), so nothing acknowledged is lost. The worker leases rows in batches
(`claim_chains`): one transaction leases the first open row ("head") of up to `limit` incidents
together with the rows queued behind each head (its "chain"). Heads are taken by priority
(`priority`, set from the row's kind as it is queued: playbook/domain/priority.py; replies
and reminders before card refreshes) or oldest first. The worker runs each chain in
order and finishes what each chain ran in one more transaction (`finish`), or records a
failure (`retry_outbox`, `fail_outbox`).

Why a chain is safe to lease at once: a row is claimable only when no earlier row of its
incident is open, so while we hold the head nobody else can claim anything behind it. The
followers are leased as well (so finishing the head early, or a retry of it, can never hand
them to another worker while we still run them). Rows of different incidents are independent.

Exactly once across replicas: heads are taken by one conditional UPDATE; on PostgreSQL the
candidates are locked with ``FOR UPDATE SKIP LOCKED`` (a competing claimer skips them instead
of queueing behind them) and the UPDATE re-checks the conditions on the locked rows; on SQLite
the write transaction runs alone.

Leases: a worker renews the lease of what it holds while it runs (`extend`, its heartbeat), so
a slow Slack never hands a running row to someone else; finishing, retrying and failing are
conditional on the worker still holding the row, so a worker that lost its lease cannot mark
another's run. A worker that dies delays its rows by the rest of the lease, unless its
successor finds it dead at start (`lease_holders`, `take_over`: bot/outbox/worker.py). A row
taken over comes back `taken_over`, and its handlers look for what it already made in Slack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from playbook.domain.priority import Priority, priority_of
from playbook.store.base import UTCDateTime
from playbook.store.engine import begin_reading
from playbook.store.tables import OutboxRow

__all__ = [
    "CHAIN_MAX",
    "Chain",
    "OutboxItem",
    "claim_chains",
    "defer_outbox",
    "enqueue",
    "enqueue_many",
    "extend",
    "fail_outbox",
    "finish",
    "lease_holders",
    "open_by_kind",
    "pending_outbox_count",
    "release",
    "retry_outbox",
    "take_over",
]

_ERROR_LIMIT = 4000  # last_error is for people reading logs, not a traceback archive


@dataclass(frozen=True)
class OutboxItem:
    """A claimed side effect. `attempts` counts earlier failed attempts (0 on the first try)."""

    id: int
    team_id: str
    incident_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int
    requested_by: str | None
    created_at: datetime
    # Leased before by a worker that neither finished nor gave it back (it died, or lost its
    # lease): it may have been carried out in part, so its Slack calls look for what they
    # made before making it again (bot/outbox/context.py).
    taken_over: bool = False

    @property
    def retried(self) -> bool:
        """Whether an earlier try may already have reached Slack."""
        return self.attempts > 0 or self.taken_over


def enqueue(
    session: Session,
    *,
    team_id: str,
    incident_id: int | None,
    kind: str,
    payload: dict[str, Any],
    requested_by: str | None,
    now: datetime,
) -> int:
    """Record a side effect to carry out after commit; returns its id. Its priority (which
    rows the claims take first) follows from its kind (playbook/domain/priority.py).

    Enqueue in the same transaction as the state change (after `save_incident`, whose row lock
    orders concurrent writers, so ids follow commit order per incident).
    """
    new_id = session.execute(
        _ENQUEUE,
        {
            "team_id": team_id,
            "incident_id": incident_id,
            "kind": kind,
            "priority": int(priority_of(kind)),
            "payload": payload,
            "requested_by": requested_by,
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
        },
    ).scalar_one()
    return int(new_id)


def enqueue_many(session: Session, *, team_id: str, incident_id: int | None,
                 rows: Sequence[tuple[str, dict[str, Any]]], requested_by: str | None,
                 now: datetime) -> None:
    """`enqueue` for several (kind, payload) rows of one change, in one executemany.

    No ids come back, so the driver may send the rows together (psycopg pipelines them in one
    round trip); they are still inserted one after another in order, so their ids keep the
    order the outbox carries them out in.
    """
    enqueue_for(session, [(team_id, incident_id, kind, payload) for kind, payload in rows],
                requested_by=requested_by, now=now)


def enqueue_for(session: Session, rows: Sequence[tuple[str, int | None, str, dict[str, Any]]],
                *, requested_by: str | None, now: datetime) -> None:
    """`enqueue_many` for the rows of several incidents ((team, incident id, kind, payload)
    each), in the order given: one round trip for a whole batch of reminders."""
    if not rows:
        return
    session.execute(_ENQUEUE_MANY, [
        {"team_id": team_id, "incident_id": incident_id, "kind": kind,
         "priority": int(priority_of(kind)), "payload": payload,
         "requested_by": requested_by, "created_at": now, "attempts": 0,
         "next_attempt_at": now}
        for team_id, incident_id, kind, payload in rows])


# Hot statements built once: building a statement costs more Python than running it.
_ENQUEUE = insert(OutboxRow.__table__).returning(OutboxRow.__table__.c.id)
_ENQUEUE_MANY = insert(OutboxRow.__table__)


def _mine(item_id: int, worker: str | None) -> list[ColumnElement[bool]]:
    """The row, open, and (when `worker` is given) still leased by that worker: a worker that
    lost its lease (another took the row over) must not finish, retry or fail it."""
    o = OutboxRow.__table__
    where = [o.c.id == item_id, o.c.done_at.is_(None), o.c.failed_at.is_(None)]
    if worker is not None:
        where.append(o.c.claimed_by == worker)
    return where


def retry_outbox(
    session: Session, item_id: int, *, now: datetime, error: str, next_attempt_at: datetime,
    worker: str | None = None,
) -> bool:
    """The effect failed but may heal: count the attempt, release the lease, try again later.

    Later items of the same incident keep waiting for this one. With `worker`, only while that
    worker still holds the row; returns whether the row was changed.
    """
    o = OutboxRow.__table__
    result = session.execute(
        update(o)
        .where(*_mine(item_id, worker))
        .values(
            attempts=o.c.attempts + 1,
            last_error=error[:_ERROR_LIMIT],
            next_attempt_at=next_attempt_at,
            claimed_by=None,
            claimed_until=None,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def defer_outbox(session: Session, item_id: int, *, next_attempt_at: datetime,
                 worker: str | None = None) -> bool:
    """Not a failure: the row waits for a Slack rate tier (bot/outbox/paced.py). Its lease is
    released and it runs again at `next_attempt_at`, no attempt counted. With `worker`, only
    while that worker still holds it; returns whether the row was changed.

    A card refresh deferred this way steps aside: the rows queued after it in its incident
    may run meanwhile (see `claim_chains`)."""
    o = OutboxRow.__table__
    result = session.execute(
        update(o).where(*_mine(item_id, worker))
        .values(next_attempt_at=next_attempt_at, claimed_by=None, claimed_until=None))
    return bool(getattr(result, "rowcount", 0))


def open_by_kind(session: Session) -> dict[str, int]:
    """Open rows (queued or leased) per kind, all teams: the outbox's depth."""
    begin_reading(session)
    o = OutboxRow.__table__
    rows = session.execute(select(o.c.kind, func.count()).where(
        o.c.done_at.is_(None), o.c.failed_at.is_(None)).group_by(o.c.kind))
    return {str(kind): int(count) for kind, count in rows}


def fail_outbox(session: Session, item_id: int, *, now: datetime, error: str,
                worker: str | None = None) -> bool:
    """Give up on the item (the attempt counts); later items of its incident may now run.
    With `worker`, only while that worker still holds the row; returns whether it changed."""
    o = OutboxRow.__table__
    result = session.execute(
        update(o)
        .where(*_mine(item_id, worker))
        .values(
            attempts=o.c.attempts + 1,
            failed_at=now,
            last_error=error[:_ERROR_LIMIT],
            claimed_by=None,
            claimed_until=None,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def pending_outbox_count(session: Session) -> int:
    """Items neither done nor failed (leased or not), all teams."""
    begin_reading(session)
    o = OutboxRow.__table__
    count = session.execute(
        select(func.count()).select_from(o).where(o.c.done_at.is_(None), o.c.failed_at.is_(None))
    ).scalar_one()
    return int(count)


# --- batch claims -------------------------------------------------------------------------------

CARD = "refresh_card"
# Longest chain leased for one incident: an incident with a long backlog must not make one
# worker hold everything (its rows stay in order either way: the rest waits behind the chain).
CHAIN_MAX = 20
# Chains headed by one of these make a channel: several rate-limited calls (conversations.create
# is Tier 2, about 20 a minute per workspace) plus invites and the card, so seconds each. One
# claim leases at most `slow_max` of them (default SLOW_MAX): a claim holds only what its worker
# can start at once, and a worker that dies holds up no more than that.
SLOW_KINDS = frozenset({"create_channel", "reopen_channel"})
SLOW_MAX = 1
# A refresh that stepped aside takes the refreshes queued after it only if it is this far
# from running: one about to start may already have read the incident.
FOLD_MARGIN = timedelta(seconds=1)

_O = OutboxRow.__table__
_NOW = bindparam("now", type_=UTCDateTime())
_OPEN = and_(_O.c.done_at.is_(None), _O.c.failed_at.is_(None))
_UNLEASED = or_(_O.c.claimed_until.is_(None), _O.c.claimed_until <= _NOW)
_EARLIER = _O.alias("earlier")
# "No earlier item of its incident is open": the item is the first open one of its incident.
# A correlated scalar subquery (one probe of ix_outbox_open_incident per candidate), not NOT
# EXISTS: PostgreSQL without statistics planned that as an anti-join scanning the whole index.
# A card refresh waiting for its time (deferred for a rate tier, or a retry's backoff) does
# not count: it steps aside, so a reminder queued behind it is not held up by it. A refresh
# only shows the incident's latest state, so running it after later rows changes nothing.
_FIRST_OPEN = (
    select(func.min(_EARLIER.c.id))
    .where(_EARLIER.c.incident_id == _O.c.incident_id, _EARLIER.c.done_at.is_(None),
           _EARLIER.c.failed_at.is_(None),
           or_(_EARLIER.c.kind != literal_column(f"'{CARD}'"),
               _EARLIER.c.next_attempt_at <= _NOW))
    .correlate(_O)
    .scalar_subquery()
)
_FIRST = or_(_O.c.incident_id.is_(None), _O.c.id == _FIRST_OPEN)
# A refresh that stepped aside and is now due is first again, but the rows that went past it may
# still be running on another worker: it waits until none of its incident's rows is leased, so
# one incident's rows never run on two workers at once (same probe shape as _FIRST_OPEN).
_SIBLING = _O.alias("sibling")
_LEASED_SIBLING = (
    select(func.min(_SIBLING.c.id))
    .where(_SIBLING.c.incident_id == _O.c.incident_id, _SIBLING.c.id != _O.c.id,
           _SIBLING.c.done_at.is_(None), _SIBLING.c.failed_at.is_(None),
           _SIBLING.c.claimed_until > _NOW)
    .correlate(_O)
    .scalar_subquery()
)
_ALONE = or_(_O.c.kind != literal_column(f"'{CARD}'"), _O.c.incident_id.is_(None),
             _LEASED_SIBLING.is_(None))
_ITEM_COLUMNS = (
    _O.c.id, _O.c.team_id, _O.c.incident_id, _O.c.kind, _O.c.payload, _O.c.attempts,
    _O.c.requested_by, _O.c.created_at,
)
_LEASE = {"claimed_by": bindparam("v_worker"),
          "claimed_until": bindparam("v_until", type_=UTCDateTime())}

# Statements built once: building (and cache-keying) a statement costs more than running it.


def _heads(*only: ColumnElement[bool], by_priority: bool = True) -> Any:
    # in priority order the scan walks ix_outbox_open_priority (priority, id); oldest first,
    # ix_outbox_open (id)
    order = (_O.c.priority, _O.c.id) if by_priority else (_O.c.id,)
    return (
        select(_O.c.id, _O.c.claimed_by, _O.c.kind, _O.c.priority)
        .where(_OPEN, *only, _O.c.next_attempt_at <= _NOW, _UNLEASED, _FIRST, _ALONE)
        .order_by(*order)
        .limit(bindparam("n"))
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders nothing (one writer)
    )


# The heads are selected, then updated by id: as one UPDATE ... WHERE id IN (SELECT ...),
# PostgreSQL without statistics re-ran the locking subquery for every open row. The urgent
# bound is a literal: a range on the index's first column either way, and one plan.
URGENT_BELOW = Priority.CARD
_HEADS = {
    "oldest": _heads(by_priority=False),
    "priority": _heads(),
    "urgent": _heads(_O.c.priority < literal_column(str(int(URGENT_BELOW)))),
}
_CLAIM_HEADS = (
    update(_O)
    .where(_O.c.id.in_(bindparam("ids", expanding=True)), _OPEN, _UNLEASED)
    .values(**_LEASE)
    .returning(*_ITEM_COLUMNS)
)
_QUEUED = (
    select(_O.c.id, _O.c.incident_id, _O.c.kind, _O.c.next_attempt_at, _O.c.claimed_until,
           _O.c.claimed_by)
    .where(_O.c.incident_id.in_(bindparam("incidents", expanding=True)),
           _O.c.id.not_in(bindparam("heads", expanding=True)), _OPEN)
    .order_by(_O.c.id)
)
_CLAIM_ROWS = (
    update(_O)
    .where(_O.c.id.in_(bindparam("ids", expanding=True)), _OPEN, _UNLEASED)
    .values(**_LEASE)
    .returning(*_ITEM_COLUMNS)
)
_FINISH = (
    update(_O)
    .where(_O.c.id.in_(bindparam("ids", expanding=True)))
    .values(done_at=bindparam("v_done_at", type_=UTCDateTime()), claimed_until=None)
)
# (only while still ours: a worker that lost the lease must not mark another's run done)
_FINISH_MINE = (
    update(_O)
    .where(_O.c.id.in_(bindparam("ids", expanding=True)), _OPEN,
           _O.c.claimed_by == bindparam("k_worker"))
    .values(done_at=bindparam("v_done_at", type_=UTCDateTime()), claimed_until=None)
)
_EXTEND = (
    update(_O)
    .where(_O.c.id.in_(bindparam("ids", expanding=True)), _OPEN,
           _O.c.claimed_by == bindparam("k_worker"))
    .values(claimed_until=bindparam("v_until", type_=UTCDateTime()))
    .returning(_O.c.id)
)
_HOLDERS = (
    select(_O.c.claimed_by).distinct()
    .where(_OPEN, _O.c.claimed_by.is_not(None), _O.c.claimed_until.is_not(None))
)
# A dead worker's rows become free at once; `claimed_by` stays, so whoever claims them next
# knows they may have been carried out in part (OutboxItem.taken_over).
_TAKE_OVER = (
    update(_O)
    .where(_OPEN, _O.c.claimed_by == bindparam("k_worker"), _O.c.claimed_until.is_not(None))
    .values(claimed_until=None)
)
_RELEASE = (
    update(_O)
    .where(_O.c.id.in_(bindparam("ids", expanding=True)), _O.c.claimed_by == bindparam("k_worker"))
    .values(claimed_by=None, claimed_until=None)
)


class Chain(list[OutboxItem]):
    """One incident's leased rows, in order. `card_later`: a card refresh of the incident stays
    queued behind them (an urgent claim left it), so every refresh in the chain may be folded
    into that one."""

    card_later = False


def _item(row: Any, taken_over: bool = False) -> OutboxItem:
    return OutboxItem(**row._asdict(), taken_over=taken_over)


def claim_chains(
    session: Session, *, now: datetime, worker: str, lease: timedelta, limit: int = 10,
    chain_max: int = CHAIN_MAX, urgent: bool = False, by_priority: bool = False,
    slow_max: int = SLOW_MAX,
) -> list[Chain]:
    """Lease the open rows of up to `limit` incidents, each list in order.

    Which incidents: by default the oldest heads first. `by_priority`: the heads of the highest
    priority first (playbook/domain/priority.py: replies and reminders, then customer updates,
    then channels and invites, then card refreshes, then topics and bookmarks), oldest first
    within one priority; the chains come back in that order too. Only heads are ordered: an
    incident's rows always run in the order they were queued, whatever their kinds.

    A row without an incident (an App Home refresh) is a chain of its own. Commit before
    running the rows; then `finish`, `retry_outbox`/`fail_outbox`, or `release`
    the rows of a chain that were not run.

    `urgent` (implies `by_priority`): leave card refreshes, and everything below them, for
    later. Only heads above card refreshes (priority < URGENT_BELOW) are taken, and a chain
    stops before the card refreshes at its end (one in the middle runs in its place: what
    follows it must wait for it). Those then head their incident's queue and are taken by a
    claim that is not urgent; they only refresh what the card shows, and the last one shows
    the newest state whenever it runs, so posts (a reminder, a reply) need not wait for them
    while a burst lasts.

    At most `slow_max` chains headed by a row that makes a channel (SLOW_KINDS) are taken; the
    heads read past them stay free for the next claim (of this worker or another).
    A row leased before by a worker that neither finished nor released it comes back with
    `taken_over` set.
    """
    params = {"now": now, "v_worker": worker, "v_until": now + lease}
    ids: list[int] = []
    before: dict[int, str | None] = {}
    rank: dict[int, tuple[int, int]] = {}  # head id -> its place in the claim's order
    slow = 0
    mode = "urgent" if urgent else "priority" if by_priority else "oldest"
    for row_id, held_by, kind, priority in session.execute(_HEADS[mode],
                                                            {"now": now, "n": limit}):
        if kind in SLOW_KINDS:
            if slow >= slow_max:
                continue
            slow += 1
        ids.append(row_id)
        before[row_id] = held_by
        rank[row_id] = (priority if mode != "oldest" else 0, row_id)
    if not ids:
        return []
    heads = [_item(r, before.get(r.id) is not None)
             for r in session.execute(_CLAIM_HEADS, {**params, "ids": ids})]
    if not heads:
        return []
    heads.sort(key=lambda item: rank[item.id])
    chains: dict[int, Chain] = {}
    result: list[Chain] = []
    for head in heads:
        chain = Chain([head])
        result.append(chain)
        if head.incident_id is not None:
            chains[head.incident_id] = chain
    if not chains or chain_max <= 1:
        return result
    # The rows queued behind each head: take them in order while they are due and free; a row
    # that is not (a retry waiting for its time, a lease of someone else) ends the chain there.
    wanted: list[int] = []
    owner: dict[int, int] = {}
    kinds: dict[int, str] = {}
    stopped: set[int] = set()
    taken: dict[int, int] = dict.fromkeys(chains, 1)
    queued = session.execute(_QUEUED, {"incidents": list(chains),
                                       "heads": [h.id for h in heads]})
    for row in queued:
        incident_id = row.incident_id
        if row.id < chains[incident_id][0].id:
            if row.kind == CARD and row.next_attempt_at > now + FOLD_MARGIN:
                # a refresh stepped aside (see _FIRST_OPEN) and will run later: the
                # refreshes in this chain fold into it (it shows the latest state)
                chains[incident_id].card_later = True
            continue  # (an earlier row committed after the heads were read: not ours to run)
        if incident_id in stopped:
            continue
        free = row.claimed_until is None or row.claimed_until <= now
        if row.next_attempt_at > now or not free or taken[incident_id] >= chain_max:
            stopped.add(incident_id)
            continue
        taken[incident_id] += 1
        before[row.id] = row.claimed_by
        wanted.append(row.id)
        owner[row.id] = incident_id
        kinds[row.id] = row.kind
    if urgent:  # drop each chain's trailing card refreshes
        last_post: dict[int, int] = {}
        for row_id in wanted:
            if kinds[row_id] != CARD:
                last_post[owner[row_id]] = row_id
        for row_id in wanted:
            if row_id > last_post.get(owner[row_id], 0):
                chains[owner[row_id]].card_later = True
        wanted = [row_id for row_id in wanted
                  if row_id <= last_post.get(owner[row_id], 0)]
    if not wanted:
        return result
    got = {r.id: _item(r, before.get(r.id) is not None)
           for r in session.execute(_CLAIM_ROWS, {**params, "ids": wanted})}
    lost: list[int] = []
    broken: set[int] = set()
    for row_id in wanted:  # in id order, so each chain stays in order
        incident_id = owner[row_id]
        item = got.get(row_id)
        if item is None:
            # taken meanwhile (cannot happen while we hold the head; be safe anyway): nothing
            # after it in this chain may run before it
            broken.add(incident_id)
        elif incident_id in broken:
            lost.append(row_id)
        else:
            chains[incident_id].append(item)
    if lost:
        release(session, lost, worker)
    return result


def finish(session: Session, ids: Iterable[int], now: datetime, worker: str | None = None) -> int:
    """These rows happened (or were folded into a later one): done, in one statement.

    With `worker`, only the rows that worker still holds (a row taken over by another worker
    after our lease ran out is theirs to finish). Returns how many rows were marked done.
    """
    ids = list(ids)
    if not ids:
        return 0
    if worker is None:
        result = session.execute(_FINISH, {"ids": ids, "v_done_at": now})
    else:
        result = session.execute(_FINISH_MINE, {"ids": ids, "v_done_at": now, "k_worker": worker})
    return int(getattr(result, "rowcount", 0) or 0)


def extend(session: Session, ids: Iterable[int], *, worker: str, now: datetime,
           lease: timedelta) -> set[int]:
    """Renew the lease of rows `worker` is running or about to run (its heartbeat); returns
    the ones it still holds. A row missing from the answer was taken over (or finished by
    someone else): the worker must not run it, nor finish it."""
    ids = list(ids)
    if not ids:
        return set()
    return set(session.execute(
        _EXTEND, {"ids": ids, "k_worker": worker, "v_until": now + lease}).scalars())


def lease_holders(session: Session) -> list[str]:
    """The workers holding leases on open rows (expired or not)."""
    return [name for (name,) in session.execute(_HOLDERS)]


def take_over(session: Session, workers: Iterable[str]) -> int:
    """Free at once the rows leased by these workers, known to be dead (a process that
    restarted in their place found them so): nobody waits for their leases to run out.
    Returns how many rows were freed."""
    freed = 0
    for name in workers:
        result = session.execute(_TAKE_OVER, {"k_worker": name})
        freed += int(getattr(result, "rowcount", 0) or 0)
    return freed


def release(session: Session, ids: Iterable[int], worker: str) -> None:
    """Give leased rows back unrun (an earlier row of their chain will be retried first)."""
    ids = list(ids)
    if ids:
        session.execute(_RELEASE, {"ids": ids, "k_worker": worker})
