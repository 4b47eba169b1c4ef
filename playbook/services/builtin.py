"""The built-in playbook, read once from the data file shipped inside the package.

Its own module, importing nothing but the pure playbook parser, because the command line reads
it for every command (`crisisbot playbook show`, settings checks) and must not pay for the
database layer that the rest of `playbook.services` needs. Reading a file makes it a service,
not domain: `playbook.domain.playbook_file` only ever gets text.
"""

from __future__ import annotations

import functools
from importlib import resources

from playbook.domain.playbook_file import Playbook, parse_playbook

__all__ = ["BUILTIN_FILE", "BUILTIN_SOURCE", "builtin_playbook", "builtin_text"]

BUILTIN_FILE = "default_playbook.toml"
BUILTIN_SOURCE = "built-in playbook"


def builtin_text() -> str:
    return resources.files("playbook").joinpath(BUILTIN_FILE).read_text(encoding="utf-8")


@functools.cache
def builtin_playbook() -> Playbook:
    """The playbook in force when CRISISBOT_PLAYBOOK is not set (immutable, so shared)."""
    return parse_playbook(builtin_text(), BUILTIN_SOURCE)
