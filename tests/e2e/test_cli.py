"""`crisisbot` as a user runs it: the installed console command in a real subprocess.

Every run gets a controlled environment: the test process's variables minus every SLACK_*,
CRISISBOT_*, DATABASE_URL and PORT key, the settings passed explicitly, and a temporary working
directory so no developer `.env` is read. Output goes to files (a DEBUG run would fill a pipe),
every wait is bounded, and every started process is killed in a `finally`.

The signing secret is a marker string, and LocalSlack signs with that same marker, so the runs
that serve real requests also prove it never reaches stdout or stderr (nor do the tokens).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, pool, text

from bot import schema
from bot.local.localslack import LocalSlack
from bot.local.sandbox import free_port
from playbook.store import metadata

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CRISISBOT = BIN / "crisisbot"
MARKER = "marker-signing-secret-7f3c2a9e"  # SLACK_SIGNING_SECRET of every run
ALICE = "U0ALICE"
START_TIMEOUT = 20.0  # cold imports + migrations on a slow CI machine
STOP_TIMEOUT = 10.0  # Socket Mode's close waits up to ~3 s on the client's blocked recv()


def _head() -> str:
    heads = ScriptDirectory.from_config(schema.alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads
    return heads[0]


def clean_env(**settings: str) -> dict[str, str]:
    """os.environ without any setting of the program, plus exactly `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "CRISISBOT_")) and key not in ("DATABASE_URL", "PORT")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def assert_no_secrets(output: str, *secrets: str) -> None:
    for secret in (MARKER, *secrets):
        assert secret not in output, f"a secret was echoed: {secret[:6]}…"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def crisisbot(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60.0,
              exe: Path = CRISISBOT) -> Result:
    """Run the command to completion; its output is checked for the signing secret."""
    done = subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    result = Result(done.returncode, done.stdout, done.stderr)
    assert_no_secrets(result.output)
    return result


class Running:
    """A started `crisisbot run`, its output in files under the test's tmp_path."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.out_path, self.err_path = cwd / "stdout.log", cwd / "stderr.log"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen([str(CRISISBOT), *args], cwd=cwd, env=env,
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    @property
    def output(self) -> str:
        return (self.out_path.read_text(errors="replace")
                + self.err_path.read_text(errors="replace"))

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.splitlines()[-lines:])

    def wait_until(self, predicate: object, what: str, timeout: float = START_TIMEOUT) -> None:
        """Poll `predicate()` until true; fail early (with the log) if the process exits."""
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                pytest.fail(f"crisisbot exited ({self.proc.returncode}) before {what}:\n"
                            f"{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> tuple[int, float]:
        """Send `sig`; return the exit code and the seconds it took to exit."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"crisisbot did not exit within {STOP_TIMEOUT:.0f} s of {sig.name}:\n"
                        f"{self.tail()}")
        return code, time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@contextmanager
def running(args: list[str], *, cwd: Path, env: dict[str, str]) -> Iterator[Running]:
    bot = Running(args, cwd=cwd, env=env)
    try:
        yield bot
    finally:
        bot.kill()


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    """A local Slack whose signing secret is the marker; a user and a channel to type in."""
    server = LocalSlack(signing_secret=MARKER).start()
    try:
        server.add_user(ALICE, "alice")
        yield server
        assert server.violations == [], "payloads Slack would refuse"
    finally:
        server.stop()


def slack_env(slack: LocalSlack, tmp_path: Path, **more: str) -> dict[str, str]:
    return clean_env(SLACK_API_URL=slack.api_url, SLACK_BOT_TOKEN=slack.bot_token,
                     SLACK_SIGNING_SECRET=MARKER,
                     DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", **more)


def tables_of(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    conn.close()
    return {name for (name,) in rows}


def sqlite_revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    conn.close()
    assert len(rows) == 1, rows
    return str(rows[0][0])


def assert_schema(path: Path) -> None:
    assert path.is_file(), "no database file was created"
    assert sqlite_revision(path) == _head()
    missing = set(metadata.tables) - tables_of(path)
    assert not missing, f"tables not created: {sorted(missing)}"


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def open_incident(slack: LocalSlack, app_url: str | None, via: str) -> str:
    """Type `/incident open …` in #support; the ack names INC-1; return the new channel's id."""
    support = slack.add_channel("support", members=[ALICE])
    reply = slack.command(app_url, "open Acme: screens down", user_id=ALICE,
                          channel_id=support.id, via=via)  # type: ignore[arg-type]
    assert reply.ok, (reply.status, reply.body)
    assert isinstance(reply.body, dict), reply.body
    assert "INC-1" in reply.body.get("text", ""), reply.body
    found = slack.wait_for(
        lambda: [c.id for c in slack.channels.values() if c.name.startswith("inc-1-")],
        10.0, message="the incident channel")
    return found[0]


# --- start-up refusals ---------------------------------------------------------------------


def test_run_without_app_token_or_http_says_how_to_choose(tmp_path: Path) -> None:
    env = clean_env(SLACK_BOT_TOKEN="xoxb-123-abc", SLACK_SIGNING_SECRET=MARKER,
                    DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    result = crisisbot("run", cwd=tmp_path, env=env, timeout=30)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SLACK_APP_TOKEN" in lines[0] and "--http" in lines[0], lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "x.db").exists(), "nothing is touched before the mode is chosen"


@pytest.mark.parametrize(("key", "value"), [
    ("CRISISBOT_NUDGE_BEFORE", "soon"),
    ("SLACK_BOT_TOKEN", "abc"),
    ("SLACK_BOT_TOKEN", f"xoxb-{MARKER} with spaces"),
    ("SLACK_SIGNING_SECRET", f"{MARKER} trailing words"),
    ("PORT", "eighty"),
    ("DATABASE_URL", f"mysql://root:{MARKER}@db/crisis"),
])
def test_a_malformed_setting_stops_start_up_with_one_line(tmp_path: Path, key: str,
                                                          value: str) -> None:
    env = clean_env(SLACK_BOT_TOKEN="xoxb-123-abc", SLACK_SIGNING_SECRET=MARKER,
                    DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", LOG_LEVEL="DEBUG")
    env[key] = value
    result = crisisbot("run", "--http", cwd=tmp_path, env=env, timeout=30)
    assert result.returncode == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"crisisbot: {key}: expected"), lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.db").exists()


def test_no_migrate_on_an_empty_database_says_to_run_db_upgrade(
        tmp_path: Path, slack: LocalSlack) -> None:
    env = slack_env(slack, tmp_path)  # LOG_LEVEL: the default, INFO
    result = crisisbot("run", "--http", "--port", str(free_port()), "--no-migrate",
                       cwd=tmp_path, env=env, timeout=30)
    assert result.returncode == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("crisisbot: DATABASE_URL:"), lines[0]
    assert "crisisbot db upgrade" in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert_no_secrets(result.output, slack.bot_token)
    db_file = tmp_path / "bot.db"
    assert not db_file.exists() or "alembic_version" not in tables_of(db_file), (
        "--no-migrate must not migrate")


@pytest.mark.parametrize(("key", "args"), [
    ("SLACK_BOT_TOKEN", ["run", "--http"]),
    ("SLACK_APP_TOKEN", ["run"]),
])
def test_a_token_slack_refuses_stops_start_up_without_a_traceback(
        tmp_path: Path, slack: LocalSlack, key: str, args: list[str]) -> None:
    env = slack_env(slack, tmp_path, SLACK_APP_TOKEN=slack.app_token, PORT=str(free_port()))
    env[key] = env[key][:5] + "not-the-right-one"
    result = crisisbot(*args, cwd=tmp_path, env=env, timeout=30)
    assert result.returncode == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"crisisbot: {key}: Slack did not"), last
    assert "invalid_auth" in last
    assert "Traceback" not in result.output


# --- crisisbot db upgrade ------------------------------------------------------------------


def test_db_upgrade_creates_the_sqlite_schema_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "data" / "x.db"
    path.parent.mkdir()
    env = clean_env(DATABASE_URL=f"sqlite:///{path}")  # no Slack settings needed
    for _ in range(2):
        result = crisisbot("db", "upgrade", cwd=tmp_path, env=env, timeout=60)
        assert result.returncode == 0, result.output
        assert f"up to date ({_head()})" in result.stdout
        assert_schema(path)


@pytest.mark.postgres
def test_db_upgrade_on_postgresql_twice(tmp_path: Path, pg_url: str) -> None:
    env = clean_env(DATABASE_URL=pg_url)
    for _ in range(2):
        result = crisisbot("db", "upgrade", cwd=tmp_path, env=env, timeout=60)
        assert result.returncode == 0, result.output
        assert f"up to date ({_head()})" in result.stdout
    engine = create_engine(pg_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert [v for (v,) in versions] == [_head()]
    assert set(metadata.tables) <= tables


def test_db_upgrade_on_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = clean_env(DATABASE_URL=f"postgresql+psycopg://crisis:{MARKER}@127.0.0.1:{port}/x")
    result = crisisbot("db", "upgrade", cwd=tmp_path, env=env, timeout=30)
    assert result.returncode == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crisisbot: DATABASE_URL:"), result.stderr


# --- crisisbot run -------------------------------------------------------------------------


def test_run_http_serves_slack_and_stops_on_sigterm(tmp_path: Path, slack: LocalSlack) -> None:
    port, other = free_port(), free_port()
    env = slack_env(slack, tmp_path, LOG_LEVEL="DEBUG", PORT=str(other))
    with running(["run", "--http", "--port", str(port)], cwd=tmp_path, env=env) as bot:
        health = f"http://127.0.0.1:{port}/healthz"
        bot.wait_until(lambda: http_status(health) == 200, "200 from GET /healthz")
        assert http_status(f"http://127.0.0.1:{other}/healthz") == 0, "--port beats PORT"
        assert slack.call_count("auth.test") >= 1, "start-up talks to SLACK_API_URL"
        assert_schema(tmp_path / "bot.db")  # migrated on start

        open_incident(slack, f"http://127.0.0.1:{port}/slack/events", "http")

        code, took = bot.stop(signal.SIGTERM)
        output = bot.output
    assert code == 0, output[-3000:]
    assert took < STOP_TIMEOUT
    assert f":{port}/slack/events" in output
    assert "Scheduler has been shut down" in output, "the runtime was stopped, not killed"
    assert "DEBUG" in output, "LOG_LEVEL=DEBUG was applied"
    assert "Traceback" not in output, output[-3000:]
    assert_no_secrets(output, slack.bot_token)


def test_run_socket_mode_serves_slack_and_stops_on_sigterm(tmp_path: Path,
                                                           slack: LocalSlack) -> None:
    """Socket Mode on a database migrated beforehand, started with --no-migrate."""
    env = slack_env(slack, tmp_path, LOG_LEVEL="DEBUG", SLACK_APP_TOKEN=slack.app_token)
    migrated = crisisbot("db", "upgrade", cwd=tmp_path, env=env, timeout=60)
    assert migrated.returncode == 0, migrated.output
    with running(["run", "--no-migrate"], cwd=tmp_path, env=env) as bot:
        bot.wait_until(lambda: slack.socket_connections >= 1, "Socket Mode connection")
        assert slack.call_count("apps.connections.open") >= 1
        open_incident(slack, None, "socket")

        code, took = bot.stop(signal.SIGTERM)
        output = bot.output
    assert code == 0, output[-3000:]
    assert took < STOP_TIMEOUT
    assert "Scheduler has been shut down" in output, "the runtime was stopped, not killed"
    slack.wait_for(lambda: slack.socket_connections == 0, 5.0,
                   message="the Socket Mode connection to close")
    assert "Traceback" not in output, output[-3000:]
    assert_no_secrets(output, slack.bot_token, slack.app_token)


# --- a regular wheel install ---------------------------------------------------------------


def test_a_wheel_install_runs_db_upgrade_with_packaged_migrations(tmp_path: Path) -> None:
    """Build a wheel, install it (no deps, no index) into a fresh venv and migrate from there.

    The fresh venv sees its dependencies through a .pth naming this venv's site-packages:
    a path line in a .pth adds the directory but does not process the .pth files inside it, so
    the editable install's pointer at the source tree stays out and `bot` comes from the wheel.
    """
    wheels, venv, work = tmp_path / "wheels", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    quiet = {"capture_output": True, "text": True, "check": False}
    # The build backend from the package index, unless it is already here.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            *isolation, "-w", str(wheels), str(REPO)], timeout=120, **quiet)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("crisis_playbook_bot-*.whl")

    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                          timeout=60, **quiet)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                                "--no-deps", "--no-index", "--quiet", str(wheel)],
                               timeout=120, **quiet)
    assert installed.returncode == 0, installed.stderr[-3000:]
    probe = subprocess.run([str(python), "-c", "import sysconfig; "
                            "print(sysconfig.get_paths()['purelib'])"], timeout=30, **quiet)
    site = Path(probe.stdout.strip())
    outer = subprocess.run([sys.executable, "-c", "import sysconfig; "
                            "print(sysconfig.get_paths()['purelib'])"], timeout=30, **quiet)
    (site / "_outer_dependencies.pth").write_text(outer.stdout.strip() + "\n")

    env = clean_env(DATABASE_URL=f"sqlite:///{work / 'x.db'}")
    env.pop("PYTHONPATH", None)
    code = "import bot.schema; print(bot.schema.migrations_dir())"
    where = subprocess.run([str(python), "-c", code], cwd=work, env=env, timeout=30, **quiet)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()) == site / "bot" / "migrations", "bot from the wheel"

    result = crisisbot("db", "upgrade", cwd=work, env=env, timeout=60,
                       exe=venv / "bin" / "crisisbot")
    assert result.returncode == 0, result.output
    assert_schema(work / "x.db")
    # the built-in playbook is a data file: it must ship in the wheel too
    shown = crisisbot("playbook", "show", cwd=work, env=env, timeout=60,
                      exe=venv / "bin" / "crisisbot")
    assert shown.returncode == 0, shown.output
    assert "[steps.listen]" in shown.stdout
