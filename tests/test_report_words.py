"""Reports in the vault's language: Chinese labels and titles for a Chinese vault, English for an English
one, percentages with ``%`` — in the terminal table, the chart files and the TUI's report tabs; ``--json``
keeps the ids."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crmnotes.vault import Vault
from tests.conftest import Crm
from tests.test_reports_manager import vault  # noqa: F401  (the hand-computed vault, language zh)
from tests.test_tui import screen_text, settle, sync

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PERIOD = ("--since", "2026-01-01", "--until", "2026-09-30")


def _english(vault: Vault) -> None:  # noqa: F811
    config = vault.root / "crmnotes.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(("language: en\n" + text) if "language:" not in text else
                      text.replace("language: zh", "language: en"), encoding="utf-8")


def test_chinese_vault_report_speaks_chinese_with_percentages(vault: Vault) -> None:  # noqa: F811
    crm = Crm(vault.root)
    funnel = crm("report", "funnel", *PERIOD).stdout
    assert "阶段漏斗" in funnel and "转入下一阶段" in funnel and "conversion_to_next" not in funnel
    sources = crm("report", "sources", *PERIOD).stdout
    assert "赢单金额" in sources and "转化率" in sources and "won_value" not in sources
    assert "50%" in sources  # the share of 广告
    forecast = crm("report", "forecast", *PERIOD).stdout
    assert "weighted_" not in forecast
    completeness = crm("report", "completeness", *PERIOD).stdout
    assert "平均填写率" in completeness and "%" in completeness.splitlines()[-1]
    by_owner = crm("report", "cycle", "--by", "owner", *PERIOD).stdout
    assert "（按负责人）" in by_owner and "平均天数" in by_owner and "average_days" not in by_owner
    data = crm("report", "funnel", *PERIOD, "--json").json()
    assert "conversion_to_next" in data["columns"] and data["title"] == "Stage funnel"  # ids stay ids


def test_a_label_stands_in_for_its_id_in_the_terminal_table(vault: Vault) -> None:  # noqa: F811
    crm = Crm(vault.root)
    funnel = crm("report", "funnel", *PERIOD).stdout.splitlines()
    assert funnel[1].split()[0] == "阶段" and "名称" not in funnel[1]  # the label under the stage's heading
    body = "\n".join(funnel[3:])
    assert "潜在" in body and "potential" not in body  # the id is left to --json
    sources = crm("report", "sources", *PERIOD).stdout.splitlines()
    assert sources[1].split()[0] == "来源" and "referral" not in "\n".join(sources[3:])
    acquisition = crm("report", "acquisition", *PERIOD).stdout.splitlines()
    assert acquisition[1].split().count("名称") == 1
    data = crm("report", "funnel", *PERIOD, "--json").json()
    assert data["columns"][:2] == ["stage", "label"] and data["rows"][0]["stage"] == "potential"


def test_english_vault_report_speaks_english(vault: Vault) -> None:  # noqa: F811
    _english(vault)
    funnel = Crm(vault.root)("report", "funnel", *PERIOD).stdout
    assert "Stage funnel" in funnel and "to next stage" in funnel and "conversion_to_next" not in funnel
    assert "阶段漏斗" not in funnel


def _figure(vault: Vault, name: str) -> Figure:  # noqa: F811
    pytest.importorskip("matplotlib")
    from crmnotes import catalog, charts, reports

    customers = catalog.report_customers(vault, "").customers
    report = reports.build(name, customers, vault.config, since=date(2026, 1, 1), until=date(2026, 9, 30))
    figure, _ = charts.chart_figure(report, vault.config)
    figure.canvas.draw()
    return figure


def test_svg_chart_words_are_the_vaults_chinese(vault: Vault, tmp_path: Path) -> None:  # noqa: F811
    pytest.importorskip("matplotlib")
    target = tmp_path / "funnel.svg"
    Crm(vault.root)("report", "funnel", *PERIOD, "--format", "svg", "-o", str(target))
    text = target.read_text(encoding="utf-8")  # matplotlib names every text it draws in a comment
    for words in ("阶段漏斗", "客户数", "曾到达", "潜在", "意向"):
        assert f"<!-- {words} -->" in text
    assert "<!-- customers -->" not in text and "<!-- Stage funnel -->" not in text


@pytest.mark.parametrize("name", ["churn-rate", "sources", "funnel"])
def test_count_axes_tick_at_whole_numbers(vault: Vault, name: str) -> None:  # noqa: F811
    import matplotlib.pyplot as plt

    figure = _figure(vault, name)
    axes = figure.axes[0]
    low, high = axes.get_ylim()
    ticks = [t for t in axes.get_yticks() if low <= t <= high]
    plt.close(figure)
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


@pytest.mark.parametrize("name", ["funnel", "trend", "sources"])
def test_legend_stands_beside_the_plot(vault: Vault, name: str) -> None:  # noqa: F811
    import matplotlib.pyplot as plt

    figure = _figure(vault, name)
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    legend = axes.get_legend().get_window_extent(renderer)
    plot = axes.get_window_extent(renderer)
    plt.close(figure)
    assert not legend.overlaps(plot)
    assert legend.x1 <= figure.bbox.x1 and legend.y0 >= figure.bbox.y0  # and inside the picture


@sync
async def test_tui_report_tabs_name_bars_and_series_in_chinese_with_whole_number_ticks(
        vault: Vault) -> None:  # noqa: F811
    from rich.cells import cell_len

    from crmnotes.tui.app import make_app
    from crmnotes.tui.screens.reports import ZERO_WIDTH, ReportsScreen

    app = make_app(vault, today=date(2026, 9, 30), user="张伟", poll_seconds=None)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ReportsScreen)
        for key, words in (("1", ("阶段漏斗", "客户数", "曾到达", "潜在", "意向")), ("2", ("广告", "转介绍")),
                           ("3", ("电话", "微信", "周")), ("4", ("新客户", "赢单客户")), ("5", ("潜在", "意向")),
                           ("6", ("满意度", "评分"))):
            await pilot.press(key)
            await pilot.pause()
            shown = screen_text(app)
            text = shown.replace(ZERO_WIDTH, "")
            assert all(word in text for word in words), (key, words)
            assert "customers" not in text and "ever reached" not in text
            lines = text.splitlines()
            if key in ("2", "5"):  # horizontal bars: the counts under the x axis
                bottom = next(i for i, line in enumerate(lines) if "└" in line)
                ticks = lines[bottom + 1].split()
            else:
                ticks = [line.split("┤")[0].strip() for line in lines if "┤" in line]
            assert ticks and all(tick.isdigit() for tick in ticks), (key, ticks)  # no tick at 2.3 customers
            assert len({cell_len(line) for line in shown.splitlines()}) == 1  # CJK labels do not push the axes
            if key in ("1", "3", "4"):  # several series: named under the chart, where no bar is
                box = "\n".join(lines[next(i for i, line in enumerate(lines) if "┌" in line):
                                       next(i for i, line in enumerate(lines) if "└" in line)])
                series = {"1": ("客户数", "曾到达"), "3": ("电话", "微信"), "4": ("新客户", "赢单客户")}[key]
                assert all(f"■ {name}" in text and name not in box for name in series), key
