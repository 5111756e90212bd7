"""Tables at 80 columns and in pipes: rows never wrap into fragments; columns
are dropped or shortened with an ellipsis by priority (``crm`` as a real process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from crmnotes import actions
from crmnotes.cli.output import Column, fitted_table

from .conftest import TODAY, run_process


@pytest.fixture(scope="module")
def vault_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return actions.create_vault(tmp_path_factory.mktemp("tables") / "vault", example=True, today=TODAY)


def at_80(root: Path, *args: str) -> list[str]:
    result = run_process(*args, cwd=root, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), "\n".join(lines)
    return lines


def rows_starting(lines: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [line for line in lines if line.startswith(prefixes)]


def test_deal_ls_keeps_customer_and_deal_names(vault_root: Path) -> None:
    lines = at_80(vault_root, "deal", "ls")
    assert lines[0].split()[:2] == ["customer", "deal"]
    rows = rows_starting(lines, ("星辰科技", "Acme", "华东精密"))
    assert len(rows) == 3  # one line each
    assert any("数据安全" in row for row in rows) and any("Data pipeli" in row for row in rows)


def test_due_prints_one_line_per_customer_with_stage_and_reason(vault_root: Path) -> None:
    lines = at_80(vault_root, "due")
    assert lines[0].split() == ["due", "status", "name", "stage", "why"]
    rows = [line for line in lines if line[:4].isdigit()]
    assert len(rows) == 4 and lines[-1].startswith("4 due")
    assert all("next step" in row or "open ticket T1" in row for row in rows)
    assert all("…" in row for row in rows)  # the reason is shortened, not wrapped


def test_report_owners_shows_every_column(vault_root: Path) -> None:
    lines = at_80(vault_root, "report", "owners")
    header = lines[1].split()
    assert len(header) == 7 and header[0] == "负责人" and header[4] == "进行中商机"  # the vault speaks Chinese
    assert rows_starting(lines, ("alice",))[0].split()[-1] == "0"  # the last column (open_tickets) is there


def test_ls_drops_columns_instead_of_wrapping_tags(vault_root: Path) -> None:
    lines = at_80(vault_root, "ls")
    assert lines[-1] == "7 customers" and len(lines) == 2 + 7 + 1
    assert "北京云帆教育科技有限公司" in "\n".join(lines)  # whole names at 80 columns
    wide = run_process("ls", cwd=vault_root, env={"COLUMNS": "160"}).stdout
    assert "needs/data-security" in wide and len(wide.splitlines()) == 10


def test_fitted_table_drops_by_priority_then_cuts_with_an_ellipsis() -> None:
    columns = [Column("名称", cut=True, min_width=8), Column("date"), Column("extra", drop=1),
               Column("note", cut=True, min_width=6)]
    rows = [[Text("北京云帆教育科技有限公司"), Text("2026-12-05"), Text("x" * 20), Text("跟进报价，确认合同条款")]]
    console = Console(width=40, file=open("/dev/null", "w"))  # noqa: SIM115

    with console.capture() as capture:
        console.print(fitted_table(columns, rows, width=40))
    lines = capture.get().splitlines()
    assert lines[0].split() == ["名称", "date", "note"]  # "extra" dropped, nothing wrapped
    assert len(lines) == 3 and all(cell_len(line) <= 40 for line in lines)
    assert "2026-12-05" in lines[2] and "…" in lines[2]
