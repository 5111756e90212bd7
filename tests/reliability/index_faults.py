"""Index faults, each recovered by the next command: a corrupt or missing
segment, a half-written index from a killed build, a stale lock left by a
dead process, and the disk filling up during an index write."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

from crmnotes.vault import Vault

from .harness import Broken, Tally, child_env, run

QUERY = "数据安全"


def expected_hits(root: Path) -> list[str]:
    return sorted(hit["id"] for hit in json.loads(run(root, "search", QUERY, "--json").stdout))


def _assert_recovered(root: Path, want: list[str], what: str) -> None:
    got = sorted(hit["id"] for hit in json.loads(run(root, "search", QUERY, "--json").stdout))
    if got != want:
        raise Broken(f"after {what}, search found {got} instead of {want}")
    listed = json.loads(run(root, "ls", "--json").stdout)
    if len(listed) != len(Vault(root).scan().customers):
        raise Broken(f"after {what}, crm ls lists {len(listed)} customers")


def index_folder(root: Path) -> Path:
    return root / ".crmnotes" / "index"


def corrupt(root: Path, rng: random.Random) -> str:
    """Damage one index file in one of several ways; returns what was done."""
    files = sorted(p for p in index_folder(root).iterdir() if p.is_file() and p.stat().st_size)
    target = rng.choice(files)
    data = bytearray(target.read_bytes())
    how = rng.choice(["truncate", "flip", "zero", "delete", "garbage"])
    if how == "truncate":
        target.write_bytes(bytes(data[: rng.randrange(len(data))]))
    elif how == "flip":
        for _ in range(rng.randint(1, 32)):
            data[rng.randrange(len(data))] ^= 0xFF
        target.write_bytes(bytes(data))
    elif how == "zero":
        target.write_bytes(bytes(len(data)))
    elif how == "delete":
        target.unlink()
    else:
        target.write_bytes(rng.randbytes(len(data)))
    return f"{how} {target.name}"


def corrupt_segments(root: Path, seed: int, runs: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    run(root, "index", "--rebuild")
    want = expected_hits(root)
    for _ in range(runs):
        done = corrupt(root, rng)
        tally.faults += 1
        tally.inputs += 1
        tally.notes[f"index: {done.split()[0]}"] += 1
        _assert_recovered(root, want, f"index damage ({done})")
    return tally


def stale_locks(root: Path) -> Tally:
    """Lock files left by a process that died holding them (SIGKILL drops the
    OS lock, the files stay): nothing may wait on them."""
    tally = Tally()
    run(root, "index", "--rebuild")
    want = expected_hits(root)
    holder = ("import sys, time; from filelock import FileLock; "
              "locks=[FileLock(p) for p in sys.argv[1:]]; [l.acquire() for l in locks]; "
              "print('held', flush=True); time.sleep(600)")
    cache = root / ".crmnotes"
    paths = [str(cache / "index.lock"), str(index_folder(root) / "MAIN_WRITELOCK")]
    vault = Vault(root)
    target = vault.resolve(want[0])
    # a per-customer write lock, named the way fsutil.file_lock names it
    key = hashlib.sha1(vault.relative(target.path).encode("utf-8")).hexdigest()[:16]
    paths.append(str(cache / "locks" / f"{key}.lock"))
    proc = subprocess.Popen([sys.executable, "-c", holder, *paths], stdout=subprocess.PIPE, env=child_env())
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.kill()  # dies holding every lock
    proc.wait()
    tally.faults += len(paths)
    tally.inputs += 1
    run(root, "log", want[0], "--note", "锁文件残留之后 数据安全")
    _assert_recovered(root, want, "locks left by a killed process")
    return tally


def half_written(root: Path) -> Tally:
    """What a build killed half way leaves: a new-index folder and an index
    folder without its table of contents."""
    tally = Tally()
    run(root, "index", "--rebuild")
    want = expected_hits(root)
    folder = index_folder(root)
    stray = folder.with_name("index.new-999999")
    stray.mkdir()
    (stray / "_MAIN_1.toc").write_bytes(b"\x00" * 10)
    for toc in folder.glob("*.toc"):
        toc.unlink()
    tally.faults += 2
    tally.inputs += 1
    _assert_recovered(root, want, "a half-written index")
    manifest = folder / "manifest.json"
    manifest.write_text('{"version": 3, "files": {', encoding="utf-8")  # truncated
    tally.faults += 1
    _assert_recovered(root, want, "a truncated manifest")
    return tally


_FULL_DISK = """
import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG like ENOSPC, not a kill
from crmnotes.cli import main
sys.argv = ["crm", "--vault", sys.argv[1], *(sys.argv[3:] or ["index", "--rebuild"])]
main()
"""


def disk_full(root: Path, seed: int, runs: int) -> Tally:
    """``crm index`` when a write fails for lack of space (RLIMIT_FSIZE in the
    child: every write past the limit fails with EFBIG, as on a full disk)."""
    rng = random.Random(seed)
    tally = Tally()
    run(root, "index", "--rebuild")
    want = expected_hits(root)
    biggest = max(p.stat().st_size for p in index_folder(root).iterdir() if p.is_file())
    for _ in range(runs):
        limit = rng.randint(1, biggest - 1)
        done = subprocess.run([sys.executable, "-c", _FULL_DISK, str(root), str(limit)], env=child_env(),
                              capture_output=True, text=True, timeout=300)
        tally.faults += 1
        tally.inputs += 1
        if done.returncode == 0:
            tally.notes["disk full: build fit under the limit"] += 1
        elif "Traceback" in done.stderr or not done.stderr.startswith("crm: error: the disk refused a write"):
            raise Broken(f"a full disk during crm index gave no clear message: {done.stderr.strip()[-400:]}")
        else:
            tally.notes["disk full: clear error"] += 1
        _assert_recovered(root, want, f"a full disk at {limit} bytes")
    return tally



def disk_full_log(root: Path, seed: int, runs: int) -> Tally:
    """``crm log`` when the disk fills while the customer file is written:
    a clear error, the file as it was, no temp file left."""
    from .harness import customer_files, temp_files

    rng = random.Random(seed)
    tally = Tally()
    vault = Vault(root)
    customers = vault.scan().customers
    for i in range(runs):
        customer = rng.choice(customers)
        before = customer_files(root)
        limit = rng.randint(1, customer.path.stat().st_size)
        done = subprocess.run([sys.executable, "-c", _FULL_DISK, str(root), str(limit), "log", customer.id,
                               "--note", f"磁盘满 {i}"], env=child_env(), capture_output=True, text=True, timeout=300)
        tally.faults += 1
        tally.inputs += 1
        if done.returncode == 0 or not done.stderr.startswith("crm: error: the disk refused a write"):
            raise Broken(f"crm log on a full disk: {done.returncode} {done.stderr.strip()[-400:]}")
        if customer_files(root) != before or temp_files(root):
            tally.lost += 1
            raise Broken("crm log on a full disk changed a file or left a temp file")
    run(root, "log", customers[0].id, "--note", "空间恢复后")
    return tally
