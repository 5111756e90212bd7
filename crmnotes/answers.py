"""Whole answers of the read-only commands, kept until a customer file changes.

``crm ls --json``, ``crm due --json`` and ``crm report`` answer from the listing cache, but even
unchanged that cache costs a ``stat`` per file and a row per customer decoded into Python: at
100,000 customers, more than a second.  Their answer is a function of the customer files, the
config, the day and the arguments alone, so once worked out it is kept here, keyed by all of them.
The customer files are witnessed by ``fsutil.tree_fingerprint`` (GNU find lists every entry's
inode, size, mtime and ctime in one C process), taken *before* the answer is worked out: a file
that changes while it is, or after, moves the fingerprint, so the kept answer is never replayed
for files it did not see.  Anything that does not fit the key (no GNU find, a link in the vault,
files skipped as unreadable, which must be reported each time) is simply not kept.

Storage: one file per command and arguments in ``.crmnotes/answers/``, its first line the whole
key, then the answer; written to a temporary file and renamed, so a reader sees an old answer or
a new one whole.  The newest ``KEEP`` files stay.  Like every cache here it is disposable.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

from . import __version__
from .fsutil import fingerprint_of, start_fingerprint
from .vault import Vault

ANSWERS_DIR = "answers"
FORMAT = 1  # of the files here: another value is another key
KEEP = 64  # answers kept per vault (the newest), and at most KEEP_BYTES of them
KEEP_BYTES = 1 << 30
BLOCK = 1 << 20  # bytes replayed at a time
ABANDONED_AFTER = 3600  # seconds after which a temporary file here is a killed writer's


class Memo:
    """The place of one answer: ``recall`` it when the key still holds, else work it out and ``keep`` it."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key.encode("utf-8") + b"\n"

    def recall(self) -> Iterator[bytes] | None:
        """The kept answer in blocks that end between two UTF-8 characters; None when there is none
        for this key."""
        try:
            file = self.path.open("rb")
        except OSError:
            return None
        if file.readline(len(self.key) + 1) != self.key:
            file.close()
            return None
        return _blocks(file)

    def recall_whole(self) -> bytes | None:
        """``recall`` in one piece."""
        blocks = self.recall()
        return None if blocks is None else b"".join(blocks)

    def keep(self, parts: Iterable[bytes]) -> Iterator[bytes]:
        """``parts`` passed on as they come, and kept once the last one has passed (a reader that
        stops early, or an error, keeps nothing)."""
        try:
            out = self._temporary()
        except OSError:
            yield from parts
            return
        try:
            with out:
                out.write(self.key)
                for part in parts:
                    out.write(part)
                    yield part
            self._publish(out.name)
        finally:
            Path(out.name).unlink(missing_ok=True)

    def keep_whole(self, answer: bytes) -> None:
        for _ in self.keep([answer]):
            pass

    def _temporary(self) -> IO[bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=".", suffix=".tmp", delete=False)

    def _publish(self, written: str) -> None:
        try:
            os.replace(written, self.path)
        except OSError:
            return
        _prune(self.path.parent)


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
    fingerprint = fingerprint_of(started)
    if fingerprint is None:
        return None
    asked = json.dumps([command, arguments], ensure_ascii=False, default=str)
    name = f"{command}-{hashlib.sha1(asked.encode(), usedforsecurity=False).hexdigest()[:20]}"
    key = json.dumps([FORMAT, __version__, asked, day.isoformat(), vault.config_state(), fingerprint])
    return Memo(vault.cache_dir / ANSWERS_DIR / name, key)


def _blocks(file: IO[bytes]) -> Iterator[bytes]:
    with file:
        carried = b""
        while block := file.read(BLOCK):
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
