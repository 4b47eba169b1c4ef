"""Opens taken by the intake: under load the ack records only the raw `/incident open` and the
incident is opened a moment later (playbook/services/intake.py, bot/intake.py). What decides
that, and what the person is told at each end.

Why: every open's own work (its checks, its statements, its outbox rows) costs about a
millisecond of CPU, and a burst of them queues behind one interpreter per process. Recording
the command is a fraction of that, so under a burst each ack waits for far less; the ack still
means "recorded", because the raw command is committed before it is sent.
"""

from __future__ import annotations

from playbook.domain.text import esc, plain, truncate

__all__ = ["ECHO_MAX", "failed_reply", "quoted", "recorded_reply", "refused_reply",
           "takes_intake"]

ECHO_MAX = 35_000  # a message's text may hold 40,000 characters; the quote must fit whole


def takes_intake(in_flight: int, threshold: int) -> bool:
    """Does an open go through the intake? `in_flight`: the requests inside this process's
    app right now, this one counted; `threshold` (``CRISISBOT_INTAKE_AFTER``): from how many
    on it does, 0 for never."""
    return threshold > 0 and in_flight >= threshold


def recorded_reply(customer: str) -> str:
    """The ack of an open the intake took (`customer` as parsed, still Slack-escaped)."""
    return (f"📝 Recorded: your incident for *{esc(plain(customer))}*. Many requests are "
            "arriving at once, so I'm opening it in a moment; its number and channel follow "
            "here.")


def quoted(typed: str) -> str:
    """What the person typed (as Slack sent it), in a code block as they saw it while typing,
    escaped so nothing in it pings, mentions or links."""
    shown = truncate(esc(plain(typed)).replace("```", "`\u200b``"), ECHO_MAX)
    return f"```{shown}```"


def refused_reply(message: str, typed: str) -> str:
    """Told through the request's response_url when an open the intake took is refused while
    it is opened (`message`: the refusal, mrkdwn; `typed`: the command's text as Slack sent
    it)."""
    return (f"I couldn't open the incident you asked for a moment ago: {message}\n"
            f"Your text, so you can try again:\n{quoted(f'/incident open {typed}')}")


def failed_reply(typed: str) -> str:
    """Told when opening a recorded command kept failing on our side."""
    return ("Something went wrong on my side while opening the incident you asked for a "
            "moment ago, and it was not opened. Please try again.\n"
            f"Your text:\n{quoted(f'/incident open {typed}')}")
