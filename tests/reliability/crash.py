"""Crash safety: real ``crm log`` / ``crm set`` / ``crm import`` / ``crm index``
processes killed at random moments (seeded) and at every step of their
writes.  After each kill every customer file parses and is either the
version before or the version after, no entry is lost, no leftover temp file
trips a later command, and the next command works."""

from __future__ import annotations

import json
import random
import zlib
from collections import Counter
from pathlib import Path

from crmnotes import actions
from crmnotes.vault import Vault

from .harness import (
    Broken,
    Tally,
    all_entries,
    count_calls,
    customer_files,
    entries,
    lost_entries,
    meta,
    run,
    run_at_killpoint,
    run_killed_after,
    temp_files,
    timed,
)

WRITE_OPS = ("fsync", "replace", "link", "rename", "unlink", "mkdir")


def make_vault(folder: Path) -> Path:
    root = actions.create_vault(folder, example=True)
    return root


def _kill(root: Path, args: list[str], rng: random.Random, duration: float, calls: Counter[str]) -> bool:
    """Half the runs die at a random delay, half at a random write step."""
    points = [(op, n) for op in WRITE_OPS for n in range(1, calls[op] + 1)]
    if points and rng.random() < 0.5:
        op, n = rng.choice(points)
        return run_at_killpoint(root, args, f"{op}:{n}")
    return run_killed_after(root, args, rng.uniform(0.05, duration * 1.1))


def _check_next_command_works(root: Path, tally: Tally) -> None:
    """A later command neither trips over leftovers nor reports a broken file."""
    vault = Vault(root)
    scan = vault.scan()
    unreadable = [p for p in scan.problems if p.code == "unreadable"]
    if unreadable:
        raise Broken(f"a file became unreadable: {unreadable[0].path}: {unreadable[0].message}")
    tally.notes["temp files left by a kill (ignored by every command)"] += len(temp_files(root))


# ------------------------------------------------------------------ crm log


def crash_log(root: Path, seed: int, runs: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    refs = [c.id for c in Vault(root).scan().customers]
    duration = timed(root, "log", refs[0], "--note", "calibration", "--at", "2031-01-01 00:00")
    calls = count_calls(root, ["log", refs[0], "--note", "count", "--at", "2031-01-01 00:01"], root / ".crmnotes" / "n")
    expected = all_entries(customer_files(root))
    for i in range(runs):
        before = customer_files(root)
        ref = rng.choice(refs)
        text = f"崩溃测试 {seed}-{i} 客户说下周再谈"
        at = f"2031-02-{1 + i // 1440 % 28:02d} {i // 60 % 24:02d}:{i % 60:02d}"
        killed = _kill(root, ["log", ref, "--note", text, "--at", at], rng, duration, calls)
        tally.faults += killed
        tally.inputs += 1
        after = customer_files(root)
        _same_files(before, after)
        changed = [rel for rel in after if after[rel] != before[rel]]
        if len(changed) > 1:
            raise Broken(f"one crm log changed {len(changed)} files: {changed}")
        for rel in changed:
            added = entries(after[rel]) - entries(before[rel])
            if sum((entries(before[rel]) - entries(after[rel])).values()) or [k[3] for k in added] != [text]:
                raise Broken(f"{rel} is neither the version before nor after crm log: added {list(added)}")
            expected[rel] += added
        if not killed and not changed:
            raise Broken(f"crm log {ref} finished but its entry is not in any file")
        tally.notes["log: kills that left the after version"] += bool(killed and changed)
        tally.lost += lost_entries(expected, after)
        _check_next_command_works(root, tally)
    # the next command after all those kills: a real process that must work and land
    run(root, "log", refs[0], "--note", "恢复后的记录", "--at", "2031-12-31 23:59")
    final = customer_files(root)
    tally.lost += lost_entries(expected, final)
    if not any(k[3] == "恢复后的记录" for data in final.values() for k in entries(data)):
        raise Broken("crm log after the kills did not land")
    return tally


def _same_files(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    if set(before) != set(after):
        raise Broken(f"files appeared or vanished: {sorted(set(before) ^ set(after))}")


# ------------------------------------------------------------------ crm set


def crash_set(root: Path, seed: int, runs: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    refs = [c.id for c in Vault(root).scan().customers]
    duration = timed(root, "set", refs[0], "grade=B")
    calls = count_calls(root, ["set", refs[0], "grade=C"], root / ".crmnotes" / "n")
    expected = all_entries(customer_files(root))
    for i in range(runs):
        before = customer_files(root)
        ref = rng.choice(refs)
        grade = rng.choice("ABC")
        city = f"城市{seed}-{i}"
        killed = _kill(root, ["set", ref, f"grade={grade}", f"city={city}"], rng, duration, calls)
        tally.faults += killed
        tally.inputs += 1
        after = customer_files(root)
        _same_files(before, after)
        changed = [rel for rel in after if after[rel] != before[rel]]
        for rel in changed:
            old, new = meta(before[rel]), meta(after[rel])
            want = {**old, "grade": grade, "city": city}
            if new != want or entries(after[rel]) != entries(before[rel]):
                raise Broken(f"{rel} is neither the version before nor after crm set")
        if len(changed) > 1 or (not killed and not changed):
            raise Broken(f"crm set changed {changed}")
        tally.notes["set: kills that left the after version"] += bool(killed and changed)
        tally.lost += lost_entries(expected, after)
        _check_next_command_works(root, tally)
    run(root, "set", refs[0], "grade=A")
    tally.lost += lost_entries(expected, customer_files(root))
    return tally


# ------------------------------------------------------------------ crm import


def import_csv(path: Path, tag: str, rows: int) -> list[str]:
    names = distinct_names(tag, rows)
    lines = ["客户名称,联系人,联系电话,行业,客户来源,阶段"]
    base = zlib.crc32(tag.encode()) % 10**7 * 10
    lines += [f"{name},联系人{i},139{(base + i) % 10**8:08d},互联网,展会,潜在" for i, name in enumerate(names)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return names


def crash_import(root: Path, seed: int, runs: int, rows: int = 40) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    work = root.parent / f"imports-{seed}"
    work.mkdir(exist_ok=True)
    probe = work / "probe.csv"
    probe_names = import_csv(probe, f"probe{seed}", rows)
    original = customer_files(root)
    duration = timed(root, "import", str(probe))
    _remove_new(root, original)
    calls = count_calls(root, ["import", str(probe)], work / "n")
    _remove_new(root, original)
    for i in range(runs):
        csv = work / f"run{i}.csv"
        names = import_csv(csv, f"{seed}x{i}", rows)
        killed = _kill(root, ["import", str(csv)], rng, duration, calls)
        tally.faults += killed
        tally.inputs += rows
        after = customer_files(root)
        for rel, data in original.items():
            if after.get(rel) != data:
                raise Broken(f"crm import modified an existing file {rel}")
        landed = _new_names(original, after, names)
        tally.notes["import: rows written before the kill"] += len(landed)
        _check_next_command_works(root, tally)
        # the next command: the same import again completes it, without duplicates
        run(root, "import", str(csv))
        final = _new_names(original, customer_files(root), names)
        if sorted(final) != sorted(names):
            missing = set(names) - set(final)
            tally.lost += len(missing)
            raise Broken(f"after re-running the import, {len(missing)} rows are missing or duplicated")
        _remove_new(root, original)
    del probe_names
    return tally


NAME_CHARS = "星辰云帆华东精密绿洲健康北风明远南方物流天宇博瑞金桥海纳百川长城宏图德润嘉禾新元恒通泰和瑞丰"


def distinct_names(tag: str, count: int) -> list[str]:
    """Company names far enough apart that duplicate detection keeps them all."""
    rng = random.Random(tag)
    names: list[str] = []
    while len(names) < count:
        name = "".join(rng.sample(NAME_CHARS, 4)) + rng.choice(["科技", "贸易", "咨询", "制造"]) + "有限公司"
        if all(len(set(name[:4]) & set(other[:4])) <= 1 for other in names):
            names.append(name)
    return names


def _new_names(original: dict[str, bytes], after: dict[str, bytes], names: list[str]) -> list[str]:
    found = []
    for rel, data in after.items():
        if rel in original:
            continue
        name = str(meta(data).get("name", ""))  # parses, or Broken
        if name not in names:
            raise Broken(f"crm import left an unexpected file {rel} ({name!r})")
        found.append(name)
    if len(found) != len(set(found)):
        raise Broken("crm import wrote a customer twice")
    return found


def _remove_new(root: Path, original: dict[str, bytes]) -> None:
    for rel in customer_files(root):
        if rel not in original:
            (root / rel).unlink()
    for leftover in temp_files(root):
        leftover.unlink()


# ------------------------------------------------------------------ crm index


def crash_index(root: Path, seed: int, runs: int) -> Tally:
    """Kill rebuilds and incremental updates; the next search must be right."""
    rng = random.Random(seed)
    tally = Tally()
    refs = [c.id for c in Vault(root).scan().customers]
    duration = timed(root, "index", "--rebuild")
    calls = count_calls(root, ["index", "--rebuild"], root.parent / f"index-calls-{seed}")
    for i in range(runs):
        ref = rng.choice(refs)
        word = f"faultmarker{seed}x{i}"
        run(root, "log", ref, "--note", word)  # a change the next index update must pick up
        rebuild = rng.random() < 0.5
        args = ["index", "--rebuild"] if rebuild else ["index"]
        killed = _kill(root, args, rng, duration, calls if rebuild else Counter())
        tally.faults += killed
        tally.inputs += 1
        _check_next_command_works(root, tally)
        found = run(root, "search", word, "--json").stdout
        ids = [hit["id"] for hit in json.loads(found)]
        if ids != [ref]:
            raise Broken(f"after a killed 'crm {' '.join(args)}', search found {ids} instead of {ref}")
        listed = json.loads(run(root, "ls", "--json").stdout)
        if len(listed) != len(refs):
            raise Broken(f"after a killed index build, crm ls lists {len(listed)} of {len(refs)} customers")
    leftovers = [p.name for p in (root / ".crmnotes").iterdir() if ".new-" in p.name or ".old-" in p.name]
    tally.notes["index: half-built index folders left by kills"] += len(leftovers)
    return tally
