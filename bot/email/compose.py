"""The email a customer receives for one `send`: plain text with a simple HTML twin.

From the configured sender, subject `[INC-n] <customer>: <what happened>` (the same for the
whole incident), threaded under the incident's earlier emails (`Message-ID`, `In-Reply-To`,
`References`), with a short footer naming the communicator by their display name, never a
Slack id. The text is exactly what was sent: nothing else of the incident goes in.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr

from playbook.domain import mail
from playbook.domain.model import CustomerEmail, Incident

__all__ = ["compose", "sender_address", "sender_domain"]


def sender_address(email_from: str) -> str:
    """The bare address of `CRISISBOT_EMAIL_FROM` (the SMTP envelope sender)."""
    return parseaddr(email_from)[1]


def sender_domain(email_from: str) -> str:
    return sender_address(email_from).rpartition("@")[2] or "localhost"


def _footer(name: str, sender_name: str, key: str) -> list[str]:
    team = f" · {sender_name}" if sender_name else ""
    return [f"{name}{team}", f"Re: {key}. Reply to this email to reach the team."]


def compose(inc: Incident, email: CustomerEmail, *, email_from: str, author: str,
            now: datetime) -> EmailMessage:
    """The message for email `email` of `inc`; `author` is the sender's display name."""
    assert email.message_id is not None, "a Message-ID is assigned before composing"
    msg = EmailMessage()
    msg["From"] = email_from
    msg["To"] = ", ".join(str(Address(addr_spec=a)) for a in email.recipients)
    msg["Subject"] = mail.subject(inc)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = email.message_id
    earlier = mail.thread_ids(inc, email)
    if earlier:
        msg["In-Reply-To"] = earlier[-1]
        msg["References"] = " ".join(earlier)
    sender_name = getaddresses([email_from])[0][0]
    footer = _footer(author, sender_name, inc.key)
    msg.set_content(f"{email.text}\n\n-- \n" + "\n".join(footer) + "\n")
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in email.text.split("\n\n"))
    foot = "<br>".join(html.escape(line) for line in footer)
    msg.add_alternative(
        f"<!DOCTYPE html><html><body>{paragraphs}"
        f"<p style=\"color:#666;font-size:90%\">-- <br>{foot}</p></body></html>\n",
        subtype="html")
    return msg
