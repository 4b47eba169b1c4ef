"""Email to and from the customer: their addresses, the emails sent, the replies received.

Revision ID: 0011_customer_email
Revises: 0010_playbook_depth
Create Date: 2026-12-08 10:00:00

`incidents.customer_emails` (a JSON list, NULL on older incidents), and two child tables of
`incidents` shaped like the others (id, incident_id, team_id, number, unique per incident and
number, deleted with their incident): `sent_emails` (indexed by Message-ID: a reply's
In-Reply-To finds its incident) and `email_replies` (unique Message-ID per incident: a reply
delivered twice is recorded once).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011_customer_email"
down_revision: str | Sequence[str] | None = "0010_playbook_depth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _child(name: str, *items: sa.Column | sa.Constraint) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        *items,
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f(f"fk_{name}_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("incident_id", "number", name=op.f(f"uq_{name}_incident_id_number")),
    )


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("customer_emails", sa.JSON(), nullable=True))
    _child(
        "sent_emails",
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("by_user", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_sent_emails_message_id", "sent_emails", ["message_id"])
    _child(
        "email_replies",
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("sender_name", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attachments", sa.Text(), nullable=True),
        sa.UniqueConstraint("incident_id", "message_id",
                            name=op.f("uq_email_replies_incident_id_message_id")),
    )


def downgrade() -> None:
    op.drop_table("email_replies")
    op.drop_index("ix_sent_emails_message_id", table_name="sent_emails")
    op.drop_table("sent_emails")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("customer_emails")
