"""Partial indexes for claiming the outbox in per-incident chains (playbook/store/outbox.py).

Revision ID: 0007_outbox_chains
Revises: 0006_nag_snooze_windows
Create Date: 2026-11-23 17:10:00

`ix_outbox_open_incident` (incident_id, id) over open items answers "is an earlier item of this
incident still open?" with one index probe. Without it, PostgreSQL on a table it has no
statistics for yet (a burst right after a start) planned that check as a scan of every open
item per candidate, and a claim over 20,000 queued items did not finish in minutes.
`ix_outbox_open_post` (id) over open items that are not card refreshes lets an urgent claim
(posts before card refreshes) find the first posts without walking past the queued refreshes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_outbox_chains"
down_revision: str | Sequence[str] | None = "0006_nag_snooze_windows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "done_at IS NULL AND failed_at IS NULL"
OPEN_POST = f"{OPEN} AND kind <> 'refresh_card'"


def upgrade() -> None:
    op.create_index("ix_outbox_open_incident", "outbox", ["incident_id", "id"], unique=False,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_index("ix_outbox_open_post", "outbox", ["id"], unique=False,
                    sqlite_where=sa.text(OPEN_POST), postgresql_where=sa.text(OPEN_POST))


def downgrade() -> None:
    op.drop_index("ix_outbox_open_post", table_name="outbox")
    op.drop_index("ix_outbox_open_incident", table_name="outbox")
