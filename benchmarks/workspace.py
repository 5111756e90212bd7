"""A workspace of two mounts of N/2 customers against one vault of N: ``crm ls`` and ``crm search``.

``python benchmarks/workspace.py [--customers 10000] [--runs 5]`` generates (gen_vault.py) one vault of
N customers (seed 1) and two of N/2 (seeds 1 and 2), mounts the two in an empty home vault with
``crm workspace add``, warms every listing cache and search index once, then times each command as a
real process, the median of ``--runs`` runs (the two sides alternating), and prints a markdown table;
then the same answers asked in one process.  Vaults live under
benchmarks/vaults/workspace/ (git-ignored) and are kept between runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

CRM = [sys.executable, "-m", "crmnotes"]
COMMANDS = [
    ("ls --json", ["ls", "--json"]),
    ("ls (table)", ["ls"]),
    ("ls --stage intent --json", ["ls", "--stage", "intent", "--json"]),
    ("due --json", ["due", "--json"]),
    ("search 数据安全 --json", ["search", "数据安全", "--json"]),
    ("search integration --json", ["search", "integration", "--json"]),
    ("search stage:intent -n 0", ["search", "stage:intent", "--limit", "0", "--json"]),
    ("report owners --json", ["report", "owners", "--json"]),
]


def crm(vault: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([*CRM, "--vault", str(vault), *args], capture_output=True, timeout=1800, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"crm {' '.join(args)} failed: {done.stderr.decode('utf-8', 'replace')[-400:]}")
    return seconds


def vault(folder: Path, customers: int, seed: int) -> Path:
    import gen_vault

    stamp = folder.with_name(folder.name + ".done")
    if not stamp.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        gen_vault.generate(folder, customers, seed)
        stamp.write_text("done\n", encoding="utf-8")
    return folder


def workspace(base: Path, half: int) -> Path:
    from crmnotes import actions

    home = base / f"home-n{half}"
    if not (home / ".crmnotes" / "workspace.json").is_file():
        shutil.rmtree(home, ignore_errors=True)
        actions.create_vault(home)
        for seed in (1, 2):
            mount = vault(base / f"mount{seed}-n{half}", half, seed)
            subprocess.run([*CRM, "--vault", str(home), "workspace", "add", str(mount), "--name", f"m{seed}"],
                           check=True, capture_output=True)
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--in-process", action="store_true", help="only the in-process table")
    args = parser.parse_args(argv)
    base = HERE / "vaults" / "workspace"
    single = vault(base / f"single-n{args.customers}", args.customers, 1)
    home = workspace(base, args.customers // 2)
    if args.in_process:
        in_process(single, home, args.runs)
        return 0
    for target in (single, home):  # the first run builds the listing caches and search indexes
        for _, command in COMMANDS:
            crm(target, *command)
    half = f"{args.customers // 2:,}"
    print(f"| command | one vault of {args.customers:,} (s) | workspace of 2 × {half} (s) | ratio |")
    print("|---|---:|---:|---:|")
    for label, command in COMMANDS:
        times: dict[Path, list[float]] = {single: [], home: []}
        for _ in range(args.runs):  # alternating, so a busy moment of a shared machine hits both sides
            for target, found in times.items():
                found.append(crm(target, *command))
        one, two = (statistics.median(found) for found in times.values())
        print(f"| `crm {label}` | {one:.3f} | {two:.3f} | {two / one:.2f} |", flush=True)
    print(f"\nmedian of {args.runs} runs each (the two sides alternating), every command a fresh process, "
          "caches and indexes warm\n")
    in_process(single, home, args.runs)
    return 0


def in_process(single: Path, home: Path, runs: int) -> None:
    """The same answers asked in one process (no interpreter start-up): the merge's own cost."""
    from datetime import date

    from crmnotes import search, workspace
    from crmnotes.vault import Vault

    one, two = (workspace.open_workspace(Vault(root, lazy_config=True), lazy_config=True) for root in (single, home))
    today = date.today()
    asks = [
        ("ls --json", lambda ws: workspace.listing_json(ws)),
        ("ls (entries)", lambda ws: workspace.entries(ws)),
        ("due --json", lambda ws: workspace.due_json(ws, today)),
        ("search 数据安全 (20 hits, records read)", lambda ws: [h.customer for h in search.search_many(
            ws.vaults, "数据安全", 20)]),
        ("report (customers of every mount)", lambda ws: workspace.report_customers(ws)),
    ]
    print("| in one process | one vault (ms) | workspace (ms) | ratio |")
    print("|---|---:|---:|---:|")
    for label, ask in asks:
        times: dict[int, list[float]] = {0: [], 1: []}
        for ws in (one, two):
            ask(ws)  # opens the caches and indexes
        for _ in range(runs):  # alternating, as above
            for side, ws in enumerate((one, two)):
                started = time.perf_counter()
                ask(ws)
                times[side].append(time.perf_counter() - started)
        one_ms, two_ms = (statistics.median(found) * 1000 for found in times.values())
        print(f"| {label} | {one_ms:.0f} | {two_ms:.0f} | {two_ms / one_ms:.2f} |", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
