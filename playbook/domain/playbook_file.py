"""A team's playbook as data: read, checked and written back as TOML.

The five steps, their order and their built-in gates are the product; what a team may adapt
is the wording (each step's prompt, each item's label and hint, the reminder texts), the
severity levels with their default update cadences, and extra checklist items of its own,
optionally required (so they join the step's gate) and optionally carrying a typed value.

`parse_playbook(text, source)` turns a file's text into a `Playbook` or raises one
`PlaybookFileError` whose ``str()`` is a single line: ``FILE:LINE:COLUMN: what is wrong``. A
playbook only exists once it passed every check, so nothing downstream re-validates it.
`dump_playbook` writes the canonical form back (what `crisisbot playbook show` prints and what
the database keeps per version); the version is a hash of that form, so two files that say
the same thing share a version however they are laid out.

Pure: no file access (the caller reads the file), no clock, no Slack, no database.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from playbook.domain.errors import ParseError
from playbook.domain.model import STEPS, Step
from playbook.domain.parse import parse_duration
from playbook.domain.playbook_where import Locator, Path, locator_of, toml_locator
from playbook.domain.steps import BUILTIN_ITEMS, ChecklistItem, StepDef
from playbook.domain.text import esc

__all__ = [
    "REMINDER_PLACEHOLDERS",
    "Playbook",
    "PlaybookFileError",
    "Severity",
    "dump_playbook",
    "parse_playbook",
    "playbook_from_dict",
]

MIN_CADENCE = timedelta(minutes=1)
MAX_ITEMS = 10  # per step: the card's checklist section must stay within Slack's 3000 chars
LIMITS = {"name": 60, "description": 150, "prompt": 300, "label": 150, "how": 200,
          "reminder": 600}
_ITEM_KEY = re.compile(r"[a-z][a-z0-9_-]{0,29}")
_SEVERITY_NAME = re.compile(r"sev[1-9]")

# What each reminder text may mention; the values are filled in when the reminder fires.
REMINDER_PLACEHOLDERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "nudge": ("key", "due", "who"),
    "due": ("key", "since", "cadence", "who"),
    "escalate": ("key", "customer", "severity", "since", "cadence", "owner", "communicator"),
    "promise_soon": ("promise", "customer", "due", "text"),
    "promise_missed": ("promise", "text", "who"),
    "checkin": ("customer", "key", "number", "count", "checkin"),
})


class PlaybookFileError(Exception):
    """What is wrong with a playbook file, and where. ``str(err)`` is one line."""

    def __init__(self, source: str, message: str, line: int | None = None,
                 column: int | None = None) -> None:
        self.source = source
        self.message = " ".join(message.split())
        self.line = line
        self.column = column
        where = source
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {self.message}")


@dataclass(frozen=True)
class Severity:
    """A level. `leader_call` is the file's own (None: off) when `leader_call_set`; unset, the
    top severity takes CRISISBOT_LEADER_CALL and the others ask for no leader call."""

    name: str
    description: str
    cadence: timedelta
    leader_call: timedelta | None = None
    leader_call_set: bool = False


@dataclass(frozen=True, eq=False)
class Playbook:
    """A checked playbook. Immutable: incidents share it, so copying one never copies this."""

    name: str
    default_severity: str
    severities: tuple[Severity, ...]
    steps: Mapping[Step, StepDef]
    reminders: Mapping[str, str]  # mrkdwn-ready templates (the file's text escaped)
    data: Mapping[str, Any] = field(repr=False)  # the canonical content, for dump and storage
    version: str = ""

    def __deepcopy__(self, memo: dict[int, Any]) -> Playbook:
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Playbook) and other.version == self.version

    def __hash__(self) -> int:
        return hash(self.version)

    @property
    def severity_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.severities)

    def severity(self, name: str) -> Severity | None:
        return next((s for s in self.severities if s.name == name), None)

    def default_cadence(self, severity: str) -> timedelta:
        found = self.severity(severity) or self.severity(self.default_severity)
        return found.cadence if found else timedelta(hours=1)

    def leader_call(self, severity: str, setting: timedelta | None) -> timedelta | None:
        """Within how long a lead calls the customer at `severity`: the file's own value, else
        `setting` (CRISISBOT_LEADER_CALL) for the most severe level, else none."""
        found = self.severity(severity)
        if found is not None and found.leader_call_set:
            return found.leader_call
        return setting if severity == min(self.severity_names) else None

    def item(self, key: str) -> tuple[Step, ChecklistItem] | None:
        for step in STEPS:
            for item in self.steps[step].items:
                if item.key == key:
                    return step, item
        return None

    @property
    def custom_items(self) -> tuple[ChecklistItem, ...]:
        return tuple(i for s in STEPS for i in self.steps[s].items if not i.builtin)

    def reminder(self, kind: str, **values: str) -> str:
        """The reminder text of `kind` with its placeholders filled (values already mrkdwn)."""
        return self.reminders[kind].format_map(values)


# --- reading ------------------------------------------------------------------------------------


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def parse_playbook(text: str, source: str, *, syntax: str = "toml") -> Playbook:
    """Read a playbook; `source` names it in errors (usually the file's path).

    TOML is the format (what `dump_playbook` writes); ``syntax="yaml"`` reads the same keys
    from YAML when PyYAML is installed.
    """
    if syntax == "yaml":
        return _parse_yaml(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        at = _TOML_AT.search(message)
        if at:
            raise PlaybookFileError(source, f"bad TOML syntax: {message[: at.start()]}",
                                    int(at.group(1)), int(at.group(2))) from None
        raise PlaybookFileError(source, f"bad TOML syntax: {message}") from None
    return playbook_from_dict(data, source, toml_locator(text))


def playbook_from_dict(data: Mapping[str, Any], source: str,
                       locate: Locator | None = None) -> Playbook:
    """Check a decoded playbook (a dict from TOML) and build the `Playbook`."""
    return _Reader(source, locate or (lambda path: (None, None))).playbook(data)


def _show(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "the top level"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


class _Reader:
    def __init__(self, source: str, locate: Locator) -> None:
        self.source = source
        self.locate = locate

    def fail(self, path: Path, message: str) -> PlaybookFileError:
        line, column = self.locate(path)
        return PlaybookFileError(self.source, message, line, column)

    def table(self, value: Any, path: Path, allowed: tuple[str, ...],
              required: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"{_show(path)}: expected a table, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f" (did you mean `{close[0]}`?)" if close else \
                    f" (allowed: {', '.join(allowed)})"
                raise self.fail((*path, key), f"unknown key `{key}` in {_show(path)}{hint}")
        for key in required:
            if key not in value:
                raise self.fail(path, f"missing required key `{key}` in {_show(path)}")
        return value

    def text(self, value: Any, path: Path, limit: int) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"{_show(path)}: expected a string, got {_kind(value)}")
        if not value.strip():
            raise self.fail(path, f"{_show(path)}: must not be empty")
        if len(value) > limit:
            raise self.fail(path, f"{_show(path)}: at most {limit} characters, got {len(value)}")
        return value

    def flag(self, value: Any, path: Path) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"{_show(path)}: expected true or false, got {_kind(value)}")
        return value

    def array(self, value: Any, path: Path) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"{_show(path)}: expected a list of tables, got {_kind(value)}")
        return value

    # -- the parts ---------------------------------------------------------------------------

    def playbook(self, raw: Mapping[str, Any]) -> Playbook:
        top = self.table(dict(raw), (), ("name", "default_severity", "severities", "steps",
                                         "reminders"),
                         ("name", "default_severity", "severities", "steps", "reminders"))
        name = self.text(top["name"], ("name",), LIMITS["name"])
        severities, sev_data = self.severities(top["severities"])
        default = self.text(top["default_severity"], ("default_severity",), 20)
        if default not in {s.name for s in severities}:
            raise self.fail(("default_severity",), f"default_severity `{default}` is not one of "
                            f"the severities ({', '.join(s.name for s in severities)})")
        steps, step_data = self.steps(top["steps"])
        reminders, reminder_data = self.reminders(top["reminders"])
        data = {"name": name, "default_severity": default, "severities": sev_data,
                "steps": step_data, "reminders": reminder_data}
        version = hashlib.sha256(dump_playbook_data(data).encode()).hexdigest()[:12]
        return Playbook(name=name, default_severity=default, severities=severities,
                        steps=MappingProxyType(steps), reminders=MappingProxyType(reminders),
                        data=data, version=version)

    def severities(self, value: Any) -> tuple[tuple[Severity, ...], list[dict[str, str]]]:
        path: Path = ("severities",)
        entries = self.array(value, path)
        if not entries:
            raise self.fail(path, "severities: list at least one severity")
        found: list[Severity] = []
        data: list[dict[str, str]] = []
        for index, entry in enumerate(entries):
            at: Path = (*path, index)
            keys = ("name", "description", "cadence")
            entry = self.table(entry, at, (*keys, "leader_call"), keys)
            name = self.text(entry["name"], (*at, "name"), 20)
            if not _SEVERITY_NAME.fullmatch(name):
                raise self.fail((*at, "name"), f"severity name `{name}`: use sev1 … sev9 "
                                "(that is what `/incident open sevN …` reads)")
            if any(s.name == name for s in found):
                raise self.fail((*at, "name"), f"duplicate severity `{name}`")
            description = self.text(entry["description"], (*at, "description"),
                                    LIMITS["description"])
            cadence_text = self.text(entry["cadence"], (*at, "cadence"), 40)
            try:
                cadence = parse_duration(cadence_text)
            except ParseError:
                cadence = None
            if cadence is None or cadence < MIN_CADENCE:
                raise self.fail((*at, "cadence"), f"cadence `{cadence_text}` of {name} is not "
                                "a duration I can read (at least 1 minute, e.g. 30m, 1h, 4h, 1d)")
            row = {"name": name, "description": description, "cadence": cadence_text}
            call, has_call = None, "leader_call" in entry
            if has_call:
                row["leader_call"] = self.text(entry["leader_call"], (*at, "leader_call"), 40)
                call = self.leader_call(row["leader_call"], (*at, "leader_call"), name)
            found.append(Severity(name, description, cadence, call, has_call))
            data.append(row)
        return tuple(found), data

    def leader_call(self, text: str, at: Path, name: str) -> timedelta | None:
        """`30m`, `1h`, ... or `off`: within how long a lead calls the customer at `name`."""
        if text.strip().lower() == "off":
            return None
        try:
            within = parse_duration(text)
        except ParseError:
            within = None
        if within is None or within < MIN_CADENCE:
            raise self.fail(at, f"leader_call `{text}` of {name}: write a duration of at least "
                            "1 minute (e.g. 30m, 1h) or `off`")
        return within

    def steps(self, value: Any) -> tuple[dict[Step, StepDef], dict[str, Any]]:
        path: Path = ("steps",)
        names = tuple(s.value for s in STEPS)
        if isinstance(value, dict):
            for key in value:
                if key not in names:
                    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
                    hint = f"did you mean `{close[0]}`? " if close else ""
                    raise self.fail((*path, key), f"unknown step `{key}` ({hint}the steps are "
                                    f"{', '.join(names)}; they can't be renamed or added)")
        table = self.table(value, path, names, names)
        steps: dict[Step, StepDef] = {}
        data: dict[str, Any] = {}
        seen: dict[str, Step] = {}
        for step in STEPS:
            steps[step], data[step.value] = self.step(step, table[step.value], seen)
        return steps, data

    def step(self, step: Step, value: Any, seen: dict[str, Step]
             ) -> tuple[StepDef, dict[str, Any]]:
        path: Path = ("steps", step.value)
        table = self.table(value, path, ("prompt", "items"), ("prompt", "items"))
        prompt = self.text(table["prompt"], (*path, "prompt"), LIMITS["prompt"])
        entries = self.array(table["items"], (*path, "items"))
        if len(entries) > MAX_ITEMS:
            raise self.fail((*path, "items"), f"{_show(path)}: at most {MAX_ITEMS} items")
        items: list[ChecklistItem] = []
        data: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            item, item_data = self.item(step, entry, (*path, "items", index), seen)
            items.append(item)
            data.append(item_data)
        for key, (home, required) in BUILTIN_ITEMS.items():
            if home is step and required and key not in {i.key for i in items}:
                raise self.fail((*path, "items"), f"{_show(path)} must keep its built-in gate "
                                f"`{key}` (built-in gates can be reworded, not removed)")
        return (StepDef(step, esc(prompt), tuple(items)),
                {"prompt": prompt, "items": data})

    def item(self, step: Step, value: Any, path: Path, seen: dict[str, Step]
             ) -> tuple[ChecklistItem, dict[str, Any]]:
        table = self.table(value, path, ("key", "label", "how", "required", "value"),
                           ("key", "label"))
        key = self.text(table["key"], (*path, "key"), 30)
        if not _ITEM_KEY.fullmatch(key):
            raise self.fail((*path, "key"), f"item key `{key}`: use lowercase letters, digits, "
                            "- and _, starting with a letter (it is typed in `/incident check`)")
        if key in seen:
            raise self.fail((*path, "key"), f"duplicate item `{key}` (already in step "
                            f"{seen[key].value})")
        seen[key] = step
        builtin = BUILTIN_ITEMS.get(key)
        if builtin is not None and builtin[0] is not step:
            raise self.fail((*path, "key"), f"`{key}` is a built-in item of step "
                            f"{builtin[0].value}; it can't move to {step.value}")
        label = self.text(table["label"], (*path, "label"), LIMITS["label"])
        required = self.flag(table.get("required", False), (*path, "required"))
        if builtin is not None and builtin[1] and not required:
            raise self.fail((*path, "required") if "required" in table else (*path, "key"),
                            f"`{key}` is a built-in gate of {step.value}: keep "
                            "`required = true` (gates can be reworded, not removed)")
        wants_value = self.flag(table.get("value", False), (*path, "value"))
        if builtin is not None and "value" in table:
            raise self.fail((*path, "value"), f"`value` is only for items you add; `{key}` is "
                            "recorded by its own command")
        if "how" in table:
            how = self.text(table["how"], (*path, "how"), LIMITS["how"])
        elif builtin is not None:
            raise self.fail(path, f"missing required key `how` in {_show(path)} (the command "
                            f"hint for the built-in item `{key}`)")
        else:
            how = None
        data: dict[str, Any] = {"key": key, "label": label}
        if how is not None:
            data["how"] = how
        if required:
            data["required"] = True
        if wants_value:
            data["value"] = True
        if how is None:
            shown = f"`/incident check {key} &lt;value&gt;`" if wants_value else \
                f"`/incident check {key}`"
        else:
            shown = esc(how)
        item = ChecklistItem(key=key, label=label, how=shown, required=required,
                             value=wants_value, builtin=builtin is not None)
        return item, data

    def reminders(self, value: Any) -> tuple[dict[str, str], dict[str, str]]:
        path: Path = ("reminders",)
        kinds = tuple(REMINDER_PLACEHOLDERS)
        table = self.table(value, path, kinds, kinds)
        out: dict[str, str] = {}
        data: dict[str, str] = {}
        for kind in kinds:
            at = (*path, kind)
            text = self.text(table[kind], at, LIMITS["reminder"])
            allowed = REMINDER_PLACEHOLDERS[kind]
            names = ", ".join(f"{{{n}}}" for n in allowed)
            try:
                parts = list(string.Formatter().parse(text))
            except ValueError:
                raise self.fail(at, f"reminders.{kind}: unbalanced {{ or }} (write {{{{ and }}}} "
                                "for a literal brace)") from None
            for _literal, name, spec, conversion in parts:
                if name is None:
                    continue
                if name not in allowed or spec or conversion:
                    raise self.fail(at, f"reminders.{kind}: unknown placeholder `{{{name}}}` "
                                    f"(this text can use {names})")
            out[kind] = esc(text)
            data[kind] = text
        return out, data


# --- YAML (optional) ------------------------------------------------------------------------------


def _parse_yaml(text: str, source: str) -> Playbook:
    try:
        import yaml
    except ImportError:
        raise PlaybookFileError(source, "reading YAML needs PyYAML (pip install "
                                "'crisis-playbook-bot[yaml]'); or write the playbook in TOML "
                                "(`crisisbot playbook show` prints one)") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "unreadable"
        if mark is None:
            raise PlaybookFileError(source, f"bad YAML syntax: {problem}") from None
        raise PlaybookFileError(source, f"bad YAML syntax: {problem}", mark.line + 1,
                                mark.column + 1) from None
    except yaml.YAMLError as err:
        raise PlaybookFileError(source, f"bad YAML syntax: {err}") from None
    places: dict[Path, tuple[int, int]] = {}
    if root is not None:
        places[()] = (root.start_mark.line + 1, root.start_mark.column + 1)
        _yaml_places(source, root, (), places)
    return playbook_from_dict(data if data is not None else {}, source, locator_of(places))


def _yaml_places(source: str, node: Any, path: Path,
                 places: dict[Path, tuple[int, int]]) -> None:
    """Record where every key and list entry is; a repeated key is an error (YAML allows it)."""
    kind = type(node).__name__
    if kind == "MappingNode":
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                raise PlaybookFileError(source, f"duplicate key `{key}` in "
                                        f"{_show(path)}", *where)
            seen.add(key)
            places[(*path, key)] = where
            _yaml_places(source, value_node, (*path, key), places)
    elif kind == "SequenceNode":
        for index, item in enumerate(node.value):
            places[(*path, index)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _yaml_places(source, item, (*path, index), places)


# --- writing ----------------------------------------------------------------------------------

def _str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def dump_playbook(playbook: Playbook) -> str:
    """The playbook as a TOML file that `parse_playbook` reads back to the same playbook."""
    return dump_playbook_data(playbook.data)


def dump_playbook_data(data: Mapping[str, Any]) -> str:
    lines = [
        f"# Playbook {_str(data['name'])}: edit a copy, then `crisisbot playbook check FILE`.",
        "# Steps, their order and their built-in gates (items with required = true that the",
        "# built-in playbook has) stay; wording, severities and reminder texts are yours. Add",
        "# items of your own with a new key; `required = true` makes them part of the step's",
        "# gate and `value = true` asks for a typed value: `/incident check <key> [value]`.",
        "",
        f"name = {_str(data['name'])}",
        f"default_severity = {_str(data['default_severity'])}",
    ]
    for sev in data["severities"]:
        lines += ["", "[[severities]]", f"name = {_str(sev['name'])}",
                  f"description = {_str(sev['description'])}",
                  f"cadence = {_str(sev['cadence'])}"]
        if "leader_call" in sev:
            lines.append(f"leader_call = {_str(sev['leader_call'])}")
    for step in STEPS:
        body = data["steps"][step.value]
        lines += ["", f"[steps.{step.value}]", f"prompt = {_str(body['prompt'])}"]
        for item in body["items"]:
            lines += ["", f"[[steps.{step.value}.items]]"]
            lines += [f"{key} = {_str(value) if isinstance(value, str) else 'true'}"
                      for key, value in item.items()]
    lines += ["", "# Placeholders each text can use:"]
    lines += [f"#   {kind}: {', '.join(f'{{{n}}}' for n in names)}"
              for kind, names in REMINDER_PLACEHOLDERS.items()]
    lines += ["[reminders]"]
    lines += [f"{kind} = {_str(text)}" for kind, text in data["reminders"].items()]
    return "\n".join(lines) + "\n"
