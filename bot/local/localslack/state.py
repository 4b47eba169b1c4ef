"""The workspace the local Slack server simulates: its state, ids, and inspection helpers.

Everything lives in memory behind one re-entrant lock: the Web API handler threads, the
Socket Mode threads and the test thread all touch it. Inspection methods return copies, so a
test never sees a half-applied change and never mutates the server by accident.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from .models import (
    ApiError,
    Bookmark,
    Call,
    Channel,
    Ephemeral,
    FileRecord,
    Message,
    ResponsePost,
    StoredView,
    User,
    UserGroup,
)
from .ratelimits import RateLimiter
from .scopes import manifest_events, manifest_scopes

T = TypeVar("T")
_ALNUM = string.ascii_uppercase + string.digits


@dataclass
class Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int


@dataclass
class Trigger:
    user_id: str
    issued: float
    used: bool = False


@dataclass
class ResponseUrl:
    kind: str
    channel_id: str | None
    user_id: str
    issued: float
    message_ts: str | None = None
    is_ephemeral: bool = False
    uses: int = 0


class Workspace:
    """In-memory Slack workspace with one bot user, one app and thread-safe inspection."""

    trigger_ttl: float = 3.0  # Slack: a trigger_id works once, within 3 seconds
    response_url_ttl: float = 1800.0  # Slack: 30 minutes, at most 5 posts
    response_url_max_uses: int = 5
    ack_timeout: float = 3.0  # Slack shows "operation_timeout" after 3 s without an ack

    def __init__(self, *, bot_token: str = "xoxb-local-test", app_token: str = "xapp-local-test",
                 signing_secret: str = "local-signing-secret", team_id: str = "T0LOCAL",
                 bot_user_id: str = "UBOT", bot_name: str = "crisisbot",
                 team_domain: str = "localslack", app_id: str = "A0LOCAL",
                 bot_id: str = "B0LOCAL", chat_write_public: bool = False,
                 kind: bool = False, scopes: Iterable[str] | None = None,
                 rate_clock: Callable[[], float] | None = None) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.app_id = app_id
        self.bot_id = bot_id
        self.chat_write_public = chat_write_public
        # conversations.unarchive's page (https://docs.slack.dev/reference/methods/
        # conversations.unarchive) carries a "Bug alert": bot tokens (xoxb-) cannot currently
        # unarchive conversations; use a user token. Its error table names no error of its own
        # for that, so the stand-in answers with the table's token-type error,
        # `not_allowed_token_type` ("the token type used in this request is not allowed").
        # None: a kind Slack that lets the bot unarchive (people use `unarchive_channel`).
        self.bot_unarchive_error: str | None = "not_allowed_token_type"
        # Strict by default: rate tiers on (``kind=True`` turns them off), the bot token holds
        # the bot scopes of manifest.yml unless ``scopes`` says otherwise.
        self.kind = kind
        # ``rate_clock`` (seconds): the buckets refill by it, so a test whose clock jumps an
        # hour has given Slack's buckets that hour too (default: real time).
        self.rate_limits = RateLimiter(enabled=not kind, clock=rate_clock or time.monotonic)
        # channel id -> the workspace whose rate buckets calls on it use (unset: this one's):
        # one local Slack plays many workspaces for the benchmarks (`set_channel_workspace`)
        self.rate_teams: dict[str, str] = {}
        self.scopes: frozenset[str] | None = (frozenset(scopes) if scopes is not None
                                              else manifest_scopes())
        self.subscribed_events: frozenset[str] | None = manifest_events()
        self.emitted: list[dict[str, Any]] = []  # events Slack sent about the app's own calls
        self._emit_sink: Callable[[dict[str, Any]], None] | None = None
        self.base_url = "http://127.0.0.1:0"  # set by LocalSlack.start()
        self._lock = threading.RLock()
        self.violations: list[str] = []
        self.calls: list[Call] = []
        self.responses: list[ResponsePost] = []
        self._users: dict[str, User] = {}
        self._usergroups: dict[str, UserGroup] = {}
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Message]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._views: dict[str, StoredView] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._files: dict[str, FileRecord] = {}
        self._bookmarks: dict[str, list[Bookmark]] = {}
        self._pins: dict[str, list[str]] = {}
        self._reactions: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._triggers: dict[str, Trigger] = {}
        self._response_urls: dict[str, ResponseUrl] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._delays: dict[str, deque[list[float]]] = {}  # method -> [[seconds, remaining]]
        self._lost_answers: dict[str, deque[Fault]] = {}
        self._ids: set[str] = set()
        self._last_ts_us = 0
        self._seq = 0
        self._users[bot_user_id] = User(bot_user_id, bot_name, is_bot=True, real_name=bot_name)
        self.add_channel("general", channel_id="C0GENERAL")

    # ------------------------------------------------------------------ ids and clocks
    def _new_id(self, prefix: str, length: int = 10) -> str:
        with self._lock:
            while True:
                new = prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))
                if new not in self._ids:
                    self._ids.add(new)
                    return new

    def _new_ts(self) -> str:
        """Slack message ts: seconds.micro, strictly increasing like Slack's."""
        with self._lock:
            us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
            self._last_ts_us = us
            return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _emit(self, event: dict[str, Any]) -> None:
        """Slack's event about something the app just did (see echo): kept in ``emitted``
        and handed to the subscribed app, if the manifest subscribes to its type."""
        if self.subscribed_events is not None and event["type"] not in self.subscribed_events:
            return
        event = {**event, "event_ts": f"{time.time():.6f}"}
        with self._lock:
            self.emitted.append(copy.deepcopy(event))
            sink = self._emit_sink
        if sink is not None:
            sink(event)

    def violation(self, text: str) -> None:
        """Record something real Slack would refuse or warn about (a test asserts none)."""
        with self._lock:
            self.violations.append(text)

    # ------------------------------------------------------------------ seeding
    def add_user(self, user_id: str, name: str, tz: str = "UTC", real_name: str | None = None,
                 is_bot: bool = False, team_id: str | None = None, *,
                 guest: str | None = None, guest_channels: Iterable[str] = (),
                 org_only: bool = False, admin: bool = False, owner: bool = False) -> User:
        """Seed a workspace member; users.info, invites and DMs only know seeded users
        (the driver seeds the users it acts as). ``team_id`` other than the workspace's makes
        a Slack Connect guest: their messages carry ``user_team``/``source_team``, and
        conversations.invite refuses them. ``guest="multi"`` makes a multi-channel guest
        (invitable only to ``guest_channels``), ``guest="single"`` a single-channel guest;
        ``org_only`` a member of the Enterprise org who is not in this workspace; ``admin`` /
        ``owner`` a workspace admin / owner (users.info ``is_admin`` / ``is_owner``)."""
        if guest not in (None, "multi", "single"):
            raise ValueError(f"guest must be 'multi' or 'single', not {guest!r}")
        with self._lock:
            user = User(user_id, name, tz=tz, real_name=real_name or name, is_bot=is_bot,
                        team_id=team_id, is_restricted=guest is not None,
                        is_ultra_restricted=guest == "single",
                        guest_channels=set(guest_channels), org_only=org_only,
                        is_admin=admin or owner, is_owner=owner)
            self._users[user_id] = user
            return copy.deepcopy(user)

    def add_usergroup(self, group_id: str, handle: str, users: Iterable[str]) -> UserGroup:
        with self._lock:
            group = UserGroup(group_id, handle, list(users))
            self._usergroups[group_id] = group
            return copy.deepcopy(group)

    def add_channel(self, name: str, *, channel_id: str | None = None,
                    members: Iterable[str] = (), is_private: bool = False,
                    bot_member: bool = False, topic: str = "", purpose: str = "",
                    ext_shared: bool = False) -> Channel:
        """Seed an existing channel (e.g. a leads channel, a customer channel). The bot is
        not a member unless ``bot_member``, like a channel nobody invited it to;
        ``ext_shared`` makes it a Slack Connect channel."""
        with self._lock:
            cid = channel_id or self._new_id("C")  # private channels get C ids too nowadays
            self._ids.add(cid)
            chan = Channel(cid, name, is_private=is_private, topic=topic, purpose=purpose,
                           members=set(members), created=int(time.time()), creator="USLACKBOT",
                           is_ext_shared=ext_shared)
            if bot_member:
                chan.members.add(self.bot_user_id)
            self._channels[cid] = chan
            self._messages.setdefault(cid, [])
            return copy.deepcopy(chan)

    def set_channel_workspace(self, channel_id: str, team_id: str) -> None:
        """Rate-limit calls on this channel as another workspace's (Slack's tiers are per
        workspace): lets one local Slack stand for many workspaces behind one token."""
        with self._lock:
            self.rate_teams[channel_id] = team_id

    def add_message(self, channel_id: str, user_id: str, text: str, *,
                    thread_ts: str | None = None,
                    blocks: list[dict[str, Any]] | None = None) -> Message:
        """Seed a message a person wrote (no event is sent; see ``user_message`` for that)."""
        with self._lock:
            if channel_id not in self._channels:
                raise KeyError(f"unknown channel {channel_id}; seed it with add_channel")
            self._ensure_user(user_id)
            msg = Message(self._new_ts(), channel_id, user_id, text, blocks, thread_ts=thread_ts,
                          is_bot=user_id == self.bot_user_id)
            self._messages[channel_id].append(msg)
            return copy.deepcopy(msg)

    def _ensure_user(self, user_id: str) -> User:
        with self._lock:
            if user_id not in self._users:
                self._users[user_id] = User(user_id, user_id.lower(), real_name=user_id)
            return self._users[user_id]

    def _dm_channel(self, user_id: str) -> Channel:
        """The bot's DM with a user, created on first use like conversations.open."""
        with self._lock:
            for chan in self._channels.values():
                if chan.is_im and chan.im_user == user_id:
                    return chan
            cid = self._new_id("D")
            chan = Channel(cid, user_id, is_private=True, is_im=True, im_user=user_id,
                           members={self.bot_user_id, user_id}, created=int(time.time()),
                           creator=self.bot_user_id)
            self._channels[cid] = chan
            self._messages[cid] = []
            return chan

    def restrict_bookmarks(self, channel_id: str, restricted: bool = True) -> None:
        """Only some members may add bookmarks there: bookmarks.add answers restricted_action."""
        with self._lock:
            self._channels[channel_id].bookmarks_restricted = restricted

    # ------------------------------------------------------------------ fault injection
    def fail_next(self, method: str, error: str = "ratelimited", *, status: int | None = None,
                  retry_after: int | None = None, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` fail. ``status`` defaults to 429 for
        ``ratelimited`` (with Retry-After, 1 s unless given) and 200 otherwise, so
        ``fail_next("chat.postMessage", "channel_not_found")`` is an ok:false answer and
        ``fail_next(m, "internal_error", status=503)`` a server error. ``method`` may also be
        ``response_url`` or ``upload`` for those endpoints."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                Fault(error, status, retry_after, times))

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` answer only after ``seconds`` (a slow
        Slack; a client whose timeout is shorter gives up first)."""
        with self._lock:
            self._delays.setdefault(method, deque()).append([seconds, float(times)])

    def _take_delay(self, method: str) -> float:
        with self._lock:
            queue = self._delays.get(method)
            if not queue:
                return 0.0
            seconds, remaining = queue[0]
            if remaining <= 1:
                queue.popleft()
            else:
                queue[0][1] = remaining - 1
            return seconds

    def lose_answer_next(self, method: str, *, times: int = 1, status: int = 503) -> None:
        """Carry out the next ``times`` calls of ``method``, then answer ``status`` with
        ``internal_error`` instead of what Slack did (an answer lost on the way back: the
        channel is made, the message posted, and the app cannot know)."""
        with self._lock:
            self._lost_answers.setdefault(method, deque()).append(
                Fault("internal_error", status, None, times))

    def _take_lost_answer(self, method: str) -> Fault | None:
        return self._take(self._lost_answers, method)

    def _take_fault(self, method: str) -> Fault | None:
        return self._take(self._faults, method)

    def _take(self, queues: dict[str, deque[Fault]], method: str) -> Fault | None:
        """The next armed fault of `method`, counting one use of it."""
        with self._lock:
            queue = queues.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
            return fault

    def call_count(self, method: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.method == method)

    # ------------------------------------------------------------------ triggers, response_urls
    def issue_trigger(self, user_id: str) -> str:
        with self._lock:
            tid = f"{self._next_seq()}{int(time.time())}.{secrets.token_hex(16)}"
            self._triggers[tid] = Trigger(user_id, time.monotonic())
            return tid

    def _consume_trigger(self, trigger_id: Any) -> Trigger:
        with self._lock:
            trig = self._triggers.get(trigger_id) if isinstance(trigger_id, str) else None
            if trig is None:
                raise ApiError("invalid_trigger_id")
            if trig.used:
                raise ApiError("exchanged_trigger_id")
            if time.monotonic() - trig.issued > self.trigger_ttl:
                raise ApiError("expired_trigger_id")
            trig.used = True
            return trig

    def issue_response_url(self, kind: str, *, user_id: str, channel_id: str | None,
                           message_ts: str | None = None, is_ephemeral: bool = False) -> str:
        with self._lock:
            rid = f"{self.team_id}/{self._next_seq()}/{secrets.token_urlsafe(16)}"
            self._response_urls[rid] = ResponseUrl(kind, channel_id, user_id, time.monotonic(),
                                                   message_ts, is_ephemeral)
            return f"{self.base_url}/respond/{rid}"

    def _issue_socket_url(self) -> str:
        """A fresh Socket Mode URL; LocalSlack overrides this once its websocket is up."""
        raise ApiError("socket_mode_not_running")

    # ------------------------------------------------------------------ inspection
    @property
    def channels(self) -> dict[str, Channel]:
        """Snapshot of all conversations by id (DMs included)."""
        with self._lock:
            return copy.deepcopy(self._channels)

    @property
    def users(self) -> dict[str, User]:
        with self._lock:
            return copy.deepcopy(self._users)

    def channel_by_name(self, name: str) -> Channel | None:
        with self._lock:
            name = name.lstrip("#")
            for chan in self._channels.values():
                if chan.name == name and not chan.is_im:
                    return copy.deepcopy(chan)
            return None

    def messages(self, channel_id: str, *, thread_ts: str | None = None) -> list[Message]:
        """Messages of a channel in posting order (thread replies included), or of one thread
        (parent first) when ``thread_ts`` is given."""
        with self._lock:
            msgs = self._messages.get(channel_id, [])
            if thread_ts is not None:
                msgs = [m for m in msgs if m.ts == thread_ts or m.thread_ts == thread_ts]
            return copy.deepcopy(msgs)

    def message(self, channel_id: str, ts: str) -> Message | None:
        with self._lock:
            found = self._find_message(channel_id, ts)
            return copy.deepcopy(found) if found else None

    def _find_message(self, channel_id: str, ts: Any) -> Message | None:
        for msg in self._messages.get(channel_id, []):
            if msg.ts == ts:
                return msg
        return None

    def pins(self, channel_id: str) -> list[str]:
        with self._lock:
            return list(self._pins.get(channel_id, []))

    def ephemerals(self, user_id: str | None = None, *,
                   channel_id: str | None = None) -> list[Ephemeral]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._ephemerals
                    if (user_id is None or e.user == user_id)
                    and (channel_id is None or e.channel == channel_id) and not e.deleted]

    def dm_channel_id(self, user_id: str) -> str | None:
        with self._lock:
            for chan in self._channels.values():
                if chan.is_im and chan.im_user == user_id:
                    return chan.id
            return None

    def dms(self, user_id: str) -> list[Message]:
        """Messages in the bot's DM with ``user_id`` (empty if never opened)."""
        cid = self.dm_channel_id(user_id)
        return self.messages(cid) if cid else []

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for the user, as Slack would show it."""
        with self._lock:
            vid = self._homes.get(user_id)
            return self._view_json(self._views[vid]) if vid else None

    def open_views(self, user_id: str) -> list[dict[str, Any]]:
        """The user's modal stack, bottom first; empty when no modal is open."""
        with self._lock:
            return [self._view_json(self._views[v]) for v in self._stacks.get(user_id, [])]

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            stored = self._views.get(view_id)
            return self._view_json(stored) if stored else None

    def _view_json(self, stored: StoredView) -> dict[str, Any]:
        return stored.to_slack(team_id=self.team_id, app_id=self.app_id, bot_id=self.bot_id)

    def files(self, channel_id: str | None = None) -> list[FileRecord]:
        """Files shared to a channel by files.completeUploadExternal (all when None)."""
        with self._lock:
            return [copy.deepcopy(f) for f in self._files.values()
                    if (channel_id is None and f.channel_id) or
                    (channel_id is not None and f.channel_id == channel_id)]

    def bookmarks(self, channel_id: str) -> list[Bookmark]:
        with self._lock:
            return copy.deepcopy(self._bookmarks.get(channel_id, []))

    def reactions(self, channel_id: str, ts: str) -> dict[str, list[str]]:
        with self._lock:
            return copy.deepcopy(self._reactions.get((channel_id, ts), {}))

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, *,
                 interval: float = 0.01, message: str = "") -> T:
        """Poll until ``predicate()`` is truthy and return its value. The app does its Slack
        work after the ack in background threads, so tests wait for effects, never sleep."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                detail = f": {message}" if message else ""
                raise TimeoutError(f"condition not met within {timeout:.1f} s{detail}")
            time.sleep(interval)

    def assert_clean(self) -> None:
        """Raise AssertionError listing every violation (for an autouse test fixture)."""
        with self._lock:
            if self.violations:
                listing = "\n  ".join(self.violations)
                raise AssertionError(f"{len(self.violations)} Slack violation(s):\n  {listing}")
