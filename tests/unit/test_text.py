"""Golden tables and properties for playbook.domain.text, the mrkdwn output helpers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.domain.text import (
    channel_link,
    date_token,
    esc,
    fmt_duration,
    mention,
    plain,
    truncate,
    unescape,
)

FAST = settings(max_examples=200, deadline=None)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("", ""),
        ("plain text", "plain text"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil.example|click me>", "&lt;https://evil.example|click me&gt;"),
        ("AT&T", "AT&amp;T"),
        ("&amp;", "&amp;amp;"),
        ("&lt;", "&amp;lt;"),
        ("a < b > c", "a &lt; b &gt; c"),
        ("*bold* _it_ `code` ~s~", "*bold* _it_ `code` ~s~"),
        ("emoji 🔥 & ünïcode", "emoji 🔥 &amp; ünïcode"),
    ],
)
def test_esc(raw: str, escaped: str) -> None:
    assert esc(raw) == escaped
    assert unescape(escaped) == raw


@pytest.mark.parametrize(
    ("slack", "plain"),
    [
        ("&lt;b&gt;", "<b>"),
        ("AT&amp;T", "AT&T"),
        # A person who typed "&lt;" literally: Slack sends "&amp;lt;"; it must stay "&lt;".
        ("&amp;lt;", "&lt;"),
        ("&amp;gt;&amp;amp;", "&gt;&amp;"),
        ("no entities", "no entities"),
        ("&quot; stays", "&quot; stays"),
    ],
)
def test_unescape(slack: str, plain: str) -> None:
    assert unescape(slack) == plain


@pytest.mark.parametrize(
    ("slack", "text"),
    [
        ("plain words", "plain words"),
        ("ping <@U123|bob> now", "ping @bob now"),
        ("ping <@U123>", "ping @U123"),
        ("ping <@W9|amy.b>", "ping @amy.b"),
        ("see <#C1|ops>", "see #ops"),
        ("see <#C1|>", "see #C1"),
        ("see <#C1>", "see #C1"),
        ("ask <!subteam^S1|@oncall>", "ask @oncall"),
        ("ask <!subteam^S1>", "ask @S1"),
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("<!here|here>", "@here"),
        ("<https://status.acme.com>", "https://status.acme.com"),
        ("<http://acme.com|acme.com>", "acme.com"),
        ("<mailto:ops@acme.com|ops@acme.com>", "ops@acme.com"),
        ("<https://x.com/?a=1&amp;b=2|docs &amp; more>", "docs & more"),
        ("due <!date^1795442700^{time}|2026-11-23 14:05 UTC>", "due 2026-11-23 14:05 UTC"),
        ("AT&amp;T &lt;b&gt; &amp;lt;", "AT&T <b> &lt;"),
        ("", ""),
    ],
)
def test_plain(slack: str, text: str) -> None:
    assert plain(slack) == text


def test_mention_and_channel_link() -> None:
    assert mention("U123") == "<@U123>"
    assert mention("W0ABC") == "<@W0ABC>"
    assert channel_link("C123") == "<#C123>"
    assert channel_link("G999") == "<#G999>"


@pytest.mark.parametrize(
    ("dt", "fmt", "token"),
    [
        (
            datetime(2026, 11, 23, 14, 5, tzinfo=UTC),
            "{date_short_pretty} at {time}",
            "<!date^1795442700^{date_short_pretty} at {time}|2026-11-23 14:05 UTC>",
        ),
        (
            # Any aware zone: the token carries the instant, the fallback is in UTC.
            datetime(2026, 11, 23, 9, 5, 59, tzinfo=ZoneInfo("America/New_York")),
            "{time}",
            "<!date^1795442759^{time}|2026-11-23 14:05 UTC>",
        ),
        (
            datetime(2026, 11, 24, 0, 30, tzinfo=timezone(timedelta(hours=10))),
            "{date}",
            "<!date^1795444200^{date}|2026-11-23 14:30 UTC>",
        ),
    ],
)
def test_date_token(dt: datetime, fmt: str, token: str) -> None:
    assert date_token(dt, fmt) == token


def test_date_token_default_format() -> None:
    dt = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert date_token(dt) == (
        f"<!date^{int(dt.timestamp())}^{{date_short_pretty}} at {{time}}|2026-01-02 03:04 UTC>"
    )


def test_date_token_rejects_naive() -> None:
    with pytest.raises(ValueError, match="aware"):
        date_token(datetime(2026, 11, 23, 14, 5))


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "0 min"),
        (timedelta(seconds=59), "0 min"),
        (timedelta(minutes=1), "1 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(minutes=45, seconds=59), "45 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=1, minutes=30), "1 h 30 min"),
        (timedelta(hours=23, minutes=59), "23 h 59 min"),
        (timedelta(days=1), "1 d"),
        (timedelta(days=2, hours=3), "2 d 3 h"),
        (timedelta(days=2, hours=3, minutes=15), "2 d 3 h 15 min"),
        (timedelta(days=7, minutes=5), "7 d 5 min"),
        (timedelta(minutes=-45), "45 min"),
        (timedelta(hours=-1, minutes=-30), "1 h 30 min"),
        (timedelta(seconds=-30), "0 min"),
    ],
)
def test_fmt_duration(td: timedelta, text: str) -> None:
    assert fmt_duration(td) == text


@pytest.mark.parametrize(
    ("s", "limit", "out"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("hello world", 8, "hello w…"),
        ("hello world", 7, "hello…"),  # trailing space before the cut is dropped
        ("abc", 1, "…"),
        # Never split an entity: the cut moves before its "&".
        ("AT&amp;T rules", 6, "AT…"),
        ("AT&amp;T rules", 7, "AT…"),
        ("AT&amp;T rules", 8, "AT&amp;…"),
        ("AT&amp;T rules", 9, "AT&amp;T…"),
        ("x &lt;y&gt;", 6, "x…"),
        ("&#128293;&#128293;", 12, "&#128293;…"),
        # A lone "&" that is no entity is cut like any other character.
        ("a & b & c d e", 6, "a & b…"),
        # Never split a token: the cut moves before its "<".
        ("ping <@U123|bob> now", 10, "ping…"),
        ("due <!date^1795442700^{time}|2026-11-23 14:05 UTC> ok", 20, "due…"),
        ("ping <@U123> now", 14, "ping <@U123>…"),
    ],
)
def test_truncate(s: str, limit: int, out: str) -> None:
    assert truncate(s, limit) == out
    assert len(truncate(s, limit)) <= limit


def test_truncate_rejects_nonpositive_limit() -> None:
    with pytest.raises(ValueError):
        truncate("abc", 0)


_BROKEN_ENTITY = re.compile(r"&(?![A-Za-z]+;|#[0-9]+;)[A-Za-z#0-9]*$")


@FAST
@given(st.text())
def test_esc_is_inert_and_reversible(s: str) -> None:
    out = esc(s)
    assert "<" not in out
    assert ">" not in out
    assert unescape(out) == s


@FAST
@given(st.text())
def test_plain_of_escaped_text_is_the_text(s: str) -> None:
    assert plain(esc(s)) == s


@FAST
@given(st.text(), st.integers(min_value=1, max_value=60))
def test_truncate_of_escaped_text_keeps_entities_whole(s: str, limit: int) -> None:
    escaped = esc(s)
    out = truncate(escaped, limit)
    assert len(out) <= limit
    if out == escaped:
        return
    assert out.endswith("…")
    body = out[:-1]
    assert escaped.startswith(body)
    # Every "&" left in the cut text still begins a whole entity.
    assert all(escaped[i:].startswith(("&amp;", "&lt;", "&gt;")) for i in _amps(body))
    assert all(body[i:].startswith(("&amp;", "&lt;", "&gt;")) for i in _amps(body))


def _amps(s: str) -> list[int]:
    return [i for i, ch in enumerate(s) if ch == "&"]


@FAST
@given(st.lists(st.sampled_from(["word ", "<@U1|bob> ", "<#C2|> ", "&amp; "]), max_size=20))
def test_truncate_never_splits_tokens(parts: list[str]) -> None:
    s = "".join(parts)
    for limit in range(1, len(s) + 2):
        out = truncate(s, limit)
        assert len(out) <= limit
        assert out.count("<") == out.count(">")
        assert _BROKEN_ENTITY.search(out.removesuffix("…")) is None


@FAST
@given(st.timedeltas(min_value=timedelta(days=-9999), max_value=timedelta(days=9999)))
def test_fmt_duration_is_short_and_unsigned(td: timedelta) -> None:
    out = fmt_duration(td)
    assert not out.startswith("-")
    assert re.fullmatch(r"(\d+ d)?( ?\d+ h)?( ?\d+ min)?", out)
    assert fmt_duration(-td) == out
