"""crmnotes.yaml -> a typed ``VaultConfig``.

The config file is the single source of the vault's rules: which fields
exist and are required, the choice lists (with labels and aliases, so a
Chinese team can type 意向 and an English one intent), cadence, tag
namespaces and the phone region.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .model import MAX_DAYS

CONFIG_FILE = "crmnotes.yaml"
FIELD_TYPES = {"text", "choice", "phone", "email", "tags", "date", "datetime", "number", "list", "contacts",
               "credit_code"}
ADHOC_POLICIES = {"allow", "warn", "error"}


def fold(text: str) -> str:
    """Case- and width-insensitive form used to compare what people type."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


@dataclass(frozen=True)
class Choice:
    id: str
    label: str = ""
    aliases: tuple[str, ...] = ()
    computed: bool = False
    closed: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def display(self) -> str:
        return self.label or self.id


@dataclass
class ChoiceSet:
    """A preset list; ``strict`` lists refuse other values, others warn."""

    name: str
    items: list[Choice]
    strict: bool = True
    _lookup: dict[str, Choice] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for item in self.items:
            for spelling in (item.id, item.label, *item.aliases):
                if spelling:
                    self._lookup.setdefault(fold(spelling), item)

    def find(self, value: str) -> Choice | None:
        return self._lookup.get(fold(value))

    def canonical(self, value: str) -> str:
        """The stored id for what was typed, or the value unchanged."""
        found = self.find(value)
        return found.id if found else value

    def display(self, value: str) -> str:
        found = self.find(value)
        return found.display if found else value

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str = "text"
    required: bool = False
    choices: str | None = None
    label: str = ""


@dataclass
class TagRules:
    adhoc: str = "warn"
    namespaces: dict[str, list[str] | None] = field(default_factory=dict)


@dataclass
class VaultConfig:
    fields: dict[str, FieldDef]
    choices: dict[str, ChoiceSet]
    require_one_of: list[list[str]] = field(default_factory=list)
    stage_cadence: dict[str, int | None] = field(default_factory=dict)
    grade_cadence: dict[str, int | None] = field(default_factory=dict)
    tag_cadence: dict[str, int | None] = field(default_factory=dict)  # tag (risk/高) -> days
    write_choices_as: str = "id"  # what 'crm check --fix' writes for a choice: its id or its label
    silent_after_days: int = 90
    phone_region: str = "CN"
    language: str = "zh"
    user: str = ""
    currency: str = "CNY"
    tags: TagRules = field(default_factory=TagRules)
    newest_first: bool = True  # order of follow-ups in `crm show` and the TUI (display.followups)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def choice_set(self, name: str) -> ChoiceSet:
        found = self.choices.get(name)
        if found is None:
            raise ConfigError(f"crmnotes.yaml has no choice list '{name}'.", "Add it under 'choices:'.")
        return found

    def choices_for(self, field_name: str) -> ChoiceSet | None:
        definition = self.fields.get(field_name)
        if definition is None or definition.choices is None:
            return None
        return self.choices.get(definition.choices)

    @property
    def stages(self) -> ChoiceSet:
        return self.choice_set("stages")

    @property
    def channels(self) -> ChoiceSet:
        return self.choice_set("channels")

    @property
    def silent_stage(self) -> str | None:
        return next((c.id for c in self.stages.items if c.computed), None)

    @property
    def initial_stage(self) -> str:
        return next(c.id for c in self.stages.items if not c.computed)


def load_config(path: Path) -> VaultConfig:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing.", "Run 'crm init' to create a vault.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}.") from None
    if re.search(r"^<<<<<<< ", text, re.M):  # a plain 'git pull' stopped on this file
        raise ConfigError(f"{path} has git conflict markers: a git merge of it is unfinished.",
                          "Keep the right lines between <<<<<<< and >>>>>>>, delete the markers, then "
                          "'git add crmnotes.yaml' and 'git commit' (or 'git merge --abort').")
    data = _remembered(path, text)
    if data is None:
        data = _parse_yaml(path, text)
        _remember(path, text, data)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of settings.")
    return parse_config(data, path)


def _parse_yaml(path: Path, text: str) -> Any:
    import yaml  # ~40 ms: most commands find the parsed config in the cache (_remembered)

    from . import yamlsafe

    try:
        return yamlsafe.load(text) or {}
    except yamlsafe.YamlDataError as exc:
        raise ConfigError(f"{path}:{exc.line}: {exc}.", "Fix the file and try again.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}).") from None


# The YAML parser costs ~50 ms of every command (import + parse), so the parsed data is kept as
# JSON beside the other caches, keyed by the file's whole text: any edit, whatever its size or
# mtime, misses.  Only data that comes back from JSON unchanged is kept (no dates, no tuples).
CONFIG_CACHE = Path(".crmnotes") / "config.json"
CONFIG_CACHE_VERSION = 1


def _remembered(path: Path, text: str) -> Any:
    import json

    try:
        cached = json.loads((path.parent / CONFIG_CACHE).read_bytes())
    except (OSError, ValueError):  # missing or damaged: parse the YAML
        return None
    if isinstance(cached, dict) and cached.get("version") == CONFIG_CACHE_VERSION and cached.get("text") == text:
        return cached.get("data")
    return None


def _remember(path: Path, text: str, data: Any) -> None:
    import json

    from .fsutil import atomic_write

    try:
        encoded = json.dumps({"version": CONFIG_CACHE_VERSION, "text": text, "data": data}, ensure_ascii=False)
    except (TypeError, ValueError):
        return
    if json.loads(encoded)["data"] != data:
        return
    try:
        atomic_write(path.parent / CONFIG_CACHE, encoded.encode("utf-8"), durable=False)
    except OSError:
        pass  # a read-only vault parses its YAML every time


def parse_config(data: dict[str, Any], path: Path | str = CONFIG_FILE) -> VaultConfig:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"{path}: {message}.", "Fix crmnotes.yaml and try again.")

    choices = {name: _parse_choice_set(name, spec, fail) for name, spec in _mapping(data, "choices", fail).items()}
    fields: dict[str, FieldDef] = {}
    for name, spec in _mapping(data, "fields", fail).items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise fail(f"field '{name}' must be a mapping")
        kind = str(spec.get("type", "text"))
        if kind not in FIELD_TYPES:
            raise fail(f"field '{name}' has unknown type '{kind}' (use one of {', '.join(sorted(FIELD_TYPES))})")
        list_name = spec.get("choices")
        if list_name is not None and not isinstance(list_name, str):
            raise fail(f"field '{name}' must name its choice list with a word")
        if kind == "choice" and list_name not in choices:
            raise fail(f"field '{name}' refers to choice list '{list_name}', which is not defined")
        fields[name] = FieldDef(name, kind, bool(spec.get("required", False)), list_name, str(spec.get("label", "")))
    for needed in ("stages", "channels"):
        if needed not in choices:
            raise fail(f"the choice list '{needed}' is required")
    if all(item.computed for item in choices["stages"].items):
        raise fail("the choice list 'stages' needs at least one stage that is not computed (new customers start "
                   "at the first one)")

    cadence = _mapping(data, "cadence", fail)
    tags = _mapping(data, "tags", fail)
    adhoc = str(tags.get("adhoc", "warn"))
    if adhoc not in ADHOC_POLICIES:
        raise fail(f"tags.adhoc must be one of {', '.join(sorted(ADHOC_POLICIES))}")
    namespaces = {}
    for ns, values in _mapping(tags, "namespaces", fail, "tags.namespaces").items():
        if values is not None and not isinstance(values, list):
            raise fail(f"tags.namespaces.{ns} must be a list of values (or empty for any value)")
        namespaces[str(ns)] = None if values is None else [str(v) for v in values]

    groups = data.get("require_one_of") or []
    if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
        raise fail("require_one_of must be a list of lists of field names")
    order = str(_mapping(data, "display", fail).get("followups", "newest-first"))
    if order not in ("newest-first", "oldest-first"):
        raise fail("display.followups must be newest-first or oldest-first")
    silent = data.get("silent_after_days", 90)
    if not _is_days(silent):
        raise fail(f"silent_after_days must be a whole number of days from 1 to {MAX_DAYS:,}")
    return VaultConfig(
        fields=fields,
        choices=choices,
        require_one_of=[[str(f) for f in g] for g in groups],
        stage_cadence=_cadence(cadence.get("stages"), fail),
        grade_cadence=_cadence(cadence.get("grades"), fail),
        tag_cadence=_tag_cadence(cadence.get("tags"), fail),
        write_choices_as=_write_choices_as(data, fail),
        silent_after_days=silent,
        phone_region=str(data.get("phone_region", "CN")).upper(),
        language=str(data.get("language", "zh")),
        user=str(data.get("user") or ""),
        currency=str(_mapping(data, "deals", fail).get("currency", "CNY")),
        tags=TagRules(adhoc, namespaces),
        newest_first=order == "newest-first",
        raw=data,
    )


def _mapping(data: dict[str, Any], key: str, fail: Any, shown: str = "") -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise fail(f"'{shown or key}' must be a mapping")
    return value


def _is_days(value: Any) -> bool:
    """A count of days the date arithmetic can add to any accepted date without overflowing."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_DAYS


def _parse_choice_set(name: str, spec: Any, fail: Any) -> ChoiceSet:
    if isinstance(spec, list):
        spec = {"items": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("items"), list):
        raise fail(f"choice list '{name}' needs an 'items' list")
    items = []
    for raw in spec["items"]:
        if isinstance(raw, (str, int)):
            items.append(Choice(str(raw)))
            continue
        if not isinstance(raw, dict) or "id" not in raw:
            raise fail(f"every item of choice list '{name}' needs an id")
        known = {"id", "label", "aliases", "computed", "closed"}
        aliases = raw.get("aliases") or ()
        if not isinstance(aliases, (list, tuple)):
            aliases = (aliases,)
        if not isinstance(raw["id"], (str, int)) or isinstance(raw["id"], bool):
            raise fail(f"an item of choice list '{name}' has an id that is not a word")
        items.append(
            Choice(
                id=str(raw["id"]),
                label=str(raw.get("label") or ""),
                aliases=tuple(str(a) for a in aliases),
                computed=bool(raw.get("computed", False)),
                closed=bool(raw.get("closed", False)),
                extra={k: v for k, v in raw.items() if k not in known},
            )
        )
    return ChoiceSet(name, items, bool(spec.get("strict", True)))


def _write_choices_as(data: dict[str, Any], fail: Any) -> str:
    value = str(data.get("write_choices_as") or "id")
    if value not in ("id", "label"):
        raise fail("write_choices_as must be id or label")
    return value


def _tag_cadence(value: Any, fail: Any) -> dict[str, int | None]:
    """``cadence: tags:``: tag (or namespace) -> days; ``3/week`` is every 2 days, ``2/month`` every 15."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail("cadence tags must be a mapping of tag: interval (e.g. tags: {risk/高: 3/week})")
    result: dict[str, int | None] = {}
    for key, interval in value.items():
        days = None if interval is None else interval_days(interval)
        if interval is not None and days is None:
            raise fail(f"cadence for tag '{key}' must be a number of days from 1 to {MAX_DAYS:,}, "
                       "N/week or N/month (e.g. 3/week), or null")
        result[str(key)] = days
    return result


def interval_days(value: Any) -> int | None:
    """Days of an interval written as days (``7``) or as a frequency (``3/week``, ``2次/月``), else None."""
    if _is_days(value):
        return int(value)
    found = re.fullmatch(r"\s*(\d+)\s*[x×次]?\s*(?:/|per|每)\s*(week|周|星期|w|month|月|m)\s*", str(value), re.I)
    if found is None or not 0 < int(found[1]) <= 31:
        return None
    period = 30 if found[2].lower() in ("month", "月", "m") else 7
    return max(1, period // int(found[1]))


def _cadence(value: Any, fail: Any) -> dict[str, int | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail("cadence stages, grades and tags must be mappings of name: days")
    result: dict[str, int | None] = {}
    for key, days in value.items():
        if days is not None and not _is_days(days):
            raise fail(f"cadence for '{key}' must be a whole number of days from 1 to {MAX_DAYS:,}, or null")
        result[str(key)] = days
    return result
