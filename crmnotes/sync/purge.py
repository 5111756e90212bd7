"""A person's traces in git history: listing them (PIPL export) and purging them (PIPL erase).

The purge is ``git filter-repo`` (the git project's recommended history
rewriter): every path the customer's file ever had is dropped from every
commit, and each trace (name, contact, phones, emails) is replaced in every
other file and in every commit message.  It rewrites every commit hash, so
every clone must be replaced afterwards (``AFTER_PURGE`` says how).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import CrmError
from .repo import FALLBACK_AUTHOR, git_run

REMOVED = "***REMOVED***"
ERASE_MESSAGE = "erase one person's data (PIPL request)"  # never names the person


def history_lines(root: Path, relpath: str) -> list[str]:
    """One line per commit that touched the customer: date, member, what, subject."""
    from .history import customer_history

    return [f"{c.date}  {c.author}  {c.kind}  {c.subject}" for c in customer_history(root, relpath)]


def history_paths(root: Path, relpath: str) -> list[str]:
    """Every path the customer's file had (renames followed)."""
    raw = git_run(root, "log", "--follow", "--name-only", "--format=", "--", relpath, check=False)
    return sorted({relpath, *(p for p in raw.decode("utf-8", errors="replace").splitlines() if p.strip())})


def commit_erase(root: Path, relpath: str) -> None:
    """Commit the file's removal, as the user (as crmnotes where git knows nobody)."""
    from .gitcmd import Git

    env: dict[str, str] = {}
    if not git_run(root, "config", "user.email", check=False).strip():
        name, email = FALLBACK_AUTHOR
        env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
    git = Git(root, env)
    git.run("rm", "-q", "--cached", "--ignore-unmatch", "--", relpath)
    if not git.succeeds("diff", "--cached", "--quiet"):
        git.run("commit", "-q", "--no-verify", "-m", ERASE_MESSAGE)


def uncommitted(root: Path) -> bool:
    return bool(git_run(root, "status", "--porcelain", check=False).strip())


def remotes(root: Path) -> dict[str, str]:
    out = git_run(root, "remote", "-v", check=False).decode("utf-8", errors="replace")
    return {parts[0]: parts[1] for line in out.splitlines() if len(parts := line.split()) >= 2}


def purge(root: Path, paths: list[str], traces: list[str]) -> None:
    """Rewrite all history: drop ``paths`` and replace every trace in files and messages."""
    try:
        import git_filter_repo  # noqa: F401 - installed with crmnotes; checked before the rewrite starts
    except ImportError:
        raise CrmError("git-filter-repo is not installed.", "Run 'pip install git-filter-repo' and try again.") \
            from None
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as rules:
        rules.write("".join(f"literal:{t}==>{REMOVED}\n" for t in traces if "==>" not in t and "\n" not in t))
    try:
        args = [sys.executable, "-m", "git_filter_repo", "--force", "--quiet", "--invert-paths",
                *(arg for path in paths for arg in ("--path", path)),
                "--replace-text", rules.name, "--replace-message", rules.name]
        done = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=3600)
    finally:
        Path(rules.name).unlink(missing_ok=True)
    if done.returncode:
        raise CrmError(f"git filter-repo failed: {done.stderr.strip()[-300:]}.",
                       "Your history is as it was before if the rewrite did not start; check 'git log'.")


def after_purge(old_remotes: dict[str, str]) -> list[str]:
    """What the admin and every teammate must do once history is rewritten."""
    origin = old_remotes.get("origin", "")
    steps = ["History is rewritten: every commit hash changed, and git filter-repo removed the 'origin' remote "
             "so nothing is pushed by accident."]
    if origin:
        steps.append(f"Admin: 'git remote add origin {origin}' then 'git push --force -o crmnotes-rewrite origin main' "
                     "(the crmnotes server hook lets only an admin rewrite main, and only with that push option; "
                     "on the server run 'git config receive.advertisePushOptions true' once).")
    steps += ["On Gitea/GitLab also ask the server's admin to run its garbage collection (the old commits stay "
              "on the server until then).",
              "Every teammate: commit and copy out anything not yet pushed, delete their clone and clone again; "
              "an old clone still holds the person's data, and syncing it would bring the data back.",
              "Backups made before today hold it too: delete or rewrite them the same way."]
    return steps
