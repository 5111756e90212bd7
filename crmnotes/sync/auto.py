"""Auto-sync settings (``sync:`` in crmnotes.yaml, off by default) and the
auto-commit run after commands that change the vault.

    sync:
      auto_commit: false       # commit after each change made through crmnotes
      auto_sync_minutes: 0     # crm sync every N minutes while the TUI or crm watch runs (0: never)

The TUI and ``crm watch`` read ``settings(config).interval_seconds`` and call
``crmnotes.sync.sync.sync`` on that period (in a worker thread); that sync
pauses crmnotes writers only while git may rewrite customer files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CrmError

SECTION = "sync"


@dataclass(frozen=True)
class AutoSync:
    """What the vault asks for; both off unless crmnotes.yaml turns them on."""

    commit: bool = False
    interval_minutes: float = 0

    @property
    def interval_seconds(self) -> float | None:
        return self.interval_minutes * 60 if self.interval_minutes > 0 else None


def settings(config: Any) -> AutoSync:
    raw = getattr(config, "raw", {}).get(SECTION)
    if not isinstance(raw, dict):
        return AutoSync()
    minutes = raw.get("auto_sync_minutes") or 0
    if not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or minutes < 0:
        raise CrmError(f"crmnotes.yaml: sync.auto_sync_minutes must be a number of minutes, not '{minutes}'.",
                       "Write e.g. 'auto_sync_minutes: 30' (0 turns it off).")
    return AutoSync(commit=raw.get("auto_commit") is True, interval_minutes=float(minutes))


def auto_commit(root: Path) -> str:
    """Commit what changed in the vault with a generated message; returns the
    subject ("" when nothing changed or the vault is not a repository root)."""
    if not (root / ".git").exists():
        return ""
    from .gitcmd import Git
    from .repo import identity_env
    from .sync import commit_all, current_branch, writers_paused

    git = Git(root, identity_env(root))
    if git.succeeds("rev-parse", "--verify", "-q", "MERGE_HEAD"):
        return ""  # a merge in progress is the user's to finish
    current_branch(git)  # a detached HEAD: refused, or the commit would live only in the reflog
    with writers_paused(root):  # not in the middle of a sync's commit and merge
        return commit_all(git, root, "")
