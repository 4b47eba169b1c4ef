"""Sending one message over SMTP, and what the server's answer means for the outbox.

`CRISISBOT_SMTP_URL` is ``smtp://[user:password@]host[:port]`` (port 25 by default),
``smtps://…`` for TLS from the first byte (port 465), ``?starttls=true`` to upgrade a plain
connection (usually port 587). `send` raises `EmailDeferred` for what may heal (a 4xx, a
refused or dropped connection, a timeout: the outbox retries with backoff) and `EmailRefused`
for what will not (a 5xx: the server's own words go back to the sender in Slack).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["EmailDeferred", "EmailError", "EmailRefused", "SmtpConfig", "parse_smtp_url", "send"]

TIMEOUT = 20.0


class EmailError(OSError):
    """An email did not go out; ``str(err)`` is the server's words (or what went wrong)."""


class EmailDeferred(EmailError):
    """Worth another try later."""


class EmailRefused(EmailError):
    """Will not go out as it is."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: bool = False  # smtps://: TLS on connect
    starttls: bool = False
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show the password
        return (f"SmtpConfig(host={self.host!r}, port={self.port}, tls={self.tls}, "
                f"starttls={self.starttls}, user={self.user!r})")


def parse_smtp_url(url: str) -> SmtpConfig:
    """The URL checked; `ValueError` says what is expected (never quoting the password)."""
    expected = ("expected smtp://[user:password@]host[:port], smtps://… for TLS on connect, "
                "or ?starttls=true")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"{expected}; the value could not be read (not shown)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(expected)
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"{expected}, with no path")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"{expected}; unknown option {sorted(unknown)[0]!r}")
    starttls_text = (query.get("starttls") or ["false"])[-1].lower()
    if starttls_text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{expected}; starttls is true or false")
    starttls = starttls_text in ("true", "1", "yes")
    if starttls and scheme == "smtps":
        raise ValueError("smtps:// is already TLS; starttls=true goes with smtp://")
    if parts.username is not None and parts.password is None:
        raise ValueError(f"{expected}; a user needs a password (user:password@host)")
    return SmtpConfig(host=parts.hostname, port=port or (465 if scheme == "smtps" else 25),
                      tls=scheme == "smtps", starttls=starttls,
                      user=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None)


def _words(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def _classify(code: int, message: bytes | str) -> EmailError:
    words = _words(code, message)
    return EmailRefused(words) if 500 <= code < 600 else EmailDeferred(words)


def send(config: SmtpConfig, message: EmailMessage, *, sender: str,
         recipients: list[str]) -> tuple[str, ...]:
    """Hand `message` to the server; returns the recipients it refused while accepting the
    others. Raises `EmailDeferred` or `EmailRefused` when it took the message for nobody."""
    try:
        if config.tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=TIMEOUT,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=TIMEOUT)
        with smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.user and config.password is not None:
                smtp.login(config.user, config.password)
            refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as err:
        # every recipient refused: permanent when one of the refusals is
        code, words = max(err.recipients.values(), default=(550, b"recipients refused"),
                          key=lambda answer: answer[0])
        raise _classify(code, words) from None
    except smtplib.SMTPResponseException as err:  # sender refused, data refused, auth, ...
        raise _classify(err.smtp_code, err.smtp_error) from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as err:
        raise EmailDeferred(f"the mail server closed the connection ({err})") from None
    except ssl.SSLError as err:
        raise EmailDeferred(f"TLS with the mail server failed ({err.reason or err})") from None
    except TimeoutError:
        raise EmailDeferred("the mail server did not answer in time") from None
    except ConnectionRefusedError:
        raise EmailDeferred(f"the mail server {config.host}:{config.port} refused the "
                            "connection") from None
    except smtplib.SMTPException as err:
        raise EmailDeferred(f"the mail server could not be used ({err})") from None
    except OSError as err:
        raise EmailDeferred(f"the mail server could not be reached ({err.strerror or err})"
                            ) from None
    return tuple(sorted(refused))
