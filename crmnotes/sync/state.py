"""What state the vault's git repository is in, for ``crm check``: an
unfinished merge or rebase left by a plain ``git pull``, or a lock file left
by a git process that died.  Reads ``.git`` directly where it can."""

from __future__ import annotations

from pathlib import Path

from ..errors import CrmError
from ..model import Problem
from .gitcmd import Git


def repo_problems(root: Path) -> list[Problem]:
    git_dir = root / ".git"
    if not git_dir.is_dir():
        return []
    problems = []
    if (git_dir / "MERGE_HEAD").exists():
        unmerged = _unmerged(root)
        detail = f": {', '.join(unmerged)} still conflict" if unmerged else ""
        problems.append(Problem(None, None, f"a git merge is unfinished{detail}. Finish it ('git add' the files, then "
                                "'git commit') or undo it ('git merge --abort'), then run 'crm sync'.",
                                code="git-merge"))
    if (git_dir / "rebase-merge").exists() or (git_dir / "rebase-apply").exists():
        problems.append(Problem(None, None, "a git rebase is in progress. Finish it ('git rebase --continue') or "
                                "abort it ('git rebase --abort').", code="git-rebase"))
    if (git_dir / "index.lock").exists():
        problems.append(Problem(None, None, ".git/index.lock exists: a git command is running or died. If none "
                                "is running, delete the file.", "warning", code="git-lock"))
    return problems


def _unmerged(root: Path) -> list[str]:
    try:
        return Git(root).lines("diff", "--name-only", "--diff-filter=U")
    except CrmError:  # the state is reported anyway, without the file names
        return []
