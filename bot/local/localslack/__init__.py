"""A local Slack-compatible server (Web API, signed requests, Socket Mode).

It backs ``crisisbot demo`` and the e2e tests: the real Bolt app talks to it with a stock
``slack_sdk.WebClient`` and receives requests signed and shaped the way Slack sends them,
while every payload is checked against Slack's limits (``server.violations``).
"""

from .driver import escape
from .limits import check_blocks, check_view
from .models import (
    Bookmark,
    Call,
    Channel,
    Ephemeral,
    FileRecord,
    Message,
    Reply,
    ResponsePost,
    StoredView,
    User,
    UserGroup,
)
from .server import LocalSlack

__all__ = [
    "Bookmark",
    "Call",
    "Channel",
    "Ephemeral",
    "FileRecord",
    "LocalSlack",
    "Message",
    "Reply",
    "ResponsePost",
    "StoredView",
    "User",
    "UserGroup",
    "check_blocks",
    "check_view",
    "escape",
]
