"""The git merge driver: ``crm merge-driver %O %A %B %P``.

Git hands over three temporary files (base, ours, theirs) and expects the
result in the "ours" file; exit 0 means merged, 1 a conflict git then
reports.  The merge itself lives in ``crmnotes.merge`` (pure text); this
module only reads, writes, and asks git who wrote each side so that a
recorded conflict names people.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import CrmError, FileFormatError
from ..fsutil import atomic_write
from ..merge import Sides, merge_texts
from ..note import clean_text, decode
from .repo import git_run

GITHEAD_PREFIX = "GITHEAD_"
OTHER_HEADS = ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD")


def run_driver(base: Path, ours: Path, theirs: Path, relpath: str, root: Path | None = None) -> int:
    """Merge into ``ours``; 1 (git then reports a conflict) when a side is not a text file we
    can read (ours' text stays, no markers) or the merge kept both versions whole."""
    root = root or Path.cwd()
    shown = relpath or ours.name
    try:
        base_text = decode(base.read_bytes())[0] if base.exists() else ""
        ours_text, bom = decode(ours.read_bytes())
        theirs_text = decode(theirs.read_bytes())[0]
    except FileFormatError as exc:
        _say(f"{shown}: cannot merge: one version {exc.message}; ours is kept as it was.")
        return 1
    except OSError as exc:
        _say(f"{shown}: cannot merge: {exc.strerror or exc}; ours is kept as it was.")
        return 1
    result = merge_texts(base_text, ours_text, theirs_text)
    if result.conflicts:  # only now is it worth asking git who wrote each side
        result = merge_texts(base_text, ours_text, theirs_text, sides_of(root, relpath))
    atomic_write(ours, (("\ufeff" if bom else "") + result.text).encode("utf-8"))
    if result.unresolved:
        _say(f"{shown}: {result.conflicts[0]}; keep the right text and delete the !!! lines "
             "('crm check' shows where).")
        return 1
    return 0


def _say(message: str) -> None:
    """A line git shows next to its own conflict report."""
    print(f"crmnotes merge: {clean_text(message)}", file=sys.stderr)


def sides_of(root: Path, relpath: str) -> Sides:
    """The last author of the file on each side (best effort)."""
    sides = Sides(author_of(root, "HEAD", relpath) or "ours", "theirs")
    try:
        other = _other_head(root)
    except CrmError:  # a name is a nicety; the merge must not fail for it
        return sides
    if other:
        sides.theirs = author_of(root, other, relpath) or sides.theirs
    return sides


def _other_head(root: Path) -> str:
    """The commit being merged in: git names it in GITHEAD_<sha> variables
    while merging (MERGE_HEAD is written only after a conflict)."""
    heads = [key.removeprefix(GITHEAD_PREFIX) for key in os.environ if key.startswith(GITHEAD_PREFIX)]
    if heads:
        ours = git_run(root, "rev-parse", "HEAD", check=False).decode().strip()
        others = [h for h in heads if h != ours]
        if others:
            return others[0]
    git_dir = Path(os.environ.get("GIT_DIR") or root / ".git")
    for name in OTHER_HEADS:
        if (git_dir / name).exists():
            return name
    return ""


def author_of(root: Path, rev: str, relpath: str) -> str:
    """Who last changed ``relpath`` as of ``rev`` ("" when git cannot say)."""
    try:
        out = git_run(root, "log", "-1", "--format=%an", rev, "--", relpath, check=False)
    except CrmError:  # a name is a nicety; the merge must not fail for it
        return ""
    return out.decode("utf-8", errors="replace").strip()
