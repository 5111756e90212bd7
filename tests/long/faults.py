"""The long fault run (issue 8): every reliability suite with many seeds and
iterations, in a temporary folder.  Prints, per suite and in total, how many
faults were injected, how many inputs were tried and how many entries were
lost; the only acceptable number of lost entries is 0 (exit 1 otherwise).

    .venv/bin/python tests/long/faults.py            # the full run (~30+ min)
    .venv/bin/python tests/long/faults.py --scale 0.2  # a shorter one
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.reliability.harness import Broken, Tally


def _isolate(home: Path) -> None:
    os.environ.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"), GIT_CONFIG_NOSYSTEM="1",
                      CRMNOTES_USER="faults")
    for name in ("CRMNOTES_VAULT", "EDITOR", "VISUAL"):
        os.environ.pop(name, None)


def suites(scale: float) -> list[tuple[str, Callable[[Path, int], Tally]]]:
    from tests.long import faults_sync, faults_values
    from tests.reliability import concurrency, crash, fuzz, index_faults, sync_faults

    def n(count: int) -> int:
        return max(1, round(count * scale))

    def vault(base: Path) -> Path:
        return crash.make_vault(base / "vault")

    def fuzzing(_base: Path, seed: int) -> Tally:
        from hypothesis import HealthCheck, given, settings

        tally = Tally()

        @settings(max_examples=n(5000), deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck))
        @given(fuzz.documents(), fuzz.FOLLOWUPS, fuzz.KEYS, fuzz.VALUES)
        def check(data: bytes, extra: object, key: str, value: object) -> None:
            tally.inputs += fuzz.round_trip(data, extra, key, value)  # type: ignore[arg-type]

        check()
        return tally

    return [
        ("crash: crm log killed", lambda b, s: crash.crash_log(vault(b), s, n(150))),
        ("crash: crm set killed", lambda b, s: crash.crash_set(vault(b), s, n(100))),
        ("crash: crm import killed", lambda b, s: crash.crash_import(vault(b), s, n(30))),
        ("crash: crm index killed", lambda b, s: crash.crash_index(vault(b), s, n(30))),
        ("concurrent writers", lambda b, s: concurrency.racing_writers(vault(b), s, n(30), width=6)),
        ("editor save mid-write", lambda b, s: concurrency.editor_saves_mid_write(vault(b), s, n(40))),
        ("index: corrupt files", lambda b, s: index_faults.corrupt_segments(vault(b), s, n(40))),
        ("index: stale locks", lambda b, s: index_faults.stale_locks(vault(b))),
        ("index: half-written", lambda b, s: index_faults.half_written(vault(b))),
        ("index: disk full", lambda b, s: index_faults.disk_full(vault(b), s, n(15))),
        ("log: disk full", lambda b, s: index_faults.disk_full_log(vault(b), s, n(20))),
        ("sync: dropped fetch", lambda b, s: sync_faults.dropped_fetch(b)),
        ("sync: killed mid-merge", lambda b, s: sync_faults.killed_sync(b, s, n(20))),
        ("sync: left mid-merge by git pull", lambda b, s: sync_faults.plain_git_pull_mid_merge(b)),
        ("sync vs writers, watcher, editor", lambda b, s: faults_sync.sync_versus_writers(b, s, n(40), kills=False)),
        ("sync vs writers, kill -9", lambda b, s: faults_sync.sync_versus_writers(b, s, n(40), kills=True)),
        ("parser fuzz", fuzzing),
        ("bad values corpus", lambda b, s: faults_values.bad_values(b, s, n(200))),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply every iteration count.")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--only", default="", help="Run the suites whose name contains this.")
    args = parser.parse_args()
    total = Tally()
    failures = 0
    print(f"{'suite':36} {'faults':>7} {'inputs':>7} {'lost':>5} {'seconds':>8}")
    with tempfile.TemporaryDirectory(prefix="crm-faults-") as temp:
        _isolate(Path(temp) / "home")
        (Path(temp) / "home").mkdir()
        for i, (name, scenario) in enumerate(suites(args.scale)):
            if args.only and args.only not in name:
                continue
            base = Path(temp) / f"s{i}"
            base.mkdir()
            started = time.perf_counter()
            try:
                tally = scenario(base, args.seed + i)
            except (Broken, AssertionError) as exc:
                failures += 1
                print(f"{name:36} FAILED: {exc}")
                continue
            total.add(tally)
            print(f"{name:36} {tally.faults:7} {tally.inputs:7} {tally.lost:5} {time.perf_counter() - started:8.1f}",
                  flush=True)
    print(f"{'TOTAL':36} {total.faults:7} {total.inputs:7} {total.lost:5}")
    for note, count in sorted(total.notes.items()):
        print(f"  {note}: {count}")
    print("entries lost: 0" if total.lost == 0 and not failures else f"entries lost: {total.lost}, failed: {failures}")
    return 0 if total.lost == 0 and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
