"""Concurrent writers: several real ``crm`` processes writing one customer at
once all land, and an editor's save that happens while crm is writing is
kept (crm re-applies its change to the editor's text)."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

from crmnotes.vault import Vault

from .harness import (
    Broken,
    Tally,
    all_entries,
    child_env,
    count_calls,
    crm_argv,
    customer_files,
    entries,
    lost_entries,
    meta,
)

# Every step of crm's write where an editor may save.  Not "replace": crm
# compares the file with what it read just before that rename, and the few
# microseconds between that compare and the rename are the one window no
# tool can close without a lock that editors honour.
WRITE_OPS = ("fsync", "mkdir")


def _start(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(crm_argv(root, *args), cwd=root, env=child_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _wait_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise Broken(f"a concurrent crm failed: {err.decode(errors='replace').strip()}")


def racing_writers(root: Path, seed: int, rounds: int, width: int = 4) -> Tally:
    """Each round starts ``width`` logs and ``width // 2`` sets on one customer at the same moment."""
    rng = random.Random(seed)
    tally = Tally()
    vault = Vault(root)
    refs = [c.id for c in vault.scan().customers]
    expected = all_entries(customer_files(root))
    for r in range(rounds):
        ref = rng.choice(refs)
        path = vault.resolve(ref).path
        rel = vault.relative(path)
        notes = [f"并发 {seed}-{r}-{i} 电话沟通报价" for i in range(width)]
        sets = {f"field_{seed}_{r}_{i}": f"值{i}" for i in range(max(1, width // 2))}
        procs = [_start(root, "log", ref, "--note", text, "--at", f"2032-01-{1 + r % 28:02d} 09:{i:02d}")
                 for i, text in enumerate(notes)]
        procs += [_start(root, "set", ref, f"{key}={value}", f"grade={rng.choice('ABC')}")
                  for key, value in sets.items()]
        rng.shuffle(procs)
        _wait_all(procs)
        tally.inputs += len(procs)
        tally.faults += 1  # one race
        data = path.read_bytes()
        landed = [k[3] for k in entries(data)]
        missing = [n for n in notes if n not in landed]
        tally.lost += len(missing)
        fields = meta(data)
        lost_fields = [k for k, v in sets.items() if fields.get(k) != v]
        tally.lost += len(lost_fields)
        if missing or lost_fields:
            raise Broken(f"concurrent writers lost entries {missing} / fields {lost_fields} in {rel}")
        expected[rel] += entries(data) - expected[rel]
        tally.lost += lost_entries(expected, customer_files(root))
    return tally


def editor_saves_mid_write(root: Path, seed: int, points: int) -> Tally:
    """Pause ``crm log`` just before one of its file-system calls, save the
    file as an editor would, let crm go on: both changes must be in the file."""
    rng = random.Random(seed)
    tally = Tally()
    vault = Vault(root)
    refs = [c.id for c in vault.scan().customers]
    calls = count_calls(root, ["log", refs[0], "--note", "count", "--at", "2033-01-01 00:00"], root.parent / "calls")
    choices = [(op, n) for op in WRITE_OPS for n in range(1, calls[op] + 1)]
    for i in range(points):
        op, n = choices[i % len(choices)] if i < len(choices) else rng.choice(choices)
        ref = rng.choice(refs)
        path = vault.resolve(ref).path
        text = f"编辑器竞争 {seed}-{i}"
        line = f"编辑器保存的一行 {seed}-{i}"
        gate = root.parent / f"gate-{seed}-{i}"
        gate.mkdir()
        spec = f"pause:{op}:{n}:{gate}"
        proc = subprocess.Popen(crm_argv(root, "log", ref, "--note", text, "--at", f"2033-02-01 10:{i % 60:02d}",
                                         killpoint=spec), cwd=root, env=child_env(spec),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not (gate / "paused").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        paused = (gate / "paused").exists()
        _editor_save(path, line, atomic=bool(i % 2))
        (gate / "go").touch()
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise Broken(f"crm log racing an editor failed: {err.decode(errors='replace').strip()}")
        tally.faults += paused
        tally.inputs += 1
        data = path.read_bytes().decode("utf-8")
        kept_editor = line in data
        kept_entry = text in [k[3] for k in entries(path.read_bytes())]
        tally.lost += (not kept_editor) + (not kept_entry)
        if not (kept_editor and kept_entry):
            raise Broken(f"an editor save while crm log was at {op}#{n}: editor line kept={kept_editor}, "
                         f"entry kept={kept_entry}")
    return tally


def _editor_save(path: Path, line: str, atomic: bool) -> None:
    """What vim (in place) or VS Code (write-and-rename) do on save: here a
    line of prose added under the front-matter, outside every entry."""
    head, fence, rest = path.read_text(encoding="utf-8").partition("\n---\n")
    text = f"{head}{fence}\n{line}\n{rest}"
    if atomic:
        tmp = path.with_name(path.name + ".editor-swp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    else:
        with open(path, "r+", encoding="utf-8") as handle:
            handle.write(text)
            handle.truncate()
