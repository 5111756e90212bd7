"""What every fault scenario shares: real ``crm`` processes (killed on
purpose), a vault's customer files and their follow-up entries, and the
tally of faults injected, inputs tried and entries lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmnotes import note
from crmnotes.errors import FileFormatError
from crmnotes.fsutil import TEMP_PREFIX

KILLPOINT = Path(__file__).with_name("killpoint.py")
PROCESS_TIMEOUT = 180


@dataclass
class Tally:
    """What one scenario did; ``lost`` must end at 0."""

    faults: int = 0
    inputs: int = 0
    lost: int = 0
    notes: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.faults += other.faults
        self.inputs += other.inputs
        self.lost += other.lost
        self.notes.update(other.notes)


class Broken(AssertionError):
    """An invariant of the vault does not hold after a fault."""


# ------------------------------------------------------------------ processes


def crm_argv(root: Path, *args: str, killpoint: str = "") -> list[str]:
    if killpoint:
        return [sys.executable, str(KILLPOINT), "--vault", str(root), *args]
    return [sys.executable, "-m", "crmnotes", "--vault", str(root), *args]


def child_env(killpoint: str = "", extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env.pop("CRM_KILLPOINT", None)
    if killpoint:
        env["CRM_KILLPOINT"] = killpoint
    # the killpoint wrapper is run as a script: crmnotes must be importable from the repo
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[2]), env.get("PYTHONPATH", "")]))
    return env


def run(root: Path, *args: str, ok: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """One real ``python -m crmnotes`` process run to its end."""
    done = subprocess.run(crm_argv(root, *args), cwd=cwd or root, env=child_env(), capture_output=True, text=True,
                          timeout=PROCESS_TIMEOUT)
    if ok and done.returncode != 0:
        raise Broken(f"crm {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def run_killed_after(root: Path, args: list[str], delay: float) -> bool:
    """Start ``crm args`` and SIGKILL it after ``delay`` seconds; True when it
    was killed (False when it finished first, which must then be a success)."""
    proc = subprocess.Popen(crm_argv(root, *args), cwd=root, env=child_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return True
    if proc.returncode != 0:
        raise Broken(f"crm {' '.join(args)} failed ({proc.returncode}): {err.decode(errors='replace').strip()}")
    return False


def run_at_killpoint(root: Path, args: list[str], point: str) -> bool:
    """Run ``crm args`` under the kill-point wrapper (``op:n``: SIGKILL just
    before the n-th ``os.op`` call); True when the kill point was reached."""
    done = subprocess.run(crm_argv(root, *args, killpoint=point), cwd=root, env=child_env(point),
                          capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
    if done.returncode == -signal.SIGKILL:
        return True
    if done.returncode != 0:
        raise Broken(f"crm {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return False


def count_calls(root: Path, args: list[str], out: Path) -> Counter[str]:
    """How many times each watched ``os`` call runs during ``crm args`` (run to its end)."""
    done = subprocess.run(crm_argv(root, *args, killpoint=f"count:{out}"), cwd=root, env=child_env(f"count:{out}"),
                          capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
    if done.returncode != 0:
        raise Broken(f"crm {' '.join(args)} failed: {done.stderr.strip()}")
    import json

    return Counter(json.loads(out.read_text(encoding="utf-8")))


def timed(root: Path, *args: str) -> float:
    started = time.perf_counter()
    run(root, *args)
    return time.perf_counter() - started


# ------------------------------------------------------------------ vault state


def customer_files(root: Path) -> dict[str, bytes]:
    """Every customer file's bytes (our own temp files excluded)."""
    base = root / "customers"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(base.rglob("*.md"))
            if p.is_file() and not p.name.startswith(TEMP_PREFIX)}


def all_files(root: Path) -> dict[str, bytes]:
    """Every file of the vault outside .git and the rebuildable cache."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and ".git" not in p.parts and ".crmnotes" not in p.parts}


def temp_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "customers").rglob(f"{TEMP_PREFIX}*"))


EntryKey = tuple[str, str, str, str]


def entry_key(followup: Any) -> EntryKey:
    return (followup.at.isoformat(), followup.channel, followup.by, followup.note)


def entries(data: bytes) -> Counter[EntryKey]:
    """The follow-up entries of one file; raises ``Broken`` when it does not parse."""
    try:
        doc = note.parse(data)
    except FileFormatError as exc:
        raise Broken(f"a customer file no longer parses: {exc.message}") from None
    return Counter(entry_key(f) for f in doc.followups)


def meta(data: bytes) -> dict[str, Any]:
    return note.parse(data).meta


def all_entries(files: dict[str, bytes]) -> dict[str, Counter[EntryKey]]:
    return {rel: entries(data) for rel, data in files.items()}


def lost_entries(expected: dict[str, Counter[EntryKey]], files: dict[str, bytes]) -> int:
    """How many entries that must exist are missing (per file, counting duplicates)."""
    lost = 0
    for rel, wanted in expected.items():
        have = entries(files[rel]) if rel in files else Counter()
        lost += sum((wanted - have).values())
    return lost
