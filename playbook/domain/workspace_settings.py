"""A workspace's own settings: what its admins may change, how a change is read and checked,
and what the settings in force are (the environment's defaults under the workspace's changes).

The environment (bot/config.py) gives every workspace its defaults; a workspace's admins
override any of the keys below, and the overrides are kept as one JSON object per workspace
(`workspaces.settings`, read and written by `playbook.services.settings`). Only overrides are
stored, so a default changed in the environment reaches every workspace that did not choose
its own value, and `reset <key>` simply forgets the override.

Pure: the text of a change comes in, a JSON-ready value (or a `ParseError` in our words) goes
out; a playbook's text is checked by the very parser `crisisbot playbook check` uses, so its
one-line errors (with line and column) are the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from playbook.domain.errors import ParseError
from playbook.domain.model import Policy
from playbook.domain.parse import parse_duration
from playbook.domain.parse.common import echo
from playbook.domain.playbook_file import Playbook, PlaybookFileError, parse_playbook
from playbook.domain.text import channel_link, esc, fmt_duration, mention, unescape

__all__ = [
    "KEYS",
    "PLAYBOOK_MAX",
    "SettingsChange",
    "SettingsError",
    "WorkspaceSettings",
    "changed_fields",
    "describe",
    "fmt_value",
    "key_of",
    "parse_command",
    "parse_playbook_text",
    "parse_value",
    "resolve",
    "team_policy",
    "to_json",
]

# Slack's plain_text_input holds at most 3000 characters, and a slash command as much.
PLAYBOOK_MAX = 3000
PLAYBOOK_TOO_LONG = (
    f"A playbook longer than {PLAYBOOK_MAX} characters does not fit in Slack's text box: put "
    "it in a file, check it with `crisisbot playbook check FILE` and set `CRISISBOT_PLAYBOOK` "
    "to its path (that file is then the default for every workspace).")
MIN_REPEAT = timedelta(minutes=1)

# key typed in `/incident settings <key> …` -> (field of WorkspaceSettings, what it is)
KEYS: Mapping[str, tuple[str, str]] = {
    "leads": ("leads", "leads (people and user groups)"),
    "leads-channel": ("leads_channel", "leads channel (escalations, summaries)"),
    "responders": ("responders", "responders invited to every new incident channel"),
    "private": ("private_channels", "incident channels are private"),
    "playbook": ("playbook_text", "playbook file"),
    "nudge-before": ("nudge_before", "nudge before an update is due"),
    "escalate-after": ("escalate_after", "escalate after an update is overdue"),
    "escalate-repeat": ("escalate_repeat", "repeat the escalation every"),
    "checkins": ("checkins", "check-ins after resolution"),
    "leader-call": ("leader_call", "leader call for the top severity"),
}
_FIELD_KEY = {field: key for key, (field, _) in KEYS.items()}
TIMINGS = ("nudge_before", "escalate_after", "escalate_repeat", "checkins", "leader_call")

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_GROUP = re.compile(r"<!subteam\^(S[A-Z0-9]+)(?:\|[^<>]*)?>")
_RAW_MEMBER = re.compile(r"[UWS][A-Z0-9]{2,}")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^<>]*)?>")
_RAW_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
_NONE = ("none", "nobody", "off", "no one", "-")
_ON = ("on", "yes", "true", "private")
_OFF = ("off", "no", "false", "public")


class SettingsError(ParseError):
    """A change that was refused; `key` says which setting (a modal marks that field)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class WorkspaceSettings:
    """The settings in force for one workspace. `playbook_text` is the workspace's own
    playbook file (None: the default one, built in or `CRISISBOT_PLAYBOOK`)."""

    leads: tuple[str, ...] = ()
    leads_channel: str | None = None
    responders: tuple[str, ...] = ()
    private_channels: bool = False
    playbook_text: str | None = None
    nudge_before: timedelta = timedelta(minutes=5)
    escalate_after: timedelta = timedelta(minutes=15)
    escalate_repeat: timedelta = timedelta(minutes=30)
    checkins: tuple[timedelta, ...] = (timedelta(days=1), timedelta(days=7))
    leader_call: timedelta | None = timedelta(minutes=30)


@dataclass(frozen=True)
class SettingsChange:
    """What `/incident settings …` asks: show them (`key` None), set `key`, or reset it."""

    key: str | None = None
    text: str = ""
    reset: bool = False


def parse_command(arg: str) -> SettingsChange:
    """``""`` shows; ``<key> <value>`` sets; ``reset <key>`` forgets the workspace's value."""
    words = arg.strip().split(None, 1)
    if not words:
        return SettingsChange()
    head = words[0].casefold()
    rest = words[1].strip() if len(words) > 1 else ""
    if head == "reset":
        key = rest.casefold()
        _known(key)
        return SettingsChange(key=key, reset=True)
    _known(head)
    if not rest:
        raise SettingsError(head, f"What should `{head}` be? {_EXAMPLES[head]}")
    return SettingsChange(key=head, text=rest)


def _known(key: str) -> None:
    if key not in KEYS:
        names = ", ".join(f"`{k}`" for k in KEYS)
        raise SettingsError(key or "settings",
                            f"I don't know the setting {echo(key) if key else '(none)'}; "
                            f"the settings are {names}.")


_EXAMPLES = {
    "leads": "Like `/incident settings leads @ann @crisis-leads` (people or user groups), "
             "or `none`.",
    "leads-channel": "Like `/incident settings leads-channel #crisis-leads`, or `none`.",
    "responders": "Like `/incident settings responders @carol @support-oncall`, or `none`.",
    "private": "`on` or `off`.",
    "playbook": "Paste the playbook file's TOML (`crisisbot playbook show` prints one to start "
                "from), or set it in the App Home's Settings form.",
    "nudge-before": "A duration like `5m` or `10 min`.",
    "escalate-after": "A duration like `15m`.",
    "escalate-repeat": "A duration like `30m` (at least 1 minute).",
    "checkins": "Durations like `1d, 7d`, or `none`.",
    "leader-call": "A duration like `30m`, or `off`.",
}


def parse_value(key: str, text: str) -> Any:
    """The JSON-ready value a change of `key` stores, read from what a person typed (Slack's
    escaped command text, or a form's text); `SettingsError` when it can't be used."""
    _known(key)
    field = KEYS[key][0]
    typed = text.strip()
    try:
        if field in ("leads", "responders"):
            return list(_members(typed))
        if field == "leads_channel":
            return _channel(typed)
        if field == "private_channels":
            return _switch(typed)
        if field == "playbook_text":
            text = unescape(text).strip()
            parse_playbook_text(text)
            return text
        if field == "checkins":
            return _checkins(typed)
        if field == "leader_call":
            if typed.casefold() in _NONE:
                return None
            return _seconds(typed, MIN_REPEAT)
        return _seconds(typed, MIN_REPEAT if field == "escalate_repeat" else None)
    except SettingsError:
        raise
    except ParseError as err:
        raise SettingsError(key, f"`{key}`: {err.message} {_EXAMPLES[key]}") from None


def parse_playbook_text(text: str) -> Playbook:
    """A workspace's playbook from its text: TOML (YAML when it starts with ``---``), checked
    by `crisisbot playbook check`'s parser; its one-line error names line and column."""
    if len(text) > PLAYBOOK_MAX:
        raise SettingsError("playbook", PLAYBOOK_TOO_LONG)
    syntax = "yaml" if text.lstrip().startswith("---") else "toml"
    try:
        return parse_playbook(text, "playbook", syntax=syntax)
    except PlaybookFileError as err:
        raise SettingsError("playbook", f"That playbook does not parse: {err}") from None


def _members(typed: str) -> tuple[str, ...]:
    if typed.casefold() in _NONE:
        return ()
    found: list[str] = []
    for token in re.split(r"[\s,]+", typed):
        if not token:
            continue
        m = _USER.fullmatch(token) or _GROUP.fullmatch(token)
        if m is not None:
            member = m.group(1)
        elif _RAW_MEMBER.fullmatch(token):
            member = token
        else:
            raise ParseError(f"pick people and user groups from the autocomplete when you type "
                             f"@ (I got {echo(token)}).")
        if member not in found:
            found.append(member)
    return tuple(found)


def _channel(typed: str) -> str | None:
    if typed.casefold() in _NONE:
        return None
    m = _CHANNEL.fullmatch(typed)
    if m is not None:
        return m.group(1)
    if _RAW_CHANNEL.fullmatch(typed):
        return typed
    raise ParseError(f"pick the channel from the autocomplete when you type # "
                     f"(I got {echo(typed)}).")


def _switch(typed: str) -> bool:
    word = typed.casefold()
    if word in _ON:
        return True
    if word in _OFF:
        return False
    raise ParseError(f"I need `on` or `off` (I got {echo(typed)}).")


def _seconds(typed: str, minimum: timedelta | None) -> int:
    delta = parse_duration(typed)
    if minimum is not None and delta < minimum:
        raise ParseError(f"{echo(typed)} is too short: at least {fmt_duration(minimum)}.")
    return int(delta.total_seconds())


def _checkins(typed: str) -> list[int]:
    if typed.casefold() in _NONE:
        return []
    found = {_seconds(part, None) for part in typed.split(",") if part.strip()}
    if not found:
        raise ParseError("I need durations like `1d, 7d`, or `none`.")
    return sorted(found)


def resolve(defaults: WorkspaceSettings, stored: Mapping[str, Any]) -> WorkspaceSettings:
    """The settings in force: `stored` (a workspace's overrides, by field name) over the
    defaults. A stored value this version can't read is skipped (the default serves) rather
    than stopping the workspace's work: every value was checked when it was saved."""
    changes: dict[str, Any] = {}
    for field, value in stored.items():
        if field not in _FIELD_KEY:
            continue
        try:
            changes[field] = _from_json(field, value)
        except (TypeError, ValueError):
            continue
    return replace(defaults, **changes)


def _from_json(field: str, value: Any) -> Any:
    if field in ("leads", "responders"):
        return tuple(str(v) for v in value)
    if field == "leads_channel":
        return None if value is None else str(value)
    if field == "private_channels":
        return bool(value)
    if field == "playbook_text":
        return None if value is None else str(value)
    if field == "checkins":
        return tuple(timedelta(seconds=int(v)) for v in value)
    if field == "leader_call" and value is None:
        return None
    return timedelta(seconds=int(value))


def to_json(field: str, value: Any) -> Any:
    """A `WorkspaceSettings` field's value as stored (the inverse of `resolve`'s reading)."""
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, tuple):
        return [to_json(field, v) for v in value]
    return value


def team_policy(base: Policy, settings: WorkspaceSettings, playbook: Playbook,
                stored: Mapping[str, Any]) -> Policy:
    """The policy a workspace's incidents run under: `base` (the environment's) with the
    workspace's timings and playbook. Whether escalations have a leads channel follows the
    base unless the workspace chose its own channel (or none)."""
    has_channel = base.has_leads_channel if "leads_channel" not in stored \
        else settings.leads_channel is not None
    return replace(base, nudge_before=settings.nudge_before,
                   escalate_after=settings.escalate_after,
                   escalate_repeat=settings.escalate_repeat, checkins=settings.checkins,
                   leader_call=settings.leader_call, playbook=playbook,
                   has_leads_channel=has_channel)


def fmt_value(field: str, value: Any, playbook_name: str | None = None) -> str:
    """A setting's value for people to read (mrkdwn; typed text escaped)."""
    if field in ("leads", "responders"):
        if not value:
            return "nobody"
        return ", ".join(f"<!subteam^{m}>" if m.startswith("S") else mention(m) for m in value)
    if field == "leads_channel":
        return channel_link(value) if value else "none"
    if field == "private_channels":
        return "on" if value else "off"
    if field == "playbook_text":
        if value is None:
            return f"the default ({esc(playbook_name)})" if playbook_name else "the default"
        return f"this workspace's own ({esc(playbook_name or '')}, {len(value)} characters)"
    if field == "checkins":
        return ", ".join(fmt_duration(v) for v in value) if value else "none"
    if value is None:
        return "off"
    return fmt_duration(value)


def describe(settings: WorkspaceSettings, stored: Mapping[str, Any], *, can_edit: bool,
             playbook_name: str | None = None) -> str:
    """`/incident settings`: every setting, whether the workspace chose it, who may change."""
    lines = ["*This workspace's settings*"]
    for key, (field, what) in KEYS.items():
        mark = "" if field in stored else " _(default)_"
        shown = fmt_value(field, getattr(settings, field), playbook_name)
        lines.append(f"• `{key}` {what}: {shown}{mark}")
    if can_edit:
        lines.append("You are an admin of this workspace, so you may change them: "
                     "`/incident settings <key> <value>` (e.g. `/incident settings "
                     "leads-channel #crisis-leads`), `/incident settings reset <key>`, or the "
                     "Settings button on the app's Home tab.")
    else:
        lines.append("Workspace admins and owners may change them; ask one of them.")
    return "\n".join(lines)


def changed_fields(before: WorkspaceSettings, after: WorkspaceSettings) -> list[str]:
    """The fields whose value in force differs (what a confirmation and the log name)."""
    return [field for field, _ in KEYS.values() if getattr(before, field) != getattr(after, field)]


def key_of(field: str) -> str:
    return _FIELD_KEY[field]
