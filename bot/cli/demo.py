"""`crisisbot demo`: a whole customer crisis, run through the real bot against a local Slack.

For someone without a workspace: the same app, store, outbox and scheduler as production, with
`bot.local.localslack` playing Slack. It prints what the incident channel would show, including a
missed update that the bot reminds about and escalates (time is fast-forwarded), and ends with
the summary the leads receive. Exit code 0 means every step worked and Slack would have
accepted every message. The customer gets the communicator's updates by email (a local SMTP
server stands in for the mail provider) and their reply comes back into the channel.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sys
import urllib.request
from datetime import timedelta
from email.message import EmailMessage
from typing import TextIO

from bot.local.demo_workspaces import second_act
from bot.local.mailsink import MailSink
from bot.local.sandbox import ALICE, BOB, CAROL, LocalBot, shown
from playbook.domain.text import unescape

NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol"}

# (who, what they type, what is happening, minutes that pass first)
SCRIPT: list[tuple[str, str, str, int]] = [
    (ALICE, "listen All 12 lobby screens say 'Setup WiFi'. We open to guests tonight.",
     "Alice lets the hotel's IT manager talk, and writes down his words.", 2),
    (ALICE, "driver looks bad to their brand manager", "What is really upsetting him.", 1),
    (ALICE, "cadence 30m", "He wants to hear from us every 30 minutes.", 1),
    (ALICE, "restate All 12 lobby screens show a setup error and can't be fixed on site",
     "Alice says it back in his terms…", 3),
    (ALICE, "confirm", "…and he agrees that is the problem.", 1),
    (ALICE, "own", "Alice takes ownership.", 1),
    (ALICE, "comms <@U0BOB|bob>", "Bob will be the one voice to the customer.", 1),
    (ALICE, "customer-email <mailto:it@acmehotels.example|it@acmehotels.example>",
     "The hotel's IT manager wants our updates by email.", 1),
    (ALICE, "option Power all 12 screens down tonight risk: dark lobby until morning",
     "The options, with their risks.", 4),
    (ALICE, "option Ship a firmware fix risk: may take two days", "", 1),
    (ALICE, "recommend 1 the brand problem goes away tonight", "", 1),
    (ALICE, "choose 1", "The customer picks option 1.", 2),
    (ALICE, "promise written root cause in 3h", "A promise, with a due time.", 1),
    (ALICE, "park they want a credit for the month", "Not now: parked for after the fix.", 1),
]
AFTER_LAPSE: list[tuple[str, str, str, int]] = [
    (BOB, "send Screens powered down remotely; the fix is rolling out overnight.",
     "Bob emails the customer; the clock restarts once their mail server takes it.", 0),
    (ALICE, "resolve screens powered down; fixed firmware deployed", "The fix is in.", 20),
    (BOB, "send It's fixed: your screens will boot normally in the morning.",
     "Bob tells the customer it is resolved, by email in the same thread.", 2),
    (ALICE, "kept P1", "The written root cause went out on time.", 5),
    (ALICE, "rootcause devices kept a stale setup state after the last update",
     "Follow-up: why it happened…", 10),
    (ALICE, "lesson test recovery on a real lobby setup before release", "…what we learned…", 1),
    (ALICE, "action add a remote recovery mode <@U0CAROL|carol>", "…and how we prevent it.", 1),
    (ALICE, "close", "Every step is done: Alice closes the incident.", 1),
]


def render(text: str, bot: LocalBot) -> str:
    """Slack mrkdwn as a terminal shows it: names for ids, fallbacks for date tokens."""
    def channel(match: re.Match[str]) -> str:
        chan = bot.slack.channels.get(match.group(1))
        return f"#{chan.name}" if chan else "#channel"

    text = re.sub(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>",
                  lambda m: "@" + NAMES.get(m.group(1), m.group(1)), text)
    text = re.sub(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>", channel, text)
    text = re.sub(r"<!date\^\d+\^[^|>]*\|([^>]*)>", r"\1", text)
    return unescape(text)


class Printer:
    def __init__(self, bot: LocalBot, out: TextIO) -> None:
        self.bot, self.out = bot, out
        self.seen: dict[str, int] = {}

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def channel(self, channel_id: str, label: str) -> None:
        """Print the messages posted in a channel since we last looked."""
        messages = self.bot.slack.messages(channel_id)
        for msg in messages[self.seen.get(channel_id, 0):]:
            body = render(shown(msg.text, msg.blocks), self.bot)
            first, *rest = body.splitlines() or [""]
            self.say(f"  {label} │ {first}")
            for line in rest:
                self.say(f"  {' ' * len(label)} │ {line}")
        self.seen[channel_id] = len(messages)


FROM = "Acme Support <support@acme.example>"
INBOUND_SECRET = "demo-inbound-secret-not-for-production"


def show_email(p: Printer, msg: EmailMessage) -> None:
    """An email as the customer's mail client shows it."""
    p.say("\n  The customer's inbox:")
    for header in ("From", "To", "Subject"):
        p.say(f"  ✉ {header}: {msg[header]}")
    part = msg.get_body(preferencelist=("plain",))
    for line in str(part.get_content() if part else "").strip().splitlines():
        p.say(f"  ✉ {line}")


def customer_replies(bot: LocalBot, answering: EmailMessage, text: str) -> int:
    """The customer hits Reply; their mail provider posts it to POST /email/inbound."""
    msg = EmailMessage()
    msg["From"] = "Sam Patel <it@acmehotels.example>"
    msg["To"] = FROM
    msg["Subject"] = f"Re: {answering['Subject']}"
    msg["Message-ID"] = "<reply-1@acmehotels.example>"
    msg["In-Reply-To"] = msg["References"] = str(answering["Message-ID"])
    msg.set_content(f"{text}\n\nOn Tuesday, Acme Support <support@acme.example> wrote:\n"
                    "> Screens powered down remotely\n")
    raw = msg.as_bytes()
    sig = "sha256=" + hmac.new(INBOUND_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{bot.url}/email/inbound", data=raw, method="POST",
                                     headers={"Content-Type": "message/rfc822",
                                              "X-Crisisbot-Signature": sig})
    with urllib.request.urlopen(request, timeout=10) as resp:
        status = int(resp.status)
    bot.settle()
    return status


def run_demo(out: TextIO = sys.stdout) -> int:
    logging.getLogger().setLevel(logging.WARNING)
    sink = MailSink().start()
    try:
        return _run(out, sink)
    finally:
        sink.stop()


def _run(out: TextIO, sink: MailSink) -> int:
    settings = {"smtp_url": sink.url, "email_from": FROM, "inbound_secret": INBOUND_SECRET}
    # kind Slack: the demo plays an incident's hours in seconds, far faster than Slack's tiers
    with LocalBot(settings=settings, kind=True) as bot:
        p = Printer(bot, out)
        p.say("crisisbot demo: a customer crisis, start to finish, against a local Slack.\n")
        p.say("alice types in #support: /incident open sev2 Acme Hotels: all lobby screens "
              "show a setup error")
        reply = bot.command("open sev2 Acme Hotels: all lobby screens show a setup error")
        p.say(f"  (only alice sees) {render(reply.body['text'], bot)}")
        channel = bot.incident_channel()
        name = f"#{bot.slack.channels[channel].name}"
        p.say(f"  The bot created {name}, invited alice and carol, and pinned the status card:\n")
        p.channel(channel, name)

        def play(lines: list[tuple[str, str, str, int]]) -> None:
            for user, text, note, minutes in lines:
                bot.advance(timedelta(minutes=minutes))
                p.channel(channel, name)
                if note:
                    p.say(f"\n{note}")
                p.say(f"{NAMES[user]} types: /incident {render(text, bot)}")
                answer = bot.command(text, user=user, channel=channel)
                p.say(f"  (only {NAMES[user]} sees) {render(answer.body['text'], bot)}")
                p.channel(channel, name)

        play(SCRIPT)
        p.say("\nNobody updates the customer for a while. The bot notices (time runs fast "
              "here):")
        for minutes in (25, 6, 16):
            bot.advance(timedelta(minutes=minutes))
            p.channel(channel, name)
        p.channel(bot.leads.id, "#crisis-leads")
        play(AFTER_LAPSE[:1])
        emailed = sink.received
        if not emailed:
            p.say("\nThe email did not reach the mail server.")
            return 1
        show_email(p, emailed[-1][1])
        p.say("\nThe IT manager replies from his phone; the reply comes back into the channel:")
        if customer_replies(bot, emailed[-1][1], "Thanks. Lobby is dark but at least the "
                            "error is gone. Call me before 7am?") != 200:
            p.say("\nThe reply was not recorded.")
            return 1
        p.channel(channel, name)
        play(AFTER_LAPSE[1:3])
        if len(sink.received) != 2:
            p.say("\nThe second email did not reach the mail server.")
            return 1
        show_email(p, sink.received[-1][1])
        p.say(f"  (in the same thread: In-Reply-To {sink.received[-1][1]['In-Reply-To']})")
        play(AFTER_LAPSE[3:])
        p.say("\nThe summary, as the leads channel receives it:")
        p.channel(bot.leads.id, "#crisis-leads")
        card = bot.card(channel)
        p.say("\nThe pinned card at the end:")
        for line in render(shown(card.text, card.blocks), bot).splitlines():
            p.say(f"  │ {line}")
        problems = list(bot.slack.violations)
        assert bot.runtime is not None
        inc = bot.runtime.service.get(bot.slack.team_id, 1)
    if problems:
        p.say(f"\nSlack would have refused {len(problems)} payload(s): {problems[:3]}")
        return 1
    if inc.status.value != "closed":
        p.say(f"\nThe incident did not close (status {inc.status.value}).")
        return 1
    if not second_act(p.say, render):
        return 1
    p.say("\nDone: INC-1 was opened, worked through all five steps and closed, and two "
          "workspaces ran side by side. Create the Slack app (README) to run this for real.")
    return 0
