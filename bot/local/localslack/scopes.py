"""OAuth scopes: a call whose token lacks the method's scope is refused as Slack refuses it.

Slack answers ``{"ok": false, "error": "missing_scope", "needed": "<scope>", "provided":
"<the token's scopes, comma-separated>"}`` (the ``missing_scope`` row of every method's error
table; the ``needed``/``provided`` fields are those of Slack's answer and of slack_sdk's
response types). The scope each method needs is the "Required scopes" box of its reference
page, https://docs.slack.dev/reference/methods/<method>; for conversations.* it depends on the
conversation's type (public: ``channels:*``, private: ``groups:*``, DM: ``im:*``, group DM:
``mpim:*``), which is why the rule below is given the conversation.

The app's installed bot scopes are those of manifest.yml at the repository root, read once;
where the file is not there (an installed package), no scope is checked.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .models import ApiError, Channel

MANIFEST = Path(__file__).resolve().parents[3] / "manifest.yml"

# Methods whose one scope does not depend on the conversation (method page -> scope).
FIXED: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write",
    "pins.add": "pins:write",
    "pins.remove": "pins:write",
    "pins.list": "pins:read",
    "bookmarks.add": "bookmarks:write",
    "bookmarks.list": "bookmarks:read",
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
    "reactions.add": "reactions:write",
    "reactions.get": "reactions:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "conversations.join": "channels:join",
}

# conversations.* methods: scope by conversation type (public, private, DM, group DM).
BY_TYPE: dict[str, tuple[str, str, str, str]] = {
    "conversations.create": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "conversations.setTopic": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "conversations.setPurpose": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "conversations.invite": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "conversations.archive": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "conversations.unarchive": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "conversations.rename": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "conversations.open": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "conversations.history": ("channels:history", "groups:history", "im:history",
                              "mpim:history"),
    "conversations.replies": ("channels:history", "groups:history", "im:history",
                              "mpim:history"),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.members": ("channels:read", "groups:read", "im:read", "mpim:read"),
}


def manifest_list(text: str, keys: tuple[str, ...]) -> frozenset[str]:
    """The list under ``keys`` in a manifest (the plain YAML our manifests use: no PyYAML
    needed, so the demo runs without it)."""
    items: list[str] = []
    path: list[tuple[int, str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if body.startswith("- "):
            if tuple(k for _, k in path) == keys:
                items.append(body[2:].strip().strip("\"'"))
            continue
        while path and path[-1][0] >= indent:
            path.pop()
        if body.endswith(":"):
            path.append((indent, body[:-1].strip()))
    return frozenset(items)


@cache
def _manifest(keys: tuple[str, ...]) -> frozenset[str] | None:
    if not MANIFEST.is_file():
        return None
    return manifest_list(MANIFEST.read_text(encoding="utf-8"), keys)


def manifest_scopes() -> frozenset[str] | None:
    """The bot scopes of manifest.yml (None when the file is not there: nothing checked)."""
    return _manifest(("oauth_config", "scopes", "bot"))


def manifest_events() -> frozenset[str] | None:
    """The bot events manifest.yml subscribes to (None when the file is not there: all)."""
    return _manifest(("settings", "event_subscriptions", "bot_events"))


def kind_index(chan: Channel | None, *, private: bool = False) -> int:
    if chan is None:
        return 1 if private else 0
    if chan.is_im:
        return 2
    if chan.is_mpim:
        return 3
    return 1 if chan.is_private else 0


def needed(method: str, chan: Channel | None = None, *, private: bool = False,
           dm: bool = False, mpim: bool = False) -> str | None:
    """The scope ``method`` needs on this conversation (None: no scope needed)."""
    if method in FIXED:
        return FIXED[method]
    if method in BY_TYPE:
        index = 3 if mpim else 2 if dm else kind_index(chan, private=private)
        return BY_TYPE[method][index]
    return None


def require(scopes: frozenset[str] | None, scope: str | None) -> None:
    """Raise Slack's missing_scope unless the token holds ``scope``."""
    if scopes is None or scope is None or scope in scopes:
        return
    raise ApiError("missing_scope", needed=scope, provided=",".join(sorted(scopes)))
