"""The customers as they were on a day, read from the vault's git history.

``crm report NAME --as-of DAY`` runs the same report code over the customer
files of the last commit made on or before DAY (committer date): the file
list from ``git ls-tree``, the contents from one ``git cat-file --batch``,
each parsed by the vault's own parser.  Nothing is checked out and the
working tree is not touched.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .errors import CrmError, FileFormatError
from .model import Customer, Problem
from .sync.repo import git_run, read_blobs
from .vault import CUSTOMERS_DIR, ScanResult, Vault


def commit_on(vault: Vault, day: date) -> str:
    """The last commit on or before ``day`` (its end, local time)."""
    if git_run(vault.root, "rev-parse", "--is-inside-work-tree", check=False).strip() != b"true":
        raise CrmError("this vault is not a git repository, so its past is not known.",
                       "Run 'crm sync' (or git init) to start keeping its history.")
    found = git_run(vault.root, "rev-list", "-1", f"--before={day.isoformat()} 23:59:59", "HEAD",
                    check=False).decode().strip()
    if not found:
        raise CrmError(f"the vault's history starts after {day.isoformat()}.", "Choose a later --as-of date.")
    return found


def customers_at(vault: Vault, commit: str) -> ScanResult:
    """Every customer file of ``commit``, parsed as ``Vault.scan`` parses the working tree."""
    prefix = git_run(vault.root, "rev-parse", "--show-prefix").decode().strip()  # the vault inside its repo
    listed = git_run(vault.root, "ls-tree", "-r", "-z", "--name-only", "--full-name", commit, "--",
                     CUSTOMERS_DIR + "/")
    paths = [p for p in listed.decode("utf-8", "surrogateescape").split("\0")
             if p.endswith(".md") and not Path(p).name.startswith(".")]
    result = ScanResult()
    for full, data in zip(paths, read_blobs(vault.root, [f"{commit}:{p}" for p in paths]), strict=True):
        path = vault.root / full.removeprefix(prefix)
        if data is None:
            continue
        try:
            result.customers.append(_parsed(vault, path, data))
        except FileFormatError as exc:
            result.problems.append(Problem(path, None, exc.message, code="unreadable"))
    return result


def customers_on(vault: Vault, day: date) -> tuple[list[Customer], str]:
    commit = commit_on(vault, day)
    return customers_at(vault, commit).customers, commit


def _parsed(vault: Vault, path: Path, data: bytes) -> Customer:
    from . import note

    return vault.customer_from(path, note.parse(data))
