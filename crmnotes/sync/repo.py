"""Make a vault a git repository, register the merge driver and the
pre-commit hook, and commit to it.

``ensure_repo_setup`` runs before every ``crm`` command (a fresh ``git
clone`` has no local config and no hooks), so its common path only reads
``.git/config`` and checks one file: no subprocess.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from ..errors import CrmError
from .gitcmd import Git, GitError, GitMissing, git_run

FALLBACK_AUTHOR = ("crmnotes", "crmnotes@localhost")
DRIVER_NAME = "crmnotes"
HOOK_MARK = "# crmnotes pre-commit hook"


def python_command() -> str:
    """How git should start crmnotes: this interpreter, so a venv keeps working."""
    return f"{shlex.quote(sys.executable)} -m crmnotes"


def driver_command() -> str:
    return f"{python_command()} merge-driver %O %A %B %P"


GUARD_RAN = "CRMNOTES_GUARD_RAN"  # set by crm sync for its commit, whose index it has just checked itself
# A vault of many files: git remembers which folders hold no new file (untracked cache) and
# writes a smaller index (version 4).  Named one by one rather than as feature.manyFiles, whose
# newer gits add index.skipHash, an index older gits and other git libraries cannot read.
MANY_FILES = (("core.untrackedCache", "true"), ("index.version", "4"))


def hook_text() -> str:
    return f"#!/bin/sh\n{HOOK_MARK}: refuses ID and bank card numbers in customer files\n" \
           f'[ -n "${GUARD_RAN}" ] && exit 0\n' \
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
    if "untrackedcache" not in config.lower():  # a vault from before, or a plain clone; a user's own value is kept
        tune_for_many_files(root)
    if not hook_ok:
        install_hook(git_dir / "hooks" / "pre-commit")


def _register_driver(root: Path) -> None:
    for key, value in ((f"merge.{DRIVER_NAME}.name", "crmnotes customer files (follow-ups and fields)"),
                       (f"merge.{DRIVER_NAME}.driver", driver_command())):
        try:
            Git(root).call("config", "--local", key, value, check=False)
        except GitMissing:
            return  # no git: sync will say so when it is used


def tune_for_many_files(root: Path) -> None:
    """Local settings that keep status, add and commit quick in a vault of many files.
    git's own file watcher (``core.fsmonitor``) is set only where this git has one
    (macOS and Windows builds; not Linux, up to git 2.39 at least)."""
    git = Git(root)
    try:
        for key, value in MANY_FILES:
            git.call("config", "--local", key, value, check=False)
        if "fsmonitor--daemon" in git.text("version", "--build-options", check=False):
            git.call("config", "--local", "core.fsmonitor", "true", check=False)
        git.call("update-index", "--index-version", "4", check=False)  # the existing index too, not only new ones
    except GitMissing:
        return


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
    try:
        if not (root / ".git").exists():
            Git(root).run("init", "-q", "--initial-branch=main")
        ensure_repo_setup(root)
        git = Git(root, identity_env(root))
        git.run("add", "--all")
        if not git.succeeds("rev-parse", "--verify", "-q", "HEAD") or not git.succeeds("diff", "--cached", "--quiet"):
            from .guard import refuse_staged_secrets  # (guard imports this module)

            refuse_staged_secrets(root)  # --no-verify skips the hook, not the guard
            git.run("commit", "-m", message, "--no-verify")
    except GitError as exc:
        raise CrmError(f"git failed while creating the vault: {exc.stderr or exc.message}.",
                       "Check that git is installed and working.") from None


def identity_env(root: Path) -> dict[str, str]:
    """Commit as the user; what git does not know (a name, an email) is crmnotes'."""
    git = Git(root)
    name = git.text("config", "user.name", check=False)
    email = git.text("config", "user.email", check=False)
    fallback_name, fallback_email = FALLBACK_AUTHOR
    env: dict[str, str] = {}
    if not name:
        env.update(GIT_AUTHOR_NAME=fallback_name, GIT_COMMITTER_NAME=fallback_name)
    if not email:
        env.update(GIT_AUTHOR_EMAIL=fallback_email, GIT_COMMITTER_EMAIL=fallback_email)
    return env


def clone_vault(url: str, target: Path | None = None, user: str = "", email: str = "") -> Path:
    """``git clone`` a shared vault and register what a merge needs (the
    crmnotes merge driver, the pre-commit hook, who commits) before any merge
    can happen: a plain clone's first ``git pull`` would write conflict markers."""
    folder = target or Path(clone_folder_name(url))
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CrmError(f"{folder} already exists and is not an empty folder.",
                       "Give another folder: 'crm clone URL FOLDER'.")
    code, _, err = Git(folder.parent if folder.parent.exists() else Path.cwd()).call(
        "clone", "-q", "--", url, str(folder.resolve()), check=False)
    if code != 0:
        raise CrmError(f"cannot clone {url}: {' '.join(err.split())[:400]}.",
                       "Check the URL and your access to it ('git ls-remote URL').")
    root = folder.resolve()
    ensure_repo_setup(root)
    git = Git(root)
    if user:
        git.run("config", "--local", "user.name", user)
        if not email and not git.text("config", "user.email", check=False):
            email = placeholder_email(user)  # or git refuses every commit, a pull's merge commit included
    if email:
        git.run("config", "--local", "user.email", email)
    return root


def placeholder_email(user: str) -> str:
    import re

    local = re.sub(r"[^A-Za-z0-9._-]+", ".", user).strip(".") or "user"
    return f"{local}@localhost"


def clone_folder_name(url: str) -> str:
    """The folder git itself would clone into: the URL's last part without ``.git``."""
    tail = url.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return tail.removesuffix(".git") or "vault"


def read_blobs(root: Path, specs: list[str]) -> list[bytes | None]:
    """Contents of ``REV:PATH`` objects in one ``git cat-file --batch`` call
    (None for a missing one)."""
    if not specs:
        return []
    request = "".join(s + "\n" for s in specs).encode("utf-8", "surrogateescape")  # names git gave us as bytes
    data = git_run(root, "cat-file", "--batch", input_data=request)
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
