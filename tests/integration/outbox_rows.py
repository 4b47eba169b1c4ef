"""The incident the outbox tests queue rows for: the same minimal open incident of team T1,
added through the store, in each of the outbox's test modules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from playbook import store
from playbook.domain.model import Incident


def add_incident(s: Session, opened_at: datetime) -> int:
    """A new open incident of team T1 (customer Acme); its id."""
    inc = store.add_incident(s, Incident(team_id="T1", number=0, customer="Acme",
                                         description="checkout is down", opened_by="U1",
                                         opened_at=opened_at))
    assert inc.id is not None
    return inc.id
