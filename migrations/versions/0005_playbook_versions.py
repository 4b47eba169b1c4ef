"""Playbook files: the version each incident was opened under, and every version's content.

Revision ID: 0005_playbook_versions
Revises: 0004_outages_lifecycle
Create Date: 2026-11-23 16:50:00

An incident keeps the playbook it was opened under (its checklist, gates and reminder texts),
so a later change of the team's file does not move the goalposts of incidents already open.
Existing incidents get NULL, which means the built-in playbook they were opened under.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_playbook_versions"
down_revision: str | Sequence[str] | None = "0004_outages_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "playbook_versions",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_playbook_versions")),
    )
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("playbook_version", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("checks", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("checks")
        batch.drop_column("playbook_version")
    op.drop_table("playbook_versions")
