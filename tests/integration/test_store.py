"""playbook.store against real SQLite and PostgreSQL (every test runs on both, see `db_url`).

Concurrency tests start their threads at a `threading.Barrier` so both sides really race. On
SQLite every transaction begins with BEGIN IMMEDIATE, so two threads can never both be inside a
transaction at the barrier: those tests read in one transaction, meet at the barrier, and write
in the next, which is also how a modal's stale copy of an incident comes back to be saved.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain.model import (
    Action,
    CadenceChange,
    CapturedMessage,
    CaptureKind,
    Checkin,
    CustomerUpdate,
    Handover,
    Incident,
    Link,
    Option,
    ParkedTopic,
    Promise,
    PromiseStatus,
    Reopening,
    Snooze,
    Status,
    Step,
    StepRecord,
    TimelineEntry,
)
from playbook.domain.windows import Window
from playbook.store import outbox
from playbook.store.mapping import PERSISTED_FIELDS
from playbook.store.tables import ReminderClaimRow

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
LEASE = timedelta(minutes=1)

Factory = sessionmaker[Session]
_T = TypeVar("_T")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_incident(team: str = "T1", customer: str = "Acme Corp", **kw: Any) -> Incident:
    return Incident(
        team_id=team,
        number=kw.pop("number", 0),
        customer=customer,
        description="checkout is down",
        opened_by="U1",
        opened_at=kw.pop("opened_at", T0),
        **kw,
    )


def full_incident() -> Incident:
    """An incident with every field and every child list filled in."""
    return Incident(
        team_id="T1",
        number=0,
        customer="Acme, Inc.",
        description="EU payments failing since 09:00",
        opened_by="U1",
        opened_at=T0,
        severity="sev1",
        status=Status.RESOLVED,
        step=Step.FOLLOW_UP,
        channel_id="C100",
        channel_name="inc-1-acme",
        card_ts="1763902800.000100",
        customer_channel_id="C200",
        customer_words=["We are losing orders", "Nobody told us & we <found out>"],
        impact="about 40% of EU checkouts fail",
        drivers=["blocked from a goal", "broken trust"],
        cadence_changes=[
            CadenceChange(at=at(1), interval=timedelta(hours=1), agreed=False, by=None),
            CadenceChange(at=at(5), interval=timedelta(minutes=30), agreed=True, by="U2",
                          window=Window(frozenset(range(5)), 540, 1080, "Europe/Paris")),
        ],
        restatement="EU customers cannot pay, and you heard it from your customers first",
        restatement_confirmed_at=at(10),
        owner="U2",
        owner_set_at=at(12),
        communicator="U3",
        apology_at=at(13),
        options=[
            Option(1, "roll back the release", "loses the tax fix", "U2", at(20)),
            Option(2, "route EU traffic to the US", None, "U3", at(21)),
        ],
        recommended=1,
        recommend_why="fastest and reversible",
        chosen=1,
        chosen_at=at(25),
        resolution="rolled back; payments flowing",
        resolved_at=at(40),
        customer_informed_at=at(45),
        root_cause="a config flag flipped for EU only",
        lessons=["flags need an owner", "alert on EU checkout rate"],
        actions=[
            Action(1, "add a checkout-rate alert", "U4", "U2", at(50), done_at=at(55)),
            Action(2, "review flag ownership", None, "U2", at(51)),
        ],
        checkins=[
            Checkin(1, due_at=at(60 * 24), done_at=at(60 * 24 + 5), done_by="U3"),
            Checkin(2, due_at=at(60 * 24 * 7)),
        ],
        promises=[
            Promise(
                1, "more information by 3pm", at(120), "U3", at(15), PromiseStatus.KEPT, at(90)
            ),
            Promise(2, "a written RCA", at(600), "U2", at(41)),
            Promise(3, "call back", at(30), "U3", at(16), PromiseStatus.MISSED, at(30)),
        ],
        parked=[ParkedTopic(1, "refund for the outage", "U3", at(18))],
        updates=[
            CustomerUpdate(1, "we are on it", "U3", at(14), sent_to_channel=True),
            CustomerUpdate(2, "fix is rolling out", "U3", at(35)),
        ],
        steps=[
            StepRecord(Step.LISTEN, at(5), by="U1"),
            StepRecord(Step.RESTATE, at(10), by="U2"),
            StepRecord(Step.OWN, at(12), by="U2", skipped_reason="owner on a plane, lead covers"),
            StepRecord(Step.SOLVE, at(40), by="U2"),
        ],
        snoozes=[
            Snooze(1, at(31), at(61), "U3", "on a call with their <CTO> & team"),
            Snooze(2, at(50), at(110), "U2", "waiting for the rollback"),
        ],
        reminders_fired=3,
        escalations_fired=1,
        closed_at=None,
        last_activity_at=at(55),
        captures=[
            CapturedMessage(1, CaptureKind.LISTEN, "@here we are losing orders & <money>",
                            "U9", "Dana Reyes", "C200", "1763902860.000200",
                            "https://acme.slack.com/archives/C200/p1763902860000200", "U2",
                            at(3), at(1)),
        ],
        handovers=[Handover(1, "U2", "U5", "U2", at(30), notes="RCA call at 4pm")],
        reopenings=[Reopening(1, at(35), "U2", "it failed again", at(33), resolved_at=at(31),
                              customer_informed_at=at(32), resolution="first fix")],
        links=[Link(1, "https://acme.zendesk.com/t/42", "ticket 42", "ticket", "U1", at(2))],
    )


def in_tx(factory: Factory, fn: Callable[[Session], _T]) -> _T:
    with factory.begin() as session:
        return fn(session)


def run_threads(*targets: Callable[[], _T], timeout: float = 30) -> list[_T | BaseException]:
    """Run each target in its own thread; their results (or exceptions) in the same order."""
    results: list[_T | BaseException] = [RuntimeError("thread did not finish")] * len(targets)

    def runner(index: int, target: Callable[[], _T]) -> None:
        try:
            results[index] = target()
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=runner, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results


# --- incidents ------------------------------------------------------------------------------------


def test_every_incident_field_is_persisted() -> None:
    """A field added to Incident without a column would silently be lost on save."""
    assert {f.name for f in dataclasses.fields(Incident)} == PERSISTED_FIELDS


def test_round_trip_with_every_field_and_child(session_factory: Factory) -> None:
    original = full_incident()
    added = in_tx(session_factory, lambda s: store.add_incident(s, original))
    assert (added.id is not None, added.number, added.version) == (True, 1, 1)
    assert dataclasses.replace(added, id=None, number=0, version=0) == original

    loaded = in_tx(session_factory, lambda s: store.get_incident(s, "T1", 1))
    assert loaded == added
    assert in_tx(session_factory, lambda s: store.get_incident_by_id(s, added.id)) == added
    assert isinstance(loaded.status, Status) and isinstance(loaded.step, Step)
    assert isinstance(loaded.promises[0].status, PromiseStatus)
    assert isinstance(loaded.steps[0].step, Step)


@pytest.mark.parametrize("first_of_team", [True, False], ids=["first", "later"])
def test_opens_numbered_last_get_distinct_numbers_without_gaps(
    session_factory: Factory, first_of_team: bool
) -> None:
    """What an open does (`Service.open_parsed`): add the incident unnumbered, write the rest,
    take the number last. Four at once and one rolled back: 1..4, no gap, no clash."""
    if not first_of_team:
        in_tx(session_factory, lambda s: store.add_incident(s, new_incident()))
    barrier = threading.Barrier(5)

    def open_one(keep: bool) -> int:
        barrier.wait(timeout=10)
        with session_factory.begin() as session:
            added = store.add_incident(session, new_incident(), numbered=False)
            assert added.id is not None and added.number < 0, "a provisional number"
            store.append_timeline(session, added.id, "T1",
                                  [TimelineEntry(T0, "opened", "opened")])
            numbered = store.number_incident(session, added)
            if not keep:
                session.rollback()
                return 0
            return numbered.number

    results = run_threads(*[lambda: open_one(True)] * 4, lambda: open_one(False))
    assert not [r for r in results if isinstance(r, BaseException)], results
    offset = 0 if first_of_team else 1
    assert sorted(r for r in results if r) == [offset + n for n in (1, 2, 3, 4)]
    with session_factory() as s:
        numbers = sorted(i.number for i in store.list_incidents(s, "T1"))
    assert numbers == list(range(1, offset + 5)), "every stored incident has its real number"


@pytest.mark.parametrize("known", ["read", "snapshot"])
def test_save_updates_inserts_and_mirrors_children(session_factory: Factory, known: str) -> None:
    """Whether the save reads the stored children or is handed them as loaded (`stored=`,
    what firing and commands do), the database ends up mirroring the saved incident."""
    added = in_tx(session_factory, lambda s: store.add_incident(s, full_incident()))
    snapshot = store.children_snapshot(added) if known == "snapshot" else None
    changed = dataclasses.replace(
        added,
        status=Status.CLOSED,
        closed_at=at(70),
        lessons=[*added.lessons, "page the flag owner"],
        options=[
            dataclasses.replace(added.options[0], risk=None),
            added.options[1],
            Option(3, "do nothing", "angry customer", "U2", at(22)),
        ],
        actions=[added.actions[0]],  # A2 removed: the database mirrors what was saved
        checkins=[dataclasses.replace(added.checkins[1], number=2, done_at=at(1), done_by="U2")],
        cadence_changes=[
            *added.cadence_changes,
            CadenceChange(at(60), timedelta(hours=2), agreed=True, by="U3",
                          window=Window(frozenset({5, 6}), 600, 1440, "America/New_York")),
        ],
        snoozes=[added.snoozes[0]],  # mirrored like every other child list
        reminders_fired=4,
    )
    saved = in_tx(session_factory, lambda s: store.save_incident(s, changed, stored=snapshot))
    assert saved.version == 2
    assert saved == dataclasses.replace(changed, version=2)
    assert in_tx(session_factory, lambda s: store.get_incident(s, "T1", 1)) == saved

    # Several saves in one session must not be answered from stale session state.
    with session_factory.begin() as session:
        again = store.save_incident(session, dataclasses.replace(saved, lessons=[]),
                                    stored=store.children_snapshot(saved) if snapshot else None)
        assert store.get_incident(session, "T1", 1) == again
        third = store.save_incident(session, dataclasses.replace(again, root_cause="x"))
        assert store.get_incident(session, "T1", 1) == third
    assert third.version == 4


def test_numbers_are_per_team(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a1 = store.add_incident(s, new_incident("T1"))
        a2 = store.add_incident(s, new_incident("T1"))
        b1 = store.add_incident(s, new_incident("T2"))
    with session_factory.begin() as s:
        a3 = store.add_incident(s, new_incident("T1", number=99))  # the given number is ignored
    assert [a1.key, a2.key, b1.key, a3.key] == ["INC-1", "INC-2", "INC-1", "INC-3"]
    with session_factory.begin() as s:
        found = store.get_incident(s, "T2", 1)
        assert found is not None and found.id == b1.id
        assert store.get_incident(s, "T2", 2) is None


def test_a_rolled_back_open_does_not_use_up_a_number(session_factory: Factory) -> None:
    session = session_factory()
    with session.begin():
        store.add_incident(session, new_incident())
    session.begin()
    store.add_incident(session, new_incident())
    session.rollback()
    session.close()
    assert in_tx(session_factory, lambda s: store.add_incident(s, new_incident())).number == 2


@pytest.mark.parametrize("first_of_team", [True, False], ids=["first", "later"])
def test_concurrent_opens_get_distinct_numbers(
    session_factory: Factory, first_of_team: bool
) -> None:
    """Four opens at once: all succeed with 1..4 (the first of a team races on the counter's
    INSERT, later ones on its UPDATE)."""
    if not first_of_team:
        in_tx(session_factory, lambda s: store.add_incident(s, new_incident()))
    barrier = threading.Barrier(4)

    def open_one() -> int:
        barrier.wait(timeout=10)
        with session_factory.begin() as session:
            return store.add_incident(session, new_incident()).number

    results = run_threads(*[open_one] * 4)
    assert not [r for r in results if isinstance(r, BaseException)], results
    offset = 0 if first_of_team else 1
    assert sorted(results) == [offset + n for n in (1, 2, 3, 4)]  # type: ignore[type-var]


@pytest.mark.parametrize("known", ["read", "snapshot"])
def test_stale_save_is_refused(session_factory: Factory, known: str) -> None:
    """Two people load version 1 and both save: the second gets StaleIncident, not a lost
    update (nor, with a snapshot of what it loaded, a write of its children)."""
    added = in_tx(session_factory, lambda s: store.add_incident(s, new_incident()))
    barrier = threading.Barrier(2)

    def edit(owner: str) -> Incident:
        loaded = in_tx(session_factory, lambda s: store.get_incident(s, "T1", added.number))
        assert loaded is not None and loaded.version == 1
        barrier.wait(timeout=10)  # both have read before either writes
        snapshot = store.children_snapshot(loaded) if known == "snapshot" else None
        changed = dataclasses.replace(
            loaded, owner=owner, options=[Option(1, f"by {owner}", None, owner, T0)]
        )
        return in_tx(session_factory,
                     lambda s: store.save_incident(s, changed, stored=snapshot))

    results = run_threads(lambda: edit("U8"), lambda: edit("U9"))
    stale = [r for r in results if isinstance(r, store.StaleIncident)]
    saved = [r for r in results if isinstance(r, Incident)]
    assert len(stale) == 1 and len(saved) == 1, results
    assert stale[0].incident_id == added.id and stale[0].version == 1
    current = in_tx(session_factory, lambda s: store.get_incident_by_id(s, added.id))
    assert current == saved[0]  # the loser wrote nothing, children included
    assert current.version == 2


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_stale_save_inside_one_transaction_postgresql(session_factory: Factory) -> None:
    """PostgreSQL runs load-and-save transactions side by side (SQLite queues them whole): the
    second UPDATE waits for the first's row lock, re-checks `version` and matches nothing."""
    added = in_tx(session_factory, lambda s: store.add_incident(s, new_incident()))
    barrier = threading.Barrier(2)

    def edit(owner: str) -> Incident:
        with session_factory.begin() as session:
            loaded = store.get_incident_by_id(session, added.id)
            assert loaded is not None
            barrier.wait(timeout=10)
            return store.save_incident(session, dataclasses.replace(loaded, owner=owner))

    results = run_threads(lambda: edit("U8"), lambda: edit("U9"))
    assert sorted(type(r).__name__ for r in results) == ["Incident", "StaleIncident"], results


def test_save_needs_an_id(session_factory: Factory) -> None:
    with pytest.raises(ValueError, match="add_incident"), session_factory.begin() as s:
        store.save_incident(s, new_incident())


def test_lookups(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        one = store.add_incident(
            s, new_incident(customer="ACME corp", channel_id="C1", customer_channel_id="C9")
        )
        two = store.add_incident(
            s,
            new_incident(
                customer="Globex", opened_at=at(60), status=Status.CLOSED, channel_id="C2"
            ),
        )
        three = store.add_incident(
            s, new_incident(customer="ACME  Corp.", opened_at=at(120), status=Status.RESOLVED)
        )
        other_team = store.add_incident(s, new_incident("T2", customer="Acme Corp"))
        closed_with_checkin = store.add_incident(
            s,
            new_incident(
                "T2",
                customer="Initech",
                status=Status.CLOSED,
                checkins=[Checkin(1, at(60 * 24)), Checkin(2, at(1))],
            ),
        )
        store.add_incident(
            s,
            new_incident(
                "T2",
                customer="Initech",
                status=Status.CLOSED,
                checkins=[Checkin(1, at(1), at(2), "U1")],
            ),
        )

    with session_factory.begin() as s:
        assert store.get_incident_by_channel(s, "C1") == one
        assert store.get_incident_by_channel(s, "C9") is None  # the customer channel is not it
        assert store.get_incident_by_channel(s, "C404") is None
        assert store.get_incident_by_id(s, 10_000) is None

        assert store.list_incidents(s, "T1") == [one, two, three]
        assert store.list_incidents(s, "T1", statuses=[Status.CLOSED, Status.RESOLVED]) == [
            two,
            three,
        ]
        assert store.list_incidents(s, "T1", opened_since=at(60)) == [two, three]
        assert store.list_incidents(s, "T1", statuses=[]) == []

        assert store.list_active(s) == [one, three, other_team, closed_with_checkin]

        # the same customer (case, spaces and punctuation aside) plus the team's latest ones
        def candidates(team: str, customer: str, since: datetime) -> list[int]:
            found = store.recurrence_candidates(s, team, customer, since, similar_limit=1)
            return [c.id for c in found]
        assert candidates("T1", "acme corp", T0) == [one.id, three.id]
        assert candidates("T1", "Acme Corp", at(1)) == [three.id]
        assert candidates("T1", "Globex", T0) == [two.id, three.id]
        assert other_team.id in candidates("T2", "ACME CORP", T0)


# --- timeline and time zones ------------------------------------------------------------------


def test_timeline_is_ordered_and_untouched_by_saves(session_factory: Factory) -> None:
    added = in_tx(session_factory, lambda s: store.add_incident(s, new_incident()))
    first = [
        TimelineEntry(at(5), "note", "second by time", "U1"),
        TimelineEntry(at(1), "open", "first by time"),
        TimelineEntry(at(5), "note", "third: same time, inserted later", "U2"),
    ]
    with session_factory.begin() as s:
        store.append_timeline(s, added.id, "T1", first)
        store.append_timeline(s, added.id, "T1", [])
    with session_factory.begin() as s:
        store.save_incident(s, dataclasses.replace(added, owner="U2"))
        store.append_timeline(s, added.id, "T1", [TimelineEntry(at(3), "own", "owner set", "U2")])
    timeline = in_tx(session_factory, lambda s: store.get_timeline(s, added.id))
    assert [e.text for e in timeline] == [
        "first by time",
        "owner set",
        "second by time",
        "third: same time, inserted later",
    ]
    assert timeline[0] == first[1] and timeline[0].at.tzinfo is UTC
    other = in_tx(session_factory, lambda s: store.add_incident(s, new_incident()))
    assert in_tx(session_factory, lambda s: store.get_timeline(s, other.id)) == []


def test_aware_times_come_back_utc_and_are_stored_utc(
    session_factory: Factory, engine: Engine
) -> None:
    local = datetime(2026, 11, 23, 14, 30, tzinfo=CET)  # 13:30 UTC
    added = in_tx(session_factory, lambda s: store.add_incident(s, new_incident(opened_at=local)))
    loaded = in_tx(session_factory, lambda s: store.get_incident_by_id(s, added.id))
    assert loaded is not None
    assert loaded.opened_at == local
    assert loaded.opened_at.tzinfo is UTC and loaded.opened_at.hour == 13

    with engine.connect() as conn:
        if make_url(str(engine.url)).get_backend_name() == "sqlite":
            raw = conn.execute(text("SELECT opened_at FROM incidents")).scalar_one()
            assert raw.startswith("2026-11-23 13:30:00")
        else:
            raw = conn.execute(
                text("SELECT to_char(opened_at AT TIME ZONE 'UTC', 'HH24:MI') FROM incidents")
            ).scalar_one()
            assert raw == "13:30"


def test_naive_datetimes_are_refused(session_factory: Factory) -> None:
    naive = datetime(2026, 11, 23, 13, 0)
    with pytest.raises(StatementError) as info, session_factory.begin() as s:
        store.add_incident(s, new_incident(opened_at=naive))
    assert isinstance(info.value.orig, ValueError)

    added = in_tx(session_factory, lambda s: store.add_incident(s, new_incident()))
    with pytest.raises(StatementError) as info, session_factory.begin() as s:
        store.append_timeline(s, added.id, "T1", [TimelineEntry(naive, "note", "x")])
    assert isinstance(info.value.orig, ValueError)
    with pytest.raises(StatementError), session_factory.begin() as s:
        store.save_incident(s, dataclasses.replace(added, resolved_at=naive))
    assert in_tx(session_factory, lambda s: store.get_incident_by_id(s, added.id)) == added


# --- outbox -----------------------------------------------------------------------------------


def _enqueue(s: Session, incident_id: int | None, kind: str, now: datetime = T0) -> int:
    return store.enqueue(
        s,
        team_id="T1",
        incident_id=incident_id,
        kind=kind,
        payload={"kind": kind, "n": [1, 2]},
        requested_by="U1",
        now=now,
    )


def _claim(factory: Factory, now: datetime, worker: str = "w1", limit: int = 20,
           chain_max: int = outbox.CHAIN_MAX) -> list[str]:
    with factory.begin() as s:
        chains = outbox.claim_chains(s, now=now, worker=worker, lease=LEASE, limit=limit,
                                     chain_max=chain_max)
    return [item.kind for chain in chains for item in chain]


def test_outbox_items_come_back_as_enqueued_in_order(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        a = store.add_incident(s, new_incident()).id
        b = store.add_incident(s, new_incident()).id
        a1 = _enqueue(s, a, "a1")
        _enqueue(s, a, "a2")
        _enqueue(s, b, "b1")
        _enqueue(s, None, "n1")
        _enqueue(s, None, "n2")
        _enqueue(s, a, "later", now=at(10))  # not due yet
        assert store.pending_outbox_count(s) == 6

    with session_factory.begin() as s:
        chains = outbox.claim_chains(s, now=T0, worker="w1", lease=LEASE)
    assert [[i.kind for i in chain] for chain in chains] == [["a1", "a2"], ["b1"], ["n1"], ["n2"]]
    first = chains[0][0]
    assert (first.id, first.team_id, first.incident_id, first.attempts) == (a1, "T1", a, 0)
    assert (first.payload, first.requested_by, first.created_at) == (
        {"kind": "a1", "n": [1, 2]},
        "U1",
        T0,
    )
    assert _claim(session_factory, T0, "w2") == []  # leased, or waiting

    with session_factory.begin() as s:
        outbox.finish(s, [a1], T0)
        assert store.pending_outbox_count(s) == 5
    # Leases over (workers died): everything open is claimable again, `later` still waits.
    before_later = at(10) - timedelta(seconds=1)
    assert _claim(session_factory, before_later, "w3") == ["a2", "b1", "n1", "n2"]
    with session_factory.begin() as s:
        outbox.finish(s, [a1 + 1], at(10))  # a2
    assert _claim(session_factory, at(10), "w3") == ["later"]


def test_enqueue_many_keeps_the_order_it_was_given(session_factory: Factory) -> None:
    """A change's rows, written in one executemany, are carried out in the order given."""
    kinds = [f"k{n:02d}" for n in range(12)]
    with session_factory.begin() as s:
        a = store.add_incident(s, new_incident()).id
        store.enqueue_many(s, team_id="T1", incident_id=a, rows=[(k, {"n": k}) for k in kinds],
                           requested_by="U1", now=T0)
        store.enqueue_many(s, team_id="T1", incident_id=a, rows=[], requested_by="U1", now=T0)
        assert store.pending_outbox_count(s) == len(kinds)
    seen: list[str] = []
    for _ in kinds:  # one at a time: each waits for the one before it
        with session_factory.begin() as s:
            chains = outbox.claim_chains(s, now=T0, worker="w", lease=LEASE, chain_max=1)
            assert len(chains) == 1 and len(chains[0]) == 1
            item = chains[0][0]
            assert item.payload == {"n": item.kind}
            seen.append(item.kind)
            outbox.finish(s, [item.id], T0)
    assert seen == kinds


def test_outbox_retry_then_fail(session_factory: Factory, engine: Engine) -> None:
    with session_factory.begin() as s:
        a = store.add_incident(s, new_incident()).id
        first = _enqueue(s, a, "create_channel")
        _enqueue(s, a, "post")
    assert _claim(session_factory, T0, chain_max=1) == ["create_channel"]

    with session_factory.begin() as s:
        store.retry_outbox(s, first, now=T0, error="ratelimited", next_attempt_at=at(2))
    assert _claim(session_factory, at(1)) == []  # backing off, and `post` keeps waiting
    with session_factory.begin() as s:
        chains = outbox.claim_chains(s, now=at(2), worker="w1", lease=LEASE, chain_max=1)
    assert [(i.kind, i.attempts) for chain in chains for i in chain] == [("create_channel", 1)]

    with session_factory.begin() as s:
        store.fail_outbox(s, first, now=at(2), error="name_taken" * 1000)
        assert store.pending_outbox_count(s) == 1
    assert _claim(session_factory, at(2)) == ["post"]  # a failed item no longer blocks
    assert _claim(session_factory, at(100)) == ["post"]  # (lease expired) but never the failed one

    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT attempts, failed_at IS NOT NULL, length(last_error) FROM outbox "
                "WHERE id = :id"
            ),
            {"id": first},
        ).one()
    assert tuple(row) == (2, True, 4000)


def test_outbox_expired_lease_is_claimable_again(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        item = _enqueue(s, None, "post")
    assert _claim(session_factory, T0, "w1") == ["post"]
    assert _claim(session_factory, T0 + LEASE - timedelta(seconds=1), "w2") == []
    with session_factory.begin() as s:
        chains = outbox.claim_chains(s, now=T0 + LEASE, worker="w2", lease=LEASE)
    assert [(i.id, i.attempts) for chain in chains for i in chain] == [(item, 0)]
    with session_factory.begin() as s:
        outbox.finish(s, [item], at(2))
    assert _claim(session_factory, at(60), "w3") == []


def test_two_workers_never_claim_the_same_item(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        incidents = [store.add_incident(s, new_incident()).id for _ in range(3)]
        ids = {_enqueue(s, incidents[n % 4] if n % 4 < 3 else None, f"k{n}") for n in range(24)}
    barrier = threading.Barrier(2)

    def worker(name: str) -> list[int]:
        barrier.wait(timeout=10)
        claimed: list[int] = []
        for _ in range(200):
            with session_factory.begin() as s:
                chains = outbox.claim_chains(s, now=T0, worker=name, lease=LEASE, limit=2,
                                             chain_max=1)
            items = [item for chain in chains for item in chain]
            if not items:
                with session_factory.begin() as s:
                    if store.pending_outbox_count(s) == 0:
                        break
                continue
            with session_factory.begin() as s:
                outbox.finish(s, [item.id for item in items], T0)  # lets the next item go
            claimed.extend(item.id for item in items)
        return claimed

    first, second = run_threads(lambda: worker("w1"), lambda: worker("w2"))
    assert isinstance(first, list) and isinstance(second, list), (first, second)
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(ids)


# --- reminder claims and events ---------------------------------------------------------------


def _take_reminder(
    factory: Factory, incident_id: int, worker: str, now: datetime = T0, **kw: Any
) -> bool:
    fields: dict[str, Any] = {"kind": "cadence_due", "due_at": at(30), "ref": "", **kw}
    key = (incident_id, fields["kind"], fields["due_at"], fields["ref"])
    return in_tx(
        factory,
        lambda s: key in store.take_reminders(s, [("T1", key)], now=now, worker=worker,
                                              lease=LEASE),
    )


def test_reminder_is_taken_exactly_once_under_a_race(session_factory: Factory) -> None:
    incident = in_tx(session_factory, lambda s: store.add_incident(s, new_incident())).id
    barrier = threading.Barrier(2)

    def take(worker: str) -> bool:
        barrier.wait(timeout=10)
        return _take_reminder(session_factory, incident, worker)

    assert sorted(run_threads(lambda: take("w1"), lambda: take("w2"))) == [False, True]  # type: ignore[type-var]
    # Another kind, due time or ref is another reminder.
    assert _take_reminder(session_factory, incident, "w1", kind="nudge")
    assert _take_reminder(session_factory, incident, "w1", due_at=at(60))
    assert _take_reminder(session_factory, incident, "w1", ref="P1")
    assert not _take_reminder(session_factory, incident, "w2", ref="P1")


def test_a_taken_reminder_is_sent_for_good(session_factory: Factory) -> None:
    """Taking marks it sent in the same statement: no lease running out frees it again."""
    incident = in_tx(session_factory, lambda s: store.add_incident(s, new_incident())).id
    assert _take_reminder(session_factory, incident, "w1")
    assert not _take_reminder(session_factory, incident, "w2", now=T0 + LEASE * 10)


def test_expired_unsent_reminder_claim_is_taken_over(session_factory: Factory) -> None:
    """A claim never marked sent (its sender died after claiming) is taken over once its lease
    has run out, by one taker only."""
    incident = in_tx(session_factory, lambda s: store.add_incident(s, new_incident())).id
    claims = ReminderClaimRow.__table__
    with session_factory.begin() as s:
        s.execute(claims.insert().values(
            team_id="T1", incident_id=incident, kind="cadence_due", due_at=at(30), ref="",
            claimed_by="w1", claimed_at=T0, lease_until=T0 + LEASE, sent_at=None))
    assert not _take_reminder(session_factory, incident, "w2", now=T0 + LEASE / 2)
    assert _take_reminder(session_factory, incident, "w2", now=T0 + LEASE)  # w1 died
    assert not _take_reminder(session_factory, incident, "w3", now=T0 + LEASE * 1.5)


def test_remember_event_is_true_once(session_factory: Factory) -> None:
    with session_factory.begin() as s:
        assert store.remember_event(s, "T1", "Ev1", T0)
        assert not store.remember_event(s, "T1", "Ev1", at(1))
        assert store.remember_event(s, "T1", "Ev2", at(10))
    with session_factory.begin() as s:
        assert not store.remember_event(s, "T1", "Ev1", at(2))
        assert not store.remember_event(s, "T1", "Ev2", at(20))
    with session_factory.begin() as s:  # another team's event id is still the same event
        assert not store.remember_event(s, "T2", "Ev1", at(20))


# --- engine -----------------------------------------------------------------------------------


def test_write_probe_reads_the_schema_and_leaves_no_trace(engine: Engine, tmp_path: Any) -> None:
    from alembic.script import ScriptDirectory

    from bot import schema

    heads = ScriptDirectory.from_config(schema.alembic_config("sqlite://")).get_heads()
    with engine.connect() as conn:
        before = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    assert store.probe_write(engine) == sorted(heads)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").all() == before
    broken = store.make_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
    try:
        with pytest.raises(Exception, match="unable to open"):
            store.probe_write(broken)
    finally:
        broken.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_connection_settings(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 15000


def test_reads_through_reading_do_not_wait_for_a_writer(session_factory: Factory) -> None:
    """A pause check (made on every request), a channel check and an incident read answer
    while another thread holds a write transaction open: they must not queue behind it (on
    SQLite a plain session's first ORM read used to begin BEGIN IMMEDIATE and wait)."""
    from playbook.store import lifecycle as lifecycle_store

    added = in_tx(session_factory, lambda s: store.add_incident(s, new_incident()))
    writing, read_done = threading.Event(), threading.Event()
    answers: list[Any] = []
    read_while_writing: list[bool] = []

    def writer() -> None:
        with session_factory.begin() as s:
            lifecycle_store.pause_team(s, "T9", "tokens_revoked", T0)  # holds the write lock
            writing.set()
            read_while_writing.append(read_done.wait(timeout=5))  # (a queued read can't)

    def reader() -> None:
        assert writing.wait(timeout=10)
        try:
            with store.reading(session_factory) as s:
                answers.append(lifecycle_store.paused_reason(s, "T1"))
                answers.append(lifecycle_store.channel_usable(s, "C1"))
                answers.append(store.get_incident_by_id(s, added.id))
        finally:
            read_done.set()

    results = run_threads(writer, reader, timeout=20)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert read_while_writing == [True], "the reads waited for the writer"
    assert answers == [None, True, added]
    assert in_tx(session_factory, lambda s: lifecycle_store.paused_reason(s, "T9")) == \
        "tokens_revoked", "the writer committed after the read"
