"""Playbook depth: relief before the lasting fix, how the customer noticed, a leader's call.

Revision ID: 0010_playbook_depth
Revises: 0008_handover_reopen_links
Create Date: 2026-12-08 10:00:00

Columns only, all nullable (or with a default), so incidents saved before keep working:
`incidents` gains what the listen step heard about how the customer noticed and the context we
gave them, the relief that reached the customer (text, when, by whom) and the leader call (when
it is due, when it happened, by whom, the note); `options` gains whether an option is relief
(stops the pain now) rather than a fix (removes the cause). The lead merging parallel branches
re-chains `down_revision`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010_playbook_depth"
down_revision: str | Sequence[str] | None = "0008_handover_reopen_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INCIDENT_COLUMNS = (
    ("noticed", sa.Text()),
    ("context_given", sa.Text()),
    ("relief", sa.Text()),
    ("relief_at", sa.DateTime(timezone=True)),
    ("relief_by", sa.String(length=64)),
    ("leader_call_asked_at", sa.DateTime(timezone=True)),
    ("leader_call_due_at", sa.DateTime(timezone=True)),
    ("leader_call_at", sa.DateTime(timezone=True)),
    ("leader_call_by", sa.String(length=64)),
    ("leader_call_note", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        for name, kind in _INCIDENT_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table("options") as batch:
        batch.add_column(sa.Column("relief", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("options") as batch:
        batch.drop_column("relief")
    with op.batch_alter_table("incidents") as batch:
        for name, _kind in reversed(_INCIDENT_COLUMNS):
            batch.drop_column(name)
