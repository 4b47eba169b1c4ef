"""Messages added to an incident with the "Add to incident…" message shortcut.

The words a customer wrote in a Slack Connect channel are the best record of what they said:
the shortcut keeps them verbatim with their author, time and permalink, and files them as the
customer's words (listen), an update we gave, a promise (with its due time) or a timeline
note. Recording goes through the same verbs as typing (`playbook.domain.rules.run_request`), so
gates, the cadence clock and reminders behave exactly as for `/incident listen|update|promise`.

Slack's message text is markup (``<@U123>``, ``<!here>``, ``&lt;``): it is neutralised to the
plain text a reader saw (`neutralise`) before it is stored, and escaped whenever it is posted,
so re-posting a captured message can never ping a channel or mention anyone again.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from playbook.domain import rules
from playbook.domain.errors import ParseError
from playbook.domain.model import (
    Actor,
    CapturedMessage,
    CaptureKind,
    Incident,
    Outcome,
    Policy,
    RefreshCard,
    Status,
    TimelineEntry,
)
from playbook.domain.text import esc, mention, plain, truncate
from playbook.domain.verbs import Request, Written
from playbook.domain.verbs.promises import MakePromise

__all__ = [
    "KIND_LABELS",
    "TEXT_MAX",
    "MessageRef",
    "apply_capture",
    "build_permalink",
    "message_time",
    "neutralise",
    "source_line",
]

TEXT_MAX = 3000  # what a modal input can hold, and more than any card field shows
KIND_LABELS: dict[CaptureKind, str] = {
    CaptureKind.LISTEN: "The customer's own words",
    CaptureKind.UPDATE: "An update we gave the customer",
    CaptureKind.PROMISE: "A promise to the customer",
    CaptureKind.NOTE: "A note for the timeline",
}
_VERBS = {CaptureKind.LISTEN: "listen", CaptureKind.UPDATE: "update",
          CaptureKind.PROMISE: "promise"}
_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
_PERMALINK = re.compile(r"^https?://[^\s<>|]+$")


@dataclass(frozen=True)
class MessageRef:
    """The message the shortcut was used on, as the payload described it."""

    channel_id: str
    ts: str
    author: str | None
    author_name: str | None
    permalink: str


def neutralise(slack_text: str) -> str:
    """Message markup as plain text: mentions become ``@name``/``@U…``, ``<!here>`` becomes
    ``@here`` (inert text), links their label or address, entities unescaped."""
    return plain(slack_text or "").replace("\u0000", "").strip()


def message_time(ts: str) -> datetime:
    """The time a message was written, from its ts (``seconds.micro``)."""
    if not _TS.match(ts or ""):
        raise ParseError("That message has no valid timestamp; try the shortcut again.")
    return datetime.fromtimestamp(float(ts), UTC)


def build_permalink(domain: str | None, channel_id: str, ts: str) -> str:
    """A message's address built from its ts, for when chat.getPermalink can't be asked."""
    host = f"https://{domain}.slack.com" if domain and re.fullmatch(r"[a-z0-9-]+", domain) \
        else "https://slack.com"
    return f"{host}/archives/{channel_id}/p{ts.replace('.', '')}"


def source_line(c: CapturedMessage) -> str:
    """``from <author>'s message <link>`` in mrkdwn: the author's name is shown as text (a
    mention would notify a customer), the link only when it is a plain web address."""
    who = esc(c.author_name) if c.author_name else "a message"
    label = f"{who}'s message" if c.author_name else "the message"
    if _PERMALINK.match(c.permalink):
        return f"<{c.permalink}|{label}>"
    return label


def apply_capture(inc: Incident, actor: Actor, kind: CaptureKind, text: str, ref: MessageRef,
                  *, due: datetime | None, now: datetime, policy: Policy) -> Outcome:
    """File a message on the incident as `kind`; returns the outcome to save.

    `text` is the neutralised text the person kept (they may have trimmed it). A promise needs
    `due`; everything the verbs refuse (a past due time, a closed incident) is refused here too.
    """
    words = " ".join(text.split()) if kind is not CaptureKind.LISTEN else text.strip()
    if not words:
        raise ParseError("There is no text to add: keep at least a few words of the message.")
    if len(words) > TEXT_MAX:
        raise ParseError(f"Keep the text under {TEXT_MAX} characters (it is {len(words)}).")
    verb = _VERBS.get(kind)
    request: Request | None = None
    if kind is CaptureKind.PROMISE:
        if due is None:
            raise ParseError("A promise needs a due time: pick when it is due.")
        request = MakePromise(words, due)
    elif verb is not None:
        request = Written(verb, words)
    if request is not None:
        outcome = rules.run_request(inc, request, actor, now=now, policy=policy)
    else:
        if inc.status is Status.CLOSED:
            raise ParseError(f"{inc.key} is closed; reopen it first to add messages.")
        outcome = Outcome(copy.deepcopy(inc), "Added the message to the timeline.",
                          [], [RefreshCard()])
    work = outcome.incident
    work.last_activity_at = now  # a person acted: stale nudges count from here
    captured = CapturedMessage(
        number=len(work.captures) + 1, kind=kind, text=words, author=ref.author,
        author_name=ref.author_name, channel_id=ref.channel_id, message_ts=ref.ts,
        permalink=ref.permalink, by=actor.user_id, at=now, written_at=message_time(ref.ts))
    work.captures.append(captured)
    said = f"“{esc(truncate(words, 500))}”"
    line = {
        CaptureKind.LISTEN: "added the customer's words from",
        CaptureKind.UPDATE: "logged an update to the customer from",
        CaptureKind.PROMISE: "logged a promise to the customer from",
        CaptureKind.NOTE: "added a note from",
    }[kind]
    # the verb's own line is replaced by one that says where the words came from
    outcome.timeline = [TimelineEntry(
        now, "capture", f"📎 {mention(actor.user_id)} {line} {source_line(captured)}: {said}",
        actor.user_id), *(e for e in outcome.timeline if e.kind != verb)]
    reply = outcome.reply if verb is not None else "Added the message to the timeline."
    outcome.reply = f"{reply} (from {source_line(captured)})"
    return outcome
