"""A vault on disk: find it, list its customer files, read and write them.

Reads never modify a file.  Writes go through ``Vault.update`` which locks
the file, re-reads it fresh, applies an edit to that fresh text and writes
atomically, so two processes appending follow-ups both land.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import TYPE_CHECKING, Any

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
        """Every customer file under customers/, in a stable order, and what was skipped
        (see ``walk_customers``)."""
        for item in walk_customers(self.customers_dir):
            yield item if isinstance(item, Problem) else Path(item[0])

    def customer_stats(self, folders: dict[str, int] | None = None, passed: list[str] | None = None
                       ) -> tuple[dict[str, tuple[int, int]], list[Problem]]:
        """(vault-relative path -> (size, mtime_ns)) of every customer file, in
        ``customer_paths`` order with the same rules, and what was skipped.

        The cheap freshness check of every cache: ``os.scandir`` gives file
        types without a syscall each, so this costs one ``stat`` per file.
        ``folders``, when given, receives each walked folder's mtime, taken
        *before* it is listed (a later create, delete or rename in it moves it).
        ``passed``, when given, receives what the walk passes over (see ``walk_customers``).
        """
        found: dict[str, tuple[int, int]] = {}
        problems: list[Problem] = []
        prefix = CUSTOMERS_DIR + "/"
        collecting = gc.isenabled()
        gc.disable()  # a few objects per file and no cycle among them: collections would walk them for nothing
        try:
            for item in walk_customers(self.customers_dir, folders, passed):
                if isinstance(item, Problem):  # (type() is would not narrow the rest to the tuple)
                    problems.append(item)
                    continue
                try:
                    stat = item[2].stat()  # the entry's; a link inside the vault: its target's
                except OSError:
                    continue  # deleted while we walked
                found[prefix + item[1]] = (stat.st_size, stat.st_mtime_ns)
        finally:
            if collecting:
                gc.enable()
        return found, problems

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
            read = self.read_or_problem(item)
            if isinstance(read, Customer):
                result.customers.append(read)
            else:
                result.problems.append(read)
        return result

    def read_or_problem(self, path: Path) -> Customer | Problem:
        """A customer file, or why it cannot be read (an ``unreadable`` problem)."""
        try:
            return self.read(path)
        except FileFormatError as exc:
            detail = exc.message.removeprefix(self.relative(path)).strip()
            return Problem(path, exc.line, f"{detail} {exc.hint}".strip(), code="unreadable")

    # ------------------------------------------------------------ reading

    def read(self, path: Path) -> Customer:
        doc = self.read_document(path)
        return self.customer_from(path, doc)

    def read_document(self, path: Path, parsed_front: tuple[str, dict[str, Any]] | None = None) -> note.Document:
        """The parsed file (``parsed_front``: see ``note.parse``)."""
        from . import note

        try:
            data, _ = read_customer_bytes(path)
            return note.parse(data, parsed_front)
        except FileFormatError as exc:
            raise FileFormatError(f"{self.relative(path)} {exc.message}.", exc.hint, line=exc.line) from None

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
        return Customer(path=path, meta=_choice_ids(doc.meta, self.config), followups=followups, body=doc.body,
                        problems=problems)

    # ------------------------------------------------------------ references

    def resolve(self, ref: str, customers: list[Customer] | None = None) -> Customer:
        """An ID, a file path, or a name / unique prefix -> one customer."""
        ref = ref.strip()
        if not ref:
            raise RefError("the customer reference is empty.", hint="Give an ID, a file path or a name.")
        as_path = self.as_customer_path(ref)
        if as_path is not None:
            return self.read(as_path)
        if customers is None and (named := self._by_id_in_file_name(ref)) is not None:
            return named
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

    def _by_id_in_file_name(self, ref: str) -> Customer | None:
        """The customer whose ID ``ref`` is, found by the ID's tag that names its file
        (``naming.customer_relpath``), so one file is read instead of the whole vault; None
        when no file so named holds it (one renamed by hand: the caller reads them all)."""
        from .naming import looks_like_id

        if not looks_like_id(ref):
            return None
        wanted = ref.strip().lower()
        ending = f"-{wanted.rsplit('-', 1)[-1][:4]}.md"
        found = []
        for folder in sorted(self._folders_of_customers()):
            for name in sorted(n for n in os.listdir(folder) if n.endswith(ending)):  # names only: no stat each
                path = Path(folder, name)
                if path.is_symlink() or not path.is_file():
                    continue
                try:
                    customer = self.read(path)
                except FileFormatError:
                    continue
                found += [customer] if customer.id == wanted else []
        return found[0] if len(found) == 1 else None

    def _folders_of_customers(self) -> list[str]:
        """customers/ and its per-initial folders (where ``customer_relpath`` puts files)."""
        try:
            inner = [e.path for e in os.scandir(self.customers_dir) if e.is_dir(follow_symlinks=False)]
        except OSError:
            return []
        return [str(self.customers_dir), *inner]

    def as_customer_path(self, ref: str) -> Path | None:
        """The customer file ``ref`` names as a path (absolute, from the root or from customers/)."""
        if not (ref.endswith(".md") or "/" in ref or os.sep in ref):
            return None
        for candidate in (Path(ref), self.root / ref, self.customers_dir / ref):
            if candidate.is_file():
                resolved = candidate.resolve()
                if not self._inside(resolved, self.customers_dir):
                    raise RefError(f"{ref} is not inside this vault's customers/ folder.")
                return resolved
            if candidate.exists() and not candidate.is_dir():
                raise RefError(f"{ref} is not a regular file (a pipe, socket or device).",
                               hint="Move it out of customers/.")
        return None

    def candidates(self, customers: list[Customer]) -> list[Candidate]:
        return [_candidate(c) for c in customers]

    # ------------------------------------------------------------ writing

    def _check_customers_folder(self) -> None:
        unusable = customers_folder_problem(self.customers_dir)
        if unusable:
            raise CrmError(f"{CUSTOMERS_DIR}/ {unusable}.", "Nothing was written.")

    def create(self, relpath: Path, text: str, *, durable: bool = True) -> Path:
        """Write a new customer file; never overwrites an existing one."""
        self._check_customers_folder()
        target = (self.customers_dir / relpath).resolve()
        if not self._inside(target, self.customers_dir):
            raise CrmError(f"refusing to write {relpath} outside customers/.")
        _refuse_new_numbers("", text)
        try:
            with vault_write_lock(self.cache_dir / "locks", self.relative(target)):  # not while sync merges
                atomic_write(target, text.encode("utf-8"), exclusive=True, durable=durable)
        except FileExistsError:
            raise CrmError(f"{self.relative(target)} already exists.",
                           "Try again: a new ID gives a new name.") from None
        return target

    def update(self, path: Path, edit: Callable[[note.Document], str], *, durable: bool = True) -> Customer:
        """Apply ``edit`` to the file's current text and write the result.

        The file is locked against other crmnotes processes and re-read under
        the lock; if something else (an editor) changes it while we work, the
        edit is re-applied to the newer text instead of overwriting it.
        """
        from . import note

        self._check_customers_folder()
        with file_lock(self.cache_dir / "locks", self.relative(path)):
            for _ in range(MAX_WRITE_ATTEMPTS):
                before = path.stat()
                if not before.st_mode & 0o222 or not os.access(path, os.W_OK):
                    raise CrmError(f"{self.relative(path)} is read-only; crmnotes does not change a file whose "
                                   "permissions forbid writing.", "Make it writable (chmod u+w) to change it.")
                doc = self.read_document(path)
                new_text = edit(doc)
                if new_text == doc.text:
                    return self.customer_from(path, doc)
                after = path.stat()
                if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size):
                    continue
                _refuse_new_numbers(doc.text, new_text)
                try:
                    atomic_write(path, doc.encode(new_text), expect=doc.encode(), durable=durable)
                except FileChanged:  # an editor saved while we wrote: apply the edit to its text
                    continue
                return self.customer_from(path, note.parse(doc.encode(new_text)))
        raise ConcurrentEditError(f"{self.relative(path)} kept changing while crmnotes tried to save it.",
                                  "Close other editors of this file and try again.")


def _refuse_new_numbers(before: str, after: str) -> None:
    """The last guard of every write (CLI, TUI, import, deals, tickets): a PRC ID or bank card
    number the write would add is refused, whichever field or option carried it."""
    from .sensitive import new_numbers

    found = new_numbers(before, after)
    if found:
        from .errors import ValidationError
        from .model import FieldIssue

        raise ValidationError([FieldIssue("sensitive", f"a {kind} ({masked}) must not be stored in the vault")
                               for kind, masked in found], hint="Nothing was written.")


def read_customer_bytes(path: Path) -> tuple[bytes, os.stat_result]:
    """A customer file's bytes and the stat taken as it was opened.  Refused (``FileFormatError``,
    a message that starts after the path) before reading: what is not a regular file (a FIFO
    would block forever; it is opened non-blocking to find out) and what is over the size limit."""
    from .note import MAX_FILE_BYTES

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise FileFormatError("does not exist") from None
    except IsADirectoryError:
        raise FileFormatError("is a folder, not a customer file") from None
    with os.fdopen(fd, "rb") as handle:
        stat = os.fstat(handle.fileno())
        if S_ISDIR(stat.st_mode):
            raise FileFormatError("is a folder, not a customer file")
        if not S_ISREG(stat.st_mode):
            raise FileFormatError("is not a regular file (a pipe, socket or device)", "Move it out of customers/.")
        if stat.st_size > MAX_FILE_BYTES:  # refuse before reading a huge file into memory
            raise FileFormatError(f"is too large for a customer file ({stat.st_size // 1024} KB, "
                                  f"the limit is {MAX_FILE_BYTES // 1024} KB)", "Move attachments out of customers/.")
        return handle.read(), stat


# ------------------------------------------------------------------ the one walk of customers/

MAX_FOLDER_DEPTH = 32  # folders below customers/: far beyond any real layout, far below any path limit


# A customer file the walk found: its path, its path below customers/ ('/'-separated) and its
# directory entry.  A plain tuple: the walk makes 10,000 of them before every listing.
FoundFile = tuple[str, str, os.DirEntry[str]]


def files_digest(states: dict[str, tuple[int, int]]) -> str:
    """A fingerprint of every file's (path, size, mtime) (``Vault.customer_stats``), in path order:
    a cache that stored it can tell "nothing changed" without comparing file by file."""
    import hashlib
    from array import array

    rels = sorted(states)
    numbers = array("q", [number for rel in rels for number in states[rel]])
    digest = hashlib.sha1(numbers.tobytes(), usedforsecurity=False)
    digest.update("\0".join(rels).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def walk_customers(base: Path, folders: dict[str, int] | None = None, passed: list[str] | None = None
                   ) -> Iterator[FoundFile | Problem]:
    """The walk every reader of the vault shares (listing, check, search index, watcher, TUI).

    Depth first, a folder's files (by name) before its subfolders (by name), the order
    ``os.walk`` gives; iterative, so no nesting can exhaust the stack.  Hidden folders and
    files, temp files and links to folders are passed over; reported as a ``Problem`` and
    skipped: anything that is not a regular file (a FIFO would hang every reader), a name
    that is not UTF-8, a folder nested deeper than ``MAX_FOLDER_DEPTH``, a link leading
    outside customers/.  ``folders`` receives each folder's mtime, taken before listing it.
    ``passed`` receives the path (relative to ``base``; "" for ``base`` itself) of every entry
    neither listed as a customer file nor walked into, so that ``crm check``'s look at the other
    files of the vault (``sync.guard``) need not list customers/ a second time.
    """
    unusable = customers_folder_problem(base)
    if unusable:
        if passed is not None:
            passed.append("")
        yield Problem(base, None, unusable, code="unsafe-path")
        return
    real_base = os.path.realpath(base) + os.sep
    stack: list[tuple[str, str, int]] = [(str(base), "", 0)]
    while stack:
        folder, rel, depth = stack.pop()
        try:
            if folders is not None:
                folders[folder] = os.stat(folder).st_mtime_ns
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            continue
        subfolders: list[tuple[str, str, int]] = []
        for entry in entries:
            name = entry.name
            if name.startswith((".", TEMP_PREFIX)):
                if passed is not None:
                    passed.append(rel + name)
                continue
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
                if not is_folder and not name.endswith(".md"):
                    if passed is not None:
                        passed.append(rel + name)
                    continue
                if not is_folder and entry.is_file(follow_symlinks=False) and (name.isascii() or is_valid_name(name)):
                    yield entry.path, rel + name, entry  # the usual case: file types cost no syscall
                    continue
                if not is_folder and entry.is_symlink() and entry.is_dir():
                    continue  # a link to a folder is never followed (os.walk does not either)
                skipped = _skipped(entry, is_folder, depth, real_base)
            except OSError:
                continue  # deleted while we walked
            if skipped:
                if passed is not None:
                    passed.append(rel + name)
                yield Problem(_shown_path(entry.path), None, skipped[1], code=skipped[0])
            elif is_folder:
                subfolders.append((entry.path, f"{rel}{name}/", depth + 1))
            else:
                yield entry.path, rel + name, entry
        stack.extend(reversed(subfolders))


def customers_folder_problem(base: Path) -> str:
    """Why customers/ itself cannot be used ('' when it can, or does not exist yet).  A link is
    refused like a linked customers/x folder: it would let reads and writes leave the vault."""
    if os.path.islink(base):
        return ("is a symlink; crmnotes reads and writes only a real customers/ folder inside the vault "
                "(move the folder into the vault)")
    if os.path.exists(base) and not os.path.isdir(base):
        return "is a file, not a folder; move it away so that crmnotes can keep customers in a folder"
    return ""


def _skipped(entry: os.DirEntry[str], is_folder: bool, depth: int, real_base: str) -> tuple[str, str] | None:
    """(problem code, why) the walk passes over this entry, or None when it does not."""
    if not is_valid_name(entry.name):
        return "undecodable-name", "has a name that is not UTF-8 (a zip made on Windows?); it is ignored: rename it"
    if is_folder:
        if depth < MAX_FOLDER_DEPTH:
            return None
        return "too-deep", f"is nested more than {MAX_FOLDER_DEPTH} folders deep; it is ignored"
    if entry.is_symlink() and not os.path.realpath(entry.path).startswith(real_base):
        return "unsafe-path", "is a symlink to a file outside the vault; it is ignored"
    if not entry.is_file():  # follows a link inside the vault: its target must be a file too
        return "not-a-file", "is not a regular file (a pipe, socket or device); it is ignored"
    return None


def is_valid_name(name: str) -> bool:
    """Can this file name be written as UTF-8 (os.scandir keeps undecodable bytes as surrogates)?"""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown_path(path: str) -> Path:
    """A path safe to print and to put in JSON: undecodable bytes as \\xNN escapes."""
    return Path(path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


def _choice_ids(meta: dict[str, Any], config: VaultConfig) -> dict[str, Any]:
    """The front-matter with choices written by hand as a label or alias (stage: 意向) read as their id,
    so due rules, filters and reports see one value; the file keeps what was written."""
    changed: dict[str, Any] = {}
    for name, value in meta.items():
        choices = config.choices_for(name) if isinstance(value, str) else None
        found = choices.find(value) if choices is not None else None
        if found is not None and found.id != value:
            changed[name] = found.id
    return {**meta, **changed} if changed else meta


def _candidate(customer: Customer) -> Candidate:
    from .contacts import contact_phones
    from .dedupe import Candidate

    phone = customer.meta.get("phone")
    phones = tuple(str(p) for p in phone) if isinstance(phone, list) else ((str(phone),) if phone else ())
    phones += tuple(contact_phones(customer.meta))
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
    if ref.isascii() and ref.isalpha() and len(ref) >= 2:  # pinyin or initials, as search reads them: xiaolu, xckj
        from .naming import pinyin_keys

        spelled = ref.lower()
        matchers.append(lambda c: any(key.startswith(spelled) for key in pinyin_keys(c.name)))
    return matchers
