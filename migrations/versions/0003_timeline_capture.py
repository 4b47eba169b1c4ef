"""Timeline capture and corrections: which Slack message became which entry, and revisions.

Revision ID: 0003_timeline_capture
Revises: 0002
Create Date: 2026-11-23 16:55:00

`timeline_captures` keeps a message from being captured twice (unique incident + message ts);
`timeline_revisions` records each correction or removal of an entry as a new row, so the
original entry is never overwritten.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003_timeline_capture"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timeline_captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("message_ts", sa.String(length=64), nullable=False),
        sa.Column("captured_by", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["timeline_entries.id"],
            name=op.f("fk_timeline_captures_entry_id_timeline_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_timeline_captures_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_captures")),
        sa.UniqueConstraint(
            "incident_id", "message_ts", name=op.f("uq_timeline_captures_incident_id_message_ts")
        ),
    )
    op.create_index(
        op.f("ix_timeline_captures_entry_id"), "timeline_captures", ["entry_id"], unique=False
    )
    op.create_table(
        "timeline_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["timeline_entries.id"],
            name=op.f("fk_timeline_revisions_entry_id_timeline_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_timeline_revisions_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_revisions")),
    )
    op.create_index(
        op.f("ix_timeline_revisions_entry_id"), "timeline_revisions", ["entry_id"], unique=False
    )
    op.create_index(
        "ix_timeline_revisions_incident_id_id",
        "timeline_revisions",
        ["incident_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_revisions_incident_id_id", table_name="timeline_revisions")
    op.drop_index(op.f("ix_timeline_revisions_entry_id"), table_name="timeline_revisions")
    op.drop_table("timeline_revisions")
    op.drop_index(op.f("ix_timeline_captures_entry_id"), table_name="timeline_captures")
    op.drop_table("timeline_captures")
