"""Golden tables and properties for playbook.domain.parse: every accepted and refused input form.

Inputs are written as Slack sends them with ``should_escape: true`` (mentions as ``<@U1|name>``,
``&`` as ``&amp;``). Refusals are checked for the hint they give, not their whole wording.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.domain.errors import ParseError
from playbook.domain.parse import (
    MAX_DURATION,
    normalize_customer,
    parse_channel,
    parse_due,
    parse_duration,
    parse_numbered,
    parse_open,
    parse_option,
    parse_ref,
    parse_user,
    split_incident_key,
    split_trailing_user,
    split_when,
)

FAST = settings(max_examples=200, deadline=None)

# Monday 2026-11-23 13:00 UTC: 08:00 in New York (EST), 22:00 in Tokyo, 14:00 in Paris.
NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
NY = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def refused(func, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    """Call `func`, expect a plain ParseError, and return its message."""
    with pytest.raises(ParseError) as info:
        func(*args, **kwargs)
    assert type(info.value) is ParseError
    message = str(info.value)
    assert "<" not in message and ">" not in message, message  # our own forms are escaped too
    return message


# --- parse_duration ---------------------------------------------------------------------------

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", 30 * M),
        ("30 m", 30 * M),
        ("30min", 30 * M),
        ("30 min", 30 * M),
        ("30 min.", 30 * M),
        ("30 mins", 30 * M),
        ("30 minutes", 30 * M),
        ("1 minute", M),
        ("1h", H),
        ("1 hr", H),
        ("2 hrs", 2 * H),
        ("1 hour", H),
        ("2 hours", 2 * H),
        ("1h30m", 90 * M),
        ("1h 30m", 90 * M),
        ("1 h 30 m", 90 * M),
        ("1 hour 30 minutes", 90 * M),
        ("1 hour, 30 minutes", 90 * M),
        ("1 hour and 30 minutes", 90 * M),
        ("90 min", 90 * M),
        ("every 45 minutes", 45 * M),
        ("every 2 hours", 2 * H),
        ("every hour", H),
        ("every minute", M),
        ("every day", D),
        ("an hour", H),
        ("a day", D),
        ("1d", D),
        ("2 days", 2 * D),
        ("1d 12h", 36 * H),
        ("1w", 7 * D),
        ("2 weeks", 14 * D),
        ("1.5h", 90 * M),
        ("1.5 hours", 90 * M),
        (".5h", 30 * M),
        ("0.5m", timedelta(seconds=30)),
        ("1.25 h", 75 * M),
        ("  30M  ", 30 * M),
        ("EVERY 2 HOURS", 2 * H),
        ("Every\t2\nhours", 2 * H),
        ("366 days", 366 * D),
        ("365d 23h 59m", 366 * D - M),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "I need a duration"),
        ("   ", "I need a duration"),
        ("soon", "I couldn't read `soon` as a duration. Try `30m`, `1h`, `1h30m`, `90 min`"),
        ("asap", "couldn't read `asap`"),
        ("every", "couldn't read"),
        ("every 2", "couldn't read"),
        ("30", "couldn't read `30`"),
        ("1h30", "couldn't read `1h30`"),
        ("30 seconds", "couldn't read"),
        ("30s", "couldn't read"),
        ("1 month", "couldn't read"),
        ("2 years", "couldn't read"),
        ("30 mnutes", "couldn't read"),
        ("h", "couldn't read"),
        ("hours", "couldn't read"),
        ("30m1h", "couldn't read"),  # largest unit first
        ("1h 2h", "couldn't read"),  # each unit once
        ("1h and", "couldn't read"),
        ("1,5h", "couldn't read"),
        ("1.h", "couldn't read"),
        ("-30m", "couldn't read `-30m`"),
        ("- 30m", "couldn't read"),
        ("thirty minutes", "couldn't read"),
        ("0m", "longer than zero"),
        ("0 hours", "longer than zero"),
        ("0h 0m", "longer than zero"),
        ("every 0 minutes", "longer than zero"),
        ("0.001m", "longer than zero"),
        ("367 days", "too long: the most I accept is 366 days"),
        ("366d 1m", "too long"),
        ("53 weeks", "too long"),
        ("10000h", "too long"),
        ("99999999999999999999999999 minutes", "too long"),
        ("9" * 5000 + "m", "too long"),
        ("<!channel> 5m", "`&lt;!channel&gt; 5m`"),  # echoed, escaped
        ("&lt;b&gt;", "`&lt;b&gt;`"),
    ],
)
def test_parse_duration_refuses(text: str, hint: str) -> None:
    assert hint in refused(parse_duration, text)


def test_parse_duration_echo_is_truncated() -> None:
    message = refused(parse_duration, "x" * 500)
    assert "x" * 99 in message
    assert "x" * 100 not in message
    assert "…" in message
    assert len(message) < 250


def test_parse_duration_echo_is_one_line_without_backticks() -> None:
    message = refused(parse_duration, "so`on\n\nlater")
    assert "`so'on later`" in message
    assert "\n" not in message


# --- parse_due --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15:00", utc(2026, 11, 23, 20, 0)),
        ("by 15:00", utc(2026, 11, 23, 20, 0)),
        ("at 15:00", utc(2026, 11, 23, 20, 0)),
        ("3pm", utc(2026, 11, 23, 20, 0)),
        ("3 pm", utc(2026, 11, 23, 20, 0)),
        ("3PM", utc(2026, 11, 23, 20, 0)),
        ("3 p.m.", utc(2026, 11, 23, 20, 0)),
        ("  By  3pm  ", utc(2026, 11, 23, 20, 0)),
        ("3:30pm", utc(2026, 11, 23, 20, 30)),
        ("3:30 PM", utc(2026, 11, 23, 20, 30)),
        ("by 3pm", utc(2026, 11, 23, 20, 0)),
        ("by 3:30pm", utc(2026, 11, 23, 20, 30)),
        ("8:01am", utc(2026, 11, 23, 13, 1)),  # one minute after now (08:00 in New York)
        ("08:01", utc(2026, 11, 23, 13, 1)),
        ("12pm", utc(2026, 11, 23, 17, 0)),
        ("noon", utc(2026, 11, 23, 17, 0)),
        ("by noon", utc(2026, 11, 23, 17, 0)),
        ("11:59pm", utc(2026, 11, 24, 4, 59)),
        ("23:59", utc(2026, 11, 24, 4, 59)),
        ("midnight", utc(2026, 11, 24, 5, 0)),  # the end of today
        ("by midnight", utc(2026, 11, 24, 5, 0)),
        ("today 5pm", utc(2026, 11, 23, 22, 0)),
        ("today at 17:00", utc(2026, 11, 23, 22, 0)),
        ("by today 5pm", utc(2026, 11, 23, 22, 0)),
        ("5pm today", utc(2026, 11, 23, 22, 0)),
        ("tonight 9pm", utc(2026, 11, 24, 2, 0)),
        ("tomorrow 9am", utc(2026, 11, 24, 14, 0)),
        ("tomorrow at 9am", utc(2026, 11, 24, 14, 0)),
        ("tomorrow 09:00", utc(2026, 11, 24, 14, 0)),
        ("tomorrow 9:00", utc(2026, 11, 24, 14, 0)),
        ("by tomorrow 9am", utc(2026, 11, 24, 14, 0)),
        ("by tomorrow at 9:30 am", utc(2026, 11, 24, 14, 30)),
        ("Tomorrow 9AM", utc(2026, 11, 24, 14, 0)),
        ("9am tomorrow", utc(2026, 11, 24, 14, 0)),
        ("at 9am tomorrow", utc(2026, 11, 24, 14, 0)),
        ("tmrw 9am", utc(2026, 11, 24, 14, 0)),
        ("tomorrow 12am", utc(2026, 11, 24, 5, 0)),
        ("tomorrow 00:00", utc(2026, 11, 24, 5, 0)),
        ("tomorrow noon", utc(2026, 11, 24, 17, 0)),
        ("in 2h", utc(2026, 11, 23, 15, 0)),
        ("in 90 minutes", utc(2026, 11, 23, 14, 30)),
        ("in 1h30m", utc(2026, 11, 23, 14, 30)),
        ("in 1 hour 30 minutes", utc(2026, 11, 23, 14, 30)),
        ("In 45 MIN", utc(2026, 11, 23, 13, 45)),
        ("in an hour", utc(2026, 11, 23, 14, 0)),
        ("in 1.5h", utc(2026, 11, 23, 14, 30)),
        ("in 2 days", utc(2026, 11, 25, 13, 0)),
    ],
)
def test_parse_due_accepts_new_york(text: str, expected: datetime) -> None:
    due = parse_due(text, now=NOW, tz=NY)
    assert due == expected
    assert due.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("3pm", "UTC", utc(2026, 11, 23, 15, 0)),
        ("13:01", "UTC", utc(2026, 11, 23, 13, 1)),
        ("3pm", "Europe/Paris", utc(2026, 11, 23, 14, 0)),
        ("11pm", "Asia/Tokyo", utc(2026, 11, 23, 14, 0)),
        ("tomorrow 3pm", "Asia/Tokyo", utc(2026, 11, 24, 6, 0)),
        ("tomorrow 9am", "Asia/Tokyo", utc(2026, 11, 24, 0, 0)),
        ("midnight", "Asia/Tokyo", utc(2026, 11, 23, 15, 0)),
        ("9pm", "Asia/Kolkata", utc(2026, 11, 23, 15, 30)),  # UTC+5:30
        ("11pm", "Pacific/Kiritimati", utc(2026, 11, 24, 9, 0)),  # UTC+14: already Tuesday
        ("3pm", "Pacific/Pago_Pago", utc(2026, 11, 24, 2, 0)),  # UTC-11: still early Monday
        # "in" needs no zone at all, so even an unknown one does not get in the way.
        ("in 2h", "Mars/Olympus_Mons", utc(2026, 11, 23, 15, 0)),
    ],
)
def test_parse_due_zones(text: str, tz: str, expected: datetime) -> None:
    assert parse_due(text, now=NOW, tz=tz) == expected


@pytest.mark.parametrize(
    ("text", "tz", "when", "suggestion"),
    [
        ("3pm", "Asia/Tokyo", "`3pm today`", "`tomorrow 3pm`"),
        ("by 15:00", "Asia/Tokyo", "`15:00 today`", "`tomorrow 15:00`"),
        ("noon", "Asia/Tokyo", "`noon today`", "`tomorrow noon`"),
        ("today 9pm", "Asia/Tokyo", "`9pm today`", "`tomorrow 9pm`"),
        ("7am", NY, "`7am today`", "`tomorrow 7am`"),
        ("8am", NY, "`8am today`", "`tomorrow 8am`"),  # exactly now is not after now
        ("00:00", NY, "`00:00 today`", "`tomorrow 00:00`"),
        ("12am", NY, "`12am today`", "`tomorrow 12am`"),
        ("by 12:30 am", NY, "`12:30 am today`", "`tomorrow 12:30 am`"),
        ("13:00", "UTC", "`13:00 today`", "`tomorrow 13:00`"),
        ("10am", "Europe/Paris", "`10am today`", "`tomorrow 10am`"),
    ],
)
def test_parse_due_refuses_a_time_already_passed(
    text: str, tz: str, when: str, suggestion: str
) -> None:
    message = refused(parse_due, text, now=NOW, tz=tz)
    assert "has already passed" in message
    assert when in message
    assert f"say {suggestion}" in message
    assert tz in message  # the zone it was read in, since that is the usual surprise


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "When is it due?"),
        ("  ", "When is it due?"),
        ("tomorrow", "Tomorrow at what time? Add one, like `tomorrow 9am`"),
        ("by tomorrow", "Tomorrow at what time?"),
        ("TOMORROW", "Tomorrow at what time?"),
        ("today", "Today at what time?"),
        ("13pm", "`13pm` is not a time of day"),
        ("0am", "not a time of day"),
        ("0:30am", "not a time of day"),
        ("25:00", "not a time of day"),
        ("24:00", "not a time of day"),
        ("9:61", "not a time of day"),
        ("15:00pm", "not a time of day"),
        ("tomorrow 13pm", "not a time of day"),
        ("3", "morning or the afternoon? Say `3am`, `3pm`"),
        ("by 5", "morning or the afternoon"),
        ("tomorrow midnight", "could mean tonight or tomorrow night"),
        ("9:5", "couldn't read `9:5` as a time"),
        ("9:5pm", "couldn't read"),
        ("soon", "couldn't read `soon` as a time. Try `15:00`, `3pm`"),
        ("eod", "couldn't read"),
        ("next week", "couldn't read"),
        ("monday 9am", "couldn't read"),
        ("3pm yesterday", "couldn't read"),
        ("tomorrow tomorrow 3pm", "couldn't read"),
        ("3pm 4pm", "couldn't read"),
        ("3pmm", "couldn't read"),
        ("-3pm", "couldn't read"),
        ("15h", "couldn't read"),
        ("by", "couldn't read"),
        ("at", "couldn't read"),
        ("2h", "couldn't read `2h` as a time"),  # a duration needs "in"
        ("in", "couldn't read"),
        ("in soon", "couldn't read `soon` as a duration"),
        ("in 0m", "longer than zero"),
        ("in 400 days", "too long"),
        ("by in 2h", "couldn't read"),
        ("<!here> 3pm", "`&lt;!here&gt; 3pm`"),
    ],
)
def test_parse_due_refuses(text: str, hint: str) -> None:
    assert hint in refused(parse_due, text, now=NOW, tz=NY)


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "America", "../etc/passwd", "EST5EDT "])
def test_parse_due_names_an_unknown_zone(tz: str) -> None:
    message = refused(parse_due, "3pm", now=NOW, tz=tz)
    assert "I don't know the time zone" in message
    assert f"`{tz.strip()}`" in message or tz == "EST5EDT "


def test_parse_due_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_due("3pm", now=datetime(2026, 11, 23, 13, 0), tz=NY)


def test_parse_due_accepts_now_in_any_zone() -> None:
    now_tokyo = NOW.astimezone(ZoneInfo("Asia/Tokyo"))
    due = parse_due("3pm", now=now_tokyo, tz=NY)
    assert due == utc(2026, 11, 23, 20, 0)
    assert due.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("now", "text", "tz", "expected"),
    [
        # Paris springs forward on 2026-03-29: 02:00 CET -> 03:00 CEST; 02:30 does not exist.
        # It resolves to the first instant after the gap: 03:00 CEST = 01:00 UTC.
        (utc(2026, 3, 28, 23, 0), "2:30", "Europe/Paris", utc(2026, 3, 29, 1, 0)),
        (utc(2026, 3, 28, 23, 0), "2:30am", "Europe/Paris", utc(2026, 3, 29, 1, 0)),
        (utc(2026, 3, 28, 23, 0), "02:00", "Europe/Paris", utc(2026, 3, 29, 1, 0)),
        (utc(2026, 3, 28, 23, 0), "02:59", "Europe/Paris", utc(2026, 3, 29, 1, 0)),
        (utc(2026, 3, 28, 23, 0), "03:00", "Europe/Paris", utc(2026, 3, 29, 1, 0)),
        (utc(2026, 3, 28, 23, 0), "03:30", "Europe/Paris", utc(2026, 3, 29, 1, 30)),
        (utc(2026, 3, 28, 23, 0), "01:59", "Europe/Paris", utc(2026, 3, 29, 0, 59)),
        (utc(2026, 3, 28, 12, 0), "tomorrow 2:30", "Europe/Paris", utc(2026, 3, 29, 1, 0)),
        # Paris falls back on 2026-10-25: 02:30 happens twice; the first (CEST) is taken.
        (utc(2026, 10, 24, 12, 0), "tomorrow 2:30", "Europe/Paris", utc(2026, 10, 25, 0, 30)),
        (utc(2026, 10, 24, 12, 0), "tomorrow 3:30", "Europe/Paris", utc(2026, 10, 25, 2, 30)),
        # New York springs forward on 2026-03-08 at 02:00 EST -> 03:00 EDT.
        (utc(2026, 3, 8, 5, 0), "2:30am", NY, utc(2026, 3, 8, 7, 0)),
        (utc(2026, 3, 8, 5, 0), "1:59am", NY, utc(2026, 3, 8, 6, 59)),
        # New York falls back on 2026-11-01: 01:30 happens twice; the first (EDT) is taken.
        (utc(2026, 10, 31, 16, 0), "tomorrow 1:30am", NY, utc(2026, 11, 1, 5, 30)),
        # Across a DST change, "in 24h" is 24 real hours, not the same wall time.
        (utc(2026, 3, 28, 12, 0), "in 24h", "Europe/Paris", utc(2026, 3, 29, 12, 0)),
        # Samoa skipped 2011-12-30 entirely: "tomorrow 9am" on the 29th lands after the gap.
        (utc(2011, 12, 29, 12, 0), "tomorrow 9am", "Pacific/Apia", utc(2011, 12, 30, 10, 0)),
    ],
)
def test_parse_due_across_dst(now: datetime, text: str, tz: str, expected: datetime) -> None:
    assert parse_due(text, now=now, tz=tz) == expected


# --- split_when -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "what", "due"),
    [
        ("root cause in writing by 3pm", "root cause in writing", utc(2026, 11, 23, 20, 0)),
        ("fix deployed in 2h", "fix deployed", utc(2026, 11, 23, 15, 0)),
        ("more information by 15:00", "more information", utc(2026, 11, 23, 20, 0)),
        ("a call in 30 minutes", "a call", utc(2026, 11, 23, 13, 30)),
        ("status page BY tomorrow 9am", "status page", utc(2026, 11, 24, 14, 0)),
        ("status page by tomorrow at 9am", "status page", utc(2026, 11, 24, 14, 0)),
        ("new build by 3pm tomorrow", "new build", utc(2026, 11, 24, 20, 0)),
        ("logs in by noon", "logs in", utc(2026, 11, 23, 17, 0)),
        ("check in in 1h", "check in", utc(2026, 11, 23, 14, 0)),
        ("written RCA by Friday in 2 days", "written RCA by Friday", utc(2026, 11, 25, 13, 0)),
        ("fix  \n by 3:30 pm", "fix", utc(2026, 11, 23, 20, 30)),
        ("  ETA   In 90 min  ", "ETA", utc(2026, 11, 23, 14, 30)),
        ("call <@U1|bob> back by 5pm", "call <@U1|bob> back", utc(2026, 11, 23, 22, 0)),
        ("Q&amp;A doc by 4pm", "Q&amp;A doc", utc(2026, 11, 23, 21, 0)),  # left escaped
        ("hotfix every hour in 2h", "hotfix every hour", utc(2026, 11, 23, 15, 0)),
        ("reply in every 2 hours", "reply", utc(2026, 11, 23, 15, 0)),
    ],
)
def test_split_when_accepts(text: str, what: str, due: datetime) -> None:
    assert split_when(text, now=NOW, tz=NY) == (what, due)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "I couldn't tell when that is due. Use `promise &lt;what&gt; by"),
        ("root cause", "`promise &lt;what&gt; in &lt;2h&gt;`"),
        ("by 3pm", "couldn't tell when"),  # nothing promised
        ("in 2h", "couldn't tell when"),
        ("root cause by soon", "couldn't tell when"),
        ("fix in prod", "couldn't tell when"),
        ("fix by 3pm in prod", "couldn't tell when"),  # the time must come last
        ("fix by3pm", "couldn't tell when"),
        ("call back by 7am", "`7am today` has already passed"),
        ("root cause in writing by 5am", "say `tomorrow 5am`"),
        ("call back by 13pm", "`13pm` is not a time of day"),
        ("send logs by tomorrow", "Tomorrow at what time?"),
        ("send logs by 5", "morning or the afternoon"),
        ("fix in 0m", "longer than zero"),
        ("fix in 400 days", "too long"),
    ],
)
def test_split_when_refuses(text: str, hint: str) -> None:
    assert hint in refused(split_when, text, now=NOW, tz=NY)


def test_split_when_prefers_the_already_passed_message() -> None:
    # Both tails fail; the "by 7am" one is a time in the past, which is the thing to say.
    message = refused(split_when, "update in writing by 7am", now=NOW, tz=NY)
    assert "already passed" in message


def test_split_when_unknown_zone_is_named() -> None:
    assert "Mars/Base" in refused(split_when, "fix by 3pm", now=NOW, tz="Mars/Base")
    assert split_when("fix in 1h", now=NOW, tz="Mars/Base") == ("fix", utc(2026, 11, 23, 14, 0))


# --- people and channels ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "user_id"),
    [
        ("<@U123>", "U123"),
        ("<@U123|name>", "U123"),
        ("<@U0ABCDEF12|Jane Doe>", "U0ABCDEF12"),
        ("<@W123|name>", "W123"),
        ("<@U123|>", "U123"),
        ("  <@U123|bob>  ", "U123"),
        ("<@U123|bob.smith-ext>", "U123"),
    ],
)
def test_parse_user_accepts(token: str, user_id: str) -> None:
    assert parse_user(token) == user_id


@pytest.mark.parametrize(
    ("token", "hint"),
    [
        ("", "Who? Type @ and pick the person"),
        ("   ", "Who?"),
        ("@name", "Pick the person from the autocomplete when you type @ (I got `@name`)"),
        ("name", "(I got `name`)"),
        ("U123", "(I got `U123`)"),
        ("<@u123>", "autocomplete"),
        ("<@C123>", "autocomplete"),
        ("<#C123|general>", "autocomplete"),
        ("<@U123> <@U456>", "autocomplete"),
        ("<@U123", "autocomplete"),
        ("<!here>", "(I got `&lt;!here&gt;`)"),
        ("<!channel>", "`&lt;!channel&gt;`"),
        ("<!subteam^S123|@oncall>", "`@oncall` is a user group; pick one person"),
        ("<!subteam^S123>", "That is a user group"),
        ("@" + "x" * 300, "…`)"),
    ],
)
def test_parse_user_refuses(token: str, hint: str) -> None:
    assert hint in refused(parse_user, token)


@pytest.mark.parametrize(
    ("token", "channel_id"),
    [
        ("<#C123|name>", "C123"),
        ("<#C123|>", "C123"),
        ("<#C123>", "C123"),
        ("<#G0ABC|private-thing>", "G0ABC"),
        (" <#C0123ABCD|acme-shared> ", "C0123ABCD"),
    ],
)
def test_parse_channel_accepts(token: str, channel_id: str) -> None:
    assert parse_channel(token) == channel_id


@pytest.mark.parametrize(
    ("token", "hint"),
    [
        ("", "Which channel? Type # and pick"),
        ("#name", "Pick the channel from the autocomplete when you type # (I got `#name`)"),
        ("acme-shared", "autocomplete"),
        ("C123", "autocomplete"),
        ("<@U123|bob>", "autocomplete"),
        ("<#D123|dm>", "autocomplete"),
        ("<#C123|a> <#C456|b>", "autocomplete"),
        ("<https://acme.slack.com/archives/C123>", "autocomplete"),
    ],
)
def test_parse_channel_refuses(token: str, hint: str) -> None:
    assert hint in refused(parse_channel, token)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("add a health check <@U123|bob>", ("add a health check", "U123")),
        ("add a health check <@U123>", ("add a health check", "U123")),
        ("add a health check <@W9|amy>  ", ("add a health check", "W9")),
        ("add a health check", ("add a health check", None)),
        ("  add a health check  ", ("add a health check", None)),
        ("ask <@U1|amy> to review <@U2|bob>", ("ask <@U1|amy> to review", "U2")),
        ("ask <@U1|amy> to review", ("ask <@U1|amy> to review", None)),
        ("<@U1|amy>", ("", "U1")),
        ("", ("", None)),
        ("alert on <#C1|ops>", ("alert on <#C1|ops>", None)),
        ("ping <!subteam^S1|@ops>", ("ping <!subteam^S1|@ops>", None)),
        ("escalate to <@U1|amy>.", ("escalate to <@U1|amy>.", None)),
        ("x &gt;", ("x &gt;", None)),
        ("broken <@U1", ("broken <@U1", None)),
    ],
)
def test_split_trailing_user(text: str, expected: tuple[str, str | None]) -> None:
    assert split_trailing_user(text) == expected


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "prefix", "noun", "expected"),
    [
        ("P2", "P", "promise", 2),
        ("p2", "P", "promise", 2),
        ("2", "P", "promise", 2),
        (" P10 ", "P", "promise", 10),
        ("P01", "P", "promise", 1),
        ("A1", "A", "action", 1),
        ("a3", "A", "action", 3),
        ("1", "", "option", 1),
        ("12", "", "option", 12),
    ],
)
def test_parse_ref_accepts(token: str, prefix: str, noun: str, expected: int) -> None:
    assert parse_ref(token, prefix, noun) == expected


@pytest.mark.parametrize(
    ("token", "prefix", "noun", "hint"),
    [
        (
            "X",
            "P",
            "promise",
            "`X` is not a promise number; use `P1`, `P2`, … as shown on the card.",
        ),
        ("P0", "P", "promise", "`P0` is not a promise number"),
        ("0", "P", "promise", "not a promise number"),
        ("P-1", "P", "promise", "not a promise number"),
        ("P 2", "P", "promise", "not a promise number"),
        ("PP2", "P", "promise", "not a promise number"),
        ("A2", "P", "promise", "not a promise number"),
        ("P2.5", "P", "promise", "not a promise number"),
        ("P" + "9" * 5000, "P", "promise", "not a promise number"),
        ("", "P", "promise", "Which promise? Use `P1`, `P2`, …"),
        ("P1", "A", "action", "`P1` is not an action number; use `A1`, `A2`, …"),
        ("one", "", "option", "`one` is not an option number; use `1`, `2`, …"),
        ("#1", "", "option", "not an option number"),
        ("", "", "option", "Which option? Use `1`, `2`, …"),
        ("٣", "", "option", "not an option number"),  # a non-ASCII digit
    ],
)
def test_parse_ref_refuses(token: str, prefix: str, noun: str, hint: str) -> None:
    assert hint in refused(parse_ref, token, prefix, noun)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 fastest safe fix", (2, "fastest safe fix")),
        ("  2   fastest safe fix  ", (2, "fastest safe fix")),
        ("2\nfastest\nsafe fix", (2, "fastest\nsafe fix")),
        ("#2 it is reversible", (2, "it is reversible")),
        ("2. it is reversible", (2, "it is reversible")),
        ("2: it is reversible", (2, "it is reversible")),
        ("10 why not", (10, "why not")),
        ("1 Q&amp;A says so", (1, "Q&amp;A says so")),
    ],
)
def test_parse_numbered_accepts(text: str, expected: tuple[int, str]) -> None:
    assert parse_numbered(text, "option") == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "Which option, and why? Use `recommend &lt;n&gt; &lt;why&gt;`"),
        ("2", "Give the reason after the number: `recommend &lt;n&gt; &lt;why&gt;`"),
        ("2   ", "Give the reason"),
        ("two because", "`two` is not an option number"),
        ("0 because", "`0` is not an option number"),
        ("-1 because", "not an option number"),
        ("2because", "not an option number"),
        ("P2 because", "not an option number"),
    ],
)
def test_parse_numbered_refuses(text: str, hint: str) -> None:
    assert hint in refused(parse_numbered, text, "option")


def test_parse_numbered_usage_names_the_command() -> None:
    assert "`pick &lt;n&gt; &lt;why&gt;`" in refused(parse_numbered, "3", "option", command="pick")


# --- open -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Acme: all lobby screens show a setup error",
            (None, "Acme", "all lobby screens show a setup error"),
        ),
        ("sev2 Acme: screens down", ("sev2", "Acme", "screens down")),
        ("SEV1 Acme: screens down", ("sev1", "Acme", "screens down")),
        ("Sev-3 Acme: screens down", ("sev3", "Acme", "screens down")),
        ("sev9 Acme: screens down", ("sev9", "Acme", "screens down")),
        ("  sev2   Acme   Corp  :   screens down  ", ("sev2", "Acme Corp", "screens down")),
        ("ACME inc: x", (None, "ACME inc", "x")),
        ("Acme, Inc.: x", (None, "Acme, Inc.", "x")),
        ("Acme: error: code 42: retry", (None, "Acme", "error: code 42: retry")),
        ("Acme:no space", (None, "Acme", "no space")),
        ("Acme\tWest: x", (None, "Acme West", "x")),
        ("Acme: line one\nline two", (None, "Acme", "line one\nline two")),
        ("Q&amp;A Corp: x", (None, "Q&amp;A Corp", "x")),  # left escaped for the caller
        ("<https://acme.com|Acme>: portal down", (None, "<https://acme.com|Acme>", "portal down")),
        ("<https://acme.com>: portal down", (None, "<https://acme.com>", "portal down")),
        (
            "Acme: see <https://status.acme.com/x?a=1&amp;b=2>",
            (None, "Acme", "see <https://status.acme.com/x?a=1&amp;b=2>"),
        ),
        ("sev2 <#C1|acme-shared>: down", ("sev2", "<#C1|acme-shared>", "down")),
        ("sevX Acme: x", (None, "sevX Acme", "x")),
        ("several stores: down", (None, "several stores", "down")),
        ("sev2acme: down", (None, "sev2acme", "down")),
    ],
)
def test_parse_open_accepts(text: str, expected: tuple[str | None, str, str]) -> None:
    assert parse_open(text) == expected


_OPEN_USAGE = "`/incident open [sev1-4] &lt;customer&gt;: &lt;what happened&gt;`"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "Tell me the customer and what happened"),
        ("   ", "Tell me the customer"),
        ("Acme screens down", "Put a colon after the customer's name"),
        ("sev2 Acme screens down", "Put a colon"),
        ("sev2", "Put a colon"),
        ("<https://acme.com> down", "Put a colon"),  # the link's colon does not count
        (": screens down", "Who is the customer?"),
        ("sev2 : screens down", "Who is the customer?"),
        ("sev2: screens down", "Who is the customer?"),
        ("Acme:", "What happened to `Acme`?"),
        ("Acme:    ", "What happened"),
        ("sev1 Acme:", "What happened"),
        ("sev0 Acme: down", "`sev0` is not a severity I know"),
        ("sev10 Acme: down", "`sev10` is not a severity I know"),
        ("sev123456789 Acme: down", "not a severity"),
    ],
)
def test_parse_open_refuses(text: str, hint: str) -> None:
    message = refused(parse_open, text)
    assert hint in message
    assert _OPEN_USAGE in message
    assert "e.g. `/incident open Acme: all lobby screens show a setup error`" in message


# --- option -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("roll back to 4.2", ("roll back to 4.2", None)),
        (
            "roll back to 4.2 risk: loses today's settings",
            ("roll back to 4.2", "loses today's settings"),
        ),
        ("roll back RISK: data loss", ("roll back", "data loss")),
        ("roll back Risk : data loss", ("roll back", "data loss")),
        ("roll back (risk: data loss)", ("roll back", "data loss")),
        ("roll back [risk: data loss]", ("roll back", "data loss")),
        ("roll back, risk: data loss", ("roll back", "data loss")),
        ("roll back - risk: data loss", ("roll back", "data loss")),
        ("roll back — risk: data loss", ("roll back", "data loss")),
        ("roll back;risk:data loss", ("roll back", "data loss")),
        ("low-risk: patch risk: none known", ("low-risk: patch", "none known")),
        ("patch risk: low risk: none", ("patch risk: low", "none")),
        ("asterisk: fine", ("asterisk: fine", None)),
        ("hotfix risky: maybe", ("hotfix risky: maybe", None)),
        ("see <https://x.com/risk:1|risk: doc>", ("see <https://x.com/risk:1|risk: doc>", None)),
        (
            "see <https://x.com/a|doc> risk: <https://x.com/b>",
            ("see <https://x.com/a|doc>", "<https://x.com/b>"),
        ),
        ("  restart the fleet  ", ("restart the fleet", None)),
        ("Q&amp;A risk: &lt;none&gt;", ("Q&amp;A", "&lt;none&gt;")),
        ("risky plan", ("risky plan", None)),
    ],
)
def test_parse_option_accepts(text: str, expected: tuple[str, str | None]) -> None:
    assert parse_option(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "Describe the option: `option &lt;text&gt; [risk: &lt;text&gt;]`"),
        ("   ", "Describe the option"),
        ("risk: data loss", "Describe the option before its risk"),
        ("- risk: data loss", "Describe the option before its risk"),
        ("roll back risk:", "Say what the risk is after `risk:`"),
        ("roll back risk:   ", "Say what the risk is"),
        ("roll back (risk: )", "Say what the risk is"),
    ],
)
def test_parse_option_refuses(text: str, hint: str) -> None:
    assert hint in refused(parse_option, text)


# --- customers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme, Inc.", "ACME inc"),
        ("Acme, Inc.", "acme inc"),
        ("  Acme   Inc ", "Acme Inc."),
        ("AT&T", "at&t"),
        ("A.T.&T.", "AT&T"),
        ("Müller GmbH", "MÜLLER GMBH"),
        ("Straße AG", "STRASSE AG"),
        ("Ａｃｍｅ", "Acme"),  # full-width letters
        ("Acme™", "Acme"),
        ("O'Brien & Sons", "OBrien Sons"),
    ],
)
def test_normalize_customer_equal(a: str, b: str) -> None:
    assert normalize_customer(a) == normalize_customer(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme", "Acme Labs"),
        ("Acme Inc", "Acme Ltd"),  # no suffix list: different legal names stay different
        ("Globex", "Initech"),
    ],
)
def test_normalize_customer_different(a: str, b: str) -> None:
    assert normalize_customer(a) != normalize_customer(b)


@pytest.mark.parametrize(
    ("name", "key"),
    [("Acme, Inc.", "acme inc"), ("  ACME\n  inc ", "acme inc"), ("!!!", ""), ("", "")],
)
def test_normalize_customer_golden(name: str, key: str) -> None:
    assert normalize_customer(name) == key


# --- properties -------------------------------------------------------------------------------

# Fragments that make random text look like real commands, so the properties reach deep paths.
_FRAGMENTS = st.sampled_from(
    [
        "3pm",
        "15:00",
        "9:30",
        "12am",
        "noon",
        "midnight",
        "by",
        "in",
        "at",
        "today",
        "tomorrow",
        "2h",
        "30m",
        "1.5",
        "every",
        "hour",
        "days",
        "sev2",
        "sev0",
        "Acme",
        ":",
        "risk:",
        "(",
        ")",
        "P2",
        "A1",
        "0",
        "13pm",
        "25:00",
        "<@U1|bob>",
        "<#C1|ops>",
        "<https://x|y>",
        "<!here>",
        "&amp;",
        "&lt;",
        "@bob",
        "#ops",
        "-",
        ".",
        "\n",
        " ",
        "fix",
        "9" * 30,
    ]
)
_COMMANDISH = st.one_of(
    st.text(),
    st.lists(_FRAGMENTS, max_size=8).map(" ".join),
    st.lists(_FRAGMENTS, max_size=8).map("".join),
)
_ZONES = st.sampled_from(
    [
        "UTC",
        NY,
        "Europe/Paris",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Pacific/Apia",
        "Pacific/Chatham",
        "Australia/Lord_Howe",
        "America/St_Johns",
        "Nope/Nowhere",
    ]
)
_NOWS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _only_parse_errors(func, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return func(*args, **kwargs)
    except ParseError as err:
        assert type(err) is ParseError
        message = str(err)
        assert message
        assert "<" not in message and ">" not in message, message
        assert len(message) < 1000
        return None


@FAST
@given(_COMMANDISH)
def test_parse_duration_only_parse_errors_and_positive(text: str) -> None:
    result = _only_parse_errors(parse_duration, text)
    if result is not None:
        assert timedelta(0) < result <= MAX_DURATION


@FAST
@given(_COMMANDISH, _NOWS, _ZONES)
def test_parse_due_only_parse_errors_and_after_now(text: str, now: datetime, tz: str) -> None:
    result = _only_parse_errors(parse_due, text, now=now, tz=tz)
    if result is not None:
        assert result > now
        assert result.utcoffset() == timedelta(0)


@FAST
@given(_COMMANDISH, _NOWS, _ZONES)
def test_split_when_only_parse_errors(text: str, now: datetime, tz: str) -> None:
    result = _only_parse_errors(split_when, text, now=now, tz=tz)
    if result is not None:
        what, due = result
        assert what and what == what.strip()
        assert due > now


@FAST
@given(_COMMANDISH)
def test_token_parsers_only_parse_errors(text: str) -> None:
    user = _only_parse_errors(parse_user, text)
    assert user is None or user[0] in "UW"
    channel = _only_parse_errors(parse_channel, text)
    assert channel is None or channel[0] in "CG"
    for prefix, noun in (("P", "promise"), ("A", "action"), ("", "option")):
        number = _only_parse_errors(parse_ref, text, prefix, noun)
        assert number is None or number >= 1
    rest, trailing = split_trailing_user(text)
    assert rest == rest.strip()
    assert trailing is None or trailing[0] in "UW"


@FAST
@given(_COMMANDISH)
def test_text_parsers_only_parse_errors(text: str) -> None:
    opened = _only_parse_errors(parse_open, text)
    if opened is not None:
        severity, customer, what = opened
        assert severity is None or severity in {f"sev{n}" for n in range(1, 10)}
        assert customer and what
        assert customer == " ".join(customer.split())
    option = _only_parse_errors(parse_option, text)
    if option is not None:
        assert option[0] and option[1] != ""
    numbered = _only_parse_errors(parse_numbered, text, "option")
    if numbered is not None:
        assert numbered[0] >= 1 and numbered[1]
    assert isinstance(normalize_customer(text), str)


@FAST
@given(st.integers(0, 200), st.integers(0, 59))
def test_parse_duration_compound_round_trip(hours: int, minutes: int) -> None:
    text = f"{hours}h{minutes}m"
    expected = timedelta(hours=hours, minutes=minutes)
    if expected == timedelta(0):
        return
    assert parse_duration(text) == expected
    assert parse_duration(f"every {hours} hours {minutes} minutes") == expected


@FAST
@given(_NOWS, _ZONES.filter(lambda z: z != "Nope/Nowhere"), st.integers(0, 23), st.integers(0, 59))
def test_parse_due_tomorrow_lands_on_that_wall_time(
    now: datetime, tz: str, hour: int, minute: int
) -> None:
    due = parse_due(f"tomorrow {hour:02d}:{minute:02d}", now=now, tz=tz)
    zone = ZoneInfo(tz)
    assert due > now
    typed = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(hour, minute))
    wall = due.astimezone(zone).replace(tzinfo=None)
    exists = typed.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if exists == typed:
        assert wall == typed  # the wall time typed, on tomorrow's date
    else:
        assert typed < wall <= typed + timedelta(days=1)  # in a DST gap: just after it


def test_a_wall_time_passed_once_on_the_night_clocks_fall_back_takes_its_second_pass() -> None:
    # St John's fell back at 00:01 NDT on 2010-11-07: at 02:31Z (23:01 NST, Nov 6) the first
    # 00:00 of Nov 7 (02:30Z) is behind us and the second (03:30Z) still to come.
    now = datetime(2010, 11, 7, 2, 31, tzinfo=UTC)
    assert parse_due("tomorrow 00:00", now=now, tz="America/St_Johns") == \
        datetime(2010, 11, 7, 3, 30, tzinfo=UTC)


@FAST
@given(_NOWS, st.integers(1, 60 * 24 * 366))
def test_parse_due_in_minutes_is_exact(now: datetime, minutes: int) -> None:
    assert parse_due(f"in {minutes}m", now=now, tz="UTC") == now + timedelta(minutes=minutes)


@FAST
@given(st.text(), st.text())
def test_normalize_customer_ignores_case_and_punctuation(a: str, b: str) -> None:
    key = normalize_customer(a)
    assert normalize_customer(a.upper() + " , . ") == normalize_customer(a.upper())
    assert key == " ".join(key.split())
    assert normalize_customer(key) == key


# --- ISO date-times (date pickers and pasted timestamps) ---------------------------------------

ISO_NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "tz", "expected"),
    [
        ("by 2026-11-23T15:00Z", "UTC", datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),
        ("2026-11-24 09:30", "Europe/Paris", datetime(2026, 11, 24, 8, 30, tzinfo=UTC)),
        ("2026-11-23T10:00-05:00", "UTC", datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),
        ("by 2026-11-23T15:00:00+0100", "UTC", datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
    ],
)
def test_parse_due_iso(typed: str, tz: str, expected: datetime) -> None:
    assert parse_due(typed, now=ISO_NOW, tz=tz) == expected


@pytest.mark.parametrize(
    "typed", ["2026-11-23T12:00Z", "2026-02-30T10:00Z", "2026-11-23T15:00+19:00"]
)
def test_parse_due_iso_refused(typed: str) -> None:
    with pytest.raises(ParseError):
        parse_due(typed, now=ISO_NOW, tz="UTC")


def test_split_when_with_iso_from_the_promise_modal() -> None:
    what, due = split_when("send the RCA by 2026-11-23T16:00Z", now=ISO_NOW, tz="Asia/Tokyo")
    assert (what, due) == ("send the RCA", datetime(2026, 11, 23, 16, 0, tzinfo=UTC))


# --- the incident named first: `/incident reopen INC-4 <why>` ---------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("INC-4 it failed again", (4, "it failed again")),
    ("inc-12 why", (12, "why")),
    ("INC-4", (4, "")),
    ("  INC-7   spaced out", (7, "spaced out")),
    ("INC-123456789 nine digits", (123456789, "nine digits")),
    ("INC-0 zero", (0, "zero")),  # a number nobody has: the lookup says so
    ("it failed again", (None, "it failed again")),
    ("INC-abc why", (None, "INC-abc why")),
    ("INC-12x why", (None, "INC-12x why")),
    ("INC-4-5 why", (None, "INC-4-5 why")),
    ("INC-\u0664 arabic-indic digit", (None, "INC-\u0664 arabic-indic digit")),
    ("the INC-4 later", (None, "the INC-4 later")),
    ("", (None, "")),
])
def test_split_incident_key_accepts(text: str, expected: tuple[int | None, str]) -> None:
    assert split_incident_key(text) == expected


@pytest.mark.parametrize("text", ["INC-1234567890 it broke", "INC-12345678901234567890",
                                  "inc-00000000001 why"])
def test_split_incident_key_refuses_numbers_too_long_to_exist(text: str) -> None:
    message = refused(split_incident_key, text)
    assert "There is no" in message and "at most 9 digits" in message, message
