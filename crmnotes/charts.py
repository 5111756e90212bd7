"""A report as a file: a chart (png, svg) for a slide or a sheet (xlsx) for a pivot table.

Charts use matplotlib with the Agg backend (no display needed; an optional
extra: ``pip install 'crmnotes[charts]'``).  Chinese labels need a CJK font:
the first one found on the system among common families is used; without
one matplotlib draws boxes for the missing glyphs and ``write`` says so.
A report with a month or week column is drawn as lines, any other as bars
labelled by its ``label`` column (the vault's language) or its first column;
percentages are drawn only when a report has no counts; count axes tick at whole
numbers; the legend stands beside the plot so it never covers a bar.  Titles, legends and sheet headings
are in the vault's language (``crmnotes.words``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CrmError
from .fsutil import atomic_write
from .reports import Report
from .words import report_labels, report_title, report_value, report_word

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .config import VaultConfig

FORMATS = ("png", "svg", "xlsx")
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
                "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Droid Sans Fallback", "AR PL UMing CN")
TIME_COLUMNS = ("month", "week")


def write(report: Report, path: Path, fmt: str, config: VaultConfig) -> list[str]:
    """Write the report to ``path`` in the vault's language; returns warnings (e.g. no CJK font)."""
    if fmt == "xlsx":
        atomic_write(path, _sheet(report, config))
        return []
    if fmt in ("png", "svg"):
        data, warnings = _chart(report, fmt, config)
        atomic_write(path, data)
        return warnings
    raise CrmError(f"'{fmt}' is not a report file format.", f"Choose one of: {', '.join(FORMATS)}.")


def _value(value: Any) -> Any:
    if isinstance(value, dict):
        return "; ".join(f"{k} {v}" for k, v in value.items())
    return value


def _sheet(report: Report, config: VaultConfig) -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.worksheets[0]  # a new workbook's one sheet (to the stubs, .active may be None)
    sheet.title = report.name[:31]
    sheet.append(report_labels(report, config))
    for row in report.rows:
        sheet.append([_value(report_value(config, column, row.get(column))) for column in report.columns])
    for index, column in enumerate(report.columns, start=1):
        if column in report.percent:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = '0.0"%"'
    sheet.freeze_panes = "A2"
    totals = book.create_sheet("totals")
    totals.append([report_word(config, "report"), report_title(report, config)])
    totals.append([report_word(config, "since"), report.since.isoformat() if report.since else ""])
    totals.append([report_word(config, "until"), report.until.isoformat() if report.until else ""])
    for key, value in report.totals.items():
        totals.append([report_word(config, key), _value(value)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cjk_font() -> str | None:
    """The first CJK font family matplotlib can find on this system."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


def _chart(report: Report, fmt: str, config: VaultConfig) -> tuple[bytes, list[str]]:
    import io

    import matplotlib.pyplot as plt

    figure, warnings = chart_figure(report, config)
    try:
        out = io.BytesIO()
        figure.savefig(out, format=fmt)
    finally:
        plt.close(figure)
    return out.getvalue(), warnings


def chart_figure(report: Report, config: VaultConfig) -> tuple[Figure, list[str]]:
    """The report drawn with matplotlib, its words in the vault's language; the caller closes it."""
    try:
        import matplotlib
    except ImportError:
        raise CrmError("charts need matplotlib, which is not installed.",
                       "Install it with: pip install 'crmnotes[charts]' (or use --format xlsx).") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    warnings = []
    font = cjk_font()
    if font:
        matplotlib.rcParams["font.sans-serif"] = [font, *matplotlib.rcParams["font.sans-serif"]]
    else:
        warnings.append("no CJK font found: Chinese labels show as boxes (install fonts-noto-cjk or "
                        "fonts-wqy-microhei).")
    matplotlib.rcParams["axes.unicode_minus"] = False
    key = next((c for c in TIME_COLUMNS if c in report.columns), None)
    names = key or ("label" if "label" in report.columns else report.columns[0])
    labels = [str(report_value(config, names, row.get(names)) or "") for row in report.rows]
    numeric = [c for c in report.columns if c != names and c not in ("stage", "source", "id")
               and any(_number(r.get(c)) for r in report.rows)]
    # Counts and percentages on one axis mislead: the counts, or the percentages when there is nothing else.
    series = [c for c in numeric if c not in report.percent] or numeric
    figure, axes = plt.subplots(figsize=(10, 5.6), dpi=100)
    positions = list(range(len(labels)))
    width = 0.8 / max(len(series), 1)
    for index, column in enumerate(series):
        values = [float(r.get(column) or 0) for r in report.rows]
        if key:
            axes.plot(positions, values, marker="o", label=report_word(config, column))
        else:
            axes.bar([p + index * width for p in positions], values, width=width, label=report_word(config, column))
    axes.set_xticks([p + (0 if key else width * (len(series) - 1) / 2) for p in positions], labels,
                    rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center")
    if all(isinstance(r.get(c), int) or r.get(c) is None for c in series for r in report.rows):
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no tick at 6.7 customers
    axes.set_title(report_title(report, config))
    if series:  # beside the plot, never over a bar
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure, warnings


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
