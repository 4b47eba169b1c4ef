"""NOT production: a tiny SMTP server that keeps what it is sent, for `crisisbot demo`.

The demo has no mail provider, so the bot's real SMTP delivery (bot/email/smtp.py) talks to
this instead, over a real socket on 127.0.0.1, and the demo prints each email as the customer
would read it. It speaks just enough SMTP (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT) for smtplib; the tests use a full server (aiosmtpd).
"""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

__all__ = ["MailSink"]


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 mailsink ready")
        recipients: list[str] = []
        while line := self.rfile.readline(1000):
            verb = line.decode("utf-8", "replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 mailsink")
            elif verb == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.decode().partition(":")[2].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = bytearray()
                while (chunk := self.rfile.readline(100_000)) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                msg = message_from_bytes(bytes(data), policy=policy.default)
                assert isinstance(msg, EmailMessage)
                with self.server.lock:
                    self.server.received.append((recipients, msg))
                self.reply("250 OK: queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], EmailMessage]] = []


class MailSink:
    """Start with `start()`; `url` is the CRISISBOT_SMTP_URL; `received` what came in."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="mailsink")

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self._server.server_address[1]}"

    @property
    def received(self) -> list[tuple[list[str], EmailMessage]]:
        with self._server.lock:
            return list(self._server.received)

    def start(self) -> MailSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
