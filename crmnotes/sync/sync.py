"""``crm sync``: commit local changes, merge the remote's, push.

The order keeps every change safe: everything is committed before anything
is merged, so a merge never meets an uncommitted file; customer files merge
through the crmnotes driver, in memory (``git merge-tree``), and the files
move to the result only when none of them was saved meanwhile; a merge that
stops on another file (e.g. crmnotes.yaml) is undone, leaving the vault as it
was with the local commit kept; pushing never forces, and a push rejected
because the remote moved is retried after another fetch and merge.

Writers run while sync runs (``crm log`` in another terminal, the TUI whose
auto-sync this is).  The span in which git may rewrite customer files (a
commit, then the merge) holds the vault's write lock exclusively
(``fsutil.vault_sync_lock``): crmnotes writers wait for it, so a save that
reported success is never replaced by git.  Fetch and push hold no lock, and
what is saved meanwhile is committed by the next round's commit.  A detached
HEAD is refused before anything is committed: a commit there would live only
in the reflog.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CrmError
from ..fsutil import LockTimeout, vault_sync_lock
from .default_branch import point_remote_head
from .gitcmd import Git, GitError
from .guard import refuse_staged_secrets
from .message import EMPTY_TREE, describe_staged
from .repo import GUARD_RAN, ensure_repo_setup, identity_env, init_repo

PUSH_ATTEMPTS = 3
MERGE_ATTEMPTS = 3
CUSTOMERS_PREFIX = "customers/"
GIT_MARKER = b"<<<<<<< "
LOCKS = Path(".crmnotes") / "locks"
ONE_SYNC_WAIT = 120.0  # a second sync of the same vault (the TUI's auto-sync, a terminal) waits this long


class SyncError(CrmError):
    """Sync stopped; it says where the local work is."""

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
    not_shared: list[str] = field(default_factory=list)  # files left out of the commit, each with why


def sync(root: Path, message: str = "", progress: Callable[[str], None] | None = None) -> SyncReport:
    """Commit, fetch, merge and push; raises ``SyncError`` when it cannot finish.

    ``progress`` (optional) is told each step as it starts, for a face to show.
    """
    step = progress or (lambda _text: None)
    if not (root / ".git").exists():
        init_repo(root)
    ensure_repo_setup(root)
    git = Git(root, identity_env(root))
    if not git.succeeds("rev-parse", "--git-dir"):
        raise CrmError(f"{root} is not a usable git repository.", "Run 'crm init' or 'git init' in it.")
    report = SyncReport()
    with _one_sync_at_a_time(root):
        _refuse_unfinished(git)
        branch = current_branch(git)
        try:
            step("committing local changes")
            with writers_paused(root):
                commit_all(git, root, message, report)
            _sync_remote(git, root, branch, message, report, step)
        except GitError as exc:
            raise SyncError(f"git {exc.command} failed: {exc.stderr or f'exit {exc.returncode}'}.",
                            f"Check the repository with 'git status'; {where_work_is(git)}.") from None
    return report


@contextlib.contextmanager
def _one_sync_at_a_time(root: Path) -> Iterator[None]:
    from filelock import FileLock, Timeout

    locks = root / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(locks / "sync.lock"), timeout=ONE_SYNC_WAIT):
            yield
    except Timeout:
        raise SyncError("another crm sync of this vault is still running.",
                        "Wait for it to finish, then run 'crm sync' again.") from None


@contextlib.contextmanager
def writers_paused(root: Path) -> Iterator[None]:
    """The span in which git may rewrite customer files: no crmnotes writer saves meanwhile."""
    try:
        with vault_sync_lock(root / LOCKS):
            yield
    except LockTimeout:
        raise SyncError("crmnotes kept writing to the vault, so sync could not start its commit and merge; "
                        "nothing was changed.", "Run 'crm sync' again in a moment.") from None


def where_work_is(git: Git) -> str:
    """One true sentence about the local work, at the moment it is said."""
    try:
        raw = git.run("status", "--porcelain", "-z", "--no-renames").split(b"\0")
    except CrmError:
        return "the files in the vault are as they were saved"
    pending = [entry for entry in raw if entry and _shareable(entry[3:])]  # "XY name"
    if not pending:
        return "everything saved in the vault is committed locally and nothing was lost"
    return (f"{len(pending)} file(s) saved after the last commit are in the vault but not committed yet "
            "(nothing was lost; the next 'crm sync' commits them)")


def _refuse_unfinished(git: Git) -> None:
    git_dir = Path(git.root) / git.text("rev-parse", "--git-dir")
    unmerged = _unmerged(git)
    if unmerged:
        raise SyncError(f"an earlier merge is unfinished: {', '.join(unmerged)} still conflict.",
                        "Edit those files, 'git add' them and run 'crm sync' again (or 'git merge --abort').")
    for name, what in (("rebase-merge", "rebase"), ("rebase-apply", "rebase or am")):
        if (git_dir / name).exists():
            raise SyncError(f"a git {what} is in progress in this vault.",
                            "Finish it ('git rebase --continue') or abort it, then run 'crm sync' again.")


def _unmerged(git: Git) -> list[str]:
    """Paths with conflict stages, read from the index alone (no look at every file of the work tree)."""
    entries = git.run("ls-files", "--unmerged", "-z").split(b"\0")  # "mode sha stage\tname"
    names = (entry.partition(b"\t")[2] for entry in entries if b"\t" in entry)
    return list(dict.fromkeys(name.decode("utf-8", "surrogateescape") for name in names))


def current_branch(git: Git) -> str:
    """The checked-out branch; a detached HEAD is refused before anything is committed."""
    code, out, _ = git.call("symbolic-ref", "-q", "--short", "HEAD", check=False)
    if code == 0:
        return out.decode("utf-8", "surrogateescape").strip()
    sha = git.text("rev-parse", "--short", "HEAD", check=False) or "?"
    holders = git.lines("for-each-ref", "--format=%(refname:short)", "--contains", "HEAD", "refs/heads/")
    if holders:
        hint = f"Run 'git switch {holders[0]}' (your saved changes come along), then 'crm sync' again."
    else:
        target = (git.lines("for-each-ref", "--format=%(refname:short)", "refs/heads/") or ["main"])[0]
        hint = ("Its commits are on no branch: keep them with 'git switch -c rescue', then "
                f"'git switch {target}' and 'git merge rescue', then run 'crm sync' again.")
    raise SyncError(f"the vault is on a detached HEAD (commit {sha}), not a branch; nothing was committed.", hint)


def commit_all(git: Git, root: Path, message: str, report: SyncReport | None = None) -> str:
    """Stage everything that can be shared and commit it with a message naming
    what changed; returns the subject, or "" when there was nothing to commit.
    Files that cannot be shared are left out and named in ``report.not_shared``."""
    changed = stage_changed(git)
    merging = git.succeeds("rev-parse", "--verify", "-q", "MERGE_HEAD")
    if not changed and not merging:
        return ""  # status saw nothing staged, changed or new
    skipped = _unstage_unshareable(git)
    refuse_staged_secrets(root)
    if report is not None:
        fresh = [s for s in skipped if s not in report.not_shared]
        report.not_shared += fresh
        report.notes += fresh  # the faces that show notes (the TUI) show these too
    has_head = git.succeeds("rev-parse", "--verify", "-q", "HEAD")
    if has_head and not merging and git.succeeds("diff", "--cached", "--quiet", "HEAD"):
        return ""
    if not has_head and not git.run("ls-files", "-z"):
        return ""
    subject, body = describe_staged(root, "HEAD" if has_head else EMPTY_TREE)
    if message:
        subject, body = message, "\n".join(filter(None, [subject, body]))
    try:
        # refuse_staged_secrets just read this index: our own hook need not start Python to read it again.
        git.run("commit", "-q", "-m", subject, *(["-m", body] if body else []), env={GUARD_RAN: "1"})
    except GitError as exc:
        raise SyncError(f"the commit was refused: {exc.stderr}.",
                        "Fix what it names (crm check lists sensitive numbers), then run 'crm sync' again; "
                        "your changes are still in the files.") from None
    if report is not None:
        if report.committed:
            report.notes.append(f"also committed what was saved while syncing: {subject}")
        else:
            report.committed = subject
    return subject


def stage_changed(git: Git) -> bool:
    """``git add --all``, scoped to what ``git status`` names (staged, changed,
    deleted or new); False when it names nothing.  Status reads the untracked
    cache (``repo.tune_for_many_files``), and ``add`` then walks only those
    paths instead of every folder of a large vault a second time."""
    raw = git.run("status", "--porcelain", "-z", "--no-renames")
    entries = [entry for entry in raw.split(b"\0") if entry]  # "XY name", names as git wrote them
    # Y, the work tree's column, is blank for what is staged already (a 'git rm' has no file left to name)
    paths = [entry[3:] for entry in entries if entry[1:2] != b" "]
    if paths:
        git.run("add", "--all", "--pathspec-from-file=-", "--pathspec-file-nul", input_data=b"\0".join(paths),
                env={"GIT_LITERAL_PATHSPECS": "1"})  # a name with * or [ is that file, not a pattern
    return bool(entries)


def _unstage_unshareable(git: Git) -> list[str]:
    """New files whose names are not UTF-8 (a zip made on Windows unpacks GBK
    names): another clone could not even name them, so they stay out of the
    commit; returns one sentence for each."""
    raw = git.run("diff", "--cached", "--name-status", "--no-renames", "-z")
    fields = raw.split(b"\0")
    skipped = []
    for status, name in zip(fields[::2], fields[1::2], strict=False):
        if status == b"A" and not _shareable(name):
            git.run("rm", "--cached", "-q", "--", name.decode("utf-8", "surrogateescape"))
            skipped.append(_unshareable_sentence(name))
    return skipped


def _shareable(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _unshareable_sentence(name: bytes) -> str:
    shown = name.decode("utf-8", "backslashreplace")
    guess = ""
    with contextlib.suppress(UnicodeDecodeError):
        guess = f" (perhaps '{name.decode('gb18030').rsplit('/', 1)[-1]}')"
    return (f"{shown} was not shared: its file name is not UTF-8 (e.g. unpacked from a zip made on Windows). "
            f"Rename it{guess} and run 'crm sync' again.")


def pick_remote(git: Git, branch: str) -> tuple[str, str] | None:
    """(remote, branch) to sync with: the branch's upstream, else origin or the only remote."""
    upstream = git.text("for-each-ref", "--format=%(upstream:remotename)%00%(upstream:remoteref)",
                        f"refs/heads/{branch}", check=False)
    remote, _, ref = upstream.partition("\0")
    if remote and ref.startswith("refs/heads/"):
        return remote, ref.removeprefix("refs/heads/")
    names = git.lines("remote")
    if not names:
        return None
    return ("origin" if "origin" in names else names[0]), branch


def _sync_remote(git: Git, root: Path, branch: str, message: str, report: SyncReport,
                 step: Callable[[str], None]) -> None:
    chosen = pick_remote(git, branch)
    if chosen is None:
        report.notes.append("no remote is configured: committed locally only "
                            "(add one with 'git remote add origin URL' to share the vault).")
        return
    report.remote, report.branch = chosen
    for _attempt in range(PUSH_ATTEMPTS):
        step(f"fetching from {report.remote}")
        _fetch(git, report)
        step(f"merging {report.remote}/{report.branch}")
        with writers_paused(root):
            if _remote_ahead(git, report):  # (else what was saved during the fetch waits, as during the push)
                commit_all(git, root, message, report)  # what was saved during the fetch: never merged over
                _merge_remote(git, root, report)
        step(f"pushing to {report.remote}")
        tracking = f"refs/remotes/{report.remote}/{report.branch}"
        creates_branch = not git.succeeds("rev-parse", "--verify", "-q", tracking)
        if _push(git, branch, report):
            note = creates_branch and point_remote_head(git, report.remote, report.branch)
            report.notes += [note] if note else []
            return
    raise SyncError(f"the remote {report.remote} kept changing while syncing.",
                    f"Run 'crm sync' again; {where_work_is(git)}.")


def _fetch(git: Git, report: SyncReport) -> None:
    try:
        git.run("fetch", report.remote)
    except GitError as exc:
        raise SyncError(f"cannot reach the remote '{report.remote}' ({exc.stderr}).",
                        f"Check the network or the remote URL ('git remote -v'), then run 'crm sync' again; "
                        f"{where_work_is(git)}.") from None


def _remote_ahead(git: Git, report: SyncReport) -> bool:
    """Has the fetched branch commits this one lacks?  (Read from the commits alone: no look at the files.)"""
    ref = f"refs/remotes/{report.remote}/{report.branch}"
    return git.succeeds("rev-parse", "--verify", "-q", ref) and git.text("rev-list", "--count", f"HEAD..{ref}") != "0"


def _merge_remote(git: Git, root: Path, report: SyncReport) -> None:
    ref = f"refs/remotes/{report.remote}/{report.branch}"
    if not git.succeeds("rev-parse", "--verify", "-q", ref):
        return  # an empty remote, or a new branch: the push creates it
    count = int(git.text("rev-list", "--count", f"HEAD..{ref}"))
    if count == 0:
        return
    files = git.lines("diff", "--name-only", f"HEAD...{ref}")
    title = f"sync: merge {report.remote}/{report.branch}"
    for _attempt in range(MERGE_ATTEMPTS):
        outcome = _merge_in_memory(git, ref, title)
        if outcome == "merged":
            break
        if outcome == "conflicts":
            _merge_in_worktree(git, root, report, ref, title)
            break
        # An editor (not crmnotes, whose writers wait) saved a merged file after the commit: commit it, merge again.
        if not commit_all(git, root, "", report):
            raise GitError(("read-tree",), 1, outcome)
    else:
        raise SyncError(f"files kept changing in an editor while syncing, so {report.remote}/{report.branch} "
                        "was not merged.", f"Save and close them, then run 'crm sync' again; {where_work_is(git)}.")
    report.merged_commits += count
    report.merged_files += [f for f in files if f not in report.merged_files]


def _merge_in_memory(git: Git, ref: str, title: str) -> str:
    """Merge without letting git touch a file it cannot check: ``merge-tree``
    merges the commits (customer files through the crmnotes driver) into a
    tree, the merge commit is made from it, and ``read-tree`` moves the index
    and the files from HEAD to it, refusing (and writing nothing) when a file
    it would change was saved meanwhile.  (``git merge`` would instead rewind
    every file to how it found them when it stops, an editor's saves of the
    last seconds included.)  Returns "merged", "conflicts", or git's refusal."""
    head = git.text("rev-parse", "HEAD")
    theirs = git.text("rev-parse", ref)
    if git.succeeds("merge-base", "--is-ancestor", head, theirs):
        commit = theirs  # nothing local to merge: fast-forward
    else:
        # The driver names each side's author from GITHEAD_<sha>, which git merge sets and merge-tree does not.
        code, out, _err = git.call("merge-tree", "--write-tree", "HEAD", theirs, check=False,
                                   env={f"GITHEAD_{theirs}": ref})
        if code != 0:  # conflicts (1), or a git without merge-tree --write-tree (before 2.38)
            return "conflicts"
        commit = git.text("commit-tree", out.split()[0].decode(), "-p", head, "-p", theirs, "-m", title)
    code, _, err = git.call("read-tree", "-m", "-u", head, commit, check=False)
    if code != 0:
        return err.strip() or "read-tree refused"
    git.run("update-ref", "-m", title, "HEAD", commit, head)
    return "merged"


def _merge_in_worktree(git: Git, root: Path, report: SyncReport, ref: str, title: str) -> None:
    """``git merge``, for a merge with conflicts to settle (or an old git)."""
    code, _, err = git.call("merge", "--no-edit", "-m", title, ref, check=False)
    if code == 0:
        return
    if not git.succeeds("rev-parse", "--verify", "-q", "MERGE_HEAD"):
        raise GitError(("merge",), code, err)
    _settle_conflicts(git, root, report, title)


def _settle_conflicts(git: Git, root: Path, report: SyncReport, title: str) -> None:
    """Customer files deleted on one side and edited on the other keep the
    edited file (a follow-up is never lost); any other conflict undoes the
    merge and tells the user what to do."""
    stuck = []
    for path in _unmerged(git):
        stages = {line.split()[2] for line in git.lines("ls-files", "-u", "--", path)}
        target = root / path
        one_sided = not {"2", "3"} <= stages
        if path.startswith(CUSTOMERS_PREFIX) and one_sided and target.is_file() \
                and GIT_MARKER not in target.read_bytes():
            git.run("add", "--", path)
        else:
            stuck.append(path)
    if stuck:
        git.run("merge", "--abort")
        raise SyncError(
            f"{', '.join(stuck)} changed both here and on {report.remote} in ways that cannot be merged "
            f"automatically; the merge was undone and your vault is as it was ({where_work_is(git)}).",
            f"Run 'git merge {report.remote}/{report.branch}', fix the conflict in those files, "
            "'git add' them, 'git commit', then 'crm sync' again.")
    git.run("commit", "-q", "--no-edit", "-m", title)


def _push(git: Git, branch: str, report: SyncReport) -> bool:
    """True when pushed; False when the remote moved (fetch and merge again)."""
    has_upstream = bool(git.text("for-each-ref", "--format=%(upstream)", f"refs/heads/{branch}", check=False))
    args = (["--set-upstream", report.remote, f"{branch}:{report.branch}"] if not has_upstream
            else [report.remote, f"HEAD:refs/heads/{report.branch}"])
    code, _, err = git.call("push", *args, check=False)
    if code == 0:
        report.pushed = True
        return True
    text = " ".join(err.split())[:400]
    raced = any(word in text for word in ("[rejected]", "non-fast-forward", "fetch first", "failed to update ref",
                                          "cannot lock ref"))
    from .serverhook import refusal_summary

    if reason := refusal_summary(text):  # the team's server hook said why
        raise SyncError(f"the team's server refused your push: {reason}; your change stays in a local "
                        "commit and nothing was lost.",
                        "Ask the customer's owner or a manager to make that change; to take yours back, "
                        f"'git reset {report.remote}/{report.branch}' keeps it in your files, uncommitted, "
                        "to edit before the next 'crm sync'.")
    if "[remote rejected]" in text and not raced:  # a hook or branch protection said no: retrying cannot help
        raise SyncError(f"the remote '{report.remote}' refused the push ({text}).",
                        f"Ask whoever runs the remote why (protected branch, hook, permissions); "
                        f"{where_work_is(git)}.")
    if raced:
        return False  # the remote moved: fetch, merge and push again
    raise SyncError(f"cannot push to '{report.remote}' ({text}).",
                    f"Check the network and your access to the remote, then run 'crm sync' again; "
                    f"{where_work_is(git)}.")
