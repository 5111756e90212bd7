"""Make a vault a git repository, register the merge driver and the
pre-commit hook, and commit to it.

``ensure_repo_setup`` runs before every ``crm`` command (a fresh ``git
clone`` has no local config and no hooks), so its common path only reads
``.git/config`` and checks one file: no GitPython, no subprocess.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import CrmError

FALLBACK_AUTHOR = ("crmnotes", "crmnotes@localhost")
DRIVER_NAME = "crmnotes"
HOOK_MARK = "# crmnotes pre-commit hook"


def python_command() -> str:
    """How git should start crmnotes: this interpreter, so a venv keeps working."""
    return f"{shlex.quote(sys.executable)} -m crmnotes"


def driver_command() -> str:
    return f"{python_command()} merge-driver %O %A %B %P"


def hook_text() -> str:
    return f"#!/bin/sh\n{HOOK_MARK}: refuses ID and bank card numbers in customer files\n" \
           f"exec {python_command()} pre-commit-hook\n"


def ensure_repo_setup(root: Path) -> None:
    """Register the merge driver and the hook in a vault's own repository,
    quietly and idempotently; a vault that is not a repository root is left alone."""
    git_dir = root / ".git"
    if not git_dir.is_dir():
        return
    try:
        config = (git_dir / "config").read_text(encoding="utf-8", errors="replace")
        hook = git_dir / "hooks" / "pre-commit"
        hook_ok = hook.is_file() and hook.read_text(encoding="utf-8", errors="replace") == hook_text()
    except OSError:
        return
    if f'[merge "{DRIVER_NAME}"]' not in config or sys.executable not in config:
        _register_driver(root)
    if not hook_ok:
        install_hook(git_dir / "hooks" / "pre-commit")


def _register_driver(root: Path) -> None:
    for key, value in ((f"merge.{DRIVER_NAME}.name", "crmnotes customer files (follow-ups and fields)"),
                       (f"merge.{DRIVER_NAME}.driver", driver_command())):
        try:
            subprocess.run(["git", "config", "--local", key, value], cwd=root, capture_output=True, timeout=30,
                           check=False)
        except (OSError, subprocess.SubprocessError):
            return  # no git: sync will say so when it is used


def install_hook(path: Path) -> None:
    """Write our pre-commit hook, or refresh it; someone else's hook is kept."""
    if path.exists():
        try:
            if HOOK_MARK not in path.read_text(errors="replace"):
                return
        except OSError:
            return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(hook_text(), encoding="utf-8")
        os.chmod(path, 0o755)
    except OSError:
        return


def init_repo(root: Path, message: str = "crm init: new vault") -> None:
    """``git init`` the vault (if needed) and commit everything in it."""
    import git  # deferred: GitPython costs ~100 ms to import

    try:
        repo = git.Repo(root) if (root / ".git").exists() else git.Repo.init(root, initial_branch="main")
        ensure_repo_setup(root)
        repo.git.add("--all")
        if not repo.head.is_valid() or repo.is_dirty(index=True, working_tree=False, untracked_files=False):
            from .guard import refuse_staged_secrets  # (guard imports this module)

            refuse_staged_secrets(root)  # --no-verify skips the hook, not the guard
            repo.git.commit("-m", message, "--no-verify", env=identity_env(repo))
    except git.GitCommandError as exc:
        raise CrmError(f"git failed while creating the vault: {str(exc.stderr).strip() or exc}.",
                       "Check that git is installed and working.") from None
    except git.exc.GitError as exc:  # e.g. no git executable
        raise CrmError(f"git is not usable here ({exc}).", "Install git to use crmnotes.") from None


def identity_env(repo: Any) -> dict[str, str]:
    """Commit as the user; on a machine where git knows nobody, as crmnotes."""
    import git

    try:
        repo.git.config("user.name")
        repo.git.config("user.email")
        return {}
    except git.GitCommandError:
        name, email = FALLBACK_AUTHOR
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


def git_run(root: Path, *args: str, input_data: bytes | None = None, check: bool = True) -> bytes:
    """Run the git command (for the hot paths that should not import GitPython)."""
    try:
        done = subprocess.run(["git", *args], cwd=root, input=input_data, capture_output=True, timeout=600,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CrmError(f"git could not be run ({exc}).", "Install git to use sync and history.") from None
    if check and done.returncode != 0:
        raise CrmError(f"git {args[0]} failed: {done.stderr.decode(errors='replace').strip()}.",
                       "Check the repository with 'git status'.")
    return done.stdout


def read_blobs(root: Path, specs: list[str]) -> list[bytes | None]:
    """Contents of ``REV:PATH`` objects in one ``git cat-file --batch`` call
    (None for a missing one)."""
    if not specs:
        return []
    data = git_run(root, "cat-file", "--batch", input_data="".join(s + "\n" for s in specs).encode())
    out: list[bytes | None] = []
    pos = 0
    for _ in specs:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if header[-1:] == [b"missing"] or len(header) < 3:
            out.append(None)
            continue
        size = int(header[2])
        out.append(data[pos : pos + size])
        pos += size + 1
    return out
