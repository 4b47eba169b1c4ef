"""Each workspace's settings: read (cached briefly) and changed by its admins.

The environment gives the defaults (`WorkspaceSettings` built by the shell from bot/config.py);
the overrides a workspace's admins chose live in `workspaces.settings`
(`playbook.store.installations`). Everything that acts for a workspace reads the settings in
force here: the policy its reminders run under and the playbook new incidents open under
(`playbook.services.playbooks`), the responders and private channels at open
(`playbook.services.incidents`), the leads and the leads channel (the shell: bot/outbox,
bot/listeners/deps.py).

Cache: a workspace's settings are read once per `TTL` seconds in each process and forgotten
at once when this process changes them. Another process (an outbox child, another replica)
sees a change within `TTL`.

A change is one transaction, refused here unless the person is a workspace admin or owner
(the shell asks Slack's users.info and passes the answer; a form's submission is checked again
here, not only by whether the form was offered). A leads channel typed in a command is first
only recorded as asked for (`ask_leads_channel`): the checks with Slack (can the app see that
channel; is the person an admin, when that is not known yet) run after the ack, in the outbox,
and only then is it set (`change`), or the person told why not. A change is confirmed to the
admin and logged (which keys, by whom; a playbook by its version and size, never its text),
and put on no incident's timeline: it is about the workspace, not an incident.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain import workspace_settings as ws
from playbook.domain.errors import PermissionDenied
from playbook.domain.model import Policy
from playbook.domain.playbook_file import Playbook
from playbook.services.outcomes import Origin, reply_to
from playbook.store import installations as installs_store

__all__ = ["LEADS_CHANNEL_CHECK", "TTL", "Editor", "Resolved", "SettingsService"]

log = logging.getLogger(__name__)

TTL = 5.0  # seconds a workspace's settings are trusted in a process that did not change them
LEADS_CHANNEL_CHECK = "leads_channel"  # the outbox row of `ask_leads_channel`

NOT_ADMIN = ("Only this workspace's admins and owners can change its settings. "
             "`/incident settings` shows them.")
UNKNOWN_ADMIN = ("I couldn't check with Slack whether you are a workspace admin just now, so "
                 "nothing was changed; please try again in a minute.")


@dataclass(frozen=True)
class Editor:
    """Who asks to change settings: `is_admin` from Slack (users.info `is_admin` or
    `is_owner`); None when Slack could not be asked."""

    user_id: str
    is_admin: bool | None


@dataclass(frozen=True)
class Resolved:
    """A workspace's settings in force, the overrides they came from, and its policy."""

    settings: ws.WorkspaceSettings
    stored: Mapping[str, Any]
    policy: Policy

    @property
    def playbook(self) -> Playbook:
        return self.policy.playbook


@dataclass(frozen=True)
class Changed:
    """A change saved: the fields whose value in force moved, and the confirmation."""

    fields: tuple[str, ...]
    reply: str

    @property
    def timings(self) -> bool:
        """Reminder times move: the shell plans the workspace's incidents again."""
        return any(f in ws.TIMINGS for f in self.fields)


class SettingsService:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 defaults: ws.WorkspaceSettings, base: Policy, *, ttl: float = TTL) -> None:
        self.sessions = sessions
        self.clock = clock
        self.defaults = defaults
        self.base = base
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Resolved]] = {}
        self._playbooks: dict[str, Playbook] = {}  # a workspace's text -> parsed, once
        self._default = Resolved(defaults, {}, base)

    # --- reading ------------------------------------------------------------------------------

    def get(self, team_id: str) -> Resolved:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(team_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with store.reading(self.sessions) as session:
            stored = installs_store.workspace_settings(session, team_id) if team_id else {}
        found = self._resolve(stored)
        with self._lock:
            self._cache[team_id] = (now, found)
        return found

    def settings_of(self, team_id: str) -> ws.WorkspaceSettings:
        return self.get(team_id).settings

    def policy_of(self, team_id: str) -> Policy:
        return self.get(team_id).policy

    def forget(self, team_id: str | None = None) -> None:
        with self._lock:
            if team_id is None:
                self._cache.clear()
            else:
                self._cache.pop(team_id, None)

    def _resolve(self, stored: Mapping[str, Any]) -> Resolved:
        if not stored:
            return self._default
        settings = ws.resolve(self.defaults, stored)
        playbook = self.base.playbook
        if settings.playbook_text is not None:
            playbook = self._parsed(settings.playbook_text) or playbook
        return Resolved(settings, dict(stored),
                        ws.team_policy(self.base, settings, playbook, stored))

    def _parsed(self, text: str) -> Playbook | None:
        with self._lock:
            found = self._playbooks.get(text)
        if found is None:
            try:
                found = ws.parse_playbook_text(text)
            except ws.SettingsError as err:  # checked when saved; a newer rule refuses it
                log.warning("a workspace's playbook no longer parses (%s); using the default",
                            err.message)
                return None
            with self._lock:
                self._playbooks[text] = found
        return found

    # --- changing -----------------------------------------------------------------------------

    def ask_leads_channel(self, team_id: str, editor: Editor, channel: str, *,
                          origin: Origin | None = None) -> None:
        """Record that `editor` asked for `channel` as the leads channel, to be checked and
        set after the ack (an outbox row, `LEADS_CHANNEL_CHECK`); the setting in force stays
        until then. `editor.is_admin` None: not known yet, asked then too.

        Why not at once: the check is a Slack call (conversations.info), and so may be the
        admin check (users.info), each up to a lookup timeout; the ack must not wait on them.
        """
        if editor.is_admin is False:
            raise PermissionDenied(NOT_ADMIN)
        with self.sessions.begin() as session:
            store.enqueue(session, team_id=team_id, incident_id=None, kind=LEADS_CHANNEL_CHECK,
                          payload={"channel": channel, "user": editor.user_id,
                                   "admin": editor.is_admin,
                                   "notify": reply_to(origin, editor.user_id)},
                          requested_by=editor.user_id, now=self.clock())

    def change(self, team_id: str, editor: Editor, values: Mapping[str, str | None]) -> Changed:
        """Set (text as typed) or reset (None) each key of `values`, all or none.

        A value equal to the environment's default is stored as no override, so the workspace
        follows the default again (and a later change of the environment reaches it).
        Raises `PermissionDenied` for someone who is not an admin, `SettingsError` (naming the
        key) for a value that can't be used.
        """
        if editor.is_admin is None:
            raise PermissionDenied(UNKNOWN_ADMIN)
        if not editor.is_admin:
            raise PermissionDenied(NOT_ADMIN)
        for key in values:
            if key not in ws.KEYS:
                ws.parse_command(key)  # raises SettingsError naming the known keys
        parsed = {key: ws.parse_value(key, text) for key, text in values.items()
                  if text is not None}
        now = self.clock()
        with self.sessions.begin() as session:
            stored = installs_store.workspace_settings(session, team_id, for_update=True)
            before = self._resolve(stored)
            new = dict(stored)
            for key, text in values.items():
                field = ws.KEYS[key][0]
                default = ws.to_json(field, getattr(self.defaults, field))
                if text is None or parsed[key] == default:
                    new.pop(field, None)  # reset, or the default: follow the environment
                else:
                    new[field] = parsed[key]
            after = self._resolve(new)
            fields = tuple(ws.changed_fields(before.settings, after.settings))
            if new != stored:
                installs_store.save_workspace_settings(session, team_id, new,
                                                       by=editor.user_id, now=now)
        self.forget(team_id)
        if fields:
            log.info("settings of workspace %s changed by %s: %s", team_id, editor.user_id,
                     "; ".join(_logged(f, getattr(after.settings, f), after) for f in fields))
        return Changed(fields, _confirmation(fields, after))


def _logged(field: str, value: Any, after: Resolved) -> str:
    """A change for the log: values are ids and durations; a playbook by version and size."""
    if field == "playbook_text":
        size = "default" if value is None else f"{len(value)} characters"
        return f"playbook = version {after.playbook.version} ({size})"
    shown = ws.to_json(field, value)
    return f"{ws.key_of(field)} = {shown}"


def _confirmation(fields: tuple[str, ...], after: Resolved) -> str:
    if not fields:
        return "Nothing changed: those are already the settings in force."
    lines = ["Saved. This workspace's settings now say:"]
    for field in fields:
        what = ws.KEYS[ws.key_of(field)][1]
        default = "" if field in after.stored else " (the default)"
        lines.append(f"• {what}: "
                     f"{ws.fmt_value(field, getattr(after.settings, field), after.playbook.name)}"
                     f"{default}")
    return "\n".join(lines)
