"""What every process of the bot builds from its settings: the policy, the database engine, the
`Service` (with its sessions) and the Slack client.

`bot.runtime.Runtime` adds the Bolt app, the scheduler and the outbox to these; an outbox
child process (bot/outbox/processes.py) adds only the outbox worker. Both build them here, so
neither imports the other.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from bot.config import Settings, load_playbook
from bot.slack.client import make_client
from bot.slack.installations import Installations
from bot.slack.keepalive import KeepAliveWebClient
from playbook import store
from playbook.domain.model import Policy
from playbook.services.incidents import Service, ServiceConfig
from playbook.services.workspaces import WorkspaceService


def policy_from(settings: Settings) -> Policy:
    """Timings from settings and the playbook file (a bad file raises `ConfigError`)."""
    return Policy(nudge_before=settings.nudge_before, escalate_after=settings.escalate_after,
                  escalate_repeat=settings.escalate_repeat, checkins=settings.checkins,
                  leader_call=settings.leader_call,
                  playbook=load_playbook(settings),
                  has_leads_channel=settings.leads_channel is not None,
                  stale_after=settings.stale_after, stale_resolved=settings.stale_resolved,
                  email_enabled=settings.email_enabled)


# CPython collects its youngest generation every 700 allocations by default. Reading 10,000
# incidents whole at start-up allocates millions of short-lived, acyclic objects, and those
# collections (with the full ones they trigger) took a quarter of the rebuild; a burst of
# reminders or opens does the same. Collecting every 50,000 keeps the memory bound and the
# cost small (measured: rebuild of 10,000 incidents 1.30 s -> 1.02 s).
GC_THRESHOLD = (50_000, 20, 100)


def tune_gc() -> None:
    """Raise the collector's thresholds (never lowers ones set higher by the embedder)."""
    current = gc.get_threshold()
    if current[0] < GC_THRESHOLD[0]:
        gc.set_threshold(*GC_THRESHOLD)


@dataclass
class Wiring:
    engine: Engine
    service: Service
    client: KeepAliveWebClient
    # multi-workspace mode (OAuth installs): where each workspace's token is found
    installations: Installations | None = None


def build_wiring(settings: Settings, policy: Policy, clock: Callable[[], datetime]) -> Wiring:
    """The engine, service and Slack client (the database must be migrated)."""
    engine = store.make_engine(settings.database_url)
    sessions = store.make_session_factory(engine)
    config = ServiceConfig(policy=policy, responders=settings.responders,
                           private_channels=settings.private_channels,
                           recurrence_days=settings.recurrence_days,
                           leads=settings.leads, leads_channel=settings.leads_channel)
    service = Service(sessions, config, clock)
    installs = None
    if settings.multi_workspace:
        assert settings.slack_client_id and settings.slack_client_secret
        installs = Installations(engine, client_id=settings.slack_client_id,
                                 client_secret=settings.slack_client_secret,
                                 client=make_client(settings),
                                 workspaces=WorkspaceService(sessions, clock))
    return Wiring(engine, service, make_client(settings, tokens=installs), installs)
