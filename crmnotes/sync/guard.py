"""The privacy guard: PRC ID and bank card numbers never enter the repository.

It looks at everything a commit would carry, not only customer files: a
``leads.csv`` dropped in the vault, ``crmnotes.yaml``, ``customers/x/notes.txt``
(any staged text file, whatever its name, a name with a newline included).
git runs it as ``crm pre-commit-hook``; ``crm sync`` runs it before each of
its own commits (the first one of a re-initialized repository included, which
is made with ``--no-verify``); ``crm check`` reports the same numbers in files
not yet staged.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import CrmError
from ..model import Problem
from ..sensitive import find_lines
from .repo import git_run, read_blobs

CUSTOMERS_PREFIX = "customers/"
BINARY_SNIFF = 8192
GITLINK_MODE = "160000"  # a submodule: no blob of ours to read
SKIPPED_DIRS = {".git", ".crmnotes"}


def staged_blobs(root: Path) -> list[tuple[str, str]]:
    """(path, blob id) of every file added or changed in the index.

    ``-z --raw`` gives exact names (a newline or any byte in a name) and the
    blob ids, so the contents are read by id, never by a path that could break
    ``cat-file --batch``'s line protocol.
    """
    raw = git_run(root, "diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=ACMRT")
    fields = raw.decode("utf-8", errors="surrogateescape").split("\0")
    out = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.lstrip(":").split()
        if len(parts) >= 4 and parts[1] != GITLINK_MODE:
            out.append((path, parts[3]))
    return out


def text_of(data: bytes) -> str | None:
    """The text of a file's bytes, or None for a binary file (images, XLSX, ...)."""
    if b"\0" in data[:BINARY_SNIFF]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")  # a CSV from a Chinese Excel


def numbers_in(data: bytes) -> list[tuple[int, str]]:
    """(line, "a <kind> (<masked>)") for each number in one file's bytes (none in a binary file)."""
    text = text_of(data)
    return [] if text is None else [(line, f"a {kind} ({masked})") for line, kind, masked in find_lines(text)]


def sensitive_findings(root: Path) -> list[str]:
    """Every sensitive number in a staged file (what the pre-commit hook refuses)."""
    staged = staged_blobs(root)
    findings = []
    for (path, _), blob in zip(staged, read_blobs(root, [sha for _, sha in staged]), strict=True):
        if blob is not None:
            findings += [f"{path}:{line}: {what}" for line, what in numbers_in(blob)]
    return findings


def refuse_staged_secrets(root: Path) -> None:
    """Raise before a commit that would carry an ID or card number (sync's own commits run this,
    whatever hook is or is not installed)."""
    findings = sensitive_findings(root)
    if findings:
        shown = "; ".join(findings[:5]) + (f" (and {len(findings) - 5} more)" if len(findings) > 5 else "")
        raise CrmError(f"commit refused: national ID or bank card numbers must not be stored in the vault: {shown}.",
                       "Nothing was committed; remove them from those files (crm check lists them), then try again.")


def other_file_problems(root: Path, passed: list[str] | None = None) -> list[Problem]:
    """For ``crm check``: numbers in the files a sync would commit besides the customer files
    (those are checked field by field and line by line with the rest of their rules).  ``passed``:
    what the check's own walk of customers/ passed over (``Vault.customer_stats``), so that
    customers/ is not listed twice."""
    problems = []
    for rel in vault_files(root, passed):
        if rel.startswith(CUSTOMERS_PREFIX) and rel.endswith(".md"):
            continue
        path = root / rel
        if path.is_symlink() or not path.is_file():
            continue  # (not a FIFO either: reading one would wait forever)
        try:
            data = path.read_bytes()
        except OSError:
            continue
        problems += [Problem(root / rel, line, f"{what} must not be stored in the vault", code="sensitive")
                     for line, what in numbers_in(data)]
    return problems


def vault_files(root: Path, passed: list[str] | None = None) -> list[str]:
    """Files a sync would commit: git's view (tracked and untracked, not ignored) in a repository,
    else every regular file outside .git/ and .crmnotes/ (with ``passed``, customers/ is not walked:
    only what that list names, see ``other_file_problems``)."""
    if (root / ".git").exists():
        try:
            raw = git_run(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
            return sorted({n for n in raw.decode("utf-8", errors="surrogateescape").split("\0") if n})
        except CrmError:
            pass  # no usable git: walk the folder instead
    if passed is None:
        return sorted(_walk(str(root), ""))
    found = _walk(str(root), "", skip=CUSTOMERS_PREFIX.rstrip("/"))
    for rel in passed:
        path = os.path.join(root, CUSTOMERS_PREFIX, rel) if rel else os.path.join(root, CUSTOMERS_PREFIX[:-1])
        name = CUSTOMERS_PREFIX + rel if rel else CUSTOMERS_PREFIX[:-1]
        try:
            is_folder = stat.S_ISDIR(os.lstat(path).st_mode)
        except OSError:
            continue  # gone since the walk
        if not is_folder:
            found.append(name)
        elif os.path.basename(path) not in SKIPPED_DIRS:
            found += _walk(path, name + "/")
    return sorted(found)


def _walk(folder: str, prefix: str, skip: str = "") -> list[str]:
    """Vault-relative names (``prefix`` + the path below ``folder``) of every file under ``folder``
    outside folders named .git or .crmnotes; ``skip``: a top-level name left out."""
    found, folders = [], [(folder, prefix)]
    while folders:  # a stack, not os.walk: 1,000 nested folders must not hit Python's recursion limit
        folder, prefix = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            if skip and not prefix and entry.name == skip:
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIPPED_DIRS:
                    folders.append((entry.path, prefix + entry.name + "/"))
            else:
                found.append(prefix + entry.name)
    return found
