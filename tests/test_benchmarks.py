"""Smoke test of the benchmark vault generator: valid files, the promised mix, reproducible bytes.

Timings are never asserted here; benchmarks/run.py measures them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from crmnotes import actions
from crmnotes.cli import main
from crmnotes.naming import customer_relpath, looks_like_id
from crmnotes.vault import Vault

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import gen_vault  # noqa: E402

TODAY = date(2026, 3, 1)
COUNT = 30
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Vault:
    root = tmp_path_factory.mktemp("bench") / "vault"
    gen_vault.generate(root, COUNT, seed=7, today=TODAY, workers=1)
    return Vault(root)


def load_runner() -> ModuleType:
    """benchmarks/run.py under a name no other module uses."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCHMARKS / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "customers").rglob("*.md"))}


def test_generated_vault_passes_crm_check(generated: Vault) -> None:
    result = CliRunner().invoke(main, ["--vault", str(generated.root), "check", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    assert actions.check_vault(generated) == []  # not even warnings (ad-hoc tags, unknown channels)


def test_generated_vault_has_the_promised_mix(generated: Vault) -> None:
    customers = generated.scan().customers
    assert len(customers) == COUNT
    chinese = [c for c in customers if CJK.search(c.name)]
    assert len(chinese) == COUNT // 2
    assert all(5 <= len(c.followups) <= 15 for c in customers)
    assert all(2048 <= c.path.stat().st_size <= 4096 for c in customers)
    assert len({c.owner for c in customers}) >= 8
    assert {c.stage for c in customers} <= {"potential", "intent", "won", "lost"}
    assert len({c.stage for c in customers}) >= 3
    assert len({c.text("source") for c in customers}) >= 4
    assert len({c.text("industry") for c in customers}) >= 4
    assert any(c.deals for c in customers)
    assert all(t.split("/")[0] in generated.config.tags.namespaces for c in customers for t in c.tags)
    chinese_notes = " ".join(f.note for c in chinese for f in c.followups)
    assert CJK.search(chinese_notes)


def test_ids_and_paths_follow_the_real_rules(generated: Vault) -> None:
    for customer in generated.scan().customers:
        assert looks_like_id(customer.id)
        assert customer.id[2:10] == customer.text("created")[:10].replace("-", "")
        expected = generated.customers_dir / customer_relpath(customer.name, customer.id)
        assert customer.path == expected
        followups = customer.followups
        assert [f.at for f in followups] == sorted(f.at for f in followups)


def test_fast_rendering_equals_new_file_text_and_is_reproducible(tmp_path: Path, generated: Vault) -> None:
    exact = tmp_path / "exact"
    gen_vault.generate(exact, COUNT, seed=7, today=TODAY, exact=True, workers=1)
    assert files_of(exact) == files_of(generated.root)
    other = tmp_path / "other"
    gen_vault.generate(other, COUNT, seed=8, today=TODAY, workers=1)
    assert files_of(other) != files_of(generated.root)


def test_command_line_writes_the_requested_count(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    assert gen_vault.main([str(out), "--customers", "4", "--seed", "3", "--today", "2026-03-01", "--workers", "1"]) == 0
    assert len(files_of(out)) == 4


def test_runner_skips_missing_commands_and_reports_them_in_the_table() -> None:
    run = load_runner()
    assert run.have("ls") is True
    assert run.have("no-such-command") is False
    report = {"sizes": {"10000": {
        "index_build": {"skipped": "no `crm index` yet"},
        "ls_json": {"median": 0.5, "peak_mb": 80.0, "runs": [0.5]},
        "due_json": {"median": 0.2, "peak_mb": 70.0, "runs": [0.2]},
        "sync_50": {"error": "remote | rejected"},
    }}}
    lines = run.table(report).splitlines()
    row = {line.split(" | ")[0].lstrip("| "): line for line in lines}
    assert "skipped: no `crm index` yet" in row["full index build (`crm index --rebuild`)"]
    assert row["`crm ls --json` as a process"].endswith("| **missed** |")
    assert row["`crm due --json` as a process"].endswith("| met |")
    assert "error: remote / rejected" in row["`crm sync`, 50 changed files, local bare remote"]


def test_scale_table_judges_against_the_100k_targets_with_ratios_to_rg() -> None:
    run = load_runner()
    report = {"scale": 20000, "sizes": {"20000": {
        "rg_chinese": {"median": 0.2, "runs": [0.2]},
        "check_cached": {"median": 0.4, "peak_mb": 60.0, "runs": [0.4]},
        "ls_json": {"median": 0.3, "peak_mb": 200.0, "runs": [0.3]},
        "export_csv": {"error": "导出失败"},
    }}}
    row = {line.split(" | ")[0].lstrip("| "): line for line in run.scale_table(report).splitlines()}
    assert row["`crm check`, nothing changed since the last check"].endswith("| 2.0× | ≤ 1 s | met |")
    assert row["`crm ls --json` as a process"].endswith("| ≤ 0.5 s, ≤ 150 MB | **missed** |")  # memory
    assert "error: 导出失败" in row["`crm export --format csv`"]
    assert "`crm index --rebuild`" not in " ".join(row)  # not measured: no row


def test_two_scale_runs_compare_side_by_side_against_the_100k_targets() -> None:
    run = load_runner()
    runs = [{"scale": 100000, "machine": {"date": f"2026-12-03T1{hour}:00:00"}, "sizes": {"100000": {
        "rg_chinese": {"median": 0.4, "runs": [0.4]},
        "ls_json": {"median": seconds, "peak_mb": 90.0, "runs": [seconds]}}}} for hour, seconds in ((4, 0.4), (5, 0.8))]
    row = {line.split(" | ")[0].lstrip("| "): line for line in run.compare(runs).splitlines()}
    assert row["`crm ls --json` as a process"] == ("| `crm ls --json` as a process | 0.400 s (90 MB), 1.0× rg ✓ | "
                                                   "0.800 s (90 MB), 2.0× rg **✗** | ≤ 0.5 s, ≤ 150 MB |")
    assert "`crm due --json` as a process" not in row  # measured in neither run: no row


def test_cached_scale_vault_is_reused_and_regenerated_without_its_stamp(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    run = load_runner()
    monkeypatch.setattr(run, "VAULTS", tmp_path)
    first = run.cached_vault(3)
    marker = first / "customers" / "留下的记号.md"
    marker.write_text("x", encoding="utf-8")
    assert run.cached_vault(3) == first and marker.exists()  # reused as it is
    first.with_name(first.name + ".done").unlink()
    assert run.cached_vault(3) == first and not marker.exists()  # an unfinished generation is redone
    assert len(list((first / "customers").rglob("*.md"))) == 3


def test_runner_measures_a_real_process() -> None:
    run = load_runner()
    result = run.run([sys.executable, "-c", "data = bytearray(64 * 2**20); print(len(data))"])
    assert result.returncode == 0 and result.stdout.strip() == str(64 * 2**20)
    assert result.peak_mb >= 64


def test_the_sync_step_waits_for_gits_background_gc(tmp_path: Path) -> None:
    import threading

    run = load_runner()
    (tmp_path / ".git").mkdir()
    pid = tmp_path / ".git" / "gc.pid"
    pid.write_text("12345 host\n", encoding="utf-8")
    threading.Timer(0.6, pid.unlink).start()  # git removes it when the packing is done
    assert run._wait_for_git_gc(tmp_path) >= 0.5 and not pid.exists()
    assert run._wait_for_git_gc(tmp_path) < 0.5  # no gc running: no wait
