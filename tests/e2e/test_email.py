"""The customer hears from one voice by email, and their replies come back.

A real SMTP server (aiosmtpd) runs in-process beside the real bot and its local Slack: `send`
emails the customer, later emails join the same thread, `update` and notes never leave, a 5xx
is reported to the sender and not counted, a 4xx is retried and then delivered once. Replies
come back signed at POST /email/inbound (or through `crisisbot email receive`) and land in the
incident channel as the customer's words, escaped, once.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from bot.local.sandbox import ALICE, BOB, LocalBot, free_port
from playbook.domain.model import EmailStatus

SECRET = "inbound-secret-0123456789abcdef"
FROM = "Acme Support <support@acme.example>"
CUSTOMER = "it@hotel.example"


class Mailbox:
    """An SMTP server's handler: keeps what it accepted; `answers` are forced replies to DATA
    (e.g. "451 …", "550 …"), used up in order before it accepts again."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.answers: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.answers:
            return self.answers.pop(0)
        msg = message_from_bytes(envelope.original_content or envelope.content,
                                 policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def mailing(mailbox: tuple[Mailbox, int]) -> Iterator[tuple[LocalBot, Mailbox]]:
    box, port = mailbox
    with LocalBot(settings={"smtp_url": f"smtp://127.0.0.1:{port}", "email_from": FROM,
                            "inbound_secret": SECRET}) as bot:
        yield bot, box
        assert bot.slack.violations == []


def opened(bot: LocalBot) -> str:
    bot.command("open sev2 Acme Hotels: all lobby screens show a setup error")
    channel = bot.incident_channel()
    bot.command("own", channel=channel)
    reply = bot.command(f"customer-email <mailto:{CUSTOMER}|{CUSTOMER}>", channel=channel)
    assert CUSTOMER in reply.body["text"]
    return channel


def body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def incident(bot: LocalBot):  # type: ignore[no-untyped-def]
    assert bot.runtime is not None
    return bot.runtime.service.get(bot.slack.team_id, 1)


def test_send_emails_the_customer_in_one_thread_and_nothing_else_leaves(
        mailing: tuple[LocalBot, Mailbox]) -> None:
    bot, box = mailing
    channel = opened(bot)
    reply = bot.command("send We found the cause: screens are back by 3pm.", channel=channel)
    assert "Emailing" in reply.body["text"]
    assert len(box.received) == 1
    to, first = box.received[0]
    assert to == [CUSTOMER]
    assert first["Subject"] == "[INC-1] Acme Hotels: all lobby screens show a setup error"
    assert first["From"] == FROM and CUSTOMER in first["To"]
    text = body(first)
    assert "We found the cause: screens are back by 3pm." in text
    assert "alice" in text and ALICE not in text, "the footer names the person, not an id"
    html = first.get_body(preferencelist=("html",))
    assert html is not None and "screens are back" in str(html.get_content())
    assert len(incident(bot).updates) == 1, "accepted by the server: counts as an update"

    bot.command("update told their CTO on the phone", channel=channel)
    bot.command("note internal: the vendor's firmware is to blame", channel=channel)
    bot.command("promise written root cause in 2h", channel=channel)
    assert len(box.received) == 1, "only send leaves by email"

    bot.command("send Screens are back &amp; &lt;b&gt;working&lt;/b&gt;", channel=channel)
    assert len(box.received) == 2
    second = box.received[1][1]
    assert second["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in second["References"]
    assert second["Subject"] == first["Subject"]
    assert "Screens are back & <b>working</b>" in body(second), "the text as it was typed"
    html_two = second.get_body(preferencelist=("html",))
    assert html_two is not None and "&lt;b&gt;working" in str(html_two.get_content())
    lines = "\n".join(bot.lines(channel))
    assert "reached the mail server" in lines


def test_a_5xx_is_reported_to_the_sender_and_not_counted(
        mailing: tuple[LocalBot, Mailbox]) -> None:
    bot, box = mailing
    channel = opened(bot)
    box.answers = ["550 5.1.1 <it@hotel.example>: mailbox unavailable"]
    bot.command("send Update: still working on it.", channel=channel)
    bot.drain()
    assert box.received == []
    inc = incident(bot)
    assert inc.updates == [] and inc.emails[0].status is EmailStatus.FAILED
    told = [m.text for m in bot.slack.dms(ALICE)]
    assert any("550 5.1.1" in t and "mailbox unavailable" in t for t in told), told
    assert any("not delivered" in line for line in bot.lines(channel))


def test_a_4xx_is_retried_then_delivered_once(mailing: tuple[LocalBot, Mailbox]) -> None:
    bot, box = mailing
    channel = opened(bot)
    box.answers = ["451 4.3.0 try again later", "421 4.7.0 busy"]
    bot.command("send Update: still working on it.", channel=channel)
    bot.drain()
    assert len(box.received) == 1
    inc = incident(bot)
    assert len(inc.updates) == 1 and inc.emails[0].status is EmailStatus.SENT
    assert not any("not delivered" in m.text for m in bot.slack.dms(ALICE))


def test_send_with_addresses_but_no_smtp_says_what_to_set() -> None:
    with LocalBot() as bot:
        channel = opened(bot)
        reply = bot.command("send hello", channel=channel)
        assert "CRISISBOT_SMTP_URL" in reply.body["text"]
        assert incident(bot).emails == []


def test_only_owner_communicator_or_lead_sets_addresses(
        mailing: tuple[LocalBot, Mailbox]) -> None:
    bot, _ = mailing
    channel = opened(bot)
    reply = bot.command("customer-email evil@attacker.example", user=BOB, channel=channel)
    assert "Only" in reply.body["text"]
    assert incident(bot).customer_emails == [CUSTOMER]
    refused = bot.command("customer-email it@hotel", channel=channel)
    assert "domain" in refused.body["text"] and "it@hotel" in refused.body["text"]
    card = bot.card(channel)
    assert CUSTOMER in str(card.blocks)


# --- replies -----------------------------------------------------------------------------------

def customer_reply(in_reply_to: str | None, subject: str = "Re: [INC-1] Acme Hotels: screens",
                   sender: str = CUSTOMER, message_id: str = "<reply-1@hotel.example>",
                   text: str = "Still dark in the lobby <!channel> @here, call me.") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Jo Manager <{sender}>"
    msg["To"] = FROM
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(f"{text}\n\nOn Tue, 3 Mar 2026 at 10:00, Acme Support "
                    "<support@acme.example> wrote:\n> We found the cause\n\n-- \nJo\n")
    msg.add_attachment(b"x" * 3000, maintype="image", subtype="png", filename="lobby.png")
    return msg.as_bytes()


def post(bot: LocalBot, raw: bytes, *, signature: str | None = None,
         content_type: str = "message/rfc822") -> int:
    sig = signature if signature is not None else \
        "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{bot.url}/email/inbound", data=raw, method="POST",
                                 headers={"Content-Type": content_type,
                                          "X-Crisisbot-Signature": sig})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def sent_first(bot: LocalBot, box: Mailbox) -> tuple[str, str]:
    channel = opened(bot)
    bot.command("send We are on it.", channel=channel)
    return channel, str(box.received[0][1]["Message-ID"])


def test_a_signed_reply_lands_once_as_the_customers_words_with_no_ping(
        mailing: tuple[LocalBot, Mailbox]) -> None:
    bot, box = mailing
    channel, first_id = sent_first(bot, box)
    raw = customer_reply(first_id)
    assert post(bot, raw) == 200
    bot.settle()
    assert post(bot, raw) == 200, "delivered twice: accepted, recorded once"
    bot.settle()
    card = bot.card(channel).ts
    posted = [m for m in bot.slack.messages(channel) if m.ts != card and (
        "Still dark in the lobby" in m.text or "Still dark in the lobby" in str(m.blocks))]
    assert len(posted) == 1
    raw_text = posted[0].text + str(posted[0].blocks)
    assert "<!channel>" not in raw_text and "&lt;!channel&gt;" in raw_text
    assert "We found the cause" not in raw_text, "quoted history stripped"
    assert "lobby.png" in raw_text
    inc = incident(bot)
    assert inc.customer_words == ["Still dark in the lobby <!channel> @here, call me."]
    assert len(inc.email_replies) == 1 and inc.email_replies[0].sender == CUSTOMER


def test_forged_unmatched_and_oversized_replies_record_nothing(
        mailing: tuple[LocalBot, Mailbox]) -> None:
    bot, box = mailing
    _, first_id = sent_first(bot, box)
    raw = customer_reply(first_id)
    assert post(bot, raw, signature="sha256=" + "0" * 64) == 401
    assert post(bot, raw, signature="") == 401
    stranger = customer_reply(None, subject="Re: [INC-1] screens", sender="x@other.example")
    assert post(bot, stranger) == 404
    assert post(bot, customer_reply(None, subject="hello")) == 404
    assert post(bot, raw, content_type="text/plain") == 415
    assert incident(bot).email_replies == []
    by_tag = customer_reply(None, subject="Re: [INC-1] screens", message_id="<tag@hotel>")
    assert post(bot, by_tag) == 200, "the [INC-n] tag from a customer address matches"
    assert len(incident(bot).email_replies) == 1


def test_the_inbound_endpoint_is_404_without_a_secret() -> None:
    with LocalBot() as bot:
        assert post(bot, customer_reply(None)) == 404


def test_email_receive_records_from_stdin(mailing: tuple[LocalBot, Mailbox],
                                          tmp_path: Path) -> None:
    bot, box = mailing
    channel, first_id = sent_first(bot, box)
    env = {"DATABASE_URL": bot.database_url, "PATH": str(Path(sys.executable).parent),
           "CRISISBOT_INBOUND_SECRET": SECRET}

    def receive(raw: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "bot", "email", "receive"], input=raw,
                              capture_output=True, cwd=tmp_path, env=env, timeout=60,
                              check=False)

    done = receive(customer_reply(first_id, message_id="<pipe-1@hotel.example>"))
    assert done.returncode == 0, done.stderr
    missed = receive(customer_reply(None, subject="no tag here", message_id="<pipe-2@x>"))
    assert missed.returncode == 1 and b"no incident matches" in missed.stderr
    assert len(missed.stderr.decode().strip().splitlines()) == 1
    bot.runtime.wake_outbox()  # type: ignore[union-attr]
    bot.settle()
    assert any("Still dark in the lobby" in line for line in bot.lines(channel))
    assert len(incident(bot).email_replies) == 1


def test_summary_and_report_show_emails_and_replies(mailing: tuple[LocalBot, Mailbox],
                                                   tmp_path: Path) -> None:
    from bot.cli.report import report

    bot, box = mailing
    channel, first_id = sent_first(bot, box)
    assert post(bot, customer_reply(first_id)) == 200
    bot.settle()
    assert bot.runtime is not None
    out = tmp_path / "inc-1.md"
    assert report(bot.runtime.settings, "INC-1", fmt="md", out=str(out), team=None) == 0
    text = out.read_text()
    assert "reached the mail server" in text
    assert "replied by email" in text and "Still dark in the lobby" in text
    bot.command("summary", channel=channel)
    summary = "\n".join(bot.lines(bot.leads.id) + bot.lines(channel))
    assert "replied by email" in summary


def test_the_open_form_takes_the_customers_addresses(mailing: tuple[LocalBot, Mailbox]) -> None:
    bot, box = mailing
    bot.command("open")
    view = bot.slack.open_views(ALICE)[-1]
    fields = {"customer": "Globex", "what": "checkout is down", "severity": "sev1"}
    reply = bot.submit(view["id"], {**fields, "emails": "ops@globex, cto@globex.example"})
    assert reply.body["response_action"] == "errors" and "emails" in reply.body["errors"]
    reply = bot.submit(view["id"], {**fields, "emails": "ops@globex.example, cto@globex.example"})
    assert reply.ok and not reply.body, reply.body
    inc = incident(bot)
    assert inc.customer_emails == ["ops@globex.example", "cto@globex.example"]
    channel = bot.incident_channel()
    assert "ops@globex.example" in str(bot.card(channel).blocks)
    bot.command("own", channel=channel)
    bot.command("send We are looking at checkout now.", channel=channel)
    assert box.received[0][0] == ["ops@globex.example", "cto@globex.example"]
