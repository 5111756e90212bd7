"""Sync faults with real git and a bare remote: the remote dropping the
connection mid-fetch, a push the remote refuses, ``crm sync`` killed during
its merge, and a repository left mid-merge by a plain ``git pull``.  Nothing
committed or uncommitted may be lost, and ``crm sync`` / ``crm check`` say
what state the vault is in."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from .harness import (
    Broken,
    Tally,
    all_entries,
    child_env,
    customer_files,
    entries,
    lost_entries,
    run,
    run_killed_after,
    timed,
)

XC = "星辰科技有限公司"


def git(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if ok and done.returncode != 0:
        raise Broken(f"git {' '.join(args)}: {done.stderr}")
    return done


def team(base: Path) -> tuple[Path, Path, Path]:
    """A bare remote, alice who created and pushed the vault, bob's clone."""
    remote = base / "remote.git"
    git(base, "init", "-q", "--bare", "--initial-branch=main", str(remote))
    alice = base / "alice"
    subprocess.run([sys.executable, "-m", "crmnotes", "init", str(alice), "--example"], env=child_env(), check=True,
                   capture_output=True, timeout=120)
    git(alice, "config", "user.name", "alice")
    git(alice, "config", "user.email", "alice@example.com")
    git(alice, "remote", "add", "origin", str(remote))
    run(alice, "sync")
    bob = base / "bob"
    git(base, "clone", "-q", "-b", "main", str(remote), str(bob))
    git(bob, "config", "user.name", "bob")
    git(bob, "config", "user.email", "bob@example.com")
    run(bob, "ls")  # registers the merge driver and the hook in the clone
    return remote, alice, bob


def everything_kept(expected: dict[str, Counter], *roots: Path) -> int:
    """Entries that must exist but are missing, in the files of ``roots``."""
    return sum(lost_entries(expected, customer_files(root)) for root in roots)


def dropped_fetch(base: Path) -> Tally:
    """The remote hangs up in the middle of the fetch."""
    tally = Tally()
    _remote, alice, bob = team(base)
    run(alice, "log", XC, "--note", "alice 的记录")
    run(alice, "sync")
    run(bob, "log", XC, "--note", "bob 未提交的记录")
    expected = all_entries(customer_files(bob))
    git(bob, "config", "remote.origin.uploadpack", "sh -c 'printf 0032want; exit 1' --")
    done = run(bob, "sync", ok=False)
    tally.faults += 1
    tally.inputs += 1
    if done.returncode == 0 or "cannot reach the remote" not in done.stderr or "Traceback" in done.stderr:
        raise Broken(f"a dropped fetch was not explained: {done.stderr}")
    if git(bob, "status", "--porcelain").stdout.strip():
        raise Broken("bob's change was not committed before the fetch")
    tally.lost += everything_kept(expected, bob)
    git(bob, "config", "--unset", "remote.origin.uploadpack")
    run(bob, "sync")
    run(alice, "sync")
    tally.lost += everything_kept(all_entries(customer_files(bob)), alice)
    return tally


def refused_push(base: Path) -> Tally:
    """The remote's pre-receive hook declines every push."""
    tally = Tally()
    remote, _alice, bob = team(base)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen for the audit' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    run(bob, "log", XC, "--note", "推送被拒的记录")
    expected = all_entries(customer_files(bob))
    done = run(bob, "sync", ok=False)
    tally.faults += 1
    tally.inputs += 1
    if "Traceback" in done.stderr or "committed locally" not in done.stderr:
        raise Broken(f"a refused push was not explained: {done.stderr}")
    if "declined" not in done.stderr and "refused" not in done.stderr:
        raise Broken(f"a refused push was reported as something else: {done.stderr.strip()}")
    tally.lost += everything_kept(expected, bob)
    hook.unlink()
    run(bob, "sync")
    tally.lost += everything_kept(expected, bob)
    return tally


def killed_sync(base: Path, seed: int, runs: int) -> Tally:
    """``crm sync`` killed at random moments while it merges alice's work."""
    rng = random.Random(seed)
    tally = Tally()
    _remote, alice, bob = team(base)
    duration = 0.0
    for i in range(runs):
        run(alice, "log", XC, "--note", f"alice 第{i}次", "--at", f"2034-01-01 10:{i % 60:02d}")
        run(alice, "sync")
        run(bob, "log", XC, "--note", f"bob 第{i}次", "--at", f"2034-01-01 11:{i % 60:02d}")
        if not duration:
            expected = all_entries(customer_files(bob))
            duration = timed(bob, "sync")
            continue
        expected = all_entries(customer_files(bob))
        for root in (alice,):
            for rel, wanted in all_entries(customer_files(root)).items():
                expected[rel] = expected.get(rel, Counter()) | wanted
        killed = run_killed_after(bob, ["sync"], rng.uniform(0.05, duration * 1.1))
        tally.faults += killed
        tally.inputs += 1
        state = _git_state(bob)
        tally.notes[f"sync kill left: {state}"] += 1
        check = run(bob, "check", ok=False)
        if "Traceback" in check.stderr:
            raise Broken(f"crm check after a killed sync: {check.stderr}")
        if state != "clean" and state not in (check.stdout + check.stderr):
            tally.notes["check did not name the git state"] += 1
        again = run(bob, "sync", ok=False)
        if again.returncode != 0:
            if "Traceback" in again.stderr or not again.stderr.startswith("crm: error:"):
                raise Broken(f"crm sync after a killed sync: {again.stderr}")
            _finish_as_told(bob, again.stderr)
            run(bob, "sync")
        run(alice, "sync")
        tally.lost += everything_kept(expected, bob, alice)
    return tally


def _git_state(root: Path) -> str:
    git_dir = root / ".git"
    if (git_dir / "index.lock").exists():
        return "index.lock"
    if (git_dir / "MERGE_HEAD").exists():
        return "merge"
    return "clean"


def _finish_as_told(root: Path, message: str) -> None:
    """Follow the hint of the error, the way a user would."""
    if "index.lock" in message:
        (root / ".git" / "index.lock").unlink(missing_ok=True)
    elif "merge" in message:
        git(root, "add", "--all")
        git(root, "commit", "--no-edit", "-q")
    else:
        raise Broken(f"no way out of: {message}")


def plain_git_pull_mid_merge(base: Path) -> Tally:
    """Someone runs ``git pull`` and leaves the vault mid-merge on crmnotes.yaml."""
    tally = Tally()
    _remote, alice, bob = team(base)
    for root, value in ((alice, "60"), (bob, "45")):
        config = root / "crmnotes.yaml"
        config.write_text(config.read_text(encoding="utf-8") + f"\n# silent after {value} days\n", encoding="utf-8")
        run(root, "log", XC, "--note", f"{root.name} 合并前的记录")
        git(root, "commit", "-qam", f"config {value}")
    run(alice, "sync")
    # an uncommitted entry in a file the merge does not touch (git pull would refuse otherwise)
    run(bob, "log", "杭州绿洲", "--note", "bob 没提交的记录", "--at", "2035-01-01 09:00")
    expected = all_entries(customer_files(bob))
    pulled = git(bob, "pull", "--no-rebase", "origin", "main", ok=False)
    tally.faults += 1
    tally.inputs += 1
    if pulled.returncode == 0 or not (bob / ".git" / "MERGE_HEAD").exists():
        raise Broken(f"git pull did not stop mid-merge: {pulled.stdout} {pulled.stderr}")
    check = run(bob, "check", ok=False)
    sync = run(bob, "sync", ok=False)
    for name, out in (("check", check), ("sync", sync)):
        text = out.stdout + out.stderr
        if "Traceback" in text or "internal error" in text:
            raise Broken(f"crm {name} in a vault left mid-merge crashed: {text}")
        if "merge" not in text or "crmnotes.yaml" not in text:
            raise Broken(f"crm {name} did not explain the unfinished merge: {text.strip()}")
    tally.lost += everything_kept(expected, bob)
    return tally


def writers_during_sync(base: Path, seed: int, writers: int = 2, logs: int = 6) -> Tally:
    """``crm log`` processes write one customer of alice's clone while alice
    syncs in a loop and bob keeps logging and syncing the same customer, so
    alice's syncs run the merge driver on the very file being written.  Every
    ``crm log`` that reported success must be in alice's file, and after a
    final sync in bob's."""
    rng = random.Random(seed)
    tally = Tally()
    _remote, alice, bob = team(base)
    succeeded: list[str] = []
    outputs: list[subprocess.CompletedProcess[str]] = []
    stop = threading.Event()

    def write(i: int) -> None:
        for j in range(logs):
            text = f"写入者{seed}-{i} 第{j}次 电话沟通"
            done = run(alice, "log", XC, "--note", text, "--at", f"2036-{1 + i % 12:02d}-{1 + j % 28:02d} "
                       f"{rng.randrange(24):02d}:{rng.randrange(60):02d}", ok=False)
            outputs.append(done)
            if done.returncode == 0:
                succeeded.append(text)

    def bob_loop() -> None:
        k = 0
        while not stop.is_set():
            text = f"bob {seed} 第{k}次 微信"
            if run(bob, "log", XC, "--note", text, "--at", f"2037-01-01 {k // 60 % 24:02d}:{k % 60:02d}",
                   ok=False).returncode == 0:
                succeeded.append(text)
            outputs.append(run(bob, "sync", ok=False))
            k += 1

    def alice_loop() -> None:
        while not stop.is_set():
            done = run(alice, "sync", ok=False)
            outputs.append(done)
            if "merged" in done.stdout:
                tally.faults += 1  # a merge of bob's work into the file the writers are writing
            tally.notes["alice sync " + ("ok" if done.returncode == 0 else "refused")] += 1

    run(bob, "log", XC, "--note", f"bob {seed} 先推送", "--at", "2036-12-31 23:00")
    run(bob, "sync")  # alice's first sync merges the customer while the writers start
    succeeded.append(f"bob {seed} 先推送")
    loops = [threading.Thread(target=bob_loop), threading.Thread(target=alice_loop)]
    pool = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in loops + pool:
        thread.start()
    for thread in pool:
        thread.join()
    stop.set()
    for thread in loops:
        thread.join()
    for out in outputs:
        text = out.stdout + out.stderr
        if "Traceback" in text or "internal error" in text:
            raise Broken(f"a crm process crashed while sync and writers raced: {text.strip()}")
        if out.returncode != 0:
            tally.notes["refused: " + text.strip().split(";")[0].split(":", 2)[-1].strip()[:70]] += 1
    tally.inputs += writers * logs
    run(alice, "sync")
    run(bob, "sync")
    run(alice, "sync")
    for root in (alice, bob):
        notes = Counter(key[3] for key in entries((root / _path_of(root, XC)).read_bytes()))
        missing = [text for text in succeeded if not notes[text]]
        tally.lost += len(missing)
        if missing:
            tally.notes[f"lost in {root.name}: {missing[:3]}"] += 1
    return tally


def _path_of(root: Path, ref: str) -> str:
    import json

    return json.loads(run(root, "show", ref, "--json").stdout)["path"]
