"""``crm report``: a module of its own, so that a report imports only what it prints (not the rest of the
CRM-work commands)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from .. import workspace
from ..errors import CrmError
from ..model import money
from .output import (
    Column,
    console,
    fitted_table,
    print_json,
    print_json_text,
    print_note,
    print_warning,
    ranked_columns,
    safe,
)

REPORT_NAMES = ("funnel", "sources", "owners", "activity", "forecast", "churn", "tags", "churn-rate", "cycle",
                "conversion", "trend", "repeat", "satisfaction", "completeness", "acquisition",
                "movement")  # reports.REPORTS + HISTORY_REPORTS, without importing them for --help


@click.command(name="report")
@click.argument("name", type=click.Choice(REPORT_NAMES), default="funnel")
@click.option("--since", default=None, metavar="YYYY-MM-DD", help="Start of the period.")
@click.option("--until", default=None, metavar="YYYY-MM-DD", help="End of the period (default today).")
@click.option("--owner", default="", help="Only this owner's customers.")
@click.option("--by", "group", type=click.Choice(["owner", "source"]), default=None,
              help="The report once per owner or source.")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="The vault as it was on that day (its last commit on or before it, from git).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "png", "svg", "xlsx"]), default="table",
              help="png/svg: a chart (needs the 'charts' extra: pip install 'crmnotes[charts]'); xlsx: a sheet.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The chart or sheet file (default: report-NAME.FORMAT here).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def report_command(ctx: click.Context, name: str, since: str | None, until: str | None, owner: str,
                   group: str | None, as_of: str | None, fmt: str, output: Path | None, as_json: bool) -> None:
    """Reports: funnel, sources, owners, activity, forecast, churn, tags, churn-rate, cycle, conversion, trend,
    repeat, satisfaction, completeness, acquisition; movement (between --since and --until, from git)."""
    from .. import reports
    from .common import open_workspace, parse_day

    ws = open_workspace(ctx)
    vault = ws.home
    start = parse_day(since, "--since") if since else None
    past = parse_day(as_of, "--as-of") if as_of else None
    end = parse_day(until, "--until") if until or not past else past
    if start and start > end:
        raise CrmError(f"--since {start} is after --until {end}.", "Swap the dates.")
    if name == "movement":
        if start is None:
            raise CrmError("the movement report needs --since (and --until, default today).",
                           "Example: crm report movement --since 2026-09-01 --until 2026-09-30")
        day = past or (end if until else None)  # the vault of that day (git), else as it is now
        after = _on(ws, day, owner) if day else workspace.report_customers(ws, owner).customers
        result = reports.movement(_on(ws, start, owner), after, vault.config, start, end)
    elif past:  # the customers of that day (git)
        customers = _on(ws, past, owner)
        result = reports.build_by(name, group, customers, vault.config, since=start, until=end, today=end) \
            if group else reports.build(name, customers, vault.config, since=start, until=end, today=end)
    elif as_json or fmt == "json":  # the facts the cache keeps, printed as they are kept
        print_json_text(workspace.report_json(ws, name, group, owner, start, end), escaped=True)
        return
    else:
        result = workspace.report(ws, name, group, owner, start, end)
    if fmt in ("png", "svg", "xlsx"):
        from .. import charts

        target = output or Path(f"report-{name}.{fmt}")
        for warning in charts.write(result, target, fmt, vault.config):
            print_warning(warning)
        print_note(f"wrote {target}")
        return
    if as_json or fmt == "json":
        print_json(result.to_json())
        return
    from rich.text import Text  # not imported by --json output

    from ..words import report_labels, report_title, report_value, totals_line

    shown = _shown_columns(result.columns)
    rows = [[safe(_cell(report_value(vault.config, column, row.get(column)), column in result.percent))
             for column in shown] for row in result.rows]
    headers = dict(zip(result.columns, report_labels(result, vault.config), strict=True))
    if len(shown) < len(result.columns):  # the label stands in for its id: it takes the id's heading (阶段, 来源)
        headers["label"] = headers[result.columns[result.columns.index("label") - 1]]
    console().print(Text(report_title(result, vault.config), style="bold"))
    console().print(fitted_table(report_columns(shown, [headers[column] for column in shown]), rows))
    if result.totals:
        console().print(safe(totals_line(result, vault.config, _cell), "dim"))


def _shown_columns(columns: list[str]) -> list[str]:
    """A report's columns for a person: the id a ``label`` column names (a stage, a source) is left to
    --json and the files; the label says it in the vault's language."""
    at = columns.index("label") if "label" in columns else 0
    return [column for i, column in enumerate(columns) if not (at and i == at - 1)]


def report_columns(keys: list[str], headers: list[str]) -> list[Column]:
    """Names and labels may be shortened; a report's later columns go first when even that does not fit."""
    shortened = {"name", "label", "tag", "source", "reason", "owner", "deal"}
    return ranked_columns(headers, {header for key, header in zip(keys, headers, strict=True) if key in shortened})


def _on(ws: workspace.Workspace, day: date, owner: str) -> list[Any]:
    """Every mount's customers as they were on ``day`` (from git history), of ``owner`` when given."""
    from .. import asof

    return [c for mount in ws.mounts for c in _of(asof.customers_on(mount.vault, day)[0], owner)]


def _of(customers: list[Any], owner: str) -> list[Any]:
    from ..config import fold

    return [c for c in customers if not owner or fold(c.owner) == fold(owner)]


def _cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return ""
    if percent and isinstance(value, (int, float)):
        return f"{value:g}%"
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, dict):
        return "; ".join(f"{k} {_cell(v) if isinstance(v, dict) else money(v)}".strip() for k, v in value.items())
    if isinstance(value, float):
        return money(value) if value >= 1000 else f"{value:g}"
    return str(value)


COMMANDS: list[click.Command] = [report_command]
