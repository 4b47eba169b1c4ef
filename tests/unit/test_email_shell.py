"""The email shell without a network: settings, redaction, the SMTP URL, reading a reply,
the signature, and the message a customer receives."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from bot.config import load_settings
from bot.email.compose import compose
from bot.email.inbound import Unreadable, read_message, signature_ok
from bot.email.smtp import SmtpConfig, parse_smtp_url
from bot.redact import configure_logging, redact, uninstall_redaction
from bot.settings_parse import ConfigError
from playbook.domain.model import CustomerEmail, Incident

NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
PASSWORD = "pa55-w0rd-zq"
SECRET = "inbound-secret-0123456789abcdef"


# --- settings -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example.com", SmtpConfig("mail.example.com", 25)),
    ("smtp://u:p%40ss@mail.example.com:587?starttls=true",
     SmtpConfig("mail.example.com", 587, starttls=True, user="u", password="p@ss")),
    ("smtps://u:p@mail.example.com", SmtpConfig("mail.example.com", 465, tls=True, user="u",
                                                password="p")),
    ("SMTP://127.0.0.1:2525", SmtpConfig("127.0.0.1", 2525)),
])
def test_smtp_urls_accepted(url: str, expected: SmtpConfig) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize("url", [
    "http://mail.example.com", "smtp://", "smtp://mail.example.com:99999",
    "smtp://mail.example.com/path", "smtp://mail.example.com?tls=1",
    "smtps://mail.example.com?starttls=true", "smtp://u@mail.example.com",
    "smtp://mail.example.com?starttls=maybe"])
def test_smtp_urls_refused(url: str) -> None:
    with pytest.raises(ValueError, match="smtp://"):
        parse_smtp_url(url)


def test_email_settings_load_and_keep_secrets_out_of_sight() -> None:
    settings = load_settings({
        "CRISISBOT_SMTP_URL": f"smtp://bot:{PASSWORD}@mail.example.com:587?starttls=true",
        "CRISISBOT_EMAIL_FROM": "Acme Support <support@acme.example>",
        "CRISISBOT_INBOUND_SECRET": SECRET})
    assert settings.email_enabled
    assert PASSWORD in settings.secrets and SECRET in settings.secrets
    shown = repr(settings)
    assert PASSWORD not in shown and SECRET not in shown
    assert "mail.example.com" in shown


@pytest.mark.parametrize(("env", "key"), [
    ({"CRISISBOT_SMTP_URL": f"smtp://u:{PASSWORD}@:bad"}, "CRISISBOT_SMTP_URL"),
    ({"CRISISBOT_SMTP_URL": "smtp://mail.example.com"}, "CRISISBOT_EMAIL_FROM"),
    ({"CRISISBOT_EMAIL_FROM": "Acme Support"}, "CRISISBOT_EMAIL_FROM"),
    ({"CRISISBOT_EMAIL_FROM": "Acme <support@acme>"}, "CRISISBOT_EMAIL_FROM"),
    ({"CRISISBOT_INBOUND_SECRET": "short"}, "CRISISBOT_INBOUND_SECRET"),
])
def test_malformed_email_settings_stop_with_one_line_naming_the_key(
        env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    text = str(caught.value)
    assert text.startswith(f"{key}:") and "\n" not in text and PASSWORD not in text


def test_smtp_password_is_redacted_from_logs() -> None:
    assert PASSWORD not in redact(f"connecting to smtp://bot:{PASSWORD}@mail.example.com:587")
    assert PASSWORD not in redact(f"login password={PASSWORD}")
    settings = load_settings({"CRISISBOT_SMTP_URL": f"smtp://bot:{PASSWORD}@m.example.com",
                              "CRISISBOT_EMAIL_FROM": "s@acme.example",
                              "CRISISBOT_INBOUND_SECRET": SECRET})
    stream = io.StringIO()
    try:
        configure_logging(settings, stream=stream)
        logging.getLogger("test").warning("auth with %s then %s", PASSWORD, SECRET)
    finally:
        uninstall_redaction()
    assert PASSWORD not in stream.getvalue() and SECRET not in stream.getvalue()


# --- the signature ------------------------------------------------------------------------------

def test_signature() -> None:
    body = b"From: a@b.example\n\nhi"
    good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signature_ok(SECRET, body, good)
    assert signature_ok(SECRET, body, good.upper().replace("SHA256=", "sha256="))
    assert not signature_ok(SECRET, body + b"!", good)
    assert not signature_ok(SECRET, body, None)
    assert not signature_ok(SECRET, body, good.removeprefix("sha256="))
    assert not signature_ok("another-secret-0123456789", body, good)
    assert not signature_ok(SECRET, body, "sha256=ü")


# --- reading a reply ----------------------------------------------------------------------------

def test_reading_a_reply_strips_history_and_lists_attachments() -> None:
    msg = EmailMessage()
    msg["From"] = "Jo Manager <IT@Hotel.example>"
    msg["Subject"] = "Re: [INC-4] Acme: screens"
    msg["Message-ID"] = "<r1@hotel.example>"
    msg["In-Reply-To"] = "<a@acme.example>"
    msg["References"] = "<z@acme.example> <a@acme.example>"
    msg["Date"] = "Tue, 03 Mar 2026 10:15:00 +0100"
    msg.set_content("Works now.\n\nOn Tue, 3 Mar 2026, Acme wrote:\n> old\n")
    msg.add_attachment(b"x" * 1500, maintype="application", subtype="pdf", filename="log.pdf")
    read = read_message(msg.as_bytes(), NOW)
    assert read.reply.sender == "it@hotel.example" and read.reply.sender_name == "Jo Manager"
    assert read.reply.text == "Works now."
    assert read.reply.attachments == (("log.pdf", 1500),)
    assert read.thread == ("<a@acme.example>", "<z@acme.example>")
    assert read.reply.written_at == datetime(2026, 3, 3, 9, 15, tzinfo=UTC)


def test_an_html_only_reply_is_read_as_text() -> None:
    msg = EmailMessage()
    msg["From"] = "it@hotel.example"
    msg["Subject"] = "[INC-4]"
    msg.set_content("<html><style>p{}</style><body><p>Fixed &amp; fine</p>"
                    "<blockquote>old</blockquote></body></html>", subtype="html")
    read = read_message(msg.as_bytes(), NOW)
    assert read.reply.text == "Fixed & fine"
    assert read.reply.message_id.startswith("<sha256-"), "no Message-ID: one from the bytes"
    assert read_message(msg.as_bytes(), NOW).reply.message_id == read.reply.message_id


def test_a_message_without_a_sender_is_unreadable() -> None:
    with pytest.raises(Unreadable, match="sender"):
        read_message(b"Subject: hi\n\nno from", NOW)


# --- what the customer receives -----------------------------------------------------------------

def test_the_composed_email_threads_and_escapes_the_html_part() -> None:
    inc = Incident("T1", 4, "Acme", "lobby screens down " * 10, "U1", NOW)
    first = CustomerEmail(1, "one", "U1", NOW, ("it@hotel.example",), True,
                          message_id="<1@acme.example>")
    second = CustomerEmail(2, "Fixed <script>x</script> & done", "U1", NOW,
                           ("it@hotel.example", "ops@hotel.example"), True,
                           message_id="<2@acme.example>")
    inc.emails = [first, second]
    msg = compose(inc, second, email_from="Acme Support <support@acme.example>",
                  author="alice", now=NOW)
    assert msg["In-Reply-To"] == "<1@acme.example>" and msg["References"] == "<1@acme.example>"
    assert msg["Subject"].startswith("[INC-4] Acme: lobby screens down") and \
        len(msg["Subject"]) < 100
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and "&lt;script&gt;" in str(html.get_content())
    text = msg.get_body(preferencelist=("plain",))
    assert text is not None and "alice · Acme Support" in str(text.get_content())
