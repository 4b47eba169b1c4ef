"""The real app over real HTTP (and Socket Mode) against bot/local/localslack.

Every test ends by asserting the local Slack saw nothing real Slack would refuse (Block Kit
limits, missing fallback text, invalid channel names), so a bad payload fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.local.sandbox import LocalBot


def _checked(bot: LocalBot) -> Iterator[LocalBot]:
    with bot:
        yield bot
        assert bot.slack.violations == [], "payloads Slack would refuse"


@pytest.fixture
def bot() -> Iterator[LocalBot]:
    yield from _checked(LocalBot())


@pytest.fixture(params=["http", "socket"])
def any_bot(request: pytest.FixtureRequest) -> Iterator[LocalBot]:
    yield from _checked(LocalBot(socket_mode=request.param == "socket"))
