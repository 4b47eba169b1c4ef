"""Slack's rate tiers, played per LocalSlack instance as token buckets.

Source: Slack's "Rate limits" page (https://docs.slack.dev/apis/web-api/rate-limits) and the
"Rate limits" line of each method's reference page (https://docs.slack.dev/reference/methods/
<method>). Limits apply per method per workspace (per app token for Socket Mode), and Slack
"allows bursts" above the per-minute figure for short periods. A call over the limit gets
HTTP 429 with ``{"ok": false, "error": "ratelimited"}`` and a ``Retry-After`` header giving the
seconds to wait.

Each limit is a token bucket holding at most ``capacity`` calls and refilling at
``per_minute / 60`` a second, so a test that opens a few incidents is never throttled while a
burst beyond the tier is. chat.postMessage has its own rule on its page: "1 per second per
channel" with short bursts allowed, and a workspace-wide ceiling ("several hundred messages per
minute"); both are played. ``enabled = False`` is the kind Slack of a test that needs an
unlimited one (see ``LocalSlack(kind=True)``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

TIER_2, TIER_3, TIER_4 = 20, 50, 100  # calls per minute ("20+", "50+", "100+")

# The tier each method's reference page states (only methods with a tier need a line here;
# methods absent are not limited by this stand-in).
TIERS: dict[str, int] = {
    # Tier 2
    "conversations.create": TIER_2,
    "conversations.setTopic": TIER_2,
    "conversations.setPurpose": TIER_2,
    "conversations.archive": TIER_2,
    "conversations.unarchive": TIER_2,
    "conversations.rename": TIER_2,
    "pins.add": TIER_2,
    "bookmarks.add": TIER_2,
    "usergroups.users.list": TIER_2,
    # Tier 3
    "chat.update": TIER_3,
    "conversations.invite": TIER_3,
    "conversations.open": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.info": TIER_3,
    "conversations.members": TIER_3,
    "bookmarks.list": TIER_3,
    # Tier 4
    "chat.postEphemeral": TIER_4,
    "users.info": TIER_4,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
    "chat.getPermalink": TIER_4,
}

# chat.postMessage ("Special" tier): 1 a second per channel, a short burst allowed; and the
# workspace's messages together stay under "several hundred per minute".
POST_PER_CHANNEL_PER_MINUTE = 60
POST_CHANNEL_BURST = 20
POST_WORKSPACE_PER_MINUTE = 600


@dataclass
class Bucket:
    """``tokens`` calls may go now; one more every ``60 / per_minute`` seconds, up to
    ``capacity``."""

    capacity: float
    per_minute: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one call: 0.0 if allowed, else the seconds until one is (nothing taken)."""
        rate = self.per_minute / 60.0
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / rate


class RateLimiter:
    """The buckets of one LocalSlack, keyed by (team, method[, channel])."""

    def __init__(self, *, enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], Bucket] = {}
        self.limited: Counter[str] = Counter()  # method -> 429s answered
        self.allowed: Counter[str] = Counter()  # method -> limited calls let through

    def _bucket(self, key: tuple[str, ...], capacity: float, per_minute: float,
                now: float) -> Bucket:
        found = self._buckets.get(key)
        if found is None:
            found = self._buckets[key] = Bucket(capacity, per_minute, capacity, now)
        return found

    def check(self, team: str, method: str, channel: str | None = None) -> int | None:
        """None when the call may go; else the Retry-After (whole seconds, at least 1)."""
        if not self.enabled:
            return None
        with self._lock:
            now = self._clock()
            buckets: list[Bucket] = []
            if method == "chat.postMessage":
                buckets.append(self._bucket((team, method), POST_WORKSPACE_PER_MINUTE,
                                            POST_WORKSPACE_PER_MINUTE, now))
                if channel:
                    buckets.append(self._bucket((team, method, channel), POST_CHANNEL_BURST,
                                                POST_PER_CHANNEL_PER_MINUTE, now))
            elif method in TIERS:
                tier = TIERS[method]
                buckets.append(self._bucket((team, method), tier, tier, now))
            else:
                return None
            waits = [b.take(now) for b in buckets]
            if max(waits) > 0:
                for bucket, wait in zip(buckets, waits, strict=True):
                    if wait == 0:  # the call did not happen: give back what it took
                        bucket.tokens = min(bucket.capacity, bucket.tokens + 1.0)
                self.limited[method] += 1
                return max(1, math.ceil(max(waits)))
            self.allowed[method] += 1
            return None

    def reset(self) -> None:
        """Full buckets again (as after a quiet minute); counters are kept."""
        with self._lock:
            self._buckets.clear()
