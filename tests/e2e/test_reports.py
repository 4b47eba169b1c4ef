"""`crisisbot report` and `crisisbot stats` read what a real incident left in the database."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.local.sandbox import LocalBot
from bot.redact import uninstall_redaction


@pytest.fixture
def finished_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    with LocalBot(database_url=url) as bot:
        bot.command("open sev1 Acme: lobby screens down")
        channel = bot.incident_channel()
        for line in ("listen all 12 screens", "cadence 30m", "own", "park a refund",
                     "rootcause stale state &lt;b&gt;"):  # as Slack sends a typed <b>
            bot.command(line, channel=channel)
    return url


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
            finished_db: str) -> Iterator[None]:
    for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", finished_db)
    monkeypatch.chdir(tmp_path)  # no developer .env
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    # main() configures logging for a whole process; put this test process back as it was
    uninstall_redaction()
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_report_markdown_and_json(cli_env: None, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "INC-1"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("# ") and "INC-1" in markdown and "a refund" in markdown
    out = tmp_path / "inc1.json"
    assert main(["report", "inc-1", "--format", "json", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "crisisbot.report/1" and doc["summary"]["severity"] == "sev1"
    assert doc["summary"]["root_cause"] == "stale state <b>", "stored as typed"
    assert [e["kind"] for e in doc["timeline"]][:2] == ["open", "listen"]


def test_report_of_a_missing_incident_is_one_line(cli_env: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "INC-9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "crisisbot: There is no INC-9."


def test_stats(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--since", "7d"]) == 0
    text = capsys.readouterr().out
    assert "1 opened, 0 closed, 1 still open" in text and "sev1: 1" in text
    assert main(["stats", "--since", "2w"]) == 2


def test_report_writes_the_cadence_chart(cli_env: None, tmp_path: Path) -> None:
    chart = tmp_path / "inc1.png"
    assert main(["report", "INC-1", "--chart", str(chart), "--out", str(tmp_path / "r.md")]) == 0
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_report_out_into_a_missing_folder_is_one_line(
        cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no-such-folder" / "r.md"
    assert main(["report", "INC-1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("crisisbot: cannot write to ") and "does not exist" in err
    assert not out.parent.exists()


def test_report_out_to_a_folder_is_one_line(cli_env: None, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    assert main(["report", "INC-1", "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "it is a folder" in err
    assert list(folder.iterdir()) == []


def test_report_out_to_a_device_is_one_line_and_leaves_it_alone(
        cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    before = Path("/dev/full").lstat()
    assert main(["report", "INC-1", "--out", "/dev/full"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a regular file" in err
    after = Path("/dev/full").lstat()
    assert (after.st_mode, after.st_rdev) == (before.st_mode, before.st_rdev)
    assert not [p for p in Path("/dev").iterdir() if p.name.startswith(".full.")]


def test_report_out_replaces_a_symlink_instead_of_writing_through_it(
        cli_env: None, tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("do not touch\n")
    link = tmp_path / "r.md"
    link.symlink_to(precious)
    assert main(["report", "INC-1", "--out", str(link)]) == 0
    assert precious.read_text() == "do not touch\n"
    assert not link.is_symlink() and link.read_text().startswith("# ")


def test_report_out_overwrites_a_file_whole_and_leaves_no_temporary_file(
        cli_env: None, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    out.write_text("old report\n" * 1000)
    assert main(["report", "INC-1", "--out", str(out)]) == 0
    assert out.read_text().startswith("# ") and "old report" not in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".r.md")) == []


def test_report_out_on_a_full_disk_is_one_line_and_keeps_the_old_file(
        cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import errno
    import os

    out = tmp_path / "r.md"
    out.write_text("yesterday's report\n")

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("bot.cli.output.os.fsync", full)
    assert main(["report", "INC-1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left on device" in err
    assert out.read_text() == "yesterday's report\n", "the old file is whole"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".r.md")] == []
