"""Sync versus writers (issue 12): three clones of one bare remote, all busy
at once, as real processes.

* writers: ``crm log`` loops in every clone, on the same few customers;
* sync loops: ``crm sync`` over and over in alice's and bob's clones;
* a watcher: ``crm watch`` in carol's clone (cloned with ``crm clone``) with
  ``auto_sync_minutes`` set, so its background auto-sync merges too;
* an editor: rewrites alice's customer files the way an editor saves (a line
  of prose added under the front-matter, written to a temp file and renamed
  over, after checking the file did not change since it was read);
* with ``kills``: a killer SIGKILLs running writers and syncs at random; a sync
  killed mid-merge is finished the way its error message says.

Afterwards every clone syncs until all agree, and every ``crm log`` that
exited 0 must be in every clone's file: ``lost`` counts those that are not.
Run through ``tests/long/faults.py`` (suites "sync vs writers ...").
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from tests.reliability.harness import Broken, Tally, child_env, crm_argv, entries, run
from tests.reliability.sync_faults import git, team

WATCH_SYNC_MINUTES = "0.01"  # carol's watcher syncs every 0.6 s
EDITOR_PAUSE = 0.3


class Busy:
    """The processes running now (for the killer) and what they reported."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.running: list[tuple[str, subprocess.Popen[str]]] = []
        self.succeeded: list[str] = []
        self.editor_lines: list[str] = []
        self.tally = Tally()
        self.stop = threading.Event()

    def crm(self, kind: str, root: Path, *args: str) -> tuple[int, str]:
        """Run ``crm args``; (exit code, output); -9 when the killer took it."""
        proc = subprocess.Popen(crm_argv(root, *args), cwd=root, env=child_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        with self.lock:
            self.running.append((kind, proc))
        try:
            out, _ = proc.communicate(timeout=300)
        finally:
            with self.lock:
                self.running.remove((kind, proc))
        if "Traceback" in out or "internal error" in out:
            raise Broken(f"crm {' '.join(args)} crashed while syncs and writers raced: {out.strip()}")
        return proc.returncode, out


def sync_versus_writers(base: Path, seed: int, logs: int, kills: bool) -> Tally:
    _remote, alice, bob = team(base)
    carol = base / "carol"
    done = subprocess.run(crm_argv(base, "clone", str(_remote), str(carol), "--user", "carol"), cwd=base,
                          env=child_env(), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise Broken(f"crm clone failed: {done.stderr}")
    config = carol / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("auto_sync_minutes: 0",
                                                                f"auto_sync_minutes: {WATCH_SYNC_MINUTES}"),
                      encoding="utf-8")
    run(carol, "sync")
    listed = json.loads(run(alice, "ls", "--json").stdout)
    refs = [c["id"] for c in listed][:3]
    busy = Busy(seed)
    watcher = subprocess.Popen(crm_argv(carol, "watch"), cwd=carol, env=child_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    writers = [threading.Thread(target=_writer, args=(busy, root, refs, i, logs))
               for i, root in enumerate((alice, alice, bob, carol))]
    loops = [threading.Thread(target=_sync_loop, args=(busy, root)) for root in (alice, bob)]
    loops.append(threading.Thread(target=_editor, args=(busy, alice, refs)))
    if kills:
        loops.append(threading.Thread(target=_killer, args=(busy,)))
    for thread in writers + loops:
        thread.start()
    for thread in writers:
        thread.join()
    busy.stop.set()
    for thread in loops:
        thread.join()
    watcher.send_signal(signal.SIGINT)
    try:
        watched = watcher.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        watcher.kill()
        watched = watcher.communicate()[0]
    if "Traceback" in watched:
        raise Broken(f"crm watch crashed: {watched}")
    busy.tally.notes["watcher auto-syncs"] += sum(line.rstrip().endswith(" auto-sync") for line in watched.splitlines())
    for _round in range(2):
        for root in (alice, bob, carol):
            _settle(busy, root)
    return _count(busy, (alice, bob, carol), refs)


def _writer(busy: Busy, root: Path, refs: list[str], index: int, logs: int) -> None:
    for j in range(logs):
        text = f"{root.name} 写入者{index} 第{j}次 电话沟通报价"
        at = f"2038-{1 + index % 12:02d}-{1 + j % 28:02d} {j // 28 % 24:02d}:{busy.rng.randrange(60):02d}"
        code, out = busy.crm("writer", root, "log", busy.rng.choice(refs), "--note", text, "--at", at)
        busy.tally.inputs += code == 0
        if code == 0:
            with busy.lock:
                busy.succeeded.append(text)
        elif code == -signal.SIGKILL:
            busy.tally.notes["writers killed"] += 1
        else:
            busy.tally.notes["log refused: " + out.strip()[:80]] += 1


def _sync_loop(busy: Busy, root: Path) -> None:
    while not busy.stop.is_set():
        code, out = busy.crm("sync", root, "sync")
        if code == 0:
            merged = "merged" in out  # a merge while the writers wrote
            busy.tally.faults += merged
            busy.tally.notes["syncs that merged" if merged else "syncs with nothing to merge"] += 1
            continue
        if code == -signal.SIGKILL:
            busy.tally.notes["syncs killed"] += 1
            continue
        busy.tally.notes[f"{root.name} sync refused: {_gist(out)}"] += 1
        _follow_hint(root, out)


def _settle(busy: Busy, root: Path) -> None:
    for _attempt in range(4):
        code, out = busy.crm("final", root, "sync")
        if code == 0:
            return
        _follow_hint(root, out)
    raise Broken(f"{root.name} cannot sync after the race: {out.strip()}")


def _follow_hint(root: Path, out: str) -> None:
    """What a user does when sync stops (the message says which)."""
    if "index.lock" in out:
        (root / ".git" / "index.lock").unlink(missing_ok=True)
    elif "earlier merge is unfinished" in out or ("git merge" in out and (root / ".git" / "MERGE_HEAD").exists()):
        git(root, "add", "--all")
        git(root, "commit", "--no-edit", "-q", ok=False)


def _gist(out: str) -> str:
    line = out.strip().splitlines()[-1] if out.strip() else ""
    return line.removeprefix("crm: error: ").split(";")[0][:70]


def _editor(busy: Busy, root: Path, refs: list[str]) -> None:
    count = 0
    while not busy.stop.is_set():
        time.sleep(EDITOR_PAUSE)
        listed = busy.crm("editor", root, "show", busy.rng.choice(refs), "--json")
        if listed[0] != 0:
            continue
        path = root / json.loads(listed[1])["path"]
        try:
            before = path.read_bytes()
        except FileNotFoundError:  # git replaces a file it merges by unlink and create, not by rename
            busy.tally.notes["editor found the file gone for an instant (git rewriting it)"] += 1
            continue
        head, fence, rest = before.decode("utf-8").partition("\n---\n")
        if not fence:
            continue
        line = f"编辑器加的一行 {count}"
        after = f"{head}{fence}\n{line}\n{rest}".encode()
        tmp = path.with_name(path.name + ".editor-swp")
        tmp.write_bytes(after)
        if path.read_bytes() == before:  # what vim's "file changed since reading" check does
            tmp.replace(path)
            busy.editor_lines.append(line)
            busy.tally.faults += 1
            count += 1
        else:
            tmp.unlink()
            busy.tally.notes["editor saw a change and re-read"] += 1
    busy.tally.notes["editor saves"] += count


def _killer(busy: Busy) -> None:
    while not busy.stop.is_set():
        time.sleep(busy.rng.uniform(0.5, 3.0))
        with busy.lock:
            victims = [(kind, proc) for kind, proc in busy.running if kind in ("writer", "sync")]
        if victims:
            kind, proc = busy.rng.choice(victims)
            proc.send_signal(signal.SIGKILL)
            busy.tally.faults += 1
            busy.tally.notes[f"kill -9 sent to a {kind}"] += 1


def _count(busy: Busy, roots: tuple[Path, ...], refs: list[str]) -> Tally:
    tally = busy.tally
    heads = {git(root, "rev-parse", "HEAD").stdout for root in roots}
    if len(heads) != 1:
        tally.notes["clones ended on different commits"] += 1
    for root in roots:
        found: Counter[str] = Counter()
        prose = ""
        for ref in refs:
            path = root / json.loads(run(root, "show", ref, "--json").stdout)["path"]
            text = path.read_text(encoding="utf-8")
            if "<<<<<<<" in text:
                raise Broken(f"conflict markers in {path}")
            found.update(key[3] for key in entries(path.read_bytes()))
            prose += text
        # Not entries, not counted as lost: an editor's save in the instant between git's check of a file
        # and its write of the merged version is the one window no lock of ours can close.
        gone = sum(f"{line}\n" not in prose for line in busy.editor_lines)
        tally.notes[f"editor lines missing in {root.name} (of {len(busy.editor_lines)})"] += gone
        missing = [text for text in busy.succeeded if not found[text]]
        tally.lost += len(missing)
        if missing:
            tally.notes[f"lost in {root.name}: {missing[:2]}"] += len(missing)
    return tally
