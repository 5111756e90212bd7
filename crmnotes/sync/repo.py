"""Make a vault a git repository and commit to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CrmError

FALLBACK_AUTHOR = ("crmnotes", "crmnotes@localhost")


def init_repo(root: Path, message: str = "crm init: new vault") -> None:
    """``git init`` the vault (if needed) and commit everything in it."""
    import git  # deferred: GitPython costs ~100 ms to import

    try:
        repo = git.Repo(root) if (root / ".git").exists() else git.Repo.init(root, initial_branch="main")
        repo.git.add("--all")
        if not repo.head.is_valid() or repo.is_dirty(index=True, working_tree=False, untracked_files=False):
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
