"""A vault on disk: find it, list its customer files, read and write them.

Reads never modify a file.  Writes go through ``Vault.update`` which locks
the file, re-reads it fresh, applies an edit to that fresh text and writes
atomically, so two processes appending follow-ups both land.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .config import CONFIG_FILE, VaultConfig, fold, load_config
from .errors import ConcurrentEditError, CrmError, FileFormatError, RefError, VaultNotFound
from .fsutil import TEMP_PREFIX, FileChanged, atomic_write, file_lock, vault_write_lock
from .model import Customer, Problem

if TYPE_CHECKING:  # the note parser (YAML, python-frontmatter) and dedupe load when a file is read
    from . import note
    from .dedupe import Candidate

CUSTOMERS_DIR = "customers"
CACHE_DIR = ".crmnotes"
ENV_VAULT = "CRMNOTES_VAULT"
MAX_WRITE_ATTEMPTS = 5


@dataclass
class ScanResult:
    customers: list[Customer] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class Vault:
    """A folder with ``crmnotes.yaml`` and ``customers/``."""

    def __init__(self, root: Path, config: VaultConfig | None = None, *, lazy_config: bool = False) -> None:
        self.root = root.resolve()
        self._config = config
        if config is None and not lazy_config:
            self._config = load_config(self.root / CONFIG_FILE)

    @property
    def config(self) -> VaultConfig:
        """crmnotes.yaml, parsed on first use with ``lazy_config`` (a command answered
        from the listing cache never needs it, so it never imports YAML)."""
        if self._config is None:
            self._config = load_config(self.root / CONFIG_FILE)
        return self._config

    @config.setter
    def config(self, value: VaultConfig) -> None:
        self._config = value

    def config_state(self) -> list[int]:
        """[size, mtime_ns] of crmnotes.yaml ([-1, -1] when missing): the caches derived from
        the config (listing, search index) are keyed by it and rebuilt when it moves."""
        try:
            stat = (self.root / CONFIG_FILE).stat()
        except OSError:
            return [-1, -1]
        return [stat.st_size, stat.st_mtime_ns]

    # ------------------------------------------------------------ locating

    @classmethod
    def find(cls, explicit: str | os.PathLike[str] | None = None, start: Path | None = None, *,
             lazy_config: bool = False) -> Vault:
        """``--vault PATH``, else ``$CRMNOTES_VAULT``, else the nearest parent
        folder holding crmnotes.yaml (the way git finds a repository)."""
        chosen = explicit or os.environ.get(ENV_VAULT)
        if chosen:
            root = Path(chosen).expanduser()
            if not (root / CONFIG_FILE).is_file():
                raise VaultNotFound(f"{root} is not a crmnotes vault (no {CONFIG_FILE}).",
                                    "Create one with 'crm init PATH' or fix --vault / $CRMNOTES_VAULT.")
            return cls(root, lazy_config=lazy_config)
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_FILE).is_file():
                return cls(folder, lazy_config=lazy_config)
        raise VaultNotFound("no crmnotes vault here or in any parent folder.",
                            "Run 'crm init' to create one, or pass --vault PATH.")

    @property
    def customers_dir(self) -> Path:
        return self.root / CUSTOMERS_DIR

    @property
    def cache_dir(self) -> Path:
        return self.root / CACHE_DIR

    def relative(self, path: Path) -> str:
        text = str(path)
        prefix = str(self.root) + os.sep
        # Fast path (no resolve(): ~7 lstat calls per path) for the paths the vault hands out
        # itself: absolute, under the root, no ./.. parts and not a symlink.
        if text.startswith(prefix) and os.sep + "." not in text[len(prefix) - 1 :] and not os.path.islink(text):
            return text[len(prefix) :].replace(os.sep, "/")
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # ------------------------------------------------------------ listing

    def customer_paths(self) -> Iterator[Path | Problem]:
        """Every customer file under customers/, in a stable order.

        Hidden folders and our temp files are skipped; a symlink that leads
        outside the vault is reported, never followed.
        """
        base = self.customers_dir
        for folder, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.endswith(".md") or name.startswith((".", TEMP_PREFIX)):
                    continue
                path = Path(folder) / name
                if path.is_symlink() and not self._inside(path.resolve(), base):
                    yield Problem(path, None, "is a symlink to a file outside the vault; it is ignored",
                                  code="unsafe-path")
                    continue
                yield path

    def customer_stats(self, folders: dict[str, int] | None = None
                       ) -> tuple[dict[str, tuple[int, int]], list[Problem]]:
        """(vault-relative path -> (size, mtime_ns)) of every customer file, in
        ``customer_paths`` order with the same rules, and the unsafe paths skipped.

        The cheap freshness check of every cache: ``os.scandir`` gives file
        types without a syscall each, so this costs one ``stat`` per file.
        ``folders``, when given, receives each walked folder's mtime, taken
        *before* it is listed (a later create, delete or rename in it moves it).
        """
        found: dict[str, tuple[int, int]] = {}
        problems: list[Problem] = []
        base = self.customers_dir
        self._stat_folder(str(base), CUSTOMERS_DIR + "/", str(base.resolve()) + os.sep, found, problems, folders)
        return found, problems

    def _stat_folder(self, folder: str, rel: str, real_base: str, found: dict[str, tuple[int, int]],
                     problems: list[Problem], folders: dict[str, int] | None = None) -> None:
        try:
            if folders is not None:
                folders[folder] = os.stat(folder).st_mtime_ns
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            return
        subfolders = []
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not name.startswith("."):
                        subfolders.append(entry)
                    continue
                if not name.endswith(".md") or name.startswith((".", TEMP_PREFIX)):
                    continue
                if entry.is_symlink():
                    if entry.is_dir():
                        continue  # os.walk does not follow folder links either
                    if not os.path.realpath(entry.path).startswith(real_base):
                        problems.append(Problem(Path(entry.path), None, "is a symlink to a file outside the vault; "
                                                "it is ignored", code="unsafe-path"))
                        continue
                stat = entry.stat()
            except OSError:
                continue  # deleted while we walked
            found[rel + name] = (stat.st_size, stat.st_mtime_ns)
        for entry in subfolders:  # os.walk's order: a folder's files, then its subfolders
            self._stat_folder(entry.path, f"{rel}{entry.name}/", real_base, found, problems, folders)

    @staticmethod
    def _inside(path: Path, folder: Path) -> bool:
        try:
            path.relative_to(folder.resolve())
        except ValueError:
            return False
        return True

    def scan(self) -> ScanResult:
        """Read every customer file; unreadable ones become problems."""
        result = ScanResult()
        for item in self.customer_paths():
            if isinstance(item, Problem):
                result.problems.append(item)
                continue
            try:
                result.customers.append(self.read(item))
            except FileFormatError as exc:
                detail = exc.message.removeprefix(self.relative(item)).strip()
                result.problems.append(Problem(item, None, f"{detail} {exc.hint}".strip(), code="unreadable"))
        return result

    # ------------------------------------------------------------ reading

    def read(self, path: Path) -> Customer:
        doc = self.read_document(path)
        return self.customer_from(path, doc)

    def read_document(self, path: Path) -> note.Document:
        from . import note

        try:
            size = path.stat().st_size
            if size > note.MAX_FILE_BYTES:  # refuse before reading a huge file into memory
                raise FileFormatError(f"{self.relative(path)} is too large for a customer file "
                                      f"({size // 1024} KB, the limit is {note.MAX_FILE_BYTES // 1024} KB).",
                                      "Move attachments out of customers/.")
            data = path.read_bytes()
        except FileNotFoundError:
            raise FileFormatError(f"{self.relative(path)} does not exist.") from None
        except IsADirectoryError:
            raise FileFormatError(f"{self.relative(path)} is a folder, not a customer file.") from None
        try:
            return note.parse(data)
        except FileFormatError as exc:
            raise FileFormatError(f"{self.relative(path)} {exc.message}.", exc.hint) from None

    def customer_from(self, path: Path, doc: note.Document) -> Customer:
        channels = self.config.channels
        stages = self.config.stages
        followups = doc.followups
        for followup in followups:
            followup.channel = channels.canonical(followup.channel) if followup.channel else ""
            if followup.stage_to:
                followup.stage_to = stages.canonical(followup.stage_to)
            if followup.stage_from:
                followup.stage_from = stages.canonical(followup.stage_from)
        problems = [Problem(path, p.line, p.message, p.severity, p.code) for p in doc.problems]
        return Customer(path=path, meta=doc.meta, followups=followups, body=doc.body, problems=problems)

    # ------------------------------------------------------------ references

    def resolve(self, ref: str, customers: list[Customer] | None = None) -> Customer:
        """An ID, a file path, or a name / unique prefix -> one customer."""
        ref = ref.strip()
        if not ref:
            raise RefError("the customer reference is empty.", hint="Give an ID, a file path or a name.")
        as_path = self._as_customer_path(ref)
        if as_path is not None:
            return self.read(as_path)
        pool = customers if customers is not None else self.scan().customers
        for matcher in _matchers(ref):
            found = [c for c in pool if matcher(c)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                shown = [f"{c.name} ({c.id}, {self.relative(c.path)})" for c in found[:10]]
                raise RefError(f"'{ref}' matches {len(found)} customers: " + "; ".join(shown) + ".",
                               candidates=[c.id for c in found], hint="Use the ID or more of the name.")
        raise RefError(f"no customer matches '{ref}'.", hint="Check the name with 'crm ls' or 'crm search'.")

    def _as_customer_path(self, ref: str) -> Path | None:
        if not (ref.endswith(".md") or "/" in ref or os.sep in ref):
            return None
        for candidate in (Path(ref), self.root / ref, self.customers_dir / ref):
            if candidate.is_file():
                resolved = candidate.resolve()
                if not self._inside(resolved, self.customers_dir):
                    raise RefError(f"{ref} is not inside this vault's customers/ folder.")
                return resolved
        return None

    def candidates(self, customers: list[Customer]) -> list[Candidate]:
        return [_candidate(c) for c in customers]

    # ------------------------------------------------------------ writing

    def create(self, relpath: Path, text: str, *, durable: bool = True) -> Path:
        """Write a new customer file; never overwrites an existing one."""
        target = (self.customers_dir / relpath).resolve()
        if not self._inside(target, self.customers_dir):
            raise CrmError(f"refusing to write {relpath} outside customers/.")
        try:
            with vault_write_lock(self.cache_dir / "locks", self.relative(target)):  # not while sync merges
                atomic_write(target, text.encode("utf-8"), exclusive=True, durable=durable)
        except FileExistsError:
            raise CrmError(f"{self.relative(target)} already exists.",
                           "Try again: a new ID gives a new name.") from None
        return target

    def update(self, path: Path, edit: Callable[[note.Document], str]) -> Customer:
        """Apply ``edit`` to the file's current text and write the result.

        The file is locked against other crmnotes processes and re-read under
        the lock; if something else (an editor) changes it while we work, the
        edit is re-applied to the newer text instead of overwriting it.
        """
        from . import note

        with file_lock(self.cache_dir / "locks", self.relative(path)):
            for _ in range(MAX_WRITE_ATTEMPTS):
                before = path.stat()
                doc = self.read_document(path)
                new_text = edit(doc)
                if new_text == doc.text:
                    return self.customer_from(path, doc)
                after = path.stat()
                if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size):
                    continue
                try:
                    atomic_write(path, doc.encode(new_text), expect=doc.encode())
                except FileChanged:  # an editor saved while we wrote: apply the edit to its text
                    continue
                return self.customer_from(path, note.parse(doc.encode(new_text)))
        raise ConcurrentEditError(f"{self.relative(path)} kept changing while crmnotes tried to save it.",
                                  "Close other editors of this file and try again.")


def _candidate(customer: Customer) -> Candidate:
    from .dedupe import Candidate

    phone = customer.meta.get("phone")
    phones = tuple(str(p) for p in phone) if isinstance(phone, list) else ((str(phone),) if phone else ())
    return Candidate(customer.id, customer.name, phones, customer.text("email"), customer.path)


def _matchers(ref: str) -> list[Callable[[Customer], bool]]:
    from .dedupe import name_key
    from .naming import looks_like_id

    folded, key = fold(ref), name_key(ref)
    matchers: list[Callable[[Customer], bool]] = [lambda c: c.id == ref.lower()]
    if looks_like_id(ref) or ref.lower().startswith("c-"):
        matchers.append(lambda c: c.id.startswith(ref.lower()))
    matchers += [
        lambda c: fold(c.name) == folded,
        lambda c: bool(key) and name_key(c.name) == key,
        lambda c: fold(c.name).startswith(folded),
        lambda c: bool(key) and key in name_key(c.name),
        lambda c: folded in fold(c.name),
        lambda c: fold(c.text("contact")) == folded,
    ]
    return matchers
