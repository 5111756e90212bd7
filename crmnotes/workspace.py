"""A workspace: one vault that mounts several vault repositories (issue 16, read isolation).

Git cannot hide a file from whoever clones its repository, so a team that wants reps to see only
their own customers keeps one repository per rep (or per team).  A manager's clone of the team's
shared repository then *mounts* the others: ``crm ls``, ``search``, ``due``, ``report`` and the TUI
span every mount; a rep's workspace mounts only what their server account can clone.

The mount list is local and never committed: ``.crmnotes/workspace.json`` in the home vault (the
cache folder is git-ignored), written by ``crm workspace add``.  JSON, not YAML: ``ls --json`` and
``due --json`` answer from the listing cache without importing a YAML parser, and a workspace
must not change that.  Each mount is a whole ``Vault`` with its own listing cache and search index;
the faces merge the per-mount answers at query time, sorted by the keys one vault uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .answers import Memo, memo
from .config import CONFIG_FILE, fold
from .errors import CrmError, RefError
from .fsutil import atomic_write
from .model import Customer
from .safetext import json_bytes
from .vault import ScanResult, Vault

if TYPE_CHECKING:
    from .catalog import DueItem, Entry, Row
    from .filters import Filters
    from .model import Problem
    from .report_facts import Facts
    from .reports import Report

T = TypeVar("T")
WORKSPACE_FILE = "workspace.json"
_NAME = re.compile(r"^[\w][\w.-]{0,63}$")  # a mount's name: a word (Chinese allowed), no path separators


@dataclass(frozen=True)
class Mount:
    """One mounted vault repository; ``owners`` (member ids or names) have their new customers here."""

    name: str
    vault: Vault
    owners: tuple[str, ...] = ()


@dataclass
class Workspace:
    """The home vault and its mounts; without a workspace file, the home vault is the only mount
    (``mounted`` False) and every face behaves as it always did."""

    home: Vault
    mounts: list[Mount] = field(default_factory=list)
    mounted: bool = False

    @property
    def vaults(self) -> list[Vault]:
        return [m.vault for m in self.mounts]

    def named(self, name: str) -> Mount:
        for mount in self.mounts:
            if mount.name == name:
                return mount
        raise CrmError(f"no mount named '{name}' in this workspace.",
                       f"Mounts: {', '.join(m.name for m in self.mounts) or 'none'} ('crm workspace ls').")

    def mount_of(self, path: Path) -> Mount:
        """The mount whose folder holds ``path`` (a customer file)."""
        resolved = path.resolve()
        for mount in self.mounts:
            if resolved.is_relative_to(mount.vault.root):
                return mount
        raise CrmError(f"{path} is in none of this workspace's mounts.")

    def for_owner(self, owner: str) -> Mount:
        """Where a new customer of ``owner`` goes: the mount listing the owner, else the first mount."""
        if not self.mounts:
            raise CrmError("this workspace mounts no vault.", "Add one with 'crm workspace add PATH'.")
        wanted = fold(owner)
        for mount in self.mounts:
            if wanted and any(fold(o) == wanted for o in mount.owners):
                return mount
        return self.mounts[0]

    def resolve(self, ref: str) -> tuple[Mount, Customer]:
        """A customer reference across every mount: one match, or the usual refusal naming the mounts."""
        from .catalog import resolve

        if len(self.mounts) == 1:
            return self.mounts[0], resolve(self.mounts[0].vault, ref)
        found: list[tuple[Mount, Customer]] = []
        missing: RefError | None = None
        for mount in self.mounts:
            try:
                found.append((mount, resolve(mount.vault, ref)))
            except RefError as exc:
                if exc.candidates:  # ambiguous inside one mount: say which mount
                    raise RefError(f"{mount.name}: {exc.message}", exc.candidates, exc.hint) from None
                missing = exc
        if len(found) == 1:
            return found[0]
        if not found:
            raise missing or RefError(f"no customer matches '{ref}'.")
        shown = [f"{c.name} ({c.id}, {m.name}:{m.vault.relative(c.path)})" for m, c in found]
        raise RefError(f"'{ref}' matches {len(found)} customers: " + "; ".join(shown) + ".",
                       candidates=[c.id for _, c in found], hint="Use the ID or more of the name.")


def workspace_file(home: Vault) -> Path:
    return home.cache_dir / WORKSPACE_FILE


def open_workspace(home: Vault, *, lazy_config: bool = False) -> Workspace:
    """The workspace of ``home``: its mounts when it has a workspace file, else itself alone."""
    mounts = [Mount(name, Vault(Path(item["path"]), lazy_config=lazy_config), tuple(item.get("owners", ())))
              for name, item in _read(home).items()]
    if not mounts:
        return Workspace(home, [Mount(home.root.name, home)])
    for mount in mounts:
        if not (mount.vault.root / CONFIG_FILE).is_file():
            raise CrmError(f"mount '{mount.name}' ({mount.vault.root}) is not a crmnotes vault any more.",
                           f"Clone it again there, or remove it with 'crm workspace rm {mount.name}'.")
    return Workspace(home, mounts, mounted=True)


def add_mount(home: Vault, path: Path, name: str = "", owners: tuple[str, ...] = ()) -> Mount:
    """Mount the vault at ``path`` under ``name`` (default: its folder's name)."""
    root = path.expanduser().resolve()
    if not (root / CONFIG_FILE).is_file():
        raise CrmError(f"{path} is not a crmnotes vault (no {CONFIG_FILE}).",
                       "Clone the repository first ('crm clone URL FOLDER'), or give a URL to 'crm workspace add'.")
    name = name or root.name
    if not _NAME.match(name):
        raise CrmError(f"'{name}' cannot name a mount.", "Use letters, digits, '.', '-' or '_' (no spaces or '/').")
    mounts = _read(home)
    if name in mounts:
        raise CrmError(f"a mount named '{name}' already exists.", "Choose another --name, or 'crm workspace rm' it.")
    for other, item in mounts.items():
        if Path(item["path"]) == root:
            raise CrmError(f"{root} is already mounted as '{other}'.")
    mounts[name] = {"path": str(root), **({"owners": list(owners)} if owners else {})}
    _write(home, mounts)
    return Mount(name, Vault(root, lazy_config=True), owners)


def remove_mount(home: Vault, name: str) -> None:
    """Unmount ``name``: its repository and files stay where they are."""
    mounts = _read(home)
    if name not in mounts:
        raise CrmError(f"no mount named '{name}' in this workspace.", "See the mounts with 'crm workspace ls'.")
    del mounts[name]
    _write(home, mounts)


def _read(home: Vault) -> dict[str, dict[str, Any]]:
    path = workspace_file(home)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise CrmError(f"{path} cannot be read as a workspace file.",
                       "Fix or delete it, then mount the vaults again with 'crm workspace add'.") from None
    mounts = data.get("mounts") if isinstance(data, dict) else None
    if not isinstance(mounts, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("path"), str) for v in mounts.values()):
        raise CrmError(f"{path} is not a workspace file (no 'mounts' with a path each).",
                       "Fix or delete it, then mount the vaults again with 'crm workspace add'.")
    return mounts


def _write(home: Vault, mounts: dict[str, dict[str, Any]]) -> None:
    path = workspace_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"mounts": mounts}, ensure_ascii=False, indent=2) + "\n"
    atomic_write(path, text.encode("utf-8"))


# ------------------------------------------------------------------ the lists, over every mount
# Each mount answers from its own listing cache; the answers are merged with the sort key one
# vault sorts by (a stable sort: equal keys keep the mounts' order), then cut to ``limit``.


def entries(ws: Workspace, filters: Filters | None = None, sort: str = "name", today: date | None = None,
            limit: int = 0) -> tuple[list[tuple[Mount, Entry]], list[Problem]]:
    """``catalog.entries`` of every mount, each with its mount, in one vault's order."""
    from . import catalog

    found: list[tuple[Mount, Entry]] = []
    problems: list[Problem] = []
    for mount in ws.mounts:
        listing = catalog.entries(mount.vault, filters, sort, today, limit)
        found += [(mount, entry) for entry in listing.entries]
        problems += listing.problems
    if len(ws.mounts) == 1:
        return found, problems  # in order already
    key = catalog.entry_sort_key(sort, today or date.today())
    found = _merged(found, lambda pair: key(pair[1]), lambda pair: pair[1].path, sort)
    return (found[:limit] if limit > 0 else found), problems


def listing_json_parts(ws: Workspace, filters: Filters | None = None, sort: str = "name", limit: int = 0, *,
                       reveal: bool = False, today: date | None = None) -> tuple[Iterator[bytes], list[Problem]]:
    """``crm ls --json`` over every mount, in pieces: ``catalog.listing_json_parts`` with a "mount" key."""
    from . import catalog

    if not ws.mounted:
        return catalog.listing_json_parts(ws.home, filters, sort, limit, reveal=reveal, today=today)
    day = today or date.today()
    key = catalog.stored_sort_key(sort, day)
    found: list[tuple[Vault, Any, str]] = []
    problems: list[Problem] = []
    for mount in ws.mounts:
        rows_, skipped = catalog.listing_rows(mount.vault, filters, sort, limit, reveal=reveal, today=day)
        found += [(mount.vault, row, mount.name) for row in rows_]
        problems += skipped
    found = _merged(found, lambda item: key(item[1]), lambda item: item[1].path, sort)
    return catalog.spliced_listing(found[:limit] if limit > 0 else found, day.isoformat(), reveal), problems


def due(ws: Workspace, day: date, owner: str = "") -> tuple[list[tuple[Mount, DueItem]], list[Problem]]:
    """``catalog.due`` of every mount, most overdue first, then by name."""
    from . import catalog

    found: list[tuple[Mount, DueItem]] = []
    problems: list[Problem] = []
    for mount in ws.mounts:
        items, skipped = catalog.due(mount.vault, day, owner)
        found += [(mount, item) for item in items]
        problems += skipped
    if len(ws.mounts) > 1:
        found.sort(key=lambda pair: (pair[1].due, pair[1].entry.name, pair[1].entry.path))
    return found, problems


def due_json(ws: Workspace, day: date, owner: str = "") -> tuple[bytes, list[Problem]]:
    """``crm due --json`` over every mount: ``catalog.due_json``'s objects with a "mount" key."""
    from . import catalog

    if not ws.mounted:
        return catalog.due_json(ws.home, day, owner)
    found: list[tuple[tuple[str, str, str], str]] = []
    problems: list[Problem] = []
    for mount in ws.mounts:
        items, skipped = catalog.due_json_items(mount.vault, day, owner, mount.name)
        found += items
        problems += skipped
    found.sort(key=itemgetter(0))
    return json_bytes(("[" + ", ".join(text for _, text in found) + "]").encode("utf-8", "surrogatepass")), problems


def report_customers(ws: Workspace, owner: str = "") -> ScanResult:
    """``catalog.report_customers`` of every mount, together (a report counts them all)."""
    from . import catalog

    result = ScanResult()
    for mount in ws.mounts:
        part = catalog.report_customers(mount.vault, owner)
        result.customers += part.customers
        result.problems += part.problems
    return result


def report_facts(ws: Workspace, owner: str = "", parts: Collection[str] | None = None, day: date | None = None
                 ) -> list[Facts]:
    """``catalog.report_facts`` of every mount, together (a report counts them all); ``parts``: those
    decoded (default: all); ``day``: the one day the report asks what holds (default: any)."""
    from . import catalog
    from .report_facts import PARTS

    return [facts for mount in ws.mounts
            for facts in catalog.report_facts(mount.vault, owner, PARTS if parts is None else parts, day)[0]]


def report(ws: Workspace, name: str, group: str | None = None, owner: str = "", since: date | None = None,
           until: date | None = None) -> Report:
    """The report ``name`` (once per ``group`` when given) of the customers as they are now, from the facts
    the caches keep; in one vault, the answer is kept (``answers``) and replayed while no file changes."""
    from .reports import Report

    kept = _kept_report(ws, "report", [name, group, owner, since, until])
    replayed = kept.recall_whole() if kept else None
    found = Report.from_kept(replayed.decode("utf-8", "surrogatepass")) if replayed is not None else None
    if found is not None:
        return found
    result = _report_now(ws, name, group, owner, since, until)
    if kept and (text := result.kept()) is not None:
        kept.keep_whole(text.encode("utf-8", "surrogatepass"))
    return result


def report_json(ws: Workspace, name: str, group: str | None = None, owner: str = "", since: date | None = None,
                until: date | None = None) -> bytes:
    """``report`` as ``crm report --json`` prints it (UTF-8), kept as that text: a report of a row per
    customer is megabytes, which decoding back into a ``Report`` would cost more than the replay saves."""
    kept = _kept_report(ws, "report-json", [name, group, owner, since, until])
    replayed = kept.recall_whole() if kept else None
    if replayed is not None:
        return replayed
    result = _report_now(ws, name, group, owner, since, until)
    text = json_bytes(json.dumps(result.to_json(), ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    if kept:
        kept.keep_whole(text)
    return text


def _kept_report(ws: Workspace, command: str, arguments: list[Any]) -> Memo | None:
    today = date.today()
    return None if ws.mounted else memo(ws.home, command, [*arguments[:-1], arguments[-1] or today], today)


def _report_now(ws: Workspace, name: str, group: str | None, owner: str, since: date | None, until: date | None
                ) -> Report:
    from . import reports

    end = until or date.today()
    customers = report_facts(ws, owner, reports.READS[name], end)
    return reports.build_by(name, group, customers, ws.home.config, since=since, until=end, today=end) \
        if group else reports.build(name, customers, ws.home.config, since=since, until=end, today=end)


def rows(ws: Workspace, filters: Filters | None = None, sort: str = "name", today: date | None = None) -> list[Row]:
    """The TUI table's rows (``catalog.rows``) of every mount, in one vault's order.  Each row's path is
    absolute: the table, the detail pane and the forms find the file (and its mount) from it."""
    from . import catalog

    found = [(key, mount, row) for mount in ws.mounts
             for key, row in catalog.keyed_rows(mount.vault, filters, sort, today)]
    found = _merged(found, lambda item: item[0][0], lambda item: item[0][1], sort)
    for _, mount, row in found:
        row.path = str(mount.vault.root / row.path)
    return [row for _, _, row in found]


def _merged(items: list[T], key: Callable[[T], Any], path: Callable[[T], str], sort: str) -> list[T]:
    """Items of several mounts in the order one vault of them all would give: by the sort key, and
    equal keys in path order (a vault reads its files in path order and sorts stably, reversed or not)."""
    items.sort(key=path)
    items.sort(key=key, reverse=sort.startswith("-"))
    return items
