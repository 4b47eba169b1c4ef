"""`crisisbot email receive`: one customer reply on standard input, for an MTA pipe.

A mail server hands each message for the support address to this command (Postfix's
``mailbox_command``, an aliases ``|crisisbot email receive`` line, procmail, ...). The reply is
matched to its incident and recorded once, like `POST /email/inbound`; the running bot posts it
in the incident channel from its outbox. Exit 0: recorded (or already recorded); exit 1 with
one line when no incident matches or the message can't be read, so the MTA can bounce it or
keep it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import BinaryIO

from bot.config import Settings
from bot.email.inbound import MAX_BYTES, Unreadable, receive_raw
from bot.wiring import build_wiring, policy_from
from playbook.services.emails import EmailService, Received


def receive(settings: Settings, stdin: BinaryIO | None = None) -> int:
    raw = (stdin or sys.stdin.buffer).read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        print(f"crisisbot: the message is larger than {MAX_BYTES // (1024 * 1024)} MB; "
              "nothing was recorded", file=sys.stderr)
        return 1
    wiring = build_wiring(settings, policy_from(settings), lambda: datetime.now(UTC))
    try:
        receipt = receive_raw(EmailService(wiring.service), raw, datetime.now(UTC))
    except Unreadable as err:
        print(f"crisisbot: {err}; nothing was recorded", file=sys.stderr)
        return 1
    finally:
        wiring.engine.dispose()
    if receipt.status is Received.UNMATCHED:
        print("crisisbot: no incident matches this message (neither its In-Reply-To/"
              "References nor an [INC-n] subject tag from a customer address); nothing was "
              "recorded", file=sys.stderr)
        return 1
    again = " (already recorded)" if receipt.status is Received.DUPLICATE else ""
    print(f"Recorded the reply on {receipt.incident_key}{again}.", file=sys.stderr)
    return 0
