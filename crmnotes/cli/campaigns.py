"""``crm campaign add|set|ls|show|report``: marketing campaigns under ``campaigns/``.

Thin: the rules and the evaluation live in ``crmnotes.campaigns``."""

from __future__ import annotations

from typing import Any

import click

from .common import label, open_vault
from .output import console, fitted_table, print_json, print_note, ranked_columns, safe

_fields = (
    click.option("--channel", default="", help="The source it brings customers from (id or label)."),
    click.option("--start", default="", metavar="YYYY-MM-DD", help="First day."),
    click.option("--end", default="", metavar="YYYY-MM-DD", help="Last day."),
    click.option("--budget", default="", help="Budget: 50000, 5万."),
    click.option("--cost", default="", help="Actual cost (cost per lead uses it, else the budget)."),
    click.option("--goal-leads", default="", help="Goal: leads."),
    click.option("--goal-won", default="", help="Goal: won customers."),
    click.option("--goal-revenue", default="", help="Goal: won value."),
    click.option("--owner", default="", help="Who runs it."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON."),
)


def _with_fields(func: Any) -> Any:
    for option in reversed(_fields):
        func = option(func)
    return func


@click.group()
def campaign() -> None:
    """Marketing campaigns (市场活动): add, set, ls, show, report."""


@campaign.command(name="add")
@click.argument("name")
@click.option("--id", "ident", default="", help="The id customers name in 'campaign:' (default from the name).")
@_with_fields
@click.pass_context
def campaign_add(ctx: click.Context, name: str, ident: str, as_json: bool, **given: str) -> None:
    """Add a campaign NAME (a file under campaigns/)."""
    from .. import campaigns

    vault = open_vault(ctx)
    made = campaigns.add(vault, campaigns.CampaignInput(name=name, id=ident, **given))
    _result(vault, made, as_json, f"added campaign {made.id} ({vault.relative(made.path)})")


@campaign.command(name="set")
@click.argument("ref")
@click.option("--name", default="", help="New name.")
@_with_fields
@click.pass_context
def campaign_set(ctx: click.Context, ref: str, name: str, as_json: bool, **given: str) -> None:
    """Change fields of campaign REF (id or name); the rest of its file is kept as it is."""
    from .. import campaigns

    vault = open_vault(ctx)
    changed = campaigns.update(vault, campaigns.find(vault, ref), campaigns.CampaignInput(name=name, **given))
    _result(vault, changed, as_json, f"updated campaign {changed.id}")


def _result(vault: Any, found: Any, as_json: bool, message: str) -> None:
    from ..actions import jsonable

    if as_json:
        print_json({"path": vault.relative(found.path), **jsonable(found.meta)})
    else:
        print_note(message)


def _evaluations(ctx: click.Context, ref: str | None) -> tuple[Any, list[dict[str, Any]]]:
    from .. import campaigns, catalog
    from .common import report_unreadable

    vault = open_vault(ctx)
    chosen, problems = ([campaigns.find(vault, ref)], []) if ref else campaigns.load(vault)
    report_unreadable(vault, problems)
    customers = catalog.report_customers(vault).customers
    return vault, [campaigns.evaluate(c, customers, vault.config) for c in chosen]


@campaign.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def campaign_ls(ctx: click.Context, as_json: bool) -> None:
    """Every campaign with its dates, cost, leads and won customers."""
    vault, rows = _evaluations(ctx, None)
    if as_json:
        print_json(rows)
        return
    table = [[safe(r["id"]), safe(r["name"], "bold"), safe(label(vault, "sources", r["channel"])),
              safe(r["start"] or ""), safe(r["end"] or ""), safe(_number(r["cost"])), safe(r["leads"]),
              safe(r["won"])] for r in rows]
    headers = ["id", "name", "channel", "start", "end", "cost", "leads", "won"]
    console().print(fitted_table(ranked_columns(headers, {"name"}), table))


@campaign.command(name="show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def campaign_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """One campaign's fields, its evaluation and its leads."""
    from .. import campaigns, catalog

    vault = open_vault(ctx)
    found = campaigns.find(vault, ref)
    customers = catalog.report_customers(vault).customers
    evaluation = campaigns.evaluate(found, customers, vault.config)
    leads = campaigns.leads_of(found, customers)
    if as_json:
        print_json({**evaluation, "leads_list": [{"id": c.id, "name": c.name, "stage": c.stage} for c in leads]})
        return
    _print_evaluation(evaluation)
    for customer in leads:
        console().print(safe(f"  {customer.name}  {label(vault, 'stages', customer.stage)}"))


@campaign.command(name="report")
@click.argument("ref", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def campaign_report(ctx: click.Context, ref: str | None, as_json: bool) -> None:
    """Evaluate campaigns (all, or REF): leads, conversion, won value, cost per lead / won, ROI, goals."""
    from .. import campaigns

    _, rows = _evaluations(ctx, ref)
    if as_json:
        print_json(rows)
        return
    columns = ["id", "leads", "won", "won_value", "cost_per_lead", "cost_per_won", "roi"]  # --json has every figure
    table = [[safe(_number(r[c], c in campaigns.PERCENT)) for c in columns] for r in rows]
    console().print(fitted_table(ranked_columns(columns, frozenset()), table))


def _print_evaluation(evaluation: dict[str, Any]) -> None:
    from .. import campaigns

    console().print(safe(f"{evaluation['name']} ({evaluation['id']})", "bold"))
    for key, value in evaluation.items():
        if key not in ("id", "name") and value not in (None, ""):
            console().print(safe(f"  {key}: {_number(value, key in campaigns.PERCENT)}"))


def _number(value: Any, percent: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and percent:
        return f"{value:g}%"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return str(value)


COMMANDS: list[click.Command] = [campaign]
