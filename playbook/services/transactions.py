"""One transaction per use case, retried from a fresh read when an incident changed under it.

Saves are optimistic (`playbook.store.incidents.save_incident` checks the version it loaded), so
two people acting on one incident at once both land: the loser's whole use case runs again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from playbook import store
from playbook.domain.errors import PlaybookError

__all__ = ["SAVE_RETRIES", "retry_stale"]

log = logging.getLogger(__name__)
T = TypeVar("T")

SAVE_RETRIES = 25
"""How many times a use case is run again after losing a save to a concurrent change."""


def retry_stale(sessions: sessionmaker[Session], clock: Callable[[], datetime],
                work: Callable[[Session, datetime], T], *,
                refusal: str = "Too many people changed this incident at once; please try again.",
                ) -> T:
    """`work` in a transaction of its own, again from the start while a save finds the
    incident changed since it was read (`store.StaleIncident`); `refusal` is the message of
    the `PlaybookError` raised once the retries are used up."""
    for attempt in range(SAVE_RETRIES):
        try:
            with sessions.begin() as session:
                return work(session, clock())
        except store.StaleIncident:
            log.debug("concurrent change; retrying (attempt %d)", attempt + 1)
            # jittered backoff so racing writers stop colliding in lockstep
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise PlaybookError(refusal)
