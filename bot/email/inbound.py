"""The customer's replies coming back: one raw RFC 822 message, read and recorded.

Two doors lead here: `POST /email/inbound` (`make_inbound`, signed with
``X-Crisisbot-Signature: sha256=<hex HMAC-SHA256 of the body, key CRISISBOT_INBOUND_SECRET>``)
and `crisisbot email receive` (bot/cli/email.py, a message on stdin from an MTA pipe). Both read
the message with `read_message` and hand it to `playbook.services.emails.EmailService.receive`,
which matches it to its incident and records it once per Message-ID.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from playbook.domain.mail import strip_reply
from playbook.domain.mail_events import InboundReply
from playbook.services.emails import EmailService, Receipt, Received

__all__ = [
    "MAX_BYTES",
    "Unreadable",
    "make_inbound",
    "read_message",
    "receive_raw",
    "signature_ok",
]

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # a reply with a few screenshots; anything bigger is refused
_IDS = re.compile(r"<[^<>\s]{1,250}>")


class Unreadable(ValueError):
    """Not an email we can record (no sender, say); the text says why."""


@dataclass(frozen=True)
class ReadMessage:
    reply: InboundReply
    thread: tuple[str, ...]  # the Message-IDs it answers: In-Reply-To, then References


class _Text(HTMLParser):
    """The text of an HTML-only email: tags dropped, block ends as line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in ("br", "p", "div", "li", "tr", "blockquote"):
            self.parts.append("\n")
        if tag == "blockquote":
            self.parts.append("> ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("p", "div"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _html_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    return html.unescape("".join(parser.parts))


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read what we can
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return _html_text(content) if part.get_content_subtype() == "html" else content


def _attachments(msg: EmailMessage) -> tuple[tuple[str, int], ...]:
    found = []
    for part in msg.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        found.append((str(part.get_filename() or "unnamed attachment"), size))
    return tuple(found)


def _ids(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m for v in values if v for m in _IDS.findall(str(v))))


def read_message(raw: bytes, now: datetime) -> ReadMessage:
    """The reply in `raw`, stripped of quoted history and signature; `Unreadable` if it has no
    sender. A message without a Message-ID gets one from its content, so a second delivery of
    the same bytes is still recognised."""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        sender_header = msg["From"]
        addresses = getattr(sender_header, "addresses", ()) if sender_header else ()
        sender = addresses[0].addr_spec if addresses else ""
        name = addresses[0].display_name if addresses else ""
        subject = " ".join(str(msg["Subject"] or "").split())
        own_ids = _ids([msg["Message-ID"]])
        thread = _ids([msg["In-Reply-To"], msg["References"]])
        try:
            written = parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else now
        except (TypeError, ValueError):
            written = now
        body = _body(msg)
        attachments = _attachments(msg)
    except Unreadable:
        raise
    except Exception as err:  # the parser is lenient; a header that still breaks it is junk
        raise Unreadable(f"the message could not be read ({type(err).__name__})") from None
    if not sender or "@" not in sender:
        raise Unreadable("the message has no sender address (From)")
    if written.tzinfo is None:
        written = written.replace(tzinfo=UTC)
    message_id = own_ids[0] if own_ids else \
        f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@crisisbot.invalid>"
    reply = InboundReply(sender=sender.lower(), sender_name=name or None,
                         subject=subject[:300], text=strip_reply(body),
                         message_id=message_id, written_at=written.astimezone(UTC),
                         attachments=attachments)
    return ReadMessage(reply, thread)


def receive_raw(emails: EmailService, raw: bytes, now: datetime) -> Receipt:
    """Read and record one message (`Unreadable` when it can't be read)."""
    read = read_message(raw, now)
    return emails.receive(read.reply, read.thread)


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """``sha256=<hex>`` of the body with the secret, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header[len("sha256="):].strip().lower()
                               .encode("ascii", "replace"))


Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_inbound(emails: EmailService, secret: str | None, clock: Callable[[], datetime],
                 after: Callable[[], None] = lambda: None) -> Wsgi:
    """The WSGI handler of `POST /email/inbound`: 404 while `secret` is unset, 413 past
    `MAX_BYTES`, 401 unsigned or forged, 415 not message/rfc822, 400 unreadable, 404 when no
    incident matches, 200 when recorded (or already recorded). `after` runs once a reply is
    recorded (the outbox is woken to post it)."""

    def answer(start_response: Callable[..., Any], status: str, **body: Any) -> list[bytes]:
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(data)))])
        return [data]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not secret:
            return answer(start_response, "404 Not Found", ok=False, error="not_found")
        if environ.get("REQUEST_METHOD") != "POST":
            return answer(start_response, "405 Method Not Allowed", ok=False,
                          error="method_not_allowed")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BYTES:
            return answer(start_response, "413 Content Too Large", ok=False,
                          error="too_large", limit=MAX_BYTES)
        body = environ["wsgi.input"].read(length) if length else b""
        if not signature_ok(secret, body, environ.get("HTTP_X_CRISISBOT_SIGNATURE")):
            return answer(start_response, "401 Unauthorized", ok=False, error="bad_signature")
        kind = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if kind != "message/rfc822":
            return answer(start_response, "415 Unsupported Media Type", ok=False,
                          error="expected message/rfc822")
        try:
            receipt = receive_raw(emails, body, clock())
        except Unreadable as err:
            return answer(start_response, "400 Bad Request", ok=False, error=str(err))
        log.info("inbound email %s: %s", receipt.status.value,
                 receipt.incident_key or "no incident")
        if receipt.status is Received.UNMATCHED:
            return answer(start_response, "404 Not Found", ok=False, error="no_incident",
                          detail="no incident matches this message: nothing was recorded")
        if receipt.status is Received.RECORDED:
            after()
        return answer(start_response, "200 OK", ok=True, incident=receipt.incident_key,
                      duplicate=receipt.status is Received.DUPLICATE)

    return app
