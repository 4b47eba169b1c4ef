"""The built-in playbook, read once from the data file shipped inside the package.

Kept apart from `playbook.domain.playbook_file` (which is pure and never touches files) because this
reads package data; a team's own file is read by the shell (`bot.playbooks`).
"""

from __future__ import annotations

import functools
from importlib import resources

from playbook.domain.playbook_file import Playbook, parse_playbook

BUILTIN_FILE = "default_playbook.toml"
BUILTIN_SOURCE = "built-in playbook"


def builtin_text() -> str:
    return resources.files("playbook").joinpath(BUILTIN_FILE).read_text(encoding="utf-8")


@functools.cache
def builtin_playbook() -> Playbook:
    """The playbook in force when CRISISBOT_PLAYBOOK is not set (immutable, so shared)."""
    return parse_playbook(builtin_text(), BUILTIN_SOURCE)
