"""Custom playbooks for tests: the built-in one with a few changes, as a team would write it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from playbook.domain.model import Policy
from playbook.domain.playbook_file import (
    Playbook,
    dump_playbook,
    parse_playbook,
    playbook_from_dict,
)
from playbook.services.builtin import builtin_playbook


def builtin_data() -> dict[str, Any]:
    """The built-in playbook's content as plain data (a deep copy, safe to edit)."""
    return copy.deepcopy(dict(builtin_playbook().data))


def edited(change: Callable[[dict[str, Any]], None]) -> Playbook:
    data = builtin_data()
    change(data)
    return playbook_from_dict(data, "test playbook")


def with_items(step: str, *items: dict[str, Any]) -> Playbook:
    """The built-in playbook with `items` appended to `step`'s checklist."""
    return edited(lambda d: d["steps"][step]["items"].extend(items))


def as_toml(playbook: Playbook) -> str:
    text = dump_playbook(playbook)
    assert parse_playbook(text, "round trip").version == playbook.version
    return text


def default_policy(**changes: Any) -> Policy:
    """The reminder policy of a fresh install: default timings, the built-in playbook."""
    return Policy(playbook=builtin_playbook(), **changes)
