"""People Slack would not let the bot invite, kept on the incident for its card.

Revision ID: 0012_invite_refusals
Revises: 0011_customer_email
Create Date: 2026-12-08 10:00:00

A guest (``user_is_restricted``), a single-channel guest already in their channel
(``ura_max_channels``) and the like can never be invited by the bot; the card names them with
Slack's reason until they are invited after all. One nullable JSON column on `incidents`
(user id -> Slack's error name); NULL reads as "nobody refused", so existing rows need nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012_invite_refusals"
down_revision: str | Sequence[str] | None = "0011_customer_email"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("not_invited", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("not_invited")
