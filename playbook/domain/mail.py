"""Email to and from the customer, the pure part: addresses, subjects, threading, replies.

`/incident customer-email` reads addresses here (`parse_addresses`: strict enough that a typo
is caught before a mail server bounces it, sane enough that real addresses pass); the outbox
(bot/outbox/email.py) takes the subject and the thread headers from here; an inbound reply
(bot/email/inbound.py parses the raw message) is matched to its incident by `incident_tag` and
cut down to what the customer wrote by `strip_reply`. Nothing here reads a clock, a socket or
a file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from playbook.domain.errors import ParseError
from playbook.domain.model import CustomerEmail, EmailStatus, Incident
from playbook.domain.text import esc, plain

__all__ = [
    "MAX_ADDRESSES",
    "REPLY_MAX",
    "check_address",
    "incident_tag",
    "parse_addresses",
    "strip_reply",
    "subject",
    "thread_ids",
]

MAX_ADDRESSES = 10
REPLY_MAX = 3000  # characters of a reply kept (Slack's section text limit)
USAGE = "`/incident customer-email name@example.com[, other@example.com]` (or `none`)"

# RFC 5321/5322 dot-atom local part (no quoted strings, no comments): what people really use.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TLD = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")
# Slack links what looks like an address: <mailto:a@b.example|a@b.example>
_MAILTO = re.compile(r"<mailto:([^|<>]*)(?:\|[^<>]*)?>")
_TAG = re.compile(r"\[INC-(\d{1,9})\]", re.IGNORECASE)


def check_address(raw: str) -> str:
    """One address, checked; the refusal says what is wrong with it (quoting it, escaped)."""
    address = raw.strip().strip("<>").strip()
    shown = esc(address[:80]) or "nothing"
    if address.lower().startswith("mailto:"):
        address = address[len("mailto:"):]
    if not address:
        raise ParseError(f"An address is empty. {USAGE}")
    if any(ch.isspace() for ch in address):
        raise ParseError(f"`{shown}` has a space in it. {USAGE}")
    if address.count("@") != 1:
        why = "has no `@`" if "@" not in address else "has more than one `@`"
        raise ParseError(f"`{shown}` {why}: an address looks like name@example.com.")
    local, _, domain = address.partition("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        raise ParseError(f"The part before the `@` of `{shown}` is not valid (letters, digits "
                         "and . _ + - are fine; no leading, trailing or double dots).")
    labels = domain.rstrip(".").split(".") if domain else []
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) \
            or not _TLD.match(labels[-1]):
        raise ParseError(f"The domain of `{shown}` is not valid: it should look like "
                         "example.com.")
    if len(address) > 254:
        raise ParseError(f"`{shown}` is longer than an address can be (254 characters).")
    return f"{local}@{domain.rstrip('.').lower()}"


def parse_addresses(arg: str) -> list[str]:
    """`/incident customer-email` text as Slack sends it: the addresses, checked, in order,
    without duplicates (compared without case). Commas, semicolons or spaces separate them."""
    if re.search(r"<[@#!]", arg):
        raise ParseError(f"That is a mention or a channel, not an email address. {USAGE}")
    text = plain(_MAILTO.sub(lambda m: m.group(1), arg))
    parts = [p for p in re.split(r"[,;\s]+", text) if p.strip()]
    if not parts:
        raise ParseError(f"Give the customer's email address: {USAGE}")
    found: dict[str, str] = {}
    for part in parts:
        address = check_address(part)
        found.setdefault(address.lower(), address)
    if len(found) > MAX_ADDRESSES:
        raise ParseError(f"That is {len(found)} addresses; an incident can email at most "
                         f"{MAX_ADDRESSES}.")
    return list(found.values())


def subject(inc: Incident, limit: int = 70) -> str:
    """`[INC-n] <customer>: <what happened, short>`: the same for every email of the incident,
    so mail clients keep them in one conversation."""
    what = " ".join(inc.description.split())
    if len(what) > limit:
        what = what[: limit - 1].rstrip() + "…"
    customer = " ".join(inc.customer.split())
    return f"[{inc.key}] {customer}: {what}"


def thread_ids(inc: Incident, email: CustomerEmail) -> list[str]:
    """The Message-IDs of the incident's earlier emails (sent, or at least assigned), oldest
    first: `References`, and the last one `In-Reply-To`, so every email joins one thread."""
    return [e.message_id for e in inc.emails
            if e.number < email.number and e.message_id and e.status is not EmailStatus.FAILED]


def incident_tag(subject_line: str) -> int | None:
    """The incident number of the `[INC-n]` tag in a subject (Re:/Fwd: prefixes and all)."""
    match = _TAG.search(subject_line or "")
    return int(match.group(1)) if match else None


# --- the customer's reply without the quoted history and the signature --------------------------

# "On Tue, 3 Mar 2026 at 10:00, Acme Support <support@acme.example> wrote:" (and the same in
# a few languages; mail clients wrap it over two lines, so it is matched on the joined text).
_ATTRIBUTION = re.compile(
    r"^(?:On|Le|Am|El|Il|Op)\s.{0,300}?(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef)"
    r"\s*:\s*$", re.IGNORECASE | re.DOTALL)
_HISTORY_STARTS = (
    re.compile(r"^-{2,}\s*(?:Original Message|Forwarded message|Message d'origine)\s*-{2,}",
               re.IGNORECASE),
    re.compile(r"^_{10,}\s*$"),  # Outlook's rule above the quoted header block
    re.compile(r"^From:\s.+", re.IGNORECASE),  # Outlook's header block (with Sent:/Date:)
)
_SIGNATURE_STARTS = (
    re.compile(r"^--\s*$"),  # the RFC 3676 delimiter "-- " (and the common "--")
    re.compile(r"^(?:Sent from my|Get Outlook for|Envoyé de mon)\b", re.IGNORECASE),
)


def _history_start(lines: Sequence[str], n: int) -> bool:
    line = lines[n].strip()
    if any(p.match(line) for p in _HISTORY_STARTS[:2]):
        return True
    if _HISTORY_STARTS[2].match(line):
        following = " ".join(lines[n + 1:n + 4]).lower()
        return any(k in following for k in ("sent:", "date:", "to:", "subject:"))
    for width in (1, 2, 3):  # an attribution line, wrapped over up to three lines
        joined = " ".join(s.strip() for s in lines[n:n + width])
        if _ATTRIBUTION.match(joined):
            rest = [s for s in lines[n + width:] if s.strip()]
            return not rest or rest[0].lstrip().startswith(">")
    return False


def strip_reply(body: str, limit: int = REPLY_MAX) -> str:
    """What the customer wrote: quoted history (`>` lines, "On … wrote:", an Outlook header
    block, "Original Message") and the signature ("-- ", "Sent from my …") cut off, blank runs
    squeezed, at most `limit` characters. Plain text, never markup."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for n, line in enumerate(lines):
        if _history_start(lines, n) or any(p.match(line.rstrip()) for p in _SIGNATURE_STARTS):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text
