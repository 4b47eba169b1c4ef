"""Incidents on one day's clock, for the tests of the update-clock walk and of its chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playbook.domain.model import CadenceChange, CustomerUpdate, Incident

DAY = datetime(2024, 5, 6, tzinfo=UTC)


def at(hhmm: str, day: int = 0) -> datetime:
    h, m = hhmm.split(":")
    return DAY + timedelta(days=day, hours=int(h), minutes=int(m))


def mins(n: float) -> timedelta:
    return timedelta(minutes=n)


def make(
    cadence: int | None = 30,
    set_at: str = "10:00",
    updates: tuple[str, ...] = (),
    customer: str = "Acme",
    **fields: object,
) -> Incident:
    """An incident opened at 09:50 with a cadence set at `set_at` and updates at given times."""
    inc = Incident(
        team_id="T1",
        number=3,
        customer=customer,
        description="exports fail",
        opened_by="U1",
        opened_at=at("09:50"),
    )
    if cadence is not None:
        inc.cadence_changes.append(CadenceChange(at(set_at), mins(cadence), agreed=True))
    inc.updates.extend(
        CustomerUpdate(number=i + 1, text="u", by="U1", at=at(u)) for i, u in enumerate(updates)
    )
    for name, value in fields.items():
        setattr(inc, name, value)
    return inc
