"""The declarative base every table shares, and the column types that make both databases agree.

Named constraints (`NAMING_CONVENTION`) are what let Alembic's batch mode rebuild SQLite tables;
`UTCDateTime` is why a time reads back the same from SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Dialect, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

__all__ = ["NAMING_CONVENTION", "Base", "UTCDateTime", "metadata", "slack_id"]

# Named constraints are what let Alembic's batch mode rebuild SQLite tables (it must drop and
# recreate constraints by name) and keep autogenerate diffs stable across databases.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC on every database and returned as an aware UTC datetime.

    SQLite has no time zones: SQLAlchemy writes the wall-clock digits and silently drops the
    offset, so 14:00+01:00 would come back as 14:00. Converting to UTC on the way in and tagging
    UTC on the way out makes both databases agree. Naive datetimes are refused (`ValueError`,
    wrapped by SQLAlchemy in a `StatementError`) instead of being guessed at.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware UTC time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def slack_id() -> String:
    """Slack ids (team, user, channel), message timestamps and similar short keys."""
    return String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute as is)
        datetime: UTCDateTime(),
        str: Text(),
        int: Integer(),
        bool: Boolean(),
    }


metadata = Base.metadata

"""Every table of every store module is on this; `playbook.store` imports them all, so the
migrations and `alembic check` (which read it from there) see the whole schema."""
