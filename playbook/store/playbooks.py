"""Keeping every playbook version an incident was opened under (the only SQL for playbooks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from playbook.domain.playbook_file import Playbook, dump_playbook, parse_playbook
from playbook.store.tables import PlaybookVersionRow

_VERSIONS = PlaybookVersionRow.__table__


def remember(session: Session, playbook: Playbook, now: datetime) -> None:
    """Store `playbook`'s content under its version unless it is there already.

    Replicas opening incidents at once may race to insert the same version: the loser's insert
    fails inside a SAVEPOINT and changes nothing, since the content is the same by definition.
    """
    exists = session.execute(
        select(_VERSIONS.c.version).where(_VERSIONS.c.version == playbook.version)
    ).first()
    if exists is not None:
        return
    try:
        with session.begin_nested():
            session.execute(insert(_VERSIONS).values(
                version=playbook.version, name=playbook.name, content=dump_playbook(playbook),
                created_at=now))
    except IntegrityError:
        pass


def load(session: Session, version: str) -> Playbook | None:
    """The stored playbook of `version`, or None if this database never saw it."""
    content = session.execute(
        select(_VERSIONS.c.content).where(_VERSIONS.c.version == version)
    ).scalar_one_or_none()
    if content is None:
        return None
    return parse_playbook(content, f"stored playbook version {version}")
