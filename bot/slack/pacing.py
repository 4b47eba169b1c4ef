"""The Slack call scheduler: per workspace and per method, token buckets that mirror Slack's
rate tiers, shared by priority, and taught by every ``Retry-After``.

Why: Slack throttles every Web API method per workspace (Tier 2, about 20 calls a minute:
conversations.create, setTopic, setPurpose, pins.add, bookmarks.add; Tier 3, about 50:
chat.update, conversations.invite, conversations.open; chat.postMessage about one a second per
channel). A bot that only reacts to 429s sends calls Slack will refuse, and under a burst (a
25-customer outage, a run of opens) a stream of card refreshes uses the budget a due reminder
needs. So every call the outbox makes asks this scheduler first (bot/outbox/paced.py), and a
call that would be refused is not sent: it waits, or its row steps aside until its bucket has
a token.

What it decides (pure: the clock is passed in, nothing sleeps here):

- `Pacer.ask(team, method, channel, priority)`: 0.0 when the call may go now (its token is
  taken), else the seconds until it may (nothing taken). Each (team, method) has a bucket of
  the method's tier (`TIERS`), and chat.postMessage also one per channel; a call must find a
  token in every bucket it uses.
- Priorities (`Priority`, one map of row kinds shared with the outbox's claims:
  playbook/domain/priority.py): replies to a person and reminders/escalations first, customer
  updates and outage drafts next, then channels, invites and pins, then card refreshes, then
  topics and bookmarks. A lower priority may only take a token while the bucket keeps a
  reserve of `RESERVE[priority]` tokens for the ones above it, so a burst of low-priority work
  leaves every bucket at least one token for a person or a reminder: such a call waits at most
  one bucket interval behind it. A call that was told to wait, and is waiting in place, is
  registered (`waiting`): a lower priority takes nothing from that bucket before it goes.
- Learning: `learn(team, method, channel, retry_after)` empties the bucket and blocks it for
  ``Retry-After`` seconds (Slack's word beats our model of it), for every priority.
- Spreading: calls told to wait long (low priority; their rows are re-queued) are handed
  slots one bucket interval apart, so a backlog comes back as a trickle Slack accepts rather
  than as a herd that is refused again.

Sharing (documented in docs/architecture.md): one `Pacer` per process, shared by all of its
outbox threads. With several outbox processes (`CRISISBOT_OUTBOX_PROCESSES`), each paces to
its share (``share = 1 / processes``) of every bucket, so together they stay within the tier.
Replicas on other hosts do not see each other's buckets: each learns from the 429s and
``Retry-After`` Slack answers, which stops them sending until Slack's bucket has room again.

Rates are a little under Slack's (`MARGIN`), so our clock and Slack's drifting apart never
makes a call we think allowed one Slack refuses.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

# (the one map of priorities, re-exported for the pacer's callers: playbook/domain/priority.py)
from playbook.domain.priority import KIND_PRIORITY as KIND_PRIORITY
from playbook.domain.priority import Priority as Priority
from playbook.domain.priority import priority_of as priority_of

TIER_2, TIER_3, TIER_4 = 20.0, 50.0, 100.0  # calls per minute ("20+", "50+", "100+")

# Per method per workspace, as each method's reference page states it
# (https://docs.slack.dev/reference/methods/<method>, "Rate limits").
TIERS: Final[dict[str, float]] = {
    "conversations.create": TIER_2, "conversations.setTopic": TIER_2,
    "conversations.setPurpose": TIER_2, "conversations.archive": TIER_2,
    "conversations.unarchive": TIER_2, "conversations.rename": TIER_2, "pins.add": TIER_2,
    "bookmarks.add": TIER_2, "usergroups.users.list": TIER_2,
    "chat.update": TIER_3, "conversations.invite": TIER_3, "conversations.open": TIER_3,
    "conversations.history": TIER_3, "conversations.replies": TIER_3,
    "conversations.info": TIER_3, "conversations.members": TIER_3, "bookmarks.list": TIER_3,
    "users.conversations": TIER_3,
    "chat.postEphemeral": TIER_4, "users.info": TIER_4, "views.open": TIER_4,
    "views.push": TIER_4, "views.update": TIER_4, "views.publish": TIER_4,
    "chat.getPermalink": TIER_4,
}
# chat.postMessage: "1 per second per channel" with short bursts, and "several hundred
# messages per minute" per workspace.
POST = "chat.postMessage"
POST_PER_CHANNEL = 60.0
POST_CHANNEL_BURST = 20.0
POST_WORKSPACE = 600.0
# Our buckets refill this much slower than Slack's (clock drift, a call's flight time).
MARGIN = 0.95
# Fractions of a token smaller than this are rounding, not a wait.
EPSILON = 1e-9
# Slots remembered per bucket at most (a holder that never comes back is forgotten).
MAX_BOOKED = 10_000


# The tokens a priority must leave in a bucket for the priorities above it.
RESERVE: Final[dict[Priority, float]] = {
    Priority.PERSON: 0.0, Priority.CUSTOMER: 1.0, Priority.MEMBERS: 2.0, Priority.CARD: 3.0,
    Priority.COSMETIC: 4.0,
}

# Methods that are cosmetic whatever row makes them: they never go before real work.
COSMETIC_METHODS: Final = frozenset({"conversations.setTopic", "conversations.setPurpose",
                                     "bookmarks.add"})


def call_priority(row: Priority, method: str) -> Priority:
    """A call's priority: its row's, lowered for cosmetic methods."""
    return max(row, Priority.COSMETIC) if method in COSMETIC_METHODS else row


@dataclass
class Bucket:
    """``tokens`` calls may go now; ``rate`` more a second, up to ``capacity``. Nothing may
    go before ``blocked_until`` (a Retry-After); long waits are handed slots from
    ``next_slot`` on, one interval apart."""

    capacity: float
    rate: float
    tokens: float
    stamp: float
    blocked_until: float = 0.0
    next_slot: float = 0.0
    waiting: Counter[Priority] = field(default_factory=Counter)
    booked: dict[object, float] = field(default_factory=dict)  # ticket -> its slot

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for(self, priority: Priority, now: float) -> float:
        """Seconds until `priority` may take a token (0: now)."""
        if now < self.blocked_until:
            return self.blocked_until - now + self._need(priority) / self.rate
        if any(n for p, n in self.waiting.items() if p < priority):
            # someone above waits in place for this bucket: it goes first
            return self.interval + self._need(priority) / self.rate
        return self._need(priority) / self.rate

    def _need(self, priority: Priority) -> float:
        reserve = min(RESERVE[priority], max(self.capacity - 1.0, 0.0))
        need = 1.0 + reserve - self.tokens
        return need if need > EPSILON else 0.0  # (float refills land a hair short)


@dataclass(frozen=True)
class Limits:
    """Slack's limits as this pacer plays them (the defaults: Slack's documented ones)."""

    tiers: dict[str, float] = field(default_factory=lambda: dict(TIERS))
    post_per_channel: float = POST_PER_CHANNEL
    post_channel_burst: float = POST_CHANNEL_BURST
    post_workspace: float = POST_WORKSPACE
    margin: float = MARGIN


Key = tuple[str, ...]


class Pacer:
    """The buckets of one process (thread-safe); `clock` gives seconds (monotonic or epoch).

    `share`: this process's part of each bucket (1 / number of outbox processes).
    `long_wait`: a wait longer than this is "long" (its caller re-queues the row rather than
    holding a thread): such callers are spread one interval apart (see the module docstring).
    """

    def __init__(self, clock: Callable[[], float], *, share: float = 1.0,
                 limits: Limits | None = None) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError("share must be in (0, 1]")
        self.clock = clock
        self.share = share
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._buckets: dict[Key, Bucket] = {}
        self.learned: Counter[str] = Counter()  # method -> Retry-After answers learned from

    # --- the buckets a call uses ------------------------------------------------------------

    def _make(self, key: Key, per_minute: float, burst: float, now: float) -> Bucket:
        found = self._buckets.get(key)
        if found is None:
            capacity = max(1.0, burst * self.share)
            rate = per_minute * self.limits.margin * self.share / 60.0
            found = self._buckets[key] = Bucket(capacity, rate, capacity, now)
        found.refill(now)
        return found

    def _buckets_of(self, team: str, method: str, channel: str | None,
                    now: float) -> list[Bucket]:
        if method == POST:
            limits = self.limits
            out = [self._make((team, method), limits.post_workspace, limits.post_workspace,
                              now)]
            if channel:
                out.append(self._make((team, method, channel), limits.post_per_channel,
                                      limits.post_channel_burst, now))
            return out
        tier = self.limits.tiers.get(method)
        return [] if tier is None else [self._make((team, method), tier, tier, now)]

    def limited(self, method: str) -> bool:
        """Whether `method` has a bucket at all (others go unpaced)."""
        return method == POST or method in self.limits.tiers

    # --- asking -----------------------------------------------------------------------------

    def ask(self, team: str, method: str, channel: str | None = None,
            priority: Priority = Priority.PERSON, *, long_after: float | None = None,
            ticket: object = None) -> float:
        """0.0: go now (a token of each bucket is taken). Else the seconds to wait, nothing
        taken. With `long_after`, a wait longer than it is handed the bucket's next free slot
        (one interval after the previous such slot): the caller comes back then, with the same
        `ticket` (its outbox row), and goes before anyone who comes later without a slot: a
        newcomer that may wait long queues behind the slots already handed out."""
        with self._lock:
            now = self.clock()
            buckets = self._buckets_of(team, method, channel, now)
            slowest = max(buckets, key=lambda b: b.interval, default=None)
            booked = slowest.booked.pop(ticket, None) if slowest and ticket is not None \
                else None
            wait = max((b.wait_for(priority, now) for b in buckets), default=0.0)
            if slowest is not None and long_after is not None and booked is None and \
                    slowest.next_slot > now + slowest.interval:
                # slots are handed out beyond the next interval: their holders come first
                wait = max(wait, long_after + EPSILON)
            if wait <= 0.0:
                for bucket in buckets:
                    bucket.tokens -= 1.0
                return 0.0
            if slowest is not None and long_after is not None and wait > long_after:
                at = max(now + wait, slowest.next_slot)
                slowest.next_slot = at + slowest.interval
                if ticket is not None:
                    if len(slowest.booked) > MAX_BOOKED:
                        slowest.booked.clear()  # (holders that never came back)
                    slowest.booked[ticket] = at
                return at - now
            return wait

    def ready_in(self, team: str, calls: Iterable[tuple[str, str | None]],
                 priority: Priority) -> float:
        """The longest wait of several calls a row will make (nothing taken): a row that
        would have to wait in the middle can step aside before it starts."""
        with self._lock:
            now = self.clock()
            waits = [b.wait_for(call_priority(priority, method), now)
                     for method, channel in calls
                     for b in self._buckets_of(team, method, channel, now)]
            return max(waits, default=0.0)

    def waiting(self, team: str, method: str, channel: str | None, priority: Priority,
                delta: int) -> None:
        """Register (+1) or unregister (-1) a caller waiting in place."""
        with self._lock:
            for bucket in self._buckets_of(team, method, channel, self.clock()):
                bucket.waiting[priority] += delta
                if bucket.waiting[priority] <= 0:
                    del bucket.waiting[priority]

    def learn(self, team: str, method: str, channel: str | None, retry_after: float) -> None:
        """Slack answered 429 with this Retry-After: nothing goes before it has passed."""
        with self._lock:
            now = self.clock()
            self.learned[method] += 1
            for bucket in self._buckets_of(team, method, channel, now):
                bucket.tokens = 0.0
                bucket.blocked_until = max(bucket.blocked_until, now + max(retry_after, 0.0))
