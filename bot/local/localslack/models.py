"""Records kept by the local Slack server.

They are plain dataclasses so a test can compare them directly; the server hands out copies
(snapshots), never the live objects it mutates under its lock.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class ApiError(Exception):
    """A Web API failure: becomes ``{"ok": false, "error": error, **extra}`` on the wire."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


class Call(NamedTuple):
    """One Web API call as received (token removed), for assertions on what the app did."""

    method: str
    params: dict[str, Any]


@dataclass
class User:
    id: str
    name: str
    tz: str = "UTC"
    real_name: str | None = None
    is_bot: bool = False
    deleted: bool = False
    team_id: str | None = None  # set for a Slack Connect guest from another organisation
    # Guests (Slack's users.info ``is_restricted`` / ``is_ultra_restricted``): a multi-channel
    # guest may be invited only to ``guest_channels``; a single-channel guest to one channel.
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    guest_channels: set[str] = field(default_factory=set)
    # In the Enterprise organisation but not in this workspace (invite: org_user_not_in_team).
    org_only: bool = False
    # users.info ``is_admin`` / ``is_owner``: a workspace admin or owner
    is_admin: bool = False
    is_owner: bool = False


@dataclass
class UserGroup:
    id: str
    handle: str
    users: list[str] = field(default_factory=list)


@dataclass
class Channel:
    """A conversation: public/private channel (C…), DM (D…) or group DM (G…)."""

    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    members: set[str] = field(default_factory=set)
    created: int = 0
    creator: str = ""
    is_im: bool = False
    is_mpim: bool = False
    im_user: str | None = None
    is_ext_shared: bool = False  # a Slack Connect channel shared with another organisation
    bookmarks_restricted: bool = False  # a channel where only some may add bookmarks


@dataclass
class Message:
    """A message in a channel. ``edits`` counts chat.update calls; ``history`` keeps the
    previous versions (``{"text", "blocks"}``) so a test can see what a card used to say."""

    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    edits: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    reply_broadcast: bool = False
    is_bot: bool = True

    def to_slack(self, *, bot_id: str, app_id: str, team_id: str) -> dict[str, Any]:
        """The message as Slack shows it to apps (in payloads and API responses)."""
        out: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text,
                               "ts": self.ts, "team": team_id}
        if self.is_bot:
            out.update(bot_id=bot_id, app_id=app_id)
        if self.blocks is not None:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.edits:
            out["edited"] = {"user": self.user, "ts": self.ts}
        if self.files:
            out["files"] = [{"id": f} for f in self.files]
        if self.attachments:
            out["attachments"] = copy.deepcopy(self.attachments)
        if self.metadata:
            out["metadata"] = copy.deepcopy(self.metadata)
        return out


@dataclass
class Ephemeral:
    """A message only ``user`` saw. ``source`` says how it got there: chat.postEphemeral,
    response_url (a respond() call) or ack (the body of a slash command's ack)."""

    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"
    edits: int = 0
    deleted: bool = False


@dataclass
class StoredView:
    """A modal or App Home view. ``view`` is what the app sent (with block_ids filled in)."""

    id: str
    user_id: str
    type: str
    view: dict[str, Any]
    hash: str
    external_id: str = ""
    root_view_id: str = ""
    previous_view_id: str | None = None
    state: dict[str, Any] = field(default_factory=lambda: {"values": {}})
    closed: bool = False
    updates: int = 0

    def to_slack(self, *, team_id: str, app_id: str, bot_id: str) -> dict[str, Any]:
        """The view object Slack includes in payloads and views.* responses."""
        v = self.view
        out: dict[str, Any] = {
            "id": self.id, "team_id": team_id, "type": self.type,
            "blocks": copy.deepcopy(v.get("blocks", [])),
            "private_metadata": v.get("private_metadata", ""),
            "callback_id": v.get("callback_id", ""),
            "state": copy.deepcopy(self.state), "hash": self.hash,
            "clear_on_close": bool(v.get("clear_on_close", False)),
            "notify_on_close": bool(v.get("notify_on_close", False)),
            "previous_view_id": self.previous_view_id, "root_view_id": self.root_view_id,
            "app_id": app_id, "external_id": self.external_id,
            "app_installed_team_id": team_id, "bot_id": bot_id,
        }
        for key in ("title", "submit", "close"):
            out[key] = copy.deepcopy(v.get(key))
        return out


@dataclass
class FileRecord:
    id: str
    filename: str
    length: int
    title: str = ""
    content: bytes = b""
    uploaded: bool = False
    channel_id: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None


@dataclass
class Bookmark:
    id: str
    channel_id: str
    title: str
    type: str = "link"
    link: str = ""
    emoji: str | None = None


@dataclass
class ResponsePost:
    """One accepted POST to a response_url (from ``respond()`` or a WebhookClient)."""

    url_id: str
    kind: str
    channel_id: str | None
    user_id: str
    body: dict[str, Any]
    response_type: str = "ephemeral"
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    replace_original: bool = False
    delete_original: bool = False


@dataclass
class Reply:
    """What Slack got back from the app: HTTP status (200 for a Socket Mode ack, 0 when no
    ack came), the body (parsed JSON, text, or None when empty), seconds taken, response
    headers, and ``sent``: the payload we delivered (trigger_id, response_url, ...)."""

    status: int
    body: Any
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)
    sent: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200
