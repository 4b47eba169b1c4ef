"""The real app over real HTTP (and Socket Mode) against bot/local/localslack.

Every test ends by asserting the local Slack saw nothing real Slack would refuse (Block Kit
limits, missing fallback text, invalid channel names), so a bad payload fails the test.

The local Slack is strict by default (rate tiers, scopes, invite and unarchive refusals). A
test that needs an unlimited Slack says so with ``@pytest.mark.kind_slack("why")``: its ``bot``
/ ``any_bot`` runs without rate tiers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.local.sandbox import LocalBot


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kind_slack(reason): the test needs a local Slack without rate tiers")


def _kind(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("kind_slack")
    if marker is None:
        return False
    if not (marker.args or marker.kwargs.get("reason")):
        raise pytest.UsageError(f"{request.node.nodeid}: kind_slack needs a reason")
    return True


def _checked(bot: LocalBot) -> Iterator[LocalBot]:
    with bot:
        yield bot
        assert bot.slack.violations == [], "payloads Slack would refuse"


@pytest.fixture
def bot(request: pytest.FixtureRequest) -> Iterator[LocalBot]:
    yield from _checked(LocalBot(kind=_kind(request)))


@pytest.fixture(params=["http", "socket"])
def any_bot(request: pytest.FixtureRequest) -> Iterator[LocalBot]:
    yield from _checked(LocalBot(socket_mode=request.param == "socket", kind=_kind(request)))
