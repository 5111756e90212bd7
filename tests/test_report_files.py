"""Report files: png/svg charts opened back with matplotlib, xlsx sheets read back with openpyxl."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmnotes.vault import Vault
from tests.conftest import Crm
from tests.test_reports_manager import vault  # noqa: F401  (the hand-computed vault)

PERIOD = ("--since", "2026-01-01", "--until", "2026-09-30")


@pytest.mark.parametrize("name", ["trend", "conversion", "sources"])
def test_png_chart_is_an_image_of_the_expected_size(vault: Vault, tmp_path: Path, name: str) -> None:  # noqa: F811
    pytest.importorskip("matplotlib")
    import matplotlib.image

    from crmnotes import charts

    target = tmp_path / f"{name}.png"
    result = Crm(vault.root)("report", name, *PERIOD, "--format", "png", "-o", str(target))
    assert f"wrote {target}" in result.stdout + result.stderr
    pixels = matplotlib.image.imread(target)
    assert pixels.shape[:2] == (560, 1000)  # 10 x 5.6 inches at 100 dpi
    assert pixels.min() < 0.5 < pixels.max()  # something was drawn on the white
    assert ("no CJK font" in result.stderr) == (charts.cjk_font() is None)


def test_svg_chart_names_the_labels(vault: Vault, tmp_path: Path) -> None:  # noqa: F811
    pytest.importorskip("matplotlib")
    target = tmp_path / "trend.svg"
    Crm(vault.root)("report", "trend", *PERIOD, "--format", "svg", "-o", str(target))
    text = target.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "2026-07" in text


def test_xlsx_cells_read_back(vault: Vault, tmp_path: Path) -> None:  # noqa: F811
    from openpyxl import load_workbook

    target = tmp_path / "churn.xlsx"
    Crm(vault.root)("report", "churn-rate", *PERIOD, "--format", "xlsx", "-o", str(target))
    book = load_workbook(target)
    sheet = book["churn-rate"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("月份", "月初已赢单", "流失", "沉默", "流失率")  # the vault's language
    assert rows[5] == ("2026-05", 3, 0, 1, 33.3) and rows[8] == ("2026-08", 2, 1, 0, 50)
    assert sheet["E6"].number_format == '0.0"%"'
    totals = dict(book["totals"].iter_rows(values_only=True))
    assert (totals["已流失"], totals["流失率"], totals["起始"]) == (2, 66.7, "2026-01-01")
    sources = tmp_path / "sources.xlsx"
    Crm(vault.root)("report", "sources", *PERIOD, "--format", "xlsx", "-o", str(sources))
    values = {r[0]: r for r in load_workbook(sources)["sources"].iter_rows(values_only=True)}
    assert values["ad"][1:5] == ("广告", 3, 50, 1) and values["ad"][6] == "CNY 80000.0"
