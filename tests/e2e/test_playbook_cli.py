"""`crisisbot playbook check|show`, and a bad playbook file at start-up, as a user runs them."""

from __future__ import annotations

from pathlib import Path

from playbook.domain.playbook_file import parse_playbook
from playbook.services.builtin import builtin_playbook
from tests.e2e.test_cli import MARKER, clean_env, crisisbot
from tests.playbooks import as_toml, with_items


def _team_file(tmp_path: Path) -> Path:
    path = tmp_path / "team-playbook.toml"
    text = as_toml(with_items("own", {"key": "legal", "label": "Legal told", "required": True}))
    path.write_text(text.replace('name = "built-in"', 'name = "Acme support"'))
    return path


def test_show_prints_the_built_in_playbook_as_a_file_to_copy(tmp_path: Path) -> None:
    result = crisisbot("playbook", "show", cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.output
    assert result.stderr == ""
    shown = parse_playbook(result.stdout, "shown")
    assert shown.version == builtin_playbook().version
    assert "[steps.listen]" in result.stdout and "[reminders]" in result.stdout


def test_show_prints_the_file_from_settings(tmp_path: Path) -> None:
    team = _team_file(tmp_path)
    result = crisisbot("playbook", "show", cwd=tmp_path,
                       env=clean_env(CRISISBOT_PLAYBOOK=str(team)))
    assert result.returncode == 0, result.output
    shown = parse_playbook(result.stdout, "shown")
    assert shown.name == "Acme support" and shown.item("legal") is not None
    (tmp_path / "copy.toml").write_text(result.stdout)
    again = crisisbot("playbook", "check", "copy.toml", cwd=tmp_path, env=clean_env())
    assert again.returncode == 0, "what show prints passes check"


def test_check_a_good_file_says_ok_with_a_summary(tmp_path: Path) -> None:
    team = _team_file(tmp_path)
    result = crisisbot("playbook", "check", str(team), cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ok: {team}: playbook \"Acme support\"")
    assert "21 checklist items (11 required, 1 added by you)" in lines[0]
    assert "sev1 every 30 min" in lines[0]


def test_check_a_bad_file_is_one_line_with_the_place(tmp_path: Path) -> None:
    team = _team_file(tmp_path)
    text = team.read_text().replace('label = "Legal told"', 'lable = "Legal told"')
    team.write_text(text)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith("lable"))
    result = crisisbot("playbook", "check", str(team), cwd=tmp_path, env=clean_env())
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"crisisbot: {team}:{line}:1: unknown key `lable`"), lines[0]
    assert "did you mean `label`?" in lines[0]


def test_check_a_missing_file(tmp_path: Path) -> None:
    result = crisisbot("playbook", "check", "nope.toml", cwd=tmp_path, env=clean_env())
    assert result.returncode == 1
    assert result.stderr.strip() == "crisisbot: nope.toml: cannot read the file: No such file or " \
                                    "directory"


def test_a_bad_playbook_file_stops_start_up_with_one_line(tmp_path: Path) -> None:
    team = _team_file(tmp_path)
    team.write_text(team.read_text().replace("[steps.solve]", "[steps.fix]"))
    env = clean_env(SLACK_BOT_TOKEN="xoxb-123-abc", SLACK_SIGNING_SECRET=MARKER,
                    DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", CRISISBOT_PLAYBOOK=str(team))
    result = crisisbot("run", "--http", cwd=tmp_path, env=env, timeout=30)
    assert result.returncode == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"crisisbot: CRISISBOT_PLAYBOOK: {team}:"), lines[0]
    assert "unknown step `fix`" in lines[0]
    assert not (tmp_path / "x.db").exists(), "nothing starts with a bad playbook"
    shown = crisisbot("playbook", "show", cwd=tmp_path, env=env)
    assert shown.returncode == 2 and "unknown step `fix`" in shown.stderr
