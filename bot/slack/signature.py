"""Slack's request signature, checked strictly before anything else reads the request.

Bolt's own check (`slack_sdk.signature.SignatureVerifier`) calls ``int()`` on the timestamp
header: a timestamp such as ``abc`` raises inside Bolt's middleware chain, and Bolt hands that
exception to the app's error handler, which answers 200 and messages the user named in the
(unverified) payload. So the HTTP entry (`bot.web`) calls `check` first and answers 401 to
anything that does not parse or does not match; Bolt only ever sees signed, fresh requests.

Slack's scheme: header ``X-Slack-Request-Timestamp`` is Unix seconds; header
``X-Slack-Signature`` is ``v0=`` and the hex HMAC-SHA256, keyed by the signing secret, of
``v0:<timestamp>:<raw body>``; a request more than five minutes from now is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re

MAX_SKEW = 300  # seconds, as Slack's docs and Bolt use
# One plain run of ASCII digits (no sign, no spaces, no Unicode digits) of sane length: Slack
# sends the current Unix time. A comma (two headers joined by the server) fails too.
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)


def check(body: bytes, timestamp: str | None, signature: str | None, *, secret: str,
          now: float) -> str | None:
    """None when the request is Slack's; else why not (for the log, never for the reply).

    `now` is the current Unix time (the caller's clock: Slack's clock is real time).
    """
    if not secret:  # an empty key would accept anyone who signs with an empty key too
        return "no signing secret is configured"
    if timestamp is None or signature is None:
        return "missing signature headers"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "timestamp is not Unix seconds"
    if abs(now - int(timestamp)) > MAX_SKEW:
        return "timestamp is more than five minutes away"
    if not _SIGNATURE.fullmatch(signature):
        return "signature is not v0=<hex>"
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    if not hmac.compare_digest("v0=" + mac.hexdigest(), signature):
        return "signature does not match"
    return None
