"""Links to tickets, CRM records and documents: `/incident link <url> [label]`.

Slack sends a pasted address as ``<https://…>`` (or ``<https://…|label>`` when the person gave
it text) with ``& < >`` as entities (the manifest sets `should_escape`), and a modal's URL field
sends it as typed. Both come here. Only http and https addresses with a host are kept: the link
is posted back as ``<url|label>`` markup and added as a channel bookmark, so anything else
(``javascript:``, ``mailto:``, a mention or a channel token) is refused with what to type. The
verb itself is `playbook.domain.verbs.links`; the open form links a ticket through `add_link` too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.model import Actor, AddBookmark, Incident, Link, TimelineEntry
from playbook.domain.text import esc, mention, plain, truncate

__all__ = [
    "KIND_NAMES",
    "LABEL_MAX",
    "URL_MAX",
    "add_link",
    "default_label",
    "guess_kind",
    "link_markup",
    "parse_link",
    "parse_url",
]

URL_MAX = 2000
LABEL_MAX = 80
USAGE = ("`/incident link https://… [label]`, e.g. "
         "`/incident link https://help.example.com/t/42 ticket 42`")

_TOKEN = re.compile(r"^<([^<>]*)>")
_BAD_CHARS = re.compile(r"[\s<>|\"`\x00-\x1f\x7f]")

# Hosts whose links are tickets, CRM records or documents: only used to label links.
_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ticket", ("zendesk", "freshdesk", "atlassian.net", "jira", "servicenow", "linear.app",
                "intercom", "helpscout", "github.com", "gitlab")),
    ("crm", ("salesforce", "force.com", "hubspot", "pipedrive", "dynamics.com", "zoho")),
    ("doc", ("docs.google", "drive.google", "notion.", "confluence", "sharepoint", "dropbox",
             "quip", "coda.io")),
)


# RFC 3986, appendix B: the one regular expression that splits any URI reference.
_URI = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$")


@dataclass(frozen=True)
class _Parts:
    scheme: str
    hostname: str | None
    path: str
    bad_port: str | None = None  # why the port is not a number from 0 to 65535


def _split(url: str) -> _Parts:
    """Scheme, host (lowercased), port and path of an address.

    Written here rather than taken from urllib so the pure core imports nothing that does I/O;
    it reads addresses the way `urllib.parse.urlsplit` does for the http(s) links we accept.
    """
    match = _URI.match(url)
    scheme, authority, path = (match.group(1) or "", match.group(2), match.group(3)) \
        if match else ("", None, url)
    if authority is None:
        return _Parts(scheme, None, path)
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = hostport.partition(":")
    bad_port = None
    if port_text and not (port_text.isascii() and port_text.isdigit()):
        bad_port = f"Port could not be cast to integer value as {port_text!r}"
    elif port_text and int(port_text) > 65535:
        bad_port = "Port out of range 0-65535"
    return _Parts(scheme, host.lower() or None, path, bad_port)


KIND_NAMES = {"ticket": "ticket", "crm": "CRM record", "doc": "document", "link": "link"}


def guess_kind(url: str) -> str:
    """``ticket``, ``crm``, ``doc`` or ``link``, from the address's host."""
    host = (_split(url).hostname or "").lower()
    for kind, needles in _KINDS:
        if any(n in host for n in needles):
            return kind
    return "link"


def parse_url(raw: str) -> str:
    """One address as a person gave it (typed in a modal, or unescaped from Slack): checked."""
    url = raw.strip()
    if not url:
        raise ParseError(f"Add the address: {USAGE}.")
    if len(url) > URL_MAX:
        raise ParseError(f"That address is {len(url)} characters; links can have at most "
                         f"{URL_MAX}.")
    if _BAD_CHARS.search(url):
        raise ParseError("An address can't contain spaces, quotes or `&lt; &gt; |`: paste just "
                         f"the link. {USAGE}.")
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = esc(truncate(url, 60))
        raise ParseError(f"Only web links (http:// or https://) can be added, not `{shown}`. "
                         f"{USAGE}.")
    if parts.bad_port:
        raise ParseError(f"That address is not valid ({esc(parts.bad_port)}). {USAGE}.")
    host = parts.hostname
    if not host or ("." not in host.strip(".") and host != "localhost"):
        raise ParseError(f"That address has no host name. {USAGE}.")
    return url


def parse_link(arg: str) -> tuple[str, str | None]:
    """`/incident link` text as Slack sends it: ``(url, label or None)``.

    Accepts ``<https://…>``, ``<https://…|label>`` (the label Slack attached) and a bare
    address, each optionally followed by a label (which wins over Slack's).
    """
    text = arg.strip()
    if not text:
        raise ParseError(f"Add the address: {USAGE}.")
    token = _TOKEN.match(text)
    if token is not None:
        inner, rest = token.group(1), text[token.end():]
        if inner.startswith(("@", "#", "!")):
            raise ParseError(f"That is a mention or a channel, not a web link. {USAGE}.")
        target, _, slack_label = inner.partition("|")
        url = parse_url(target.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        typed = plain(rest).strip()
        label = typed or plain(slack_label).strip() or None
    else:
        first, _, rest = text.partition(" ")
        url = parse_url(plain(first))
        label = plain(rest).strip() or None
    if label is not None:
        label = " ".join(label.split())
        if len(label) > LABEL_MAX:
            label = label[: LABEL_MAX - 1].rstrip() + "…"
    return url, label


def default_label(url: str) -> str:
    """A readable label for an address given without one: host and path, shortened."""
    parts = _split(url)
    shown = (parts.hostname or "") + (parts.path.rstrip("/") if parts.path != "/" else "")
    return shown if len(shown) <= LABEL_MAX else shown[: LABEL_MAX - 1] + "…"


def link_markup(link: Link) -> str:
    """``<url|label>`` for mrkdwn: the address was checked (no ``| < >``), the label escaped."""
    return f"<{link.url}|{esc(link.label)}>"


def add_link(inc: Incident, actor: Actor, url: str, label: str | None, now: datetime,
             ) -> tuple[Link, TimelineEntry, AddBookmark]:
    """Append a checked link to `inc` (a working copy); refuses an address already linked."""
    same = next((lk for lk in inc.links if lk.url == url), None)
    if same is not None:
        raise PlaybookError(f"That address is already linked as L{same.number} "
                            f"({esc(same.label)}).")
    number = len(inc.links) + 1
    link = Link(number, url, label or default_label(url), guess_kind(url), actor.user_id, now)
    inc.links.append(link)
    entry = TimelineEntry(now, "link", f"{mention(actor.user_id)} linked a "
                          f"{KIND_NAMES[link.kind]}: {link_markup(link)} (L{number})",
                          actor.user_id)
    return link, entry, AddBookmark(number)
