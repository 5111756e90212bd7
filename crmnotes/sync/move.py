"""Move a customer between two mounted vault repositories (a change of owner across repositories).

Git cannot move a file between repositories, so a move is two commits: the file (its bytes
unchanged, follow-ups and all) is added to the target repository and committed there first, then
removed from the source and committed there, each commit naming the other repository.  If the
second half fails the customer is in both repositories, never in neither: nothing is lost.
Only the moved file is committed on either side; other local changes stay uncommitted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import CrmError, RefError
from ..model import Customer
from ..vault import Vault
from .gitcmd import Git, GitError
from .repo import ensure_repo_setup, identity_env


@dataclass(frozen=True)
class Moved:
    path: Path  # the customer's file in the target vault
    target_commit: str
    source_commit: str  # "" when the file had never been committed in the source


def move_customer(source: Vault, customer: Customer, target: Vault, source_name: str, target_name: str,
                  change: Callable[[Path], None] | None = None) -> Moved:
    """Add ``customer``'s file to ``target`` (committed), then remove it from ``source`` (committed).
    ``change`` edits the new file before its commit (the new owner), so the move is one commit there."""
    if source.root == target.root:
        raise CrmError(f"{customer.name} is already in {target_name}.")
    _refuse_same_id(target, customer, target_name)
    relative = customer.path.resolve().relative_to(source.customers_dir.resolve())
    data = customer.path.read_bytes()
    path = target.create(relative, data.decode("utf-8"))  # refuses an existing file; never overwrites
    title = f"{customer.name} ({customer.id})"
    try:
        if change is not None:
            change(path)
    except BaseException:
        path.unlink()  # refused (an unknown owner): nothing moved
        raise
    try:
        target_commit = _commit_one(target, path, f"move {title} here from {source_name}")
    except GitError as exc:
        path.unlink()  # the move did not happen: the source still holds the customer
        raise CrmError(f"{target_name} refused the commit of {title}: {exc.stderr}.",
                       "Nothing was moved; fix that repository ('git status' there) and move again.") from None
    source_commit = _remove_committed(source, customer.path, f"move {title} to {target_name}", title, target_name)
    return Moved(path, target_commit, source_commit)


def _refuse_same_id(target: Vault, customer: Customer, target_name: str) -> None:
    try:
        found = target.resolve(customer.id)
    except RefError:
        return
    if found.id == customer.id:
        raise CrmError(f"{target_name} already holds {found.name} ({found.id}) at {target.relative(found.path)}.",
                       "Nothing was moved; merge the two files by hand if they are the same customer.")


def _remove_committed(source: Vault, path: Path, message: str, title: str, target_name: str) -> str:
    git = _git(source)
    rel = source.relative(path)
    tracked = git.succeeds("ls-files", "--error-unmatch", "--", rel)
    os.unlink(path)
    if not tracked:
        return ""
    try:
        git.run("add", "--all", "--", rel)
        git.run("commit", "-q", "-m", message, "--", rel)
    except GitError as exc:
        raise CrmError(f"{title} is in {target_name} now, but removing it from its old repository failed: "
                       f"{exc.stderr}.", f"Commit the deletion of {rel} there ('git commit -- {rel}'); "
                       "nothing is lost.") from None
    return git.text("rev-parse", "HEAD")


def _commit_one(vault: Vault, path: Path, message: str) -> str:
    git = _git(vault)
    rel = vault.relative(path)
    git.run("add", "--", rel)
    git.run("commit", "-q", "-m", message, "--", rel)
    return git.text("rev-parse", "HEAD")


def _git(vault: Vault) -> Git:
    ensure_repo_setup(vault.root)
    return Git(vault.root, identity_env(vault.root))
