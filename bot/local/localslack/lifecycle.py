"""People changing channels and the install outside the app, as Slack reports them.

Each method changes the workspace the way Slack would, then sends the app the event Slack sends
(signed HTTP or Socket Mode, like every other request). Afterwards the Web API answers the way
Slack does: ``is_archived`` in an archived channel, ``not_in_channel`` where the bot was
removed, ``token_revoked`` / ``invalid_auth`` once the tokens are revoked or the app is gone.

Event shapes follow Slack's reference: private channels get the ``group_*`` twins; the bot
hears its own removal as ``channel_left`` / ``group_left`` (it is no longer a member, so no
``member_left_channel`` reaches it); ``member_joined_channel`` reaches the app for channels the
bot is in, with ``inviter`` when someone added the person.
"""

from __future__ import annotations

from typing import Any

from .api_conversations import _check_name, archive_event
from .driver import SlackSide, Via
from .models import ApiError, Channel, Reply


class LifecycleSide(SlackSide):
    """Workspace changes made by simulated people, and the events they cause."""

    token_error: str | None = None  # set: every bot-token call fails with this error

    def _live_channel(self, channel_id: str) -> Channel:
        chan = self._channels.get(channel_id)
        if chan is None or chan.is_im:
            raise KeyError(f"no channel {channel_id}")
        return chan

    @staticmethod
    def _kind(chan: Channel, public: str, private: str) -> str:
        return private if chan.is_private else public

    def archive_channel(self, app_url: str | None, channel_id: str, *, user_id: str,
                        via: Via = "http", emit: bool = True) -> Reply | None:
        """Someone archives the channel (members stay; nobody can post any more). With
        ``emit=False`` the event is lost on the way, so the app finds out from an error."""
        with self._lock:
            chan = self._live_channel(channel_id)
            if chan.is_archived:
                raise ValueError(f"{channel_id} is already archived")
            chan.is_archived = True
            event = archive_event(chan, user_id, archived=True)
        return self.event(app_url, event, via=via) if emit else None

    def unarchive_channel(self, app_url: str | None, channel_id: str, *, user_id: str,
                          via: Via = "http") -> Reply:
        """Someone unarchives it (Slack adds them to it; a bot token cannot do this)."""
        with self._lock:
            chan = self._live_channel(channel_id)
            if not chan.is_archived:
                raise ValueError(f"{channel_id} is not archived")
            chan.is_archived = False
            chan.members.add(user_id)
            event = archive_event(chan, user_id, archived=False)  # group_*: actor_id
        return self.event(app_url, event, via=via)

    def rename_channel(self, app_url: str | None, channel_id: str, name: str, *,
                       via: Via = "http") -> Reply:
        with self._lock:
            chan = self._live_channel(channel_id)
            try:
                chan.name = _check_name(self, name)
            except ApiError as err:
                raise ValueError(f"Slack would refuse the name {name!r}: {err.error}") from err
            event = {"type": self._kind(chan, "channel_rename", "group_rename"),
                     "channel": {"id": chan.id, "name": chan.name, "name_normalized": chan.name,
                                 "created": chan.created, "is_channel": not chan.is_private,
                                 "is_group": chan.is_private, "is_mpim": False}}
        return self.event(app_url, event, via=via)

    def remove_bot(self, app_url: str | None, channel_id: str, *, by: str,
                   via: Via = "http", emit: bool = True) -> Reply | None:
        """Someone removes the bot from the channel (``/remove @crisisbot``); ``emit=False``
        loses the event on the way."""
        with self._lock:
            chan = self._live_channel(channel_id)
            if self.bot_user_id not in chan.members:
                raise ValueError(f"the bot is not in {channel_id}")
            chan.members.discard(self.bot_user_id)
            event = {"type": self._kind(chan, "channel_left", "group_left"),
                     "channel": chan.id, "actor_id": by}
        return self.event(app_url, event, via=via) if emit else None

    def join_channel(self, app_url: str | None, channel_id: str, user_id: str, *,
                     inviter: str | None = None, via: Via = "http") -> Reply | None:
        """``user_id`` joins (or ``inviter`` adds them). The app hears it only if the bot is
        in the channel (or is the one joining); returns None when nothing was sent."""
        with self._lock:
            chan = self._live_channel(channel_id)
            if chan.is_archived:
                raise ValueError(f"{channel_id} is archived: nobody can join")
            self._ensure_user(user_id)
            chan.members.add(user_id)
            if self.bot_user_id not in chan.members:
                return None
            event: dict[str, Any] = {"type": "member_joined_channel", "user": user_id,
                                     "channel": chan.id, "team": self.team_id,
                                     "channel_type": "G" if chan.is_private else "C"}
            if inviter:
                event["inviter"] = inviter
        return self.event(app_url, event, via=via)

    def revoke_tokens(self, app_url: str | None, *, via: Via = "http") -> Reply:
        """An admin revokes the bot token: ``tokens_revoked``, then every call fails."""
        reply = self.event(app_url, {"type": "tokens_revoked",
                                     "tokens": {"oauth": [], "bot": [self.bot_user_id]}},
                           via=via)
        with self._lock:
            self.token_error = "token_revoked"
        return reply

    def uninstall_app(self, app_url: str | None, *, via: Via = "http") -> Reply:
        """The app is uninstalled: ``app_uninstalled``, then its token is unknown to Slack."""
        reply = self.event(app_url, {"type": "app_uninstalled"}, via=via)
        with self._lock:
            self.token_error = "invalid_auth"
        return reply

    def reinstall_app(self) -> None:
        """The app is installed again (same token here, for simplicity)."""
        with self._lock:
            self.token_error = None
