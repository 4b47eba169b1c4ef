"""`crisisbot db upgrade`: apply pending migrations (`bot.db`) and say where the schema is."""

from __future__ import annotations

from bot import db
from bot.cli.errors import database_errors
from bot.config import Settings


def upgrade(settings: Settings) -> int:
    with database_errors(settings):
        db.upgrade(settings.database_url)
        print(f"Database is up to date ({db.current_revision(settings.database_url)}).")
    return 0
