"""The Slack call scheduler (bot/slack/pacing.py) and the outbox's paced calls
(bot/outbox/paced.py), against a fake clock: tiers, workspaces, priorities, Retry-After,
spreading, and when a row steps aside instead of holding its thread."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.outbox.once import CurrentRow
from bot.outbox.paced import Deferred, Pacing
from bot.slack.pacing import MARGIN, Pacer, Priority, call_priority, priority_of
from playbook.store import OutboxItem

TIER2_INTERVAL = 60 / (20 * MARGIN)  # seconds between conversations.create calls, drained
TIER3_INTERVAL = 60 / (50 * MARGIN)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def drain(pacer: Pacer, team: str, method: str, priority: Priority = Priority.PERSON,
          channel: str | None = None) -> int:
    """Take every token the priority may take now; returns how many went."""
    n = 0
    while pacer.ask(team, method, channel, priority) == 0.0:
        n += 1
        assert n < 10_000
    return n


def test_a_tier_2_method_takes_its_burst_then_one_call_per_interval(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    assert drain(pacer, "T1", "conversations.create") == 20
    wait = pacer.ask("T1", "conversations.create")
    assert wait == pytest.approx(TIER2_INTERVAL)
    clock.now += wait
    assert pacer.ask("T1", "conversations.create") == 0.0
    assert pacer.ask("T1", "conversations.create") > 0.0


def test_never_faster_than_slacks_tier_over_a_minute(clock: FakeClock) -> None:
    """In any minute after the burst the pacer lets through fewer calls than Slack's tier."""
    pacer = Pacer(clock)
    drain(pacer, "T1", "chat.update")
    sent = 0
    end = clock.now + 60
    while clock.now < end:
        wait = pacer.ask("T1", "chat.update")
        if wait == 0.0:
            sent += 1
        else:
            clock.now += wait
    assert sent <= 50


def test_workspaces_and_methods_have_buckets_of_their_own(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    drain(pacer, "T1", "pins.add")
    assert pacer.ask("T1", "pins.add") > 0
    assert pacer.ask("T2", "pins.add") == 0.0, "another workspace's bucket is full"
    assert pacer.ask("T1", "conversations.setTopic") == 0.0, "another method's bucket is full"


def test_posts_are_paced_per_channel(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    assert drain(pacer, "T1", "chat.postMessage", channel="C1") == 20  # a short burst
    assert pacer.ask("T1", "chat.postMessage", "C1") == pytest.approx(60 / (60 * MARGIN))
    assert pacer.ask("T1", "chat.postMessage", "C2") == 0.0


def test_methods_without_a_tier_are_not_paced(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    assert not pacer.limited("auth.test")
    assert pacer.limited("chat.postMessage") and pacer.limited("chat.update")


def test_lower_priorities_leave_a_reserve_for_the_ones_above(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    # card refreshes take all but 3 of chat.update's 50 tokens
    assert drain(pacer, "T1", "chat.update", Priority.CARD) == 47
    assert pacer.ask("T1", "chat.update", priority=Priority.CARD) > 0
    # ... so a reminder's call (a person is waiting) and a customer update still go at once
    assert pacer.ask("T1", "chat.update", priority=Priority.PERSON) == 0.0
    assert pacer.ask("T1", "chat.update", priority=Priority.CUSTOMER) == 0.0
    assert pacer.ask("T1", "chat.update", priority=Priority.MEMBERS) > 0


def test_a_low_priority_burst_delays_a_person_by_at_most_one_interval(
        clock: FakeClock) -> None:
    """Card refreshes keep taking every token they may; reminders still go within one bucket
    interval each."""
    pacer = Pacer(clock)
    worst = 0.0
    for _ in range(200):
        drain(pacer, "T1", "chat.update", Priority.CARD)  # the backlog grabs what it can
        wait = pacer.ask("T1", "chat.update", priority=Priority.PERSON)
        worst = max(worst, wait)
        clock.now += wait
        if wait:
            assert pacer.ask("T1", "chat.update", priority=Priority.PERSON) == 0.0
        clock.now += 0.3
    assert worst <= TIER3_INTERVAL + 1e-9


def test_someone_waiting_above_goes_before_a_lower_priority(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    drain(pacer, "T1", "pins.add", Priority.PERSON)
    pacer.waiting("T1", "pins.add", None, Priority.PERSON, +1)
    clock.now += 10 * TIER2_INTERVAL  # tokens are back, above every reserve
    assert pacer.ask("T1", "pins.add", priority=Priority.MEMBERS) > 0, "the waiter goes first"
    pacer.waiting("T1", "pins.add", None, Priority.PERSON, -1)
    assert pacer.ask("T1", "pins.add", priority=Priority.MEMBERS) == 0.0


def test_retry_after_is_learnt_for_every_priority(clock: FakeClock) -> None:
    pacer = Pacer(clock)
    pacer.learn("T1", "chat.update", None, 30)
    assert pacer.ask("T1", "chat.update", priority=Priority.PERSON) >= 30
    assert pacer.ask("T1", "chat.update", priority=Priority.CARD) >= 30
    assert pacer.ask("T2", "chat.update") == 0.0, "only that workspace's bucket"
    clock.now += 30 + TIER3_INTERVAL
    assert pacer.ask("T1", "chat.update", priority=Priority.PERSON) == 0.0
    assert pacer.learned["chat.update"] == 1


def test_long_waits_get_slots_one_interval_apart(clock: FakeClock) -> None:
    """A backlog told to come back later comes back as a trickle, not a herd."""
    pacer = Pacer(clock)
    drain(pacer, "T1", "conversations.create", Priority.MEMBERS)
    slots = [pacer.ask("T1", "conversations.create", None, Priority.MEMBERS, long_after=0.5)
             for _ in range(5)]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert all(g == pytest.approx(TIER2_INTERVAL) for g in gaps), slots


def test_a_process_share_splits_each_bucket(clock: FakeClock) -> None:
    assert drain(Pacer(clock, share=0.5), "T1", "conversations.create") == 10
    with pytest.raises(ValueError):
        Pacer(clock, share=0)


def test_priorities_of_rows_and_calls() -> None:
    assert priority_of("timeline") is Priority.PERSON
    assert priority_of("draft") is Priority.CUSTOMER
    assert priority_of("invite") is Priority.MEMBERS
    assert priority_of("refresh_card") is Priority.CARD
    assert priority_of("bookmark") is Priority.COSMETIC
    assert priority_of(None) is Priority.PERSON
    assert call_priority(Priority.MEMBERS, "conversations.setTopic") is Priority.COSMETIC
    assert call_priority(Priority.PERSON, "chat.postMessage") is Priority.PERSON


# --- the outbox's paced calls ---------------------------------------------------------------


def _item(kind: str, team: str = "T1") -> OutboxItem:
    return OutboxItem(id=1, team_id=team, incident_id=1, kind=kind, payload={}, attempts=0,
                      requested_by=None, created_at=datetime(2026, 1, 1, tzinfo=UTC))


class Calls:
    """A Slack stand-in for the adapter: records calls; answers 429 when told to."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.refuse: list[float] = []

    def send(self, method: str) -> Any:
        def go() -> Any:
            self.sent.append(method)
            if self.refuse:
                retry = self.refuse.pop(0)
                resp = SlackResponse(client=None, http_verb="POST", api_url=method,
                                     req_args={}, data={"ok": False, "error": "ratelimited"},
                                     headers={"Retry-After": str(retry)}, status_code=429)
                raise SlackApiError("ratelimited", resp)
            return {"ok": True}
        return go


def _paced(clock: FakeClock, kind: str) -> tuple[Pacing, CurrentRow]:
    row = CurrentRow()
    row.begin(_item(kind))
    return Pacing(Pacer(clock), row, sleep=clock.sleep), row


def test_a_row_that_changed_nothing_steps_aside_instead_of_waiting(clock: FakeClock) -> None:
    pacing, _ = _paced(clock, "refresh_card")
    drain(pacing.pacer, "T1", "chat.update", Priority.PERSON)
    slack = Calls()
    with pytest.raises(Deferred) as deferred:
        pacing.call("chat.update", {"json": {"channel": "C1"}}, slack.send("chat.update"))
    assert deferred.value.wait > 0.2 and slack.sent == [], "nothing sent, thread given back"


def test_a_row_that_already_changed_something_waits_in_place(clock: FakeClock) -> None:
    pacing, row = _paced(clock, "create_channel")
    slack = Calls()
    pacing.call("conversations.create", {}, slack.send("conversations.create"))
    assert row.changed
    drain(pacing.pacer, "T1", "pins.add", Priority.PERSON)
    before = clock.now
    pacing.call("pins.add", {"json": {"channel": "C1"}}, slack.send("pins.add"))
    assert slack.sent == ["conversations.create", "pins.add"]
    assert clock.now - before == pytest.approx(3 * TIER2_INTERVAL), "slept for its token"


def test_a_row_whose_calls_cannot_all_go_steps_aside_before_its_first(clock: FakeClock) -> None:
    """A channel's creation needs Tier 2 tokens for create, topic, purpose and pin: if the pin
    would have to wait, the row steps aside before it creates anything."""
    pacing, _ = _paced(clock, "create_channel")
    drain(pacing.pacer, "T1", "pins.add", Priority.PERSON)
    slack = Calls()
    with pytest.raises(Deferred):
        pacing.call("conversations.create", {}, slack.send("conversations.create"))
    assert slack.sent == []


def test_a_person_waits_in_place_for_a_short_wait(clock: FakeClock) -> None:
    pacing, _ = _paced(clock, "timeline")
    drain(pacing.pacer, "T1", "chat.postMessage", Priority.PERSON, channel="C1")
    slack = Calls()
    pacing.call("chat.postMessage", {"json": {"channel": "C1"}},
                slack.send("chat.postMessage"))
    assert slack.sent == ["chat.postMessage"]


def test_a_429_is_learnt_and_the_call_waits_for_retry_after(clock: FakeClock) -> None:
    pacing, row = _paced(clock, "timeline")
    row.changed = True  # (mid-row: it waits in place rather than step aside)
    slack = Calls()
    slack.refuse = [2.0]
    before = clock.now
    pacing.call("chat.update", {"json": {"channel": "C1"}}, slack.send("chat.update"))
    assert slack.sent == ["chat.update", "chat.update"]
    assert clock.now - before >= 2.0, "nothing sent before Retry-After passed"
    assert pacing.pacer.learned["chat.update"] == 1


def test_a_429_before_any_change_steps_the_row_aside(clock: FakeClock) -> None:
    pacing, _ = _paced(clock, "refresh_card")
    slack = Calls()
    slack.refuse = [30.0]
    with pytest.raises(Deferred) as deferred:
        pacing.call("chat.update", {"json": {"channel": "C1"}}, slack.send("chat.update"))
    assert deferred.value.wait >= 30


def test_slack_keeps_refusing_the_error_is_raised_for_the_backoff(clock: FakeClock) -> None:
    pacing, row = _paced(clock, "timeline")
    row.changed = True
    slack = Calls()
    slack.refuse = [1.0] * 10
    with pytest.raises(SlackApiError):
        pacing.call("chat.update", {}, slack.send("chat.update"))
    assert len(slack.sent) == 4


def test_a_row_handed_a_slot_goes_before_newcomers_when_it_comes_back(
        clock: FakeClock) -> None:
    """Tokens refilled for rows that were handed slots are theirs: a card refresh arriving
    later queues behind them instead of taking the token and sending them round again."""
    pacer = Pacer(clock)
    drain(pacer, "T1", "chat.update", Priority.CARD)
    slots = {row: pacer.ask("T1", "chat.update", None, Priority.CARD, long_after=0.0,
                            ticket=row) for row in (1, 2, 3)}
    clock.now += slots[1]
    newcomer = pacer.ask("T1", "chat.update", None, Priority.CARD, long_after=0.0, ticket=9)
    assert newcomer > slots[3] - slots[1], "the newcomer queues behind the slots handed out"
    assert pacer.ask("T1", "chat.update", None, Priority.CARD, long_after=0.0, ticket=1) == 0.0
    clock.now += slots[2] - slots[1]
    assert pacer.ask("T1", "chat.update", None, Priority.CARD, long_after=0.0, ticket=2) == 0.0


def test_the_pacer_uses_the_same_priorities_as_the_outbox_claims() -> None:
    from bot.slack import pacing
    from playbook.domain import priority

    # one map: a kind claimed first must not then wait behind card refreshes for its bucket
    assert pacing.Priority is priority.Priority
    assert pacing.KIND_PRIORITY is priority.KIND_PRIORITY
    assert pacing.priority_of is priority.priority_of


def test_every_outbox_kind_has_a_priority() -> None:
    from bot.outbox.runner import HANDLERS
    from playbook.domain.priority import KIND_PRIORITY

    kinds = set(HANDLERS) | {"home", "outage_open", "outage_post", "outage_card"}
    assert kinds - set(KIND_PRIORITY) == set()
