"""Owner nags, snoozes, cadence windows and stale nudges.

Revision ID: 0006_nag_snooze_windows
Revises: 0005_playbook_versions
Create Date: 2026-11-23 16:30:00

* ``incidents.last_activity_at``: when a person last changed the incident (stale nudges count
  from it); filled for existing incidents from their timeline, NULL (count from
  ``opened_at``) where it has no line by a person.
* ``cadence_changes.window_spec``: the customer's working hours the cadence applies in.
* ``snoozes``: who quieted the chasing reminders, until when, and why.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_nag_snooze_windows"
down_revision: str | Sequence[str] | None = "0005_playbook_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("last_activity_at", sa.DateTime(timezone=True),
                                   nullable=True))
    # Existing incidents: the last thing a person did (timeline lines with an actor; reminders
    # have none), so upgrading does not make every quiet old incident stale at once.
    op.execute(
        "UPDATE incidents SET last_activity_at = (SELECT MAX(t.at) FROM timeline_entries t "
        "WHERE t.incident_id = incidents.id AND t.actor IS NOT NULL)"
    )
    with op.batch_alter_table("cadence_changes") as batch:
        batch.add_column(sa.Column("window_spec", sa.String(length=200), nullable=True))
    op.create_table(
        "snoozes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_snoozes_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snoozes")),
        sa.UniqueConstraint("incident_id", "number", name=op.f("uq_snoozes_incident_id_number")),
    )


def downgrade() -> None:
    op.drop_table("snoozes")
    with op.batch_alter_table("cadence_changes") as batch:
        batch.drop_column("window_spec")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("last_activity_at")
