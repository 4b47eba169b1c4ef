"""Outbox rows carry a priority, and the claims take them in that order.

Revision ID: 0014_outbox_priority
Revises: 0013_installations
Create Date: 2026-12-07 20:55:00

`outbox.priority` (lower goes first: replies to a person and reminders 0, customer updates 1,
channels and invites 2, card refreshes 3, topics and bookmarks 4) is set from the row's kind
when it is queued (playbook/store/outbox.py, from the map in playbook/domain/priority.py).
Rows already queued get theirs here from the same map, copied as it stood at this revision (a
migration must not change when the map does). The server default (2) covers a row queued by
an older replica during a rolling upgrade.

`ix_outbox_open_priority` (priority, id) over open rows serves the claims in priority order
on both databases; it replaces `ix_outbox_open_post` (0007), which served the old two-class
claim ("not a card refresh" first) and nothing reads any more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014_outbox_priority"
down_revision: str | Sequence[str] | None = "0013_installations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "done_at IS NULL AND failed_at IS NULL"
OPEN_POST = f"{OPEN} AND kind <> 'refresh_card'"
# playbook/domain/priority.py as of this revision, kinds whose priority is not the default (2)
PRIORITIES = {
    0: ("tell", "timeline", "post", "capture", "recurrence", "summary", "resolve_prompt",
        "channel_lost", "channel_back", "brief"),
    1: ("draft", "draft_settled", "email", "outage_post"),
    3: ("refresh_card", "outage_card", "home"),
    4: ("bookmark",),
}


def upgrade() -> None:
    op.add_column("outbox", sa.Column("priority", sa.SmallInteger(), nullable=False,
                                      server_default=sa.text("2")))
    outbox = sa.table("outbox", sa.column("kind", sa.String()),
                      sa.column("priority", sa.SmallInteger()))
    for priority, kinds in PRIORITIES.items():
        op.execute(outbox.update().where(outbox.c.kind.in_(kinds)).values(priority=priority))
    op.create_index("ix_outbox_open_priority", "outbox", ["priority", "id"], unique=False,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.drop_index("ix_outbox_open_post", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_open_post", "outbox", ["id"], unique=False,
                    sqlite_where=sa.text(OPEN_POST), postgresql_where=sa.text(OPEN_POST))
    op.drop_index("ix_outbox_open_priority", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("priority")
