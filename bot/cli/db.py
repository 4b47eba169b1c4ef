"""`crisisbot db upgrade`: apply pending migrations (`bot.schema`) and name the revision reached."""

from __future__ import annotations

from bot import schema
from bot.cli.errors import database_errors
from bot.config import Settings


def upgrade(settings: Settings) -> int:
    with database_errors(settings):
        schema.upgrade(settings.database_url)
        print(f"Database is up to date ({schema.current_revision(settings.database_url)}).")
    return 0
