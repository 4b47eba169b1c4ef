"""The intake: raw `/incident open` commands recorded at the ack under load.

Revision ID: 0015_intake
Revises: 0014_outbox_priority
Create Date: 2026-12-07 21:00:00

Declared in playbook.store.intake. A row is one command as Slack sent it, pending until the
incident it asks for is written (or refused) in the same transaction that marks it done.
`ix_intake_pending` is partial (pending rows only): processors scan those in arrival order, so
a claim costs the same however many done rows wait for pruning. Plain SQLAlchemy types only,
every constraint and index named by the metadata's naming convention.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015_intake"
down_revision: str | Sequence[str] | None = "0014_outbox_priority"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "done_at IS NULL"


def _id(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=64), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "intake",
        sa.Column("id", sa.Integer(), nullable=False),
        _id("team_id"),
        _id("request_key"),
        _id("user_id"),
        _id("channel_id", True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("response_url", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="SET NULL",
                                name=op.f("fk_intake_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake")),
        sa.UniqueConstraint("request_key", name=op.f("uq_intake_request_key")),
    )
    op.create_index(op.f("ix_intake_done_at"), "intake", ["done_at"], unique=False)
    op.create_index("ix_intake_pending", "intake", ["id"], unique=False,
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))


def downgrade() -> None:
    op.drop_index("ix_intake_pending", table_name="intake")
    op.drop_index(op.f("ix_intake_done_at"), table_name="intake")
    op.drop_table("intake")
