"""``crm repair``: merge a customer file again, with the crmnotes merge, after a
merge without the crmnotes driver (a plain ``git pull`` in a fresh clone) left
git's ``<<<<<<<`` markers in it.

The versions come from the index while that merge is unfinished (stages 1, 2
and 3), or, once the markers were committed, from the two parents of the
merge commit that brought them in and the parents' merge base; edits made to
the file after that commit are merged again on top of the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CrmError
from ..fsutil import FileChanged, atomic_write, file_lock
from ..merge import MergeResult, Sides, git_marker_lines, merge_texts
from ..note import decode, parse_entries
from .driver import author_of, sides_of
from .repo import git_run, read_blobs

HISTORY_LIMIT = 500  # commits of one file searched for the merge that brought the markers in
CUSTOMERS = "customers/"


@dataclass
class Repaired:
    """What ``repair`` did to one file."""

    relpath: str
    source: str  # where the versions came from, for a person to read
    followups: int
    conflicts: list[str] = field(default_factory=list)
    unresolved: bool = False  # both versions are kept whole in the file: a person must choose
    staged: bool = False  # the unfinished merge's conflict on this file is marked resolved


def files_to_repair(root: Path) -> list[str]:
    """Customer files in conflict in an unfinished merge, or holding git's markers."""
    unmerged = git_run(root, "diff", "--name-only", "--diff-filter=U", "-z", "--", CUSTOMERS, check=False)
    marked = git_run(root, "grep", "-l", "-z", "-E", "-e", "^<<<<<<<( |$)", "--", CUSTOMERS, check=False)
    names = [n.decode("utf-8", "surrogateescape") for n in (unmerged + marked).split(b"\0") if n]
    return sorted({n for n in names if n.endswith(".md")})


def repair(root: Path, relpath: str) -> Repaired:
    """Merge ``relpath`` again from its versions and write it; raises ``CrmError`` when git
    does not hold the versions it needs.  Locked like every writer (no ``crm log`` lands
    between the read and the write, and never while a sync merges)."""
    with file_lock(root / ".crmnotes" / "locks", relpath):
        before = (root / relpath).read_bytes() if (root / relpath).exists() else None
        try:
            return _repair(root, relpath, before)
        except FileChanged:
            raise CrmError(f"{relpath} was saved by another program while it was being repaired; "
                           "nothing was written.", "Close the other editor and run 'crm repair' again.") from None


def _repair(root: Path, relpath: str, before: bytes | None) -> Repaired:
    staged = _index_versions(root, relpath)
    if staged is not None:
        base, ours, theirs = staged
        result = merge_texts(base, ours, theirs, sides_of(root, relpath))
        done = Repaired(relpath, "the versions of the unfinished merge", 0)
    else:
        result, done = _remerge_committed(root, relpath)
    bom = before is not None and before.startswith(b"\xef\xbb\xbf")
    atomic_write(root / relpath, (("\ufeff" if bom else "") + result.text).encode("utf-8"), expect=before)
    done.followups = len(parse_entries(result.text).entries)
    done.conflicts, done.unresolved = result.conflicts, result.unresolved
    if staged is not None and not result.unresolved:
        git_run(root, "add", "--", relpath)
        done.staged = True
    return done


def _index_versions(root: Path, relpath: str) -> tuple[str, str, str] | None:
    """(base, ours, theirs) from the index while a merge of ``relpath`` is unfinished."""
    listed = git_run(root, "ls-files", "-u", "-z", "--", relpath, check=False)
    stages = {line.split(b"\t", 1)[0].split()[2].decode() for line in listed.split(b"\0") if line}
    if not stages:
        return None
    if not {"2", "3"} <= stages:
        raise CrmError(f"{relpath} was deleted on one side of the unfinished merge, so there is nothing to merge.",
                       f"Keep it with 'git add {relpath}' or drop it with 'git rm {relpath}'.")
    base, ours, theirs = (_text(blob) for blob in read_blobs(root, [f":{n}:{relpath}" for n in "123"]))
    return base, ours, theirs


def _remerge_committed(root: Path, relpath: str) -> tuple[MergeResult, Repaired]:
    path = root / relpath
    try:
        current = _text(path.read_bytes())
    except OSError as exc:
        raise CrmError(f"cannot read {relpath} ({exc.strerror or exc}).") from None
    if not git_marker_lines(current):
        raise CrmError(f"{relpath} has no git conflict markers and is not part of an unfinished merge; "
                       "there is nothing to repair.")
    commit = _marking_commit(root, relpath)
    parents = git_run(root, "rev-list", "--parents", "-n", "1", commit).decode().split()[1:]
    if len(parents) != 2:
        raise CrmError(f"the conflict markers in {relpath} come from commit {commit[:10]}, which is not a merge "
                       "of two versions, so there is nothing to merge again.",
                       "Edit the file: keep the right lines and delete the <<<<<<< ======= >>>>>>> lines.")
    base_rev = git_run(root, "merge-base", *parents, check=False).decode().strip()
    revs = [base_rev, *parents, commit] if base_rev else [*parents, commit]
    blobs = read_blobs(root, [f"{rev}:{relpath}" for rev in revs])
    if not base_rev:
        blobs.insert(0, None)  # two unrelated histories: both added the file
    if blobs[1] is None or blobs[2] is None:
        raise CrmError(f"{relpath} is missing from one parent of merge commit {commit[:10]} (renamed there?), "
                       "so it cannot be merged again.",
                       "Edit the file: keep the right lines and delete the <<<<<<< ======= >>>>>>> lines.")
    base, ours, theirs, marked = (_text(blob) for blob in blobs)
    sides = Sides(author_of(root, parents[0], relpath) or "ours", author_of(root, parents[1], relpath) or "theirs")
    result = merge_texts(base, ours, theirs, sides)
    if current != marked:  # the file changed after the merge commit: keep those edits too
        later = merge_texts(marked, current, result.text, Sides("your later edits", "the repaired merge"))
        result = MergeResult(later.text, result.conflicts + later.conflicts, result.unresolved or later.unresolved)
    return result, Repaired(relpath, f"the two sides of merge commit {commit[:10]}", 0)


def _marking_commit(root: Path, relpath: str) -> str:
    """The merge commit that brought the markers in: the oldest of the newest run of
    commits whose version of the file holds them."""
    commits = git_run(root, "rev-list", f"--max-count={HISTORY_LIMIT}", "HEAD", "--", relpath,
                      check=False).decode().split()
    found = ""
    for commit, blob in zip(commits, read_blobs(root, [f"{c}:{relpath}" for c in commits]), strict=True):
        if blob is None or not git_marker_lines(_text(blob)):
            break
        found = commit
    if not found:
        raise CrmError(f"the conflict markers in {relpath} are not in any commit, and no merge of it is unfinished.",
                       "Edit the file: keep the right lines and delete the <<<<<<< ======= >>>>>>> lines.")
    return found


def _text(blob: bytes | None) -> str:
    return "" if blob is None else decode(blob)[0]
