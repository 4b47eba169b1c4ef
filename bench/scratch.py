"""A scratch PostgreSQL database for one benchmark run, dropped afterwards (with its sessions).

The server comes from `CRISISBOT_BENCH_DATABASE_URL` (default: the local test server), so a run
never touches a database someone uses.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

from sqlalchemy import create_engine, make_url

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    admin_url = os.environ.get("CRISISBOT_BENCH_DATABASE_URL", ADMIN_URL)
    name = f"crisisbot_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
