"""Whole answers of the read-only commands, kept until a customer file changes.

``crm ls --json``, ``crm due --json`` and ``crm report`` answer from the listing cache, but even
unchanged that cache costs a ``stat`` per file and a row per customer decoded into Python: at
100,000 customers, more than two seconds.  Their answer is a function of the customer files, the
config, the day and the arguments alone, so once worked out it is kept here, keyed by all of them.
The customer files are witnessed by ``fsutil.tree_fingerprint`` (GNU find lists every entry's
inode, size, mtime and ctime, one process per core), taken *before* the answer is worked out: a
file that changes while it is, or after, moves the fingerprint, so the kept answer is never
replayed for files it did not see.  Anything that does not fit the key (no GNU find, a link in the
vault, files skipped as unreadable, which must be reported each time) is simply not kept.

After a few files changed in place, the catalog patches the answer kept before (``Memo.previous``:
the listing it was made from tells which files changed; its index, where each customer's object is).
Answers are kept as output prints them (``safetext.json_bytes`` applied), so a replay is a copy.

Storage: one file per command and arguments in ``.crmnotes/answers/`` (``Memo``), written to a
temporary file and renamed, so a reader sees an old answer or a new one whole.  The newest ``KEEP``
files stay, within ``KEEP_BYTES``.  Like every cache here it is disposable.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, TypeVar

from . import __version__
from .fsutil import fingerprint_of_listing, listing_of, start_fingerprint
from .vault import Vault

ANSWERS_DIR = "answers"
Piece = TypeVar("Piece", bytes, memoryview)
FORMAT = 3  # of the files here: another value is another key
KEEP = 64  # answers kept per vault (the newest), and at most KEEP_BYTES of them
KEEP_BYTES = 1 << 30
BLOCK = 1 << 20  # bytes replayed at a time
ABANDONED_AFTER = 3600  # seconds after which a temporary file here is a killed writer's


class Memo:
    """The place of one answer: ``recall`` it when the key still holds, else work it out and ``keep`` it.

    A kept file: the key line; a header line (the lengths of the next two parts); the listing of
    customers/ the key's fingerprint was made from (``fsutil.listing_of``); the answer; then, for an
    answer kept with ``index``, which customer each of its objects is (``previous``)."""

    def __init__(self, path: Path, key: str, listing: bytes = b"") -> None:
        self.path, self.key, self.listing = path, key.encode("utf-8") + b"\n", listing

    def recall(self) -> Iterator[bytes] | None:
        """The kept answer in blocks that end between two UTF-8 characters; None when there is none
        for this key."""
        opened = self._open(with_listing=False)  # a replay needs the answer alone
        if opened is None or opened[0] != self.key:
            if opened:
                opened[3].close()
            return None
        _, _, length, file = opened
        return _blocks(file, length)

    def recall_whole(self) -> bytes | None:
        """``recall`` in one piece."""
        blocks = self.recall()
        return None if blocks is None else b"".join(blocks)

    def previous(self) -> Kept | None:
        """The answer kept for the same question (command, arguments, day, config, crmnotes) before
        the files last changed, with the listing it was made from and its index; None when there is
        none (or it was kept without an index)."""
        opened = self._open(with_listing=True)
        if opened is None:
            return None
        key, listing, length, file = opened
        with file:
            try:
                same = json.loads(key)[:-1] == json.loads(self.key)[:-1]
            except ValueError:
                return None
            if not same:
                return None
            answer = file.read(length)
            index = file.read()
        try:
            objects = json.loads(index) if index else None
        except ValueError:
            return None
        return Kept(listing, answer, objects) if len(answer) == length and objects is not None else None

    def keep(self, parts: Iterable[Piece], index: list[list[Any]] | None = None) -> Iterator[Piece]:
        """``parts`` passed on as they come, and kept once the last one has passed (a reader that
        stops early, or an error, keeps nothing).  ``index``, filled by the time the parts end, says
        which customer each object of the answer is: kept with it, it lets ``previous`` serve a patch."""
        try:
            out = self._temporary()
        except OSError:
            yield from parts
            return
        try:
            with out:
                listing = self.listing if index is not None else b""
                out.write(self.key + _HEADER % (0, 0) + listing)
                length = 0
                for part in parts:
                    out.write(part)
                    length += len(part)
                    yield part
                if index is not None:
                    out.write(json.dumps(index, ensure_ascii=False).encode("utf-8", "surrogatepass"))
                out.seek(len(self.key))
                out.write(_HEADER % (len(listing), length))
            self._publish(out.name)
        finally:
            Path(out.name).unlink(missing_ok=True)

    def keep_whole(self, answer: bytes) -> None:
        for _ in self.keep([answer]):
            pass

    def _open(self, with_listing: bool) -> tuple[bytes, bytes, int, IO[bytes]] | None:
        """(key line, listing (b"" unless ``with_listing``: megabytes at 100,000 customers), answer length,
        the file at the answer) of the kept file; None if unreadable."""
        try:
            file = self.path.open("rb")
        except OSError:
            return None
        try:
            key = file.readline(1 << 16)
            sizes = file.readline(len(_HEADER % (0, 0))).split()
            size = int(sizes[0])
            listing = file.read(size) if with_listing else b""
            if not with_listing:
                file.seek(size, os.SEEK_CUR)
            if len(sizes) == 2 and (not with_listing or len(listing) == size):
                return key, listing, int(sizes[1]), file
        except (ValueError, IndexError, OSError):
            pass
        file.close()
        return None

    def _temporary(self) -> IO[bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=".", suffix=".tmp", delete=False)

    def _publish(self, written: str) -> None:
        try:
            os.replace(written, self.path)
        except OSError:
            return
        _prune(self.path.parent)


_HEADER = b"%020d %020d\n"  # fixed width: written first as zeros, then over with the lengths


@dataclass
class Kept:
    """An answer kept before the files last changed (``Memo.previous``)."""

    listing: bytes  # of customers/, when it was worked out
    answer: bytes
    index: list[list[Any]]  # per object of the answer, in order: [customer path, length in bytes]


_FORESEEN: dict[Path, Any] = {}  # customers/ folder -> its fingerprint, started (``foresee``)


def foresee(vault: Vault) -> None:
    """Start the fingerprint ``memo`` will ask for: a command that will answer from here calls this
    first, so find runs while Python imports the rest."""
    if vault.customers_dir not in _FORESEEN:
        _FORESEEN[vault.customers_dir] = start_fingerprint(vault.customers_dir)


def memo(vault: Vault, command: str, arguments: list[Any], day: date) -> Memo | None:
    """The place of ``command``'s answer for ``arguments`` on ``day`` as the files are now; None when
    the files give no fingerprint (then nothing is kept).  Call it before the answer is worked out."""
    started = _FORESEEN.pop(vault.customers_dir, None) or start_fingerprint(vault.customers_dir)
    listing = listing_of(started)
    if listing is None:
        return None
    fingerprint = fingerprint_of_listing(listing)
    asked = json.dumps([command, arguments], ensure_ascii=False, default=str)
    name = f"{command}-{hashlib.sha1(asked.encode(), usedforsecurity=False).hexdigest()[:20]}"
    key = json.dumps([FORMAT, __version__, asked, day.isoformat(), vault.config_state(), fingerprint])
    return Memo(vault.cache_dir / ANSWERS_DIR / name, key, listing)


def _blocks(file: IO[bytes], length: int) -> Iterator[bytes]:
    """The next ``length`` bytes of ``file``, in blocks cut between characters; the file closed after."""
    with file:
        carried = b""
        while length > 0 and (block := file.read(min(BLOCK, length))):
            length -= len(block)
            block = carried + block
            cut = len(block)
            while cut and block[cut - 1] & 0xC0 == 0x80:  # inside a character: back to its first byte
                cut -= 1
            if cut and block[cut - 1] & 0x80:  # that first byte: its character may go on in the next block
                cut -= 1
            carried = block[cut:]
            if cut:
                yield block[:cut]
        if carried:
            yield carried


def _prune(folder: Path) -> None:
    """Only the ``KEEP`` newest answers (within ``KEEP_BYTES``; the newest always) stay, and no temporary
    file left by a process that was killed."""
    try:
        entries = [(entry.stat(), entry.name, entry.path) for entry in os.scandir(folder)]
        abandoned = time.time_ns() - ABANDONED_AFTER * 10**9
        gone = [path for stat, name, path in entries if name.startswith(".") and stat.st_mtime_ns < abandoned]
        total = 0
        newest_first = sorted((e for e in entries if not e[1].startswith(".")), key=lambda e: -e[0].st_mtime_ns)
        for at, (stat, _, path) in enumerate(newest_first):
            total += stat.st_size
            if at and (at >= KEEP or total > KEEP_BYTES):
                gone.append(path)
        for path in gone:
            os.unlink(path)
    except OSError:
        pass  # another process pruned first
