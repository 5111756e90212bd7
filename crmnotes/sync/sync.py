"""``crm sync``: commit local changes, merge the remote's, push.

The order keeps every change safe: everything is committed before anything
is fetched, so a merge never meets an uncommitted file; customer files merge
through the crmnotes driver; a merge that stops on another file (e.g.
crmnotes.yaml) is undone, leaving the vault as it was with the local commit
kept; pushing never forces, and a push rejected because the remote moved is
retried after another fetch and merge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CrmError
from .default_branch import point_remote_head
from .guard import refuse_staged_secrets
from .message import EMPTY_TREE, describe_staged
from .repo import ensure_repo_setup, identity_env, init_repo

PUSH_ATTEMPTS = 3
CUSTOMERS_PREFIX = "customers/"
GIT_MARKER = b"<<<<<<< "


class SyncError(CrmError):
    """Sync stopped; local work is committed and safe."""

    exit_code = 3


@dataclass
class SyncReport:
    """What one sync did, for the CLI and the TUI to show."""

    committed: str = ""  # subject of the local commit, if one was made
    remote: str = ""
    branch: str = ""
    merged_commits: int = 0
    merged_files: list[str] = field(default_factory=list)
    pushed: bool = False
    notes: list[str] = field(default_factory=list)


def sync(root: Path, message: str = "", progress: Callable[[str], None] | None = None) -> SyncReport:
    """Commit, fetch, merge and push; raises ``SyncError`` when it cannot finish.

    ``progress`` (optional) is told each step as it starts, for a face to show.
    """
    step = progress or (lambda _text: None)
    import git  # deferred: GitPython costs ~100 ms to import

    if not (root / ".git").exists():
        init_repo(root)
    ensure_repo_setup(root)
    try:
        repo = git.Repo(root)
    except git.exc.GitError as exc:
        raise CrmError(f"{root} is not a usable git repository ({exc}).",
                       "Run 'crm init' or 'git init' in it.") from None
    report = SyncReport()
    env = identity_env(repo)
    try:
        _refuse_unfinished(repo)
        step("committing local changes")
        report.committed = commit_all(repo, root, message, env)
        _sync_remote(repo, root, report, env, step)
    except git.GitCommandError as exc:
        raise SyncError(f"git {exc.command[1] if len(exc.command) > 1 else ''} failed: {_stderr(exc)}.",
                        "Check the repository with 'git status'; your changes are committed locally.") from None
    return report


def _stderr(exc: Any) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    text = text.removeprefix("stderr:").strip().strip("'").strip()
    return " ".join(text.split())[:400]


def _refuse_unfinished(repo: Any) -> None:
    git_dir = Path(repo.git_dir)
    unmerged = _unmerged(repo)
    if unmerged:
        raise SyncError(f"an earlier merge is unfinished: {', '.join(unmerged)} still conflict.",
                        "Edit those files, 'git add' them and run 'crm sync' again (or 'git merge --abort').")
    for name, what in (("rebase-merge", "rebase"), ("rebase-apply", "rebase or am")):
        if (git_dir / name).exists():
            raise SyncError(f"a git {what} is in progress in this vault.",
                            "Finish it ('git rebase --continue') or abort it, then run 'crm sync' again.")


def _unmerged(repo: Any) -> list[str]:
    out = repo.git.diff("--name-only", "--diff-filter=U")
    return [line for line in out.splitlines() if line]


def commit_all(repo: Any, root: Path, message: str, env: dict[str, str]) -> str:
    """Stage everything and commit it with a message naming what changed;
    returns the subject, or "" when there was nothing to commit."""
    import git

    repo.git.add("--all")
    refuse_staged_secrets(root)
    merging = (Path(repo.git_dir) / "MERGE_HEAD").exists()
    if repo.head.is_valid() and not merging and not repo.index.diff("HEAD"):
        return ""
    base = "HEAD" if repo.head.is_valid() else EMPTY_TREE
    subject, body = describe_staged(root, base)
    if message:
        subject, body = message, "\n".join(filter(None, [subject, body]))
    try:
        repo.git.commit("-m", subject, *(["-m", body] if body else []), env=env)
    except git.GitCommandError as exc:
        raise SyncError(f"the commit was refused: {_stderr(exc)}.",
                        "Fix what it names (crm check lists sensitive numbers), then run 'crm sync' again; "
                        "your changes are still in the files.") from None
    return subject


def pick_remote(repo: Any) -> tuple[str, str] | None:
    """(remote, branch) to sync with: the branch's upstream, else origin or the only remote."""
    if repo.head.is_detached:
        raise SyncError("the vault is on a detached HEAD, not a branch.", "Check out a branch ('git switch main').")
    branch = repo.active_branch
    tracking = branch.tracking_branch()
    if tracking is not None:
        return tracking.remote_name, tracking.remote_head
    names = [r.name for r in repo.remotes]
    if not names:
        return None
    return ("origin" if "origin" in names else names[0]), branch.name


def _sync_remote(repo: Any, root: Path, report: SyncReport, env: dict[str, str],
                 step: Callable[[str], None]) -> None:
    chosen = pick_remote(repo)
    if chosen is None:
        report.notes.append("no remote is configured: committed locally only "
                            "(add one with 'git remote add origin URL' to share the vault).")
        return
    report.remote, report.branch = chosen
    for _attempt in range(PUSH_ATTEMPTS):
        step(f"fetching from {report.remote}")
        _fetch(repo, report)
        step(f"merging {report.remote}/{report.branch}")
        _merge_remote(repo, root, report, env)
        step(f"pushing to {report.remote}")
        creates_branch = _remote_ref(repo, report) is None
        if _push(repo, report):
            report.notes += [n for n in [creates_branch and point_remote_head(repo, report.remote, report.branch)] if n]
            return
    raise SyncError(f"the remote {report.remote} kept changing while syncing; your changes are committed locally.",
                    "Run 'crm sync' again.")


def _fetch(repo: Any, report: SyncReport) -> None:
    import git

    try:
        repo.git.fetch(report.remote)
    except git.GitCommandError as exc:
        raise SyncError(f"cannot reach the remote '{report.remote}' ({_stderr(exc)}); your changes are committed "
                        "locally and nothing was lost.",
                        "Check the network or the remote URL ('git remote -v'), then run 'crm sync' again.") from None


def _remote_ref(repo: Any, report: SyncReport) -> str | None:
    ref = f"refs/remotes/{report.remote}/{report.branch}"
    import git

    try:
        repo.git.rev_parse("--verify", "-q", ref)
    except git.GitCommandError:  # the remote has no such branch yet
        return None
    return ref


def _merge_remote(repo: Any, root: Path, report: SyncReport, env: dict[str, str]) -> None:
    import git

    ref = _remote_ref(repo, report)
    if ref is None:
        return  # an empty remote, or a new branch: the push creates it
    count = int(repo.git.rev_list("--count", f"HEAD..{ref}"))
    if count == 0:
        return
    files = [f for f in repo.git.diff("--name-only", f"HEAD...{ref}").splitlines() if f]
    title = f"sync: merge {report.remote}/{report.branch}"
    try:
        repo.git.merge("--no-edit", "-m", title, ref, env=env)
    except git.GitCommandError:
        _settle_conflicts(repo, root, report, env, title)
    report.merged_commits += count
    report.merged_files += [f for f in files if f not in report.merged_files]


def _settle_conflicts(repo: Any, root: Path, report: SyncReport, env: dict[str, str], title: str) -> None:
    """Customer files deleted on one side and edited on the other keep the
    edited file (a follow-up is never lost); any other conflict undoes the
    merge and tells the user what to do."""
    stuck = []
    for path in _unmerged(repo):
        stages = {line.split()[2] for line in repo.git.ls_files("-u", "--", path).splitlines()}
        target = root / path
        one_sided = not {"2", "3"} <= stages
        if path.startswith(CUSTOMERS_PREFIX) and one_sided and target.is_file() \
                and GIT_MARKER not in target.read_bytes():
            repo.git.add("--", path)
        else:
            stuck.append(path)
    if stuck:
        repo.git.merge("--abort")
        raise SyncError(
            f"{', '.join(stuck)} changed both here and on {report.remote} in ways that cannot be merged "
            "automatically; the merge was undone and your vault is as it was (your changes are committed locally).",
            f"Run 'git merge {report.remote}/{report.branch}', fix the conflict in those files, "
            "'git add' them, 'git commit', then 'crm sync' again.")
    repo.git.commit("--no-edit", "-m", title, env=env)


def _push(repo: Any, report: SyncReport) -> bool:
    """True when pushed; False when the remote moved (fetch and merge again)."""
    import git

    args = [report.remote, f"HEAD:refs/heads/{report.branch}"]
    tracking = repo.active_branch.tracking_branch()
    try:
        if tracking is None:
            repo.git.push("--set-upstream", report.remote, f"{repo.active_branch.name}:{report.branch}")
        else:
            repo.git.push(*args)
    except git.GitCommandError as exc:
        text = _stderr(exc)
        raced = any(word in text for word in ("[rejected]", "non-fast-forward", "fetch first", "failed to update ref",
                                              "cannot lock ref"))
        if "[remote rejected]" in text and not raced:  # a hook or branch protection said no: retrying cannot help
            raise SyncError(f"the remote '{report.remote}' refused the push ({text}); your changes are committed "
                            "locally and nothing was lost.",
                            "Ask whoever runs the remote why (protected branch, hook, permissions).") from None
        if raced:
            return False  # the remote moved: fetch, merge and push again
        raise SyncError(f"cannot push to '{report.remote}' ({text}); your changes are committed locally.",
                        "Check the network and your access to the remote, then run 'crm sync' again.") from None
    report.pushed = True
    return True
