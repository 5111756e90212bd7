"""Tables at 80 columns and in pipes: rows never wrap into fragments; columns
are dropped or shortened with an ellipsis by priority (``crm`` as a real process)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from crmnotes import actions
from crmnotes.cli.output import Column, FittedRows, fitted_table

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


def _rich_table(columns: list[Column], rows: list[list[Text]], width: int) -> Table:
    """What ``fitted_table`` prints, made by rich's own Table: the reference its line writer must match."""
    table = fitted_table(columns, rows, width=width)
    assert isinstance(table, FittedRows)
    shown = table.headers
    reference = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header, cells_width in zip(shown, table.widths, strict=True):
        reference.add_column(header, width=cells_width, no_wrap=True, overflow="ellipsis")
    for row in table.rows:
        reference.add_row(*row)
    return reference


@pytest.mark.parametrize("width", [44, 80, 132])
@pytest.mark.parametrize("color", [None, "truecolor"])
def test_the_line_writer_prints_what_richs_table_prints(width: int, color: str | None) -> None:
    rng = random.Random(width)
    words = ["北京云帆教育科技有限公司", "Acme Analytics Inc.", "张伟", "needs/data-security, 数据安全", "😀 表情",
             "trailing   ", "", "2026-12-05", "x" * 40, "意向", "ＦＵＬＬ　ｗｉｄｔｈ"]
    columns = [Column("名称", cut=True, min_width=8), Column("stage"), Column("owner", drop=2),
               Column("note", cut=True, min_width=6), Column("tags", drop=1, cut=True, min_width=10)]
    short = ["意向", "won", "张伟", "", "李娜 ", "ＦＵＬＬ"]  # the columns never cut: a value is never cut
    rows = [[Text(rng.choice(short if not column.cut else words), style=rng.choice(["", "bold", "red"]))
             for column in columns] for _ in range(60)]
    outputs = []
    for renderable in (fitted_table(columns, rows, width=width), _rich_table(columns, rows, width)):
        console = Console(width=width, file=io.StringIO(), color_system=color, force_terminal=color is not None)
        console.print(renderable)
        outputs.append(console.file.getvalue())  # type: ignore[attr-defined]
    ours, theirs = outputs
    if color is None:
        assert ours == theirs
    else:  # the same characters in the same styles (rich may split a styled run into more escapes)
        assert _styled_characters(ours, width) == _styled_characters(theirs, width)


def _styled_characters(ansi: str, width: int) -> list[tuple[str, Style | None]]:
    segments = Text.from_ansi(ansi).render(Console(width=width))
    return [(char, segment.style or None) for segment in segments for char in segment.text]
