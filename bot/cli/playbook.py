"""`crisisbot playbook check FILE` and `crisisbot playbook show`."""

from __future__ import annotations

import sys

from bot.config import Settings, load_playbook, read_playbook_file
from playbook.domain.model import STEPS
from playbook.domain.playbook_file import Playbook, PlaybookFileError, dump_playbook
from playbook.domain.text import fmt_duration


def summary(playbook: Playbook) -> str:
    """One line on what a playbook holds, so `check` says more than "fine"."""
    items = [item for step in STEPS for item in playbook.steps[step].items]
    required = sum(item.required for item in items)
    added = sum(not item.builtin for item in items)
    levels = ", ".join(f"{s.name} every {fmt_duration(s.cadence)}" for s in playbook.severities)
    return (f"playbook \"{playbook.name}\" (version {playbook.version}): {len(STEPS)} steps, "
            f"{len(items)} checklist items ({required} required, {added} added by you); "
            f"severities: {levels}; default {playbook.default_severity}")


def check(path: str) -> int:
    try:
        playbook = read_playbook_file(path)
    except PlaybookFileError as err:
        print(f"crisisbot: {err}", file=sys.stderr)
        return 1
    print(f"ok: {path}: {summary(playbook)}")
    return 0


def show(settings: Settings) -> int:
    """Print the playbook in force; a bad CRISISBOT_PLAYBOOK raises `ConfigError` (exit 2)."""
    sys.stdout.write(dump_playbook(load_playbook(settings)))
    return 0
