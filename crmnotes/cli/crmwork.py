"""Commands for the CRM work beyond notes: deals, tickets, import, export, reports.

Each command parses its options, calls ``crmnotes.deals`` / ``tickets`` /
``io`` / ``reports`` and prints; no rules live here.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click

from .. import catalog, deals, tickets
from ..actions import jsonable
from ..errors import CrmError
from ..model import money
from . import complete
from .common import label, open_customer, open_vault, parse_assignments, user_of
from .output import (
    Column,
    console,
    error_console,
    fitted_table,
    print_json,
    print_note,
    print_warning,
    safe,
    write_export,
)

# ------------------------------------------------------------------ deals


@click.group()
def deal() -> None:
    """Deals (opportunities): add, change, list."""


def _options(*options: Any) -> Any:
    """One decorator applying several click options, in the order given."""

    def apply(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


_deal_options = _options(
    click.option("--stage", default="", shell_complete=complete.deal_stages,
                 help="Deal stage (id or label from deal_stages)."),
    click.option("--amount", default="", help="Amount: 180000, 18万, 36k."),
    click.option("--currency", default="", help="Currency code (default from crmnotes.yaml)."),
    click.option("--probability", default="", help="Win probability 0-100 (default from the stage)."),
    click.option("--close", default="", metavar="YYYY-MM-DD", help="Expected close date."),
    click.option("--owner", default="", help="Owner (default: the customer's owner)."),
    click.option("--proposal", default="", help="The proposal: a web link or attachments/... in the vault."),
    click.option("--contract-number", default="", help="Contract number (a won deal)."),
    click.option("--contract-date", default="", metavar="YYYY-MM-DD", help="Contract date (default: the win)."),
    click.option("--contract-value", default="", help="Contract value (default: the amount)."),
    click.option("--contract-file", default="", help="The contract: a web link or attachments/... in the vault."),
    click.option("--json", "as_json", is_flag=True, help="Print the customer's deals as JSON."),
)


@deal.command(name="add")
@click.argument("ref", shell_complete=complete.customer_names)
@click.argument("name")
@_deal_options
@click.pass_context
def deal_add(ctx: click.Context, ref: str, name: str, as_json: bool, **given: str) -> None:
    """Add a deal NAME to customer REF."""
    vault, customer = open_customer(ctx, ref)
    draft = deals.DealInput(name=name, **given)
    updated = deals.add_deal(vault, customer, draft, by=user_of(vault))
    _print_deal_result(updated, as_json, f"added deal {updated.deals[-1].get('id')} to {updated.name}")


@deal.command(name="set")
@click.argument("ref", shell_complete=complete.customer_names)
@click.argument("deal_ref", metavar="DEAL")
@click.option("--name", default="", help="New name.")
@_deal_options
@click.option("--note", "-n", default="", help="Why it moved (added to the stage-move follow-up).")
@click.pass_context
def deal_set(ctx: click.Context, ref: str, deal_ref: str, as_json: bool, **given: str) -> None:
    """Change DEAL (id, position or name) of customer REF; stage moves are logged."""
    vault, customer = open_customer(ctx, ref)
    draft = deals.DealInput(**given)
    updated = deals.set_deal(vault, customer, deal_ref, draft, by=user_of(vault))
    _print_deal_result(updated, as_json, f"updated deal {deal_ref} of {updated.name}")


def _print_deal_result(customer: Any, as_json: bool, message: str) -> None:
    if as_json:
        print_json({"id": customer.id, "name": customer.name, "deals": jsonable(customer.deals)})
    else:
        print_note(message)


def deal_json(vault: Any, customer: Any, index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer_id": customer.id, "customer": customer.name, "deal": item.get("id") or str(index + 1),
        **jsonable(item), "owner": item.get("owner") or customer.owner,
        "probability": deals.probability_of(item, vault.config),
        "weighted": deals.weighted_of(item, vault.config),
        "path": vault.relative(customer.path),
    }


@deal.command(name="ls")
@click.option("--stage", default="", shell_complete=complete.deal_stages, help="Only deals at this stage.")
@click.option("--owner", default="", help="Only this owner's deals.")
@click.option("--mine", is_flag=True, help="Only your deals.")
@click.option("--open", "open_only", is_flag=True, help="Only deals not won or lost.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("ref", required=False, shell_complete=complete.customer_names)
@click.pass_context
def deal_ls(ctx: click.Context, stage: str, owner: str, mine: bool, open_only: bool, as_json: bool,
            ref: str | None) -> None:
    """List deals (of one customer REF, or of all): the pipeline."""
    from rich.text import Text  # not imported by --json output

    vault = open_vault(ctx)
    pool = [catalog.resolve(vault, ref)] if ref else catalog.report_customers(vault).customers
    stage_id = deals.stages(vault.config).canonical(stage) if stage else ""
    rows = deals.deal_rows(pool, owner=owner or (user_of(vault) if mine else ""), stage=stage_id,
                           open_only=open_only)
    order = {s: i for i, s in enumerate(deals.stages(vault.config).ids)}
    rows.sort(key=lambda r: (order.get(str(r[2].get("stage")), 99), str(r[2].get("close", "")), r[0].name))
    items = [deal_json(vault, c, i, d) for c, i, d in rows]
    if as_json:
        print_json(items)
        return
    table = [[safe(d["customer"], "bold"), safe(d["deal"]), safe(d.get("name", "")),
              safe(label(vault, deals.DEAL_STAGES, str(d.get("stage", "")))),
              safe(f"{d.get('currency', '')} {money(d.get('amount'))}".strip()), safe(f"{d['probability']:.0f}%"),
              safe(money(d["weighted"])), safe(d.get("close") or ""), safe(d["owner"])] for d in items]
    console().print(fitted_table(DEAL_COLUMNS, table))
    totals: dict[str, float] = {}
    for d in items:
        if deals.is_open(d):
            currency = deals.currency_of(d, vault.config)
            totals[currency] = totals.get(currency, 0.0) + d["weighted"]
    shown = ", ".join(f"{money(value)} {currency}" for currency, value in sorted(totals.items())) or "0"
    console().print(Text(f"{len(items)} deals; weighted open pipeline {shown}", style="dim"))


DEAL_COLUMNS = [Column("customer", cut=True, min_width=16), Column("id", drop=4),
                Column("deal", cut=True, min_width=12), Column("stage"), Column("amount"), Column("prob", drop=2),
                Column("weighted", drop=3), Column("close"), Column("owner", drop=5)]


# ------------------------------------------------------------------ tickets


@click.group()
def ticket() -> None:
    """Service tickets: open, update, close, list."""


_ticket_options = _options(
    click.option("--type", "kind", default="", help="question, complaint, fault (or a label)."),
    click.option("--priority", default="", help="low, normal, high, urgent."),
    click.option("--owner", default="", help="Who handles it (default: the customer's owner)."),
    click.option("--due", default="", metavar="YYYY-MM-DD", help="When it should be answered."),
    click.option("--json", "as_json", is_flag=True, help="Print the customer's tickets as JSON."),
)


@ticket.command(name="open")
@click.argument("ref", shell_complete=complete.customer_names)
@click.argument("subject")
@_ticket_options
@click.pass_context
def ticket_open(ctx: click.Context, ref: str, subject: str, kind: str, priority: str, owner: str, due: str,
                as_json: bool) -> None:
    """Open a ticket SUBJECT for customer REF; prints the ticket id."""
    vault, customer = open_customer(ctx, ref)
    draft = tickets.TicketInput(subject=subject, type=kind, priority=priority, owner=owner, due=due)
    updated, new_id = tickets.open_ticket(vault, customer, draft, by=user_of(vault))
    if as_json:
        print_json({"id": updated.id, "name": updated.name, "ticket": new_id, "tickets": jsonable(updated.tickets)})
        return
    click.echo(new_id)
    print_note(f"opened ticket {new_id} for {updated.name}")


@ticket.command(name="update")
@click.argument("ref", shell_complete=complete.customer_names)
@click.argument("ticket_ref", metavar="TICKET")
@click.option("--subject", default="", help="New subject.")
@click.option("--status", default="", help="open, in-progress, resolved, closed.")
@click.option("--resolution", default="", help="How it was solved.")
@click.option("--satisfaction", default="", help="The customer's rating 1-5.")
@_ticket_options
@click.pass_context
def ticket_update(ctx: click.Context, ref: str, ticket_ref: str, subject: str, status: str, resolution: str,
                  satisfaction: str, kind: str, priority: str, owner: str, due: str, as_json: bool) -> None:
    """Change TICKET (id or position) of customer REF."""
    vault, customer = open_customer(ctx, ref)
    draft = tickets.TicketInput(subject=subject, type=kind, priority=priority, status=status, owner=owner,
                                resolution=resolution, satisfaction=satisfaction, due=due)
    updated = tickets.update_ticket(vault, customer, ticket_ref, draft)
    _print_ticket_result(updated, as_json, f"updated ticket {ticket_ref} of {updated.name}")


@ticket.command(name="close")
@click.argument("ref", shell_complete=complete.customer_names)
@click.argument("ticket_ref", metavar="TICKET")
@click.option("--resolution", "-r", default="", help="How it was solved.")
@click.option("--satisfaction", "-s", default="", help="The customer's rating 1-5.")
@click.option("--status", default="closed", show_default=True, help="resolved or closed.")
@click.option("--json", "as_json", is_flag=True, help="Print the customer's tickets as JSON.")
@click.pass_context
def ticket_close(ctx: click.Context, ref: str, ticket_ref: str, resolution: str, satisfaction: str, status: str,
                 as_json: bool) -> None:
    """Close TICKET of customer REF with its resolution and rating."""
    vault, customer = open_customer(ctx, ref)
    draft = tickets.TicketInput(status=status, resolution=resolution, satisfaction=satisfaction)
    updated = tickets.close_ticket(vault, customer, ticket_ref, draft)
    _print_ticket_result(updated, as_json, f"closed ticket {ticket_ref} of {updated.name}")


def _print_ticket_result(customer: Any, as_json: bool, message: str) -> None:
    if as_json:
        print_json({"id": customer.id, "name": customer.name, "tickets": jsonable(customer.tickets)})
    else:
        print_note(message)


@ticket.command(name="ls")
@click.argument("ref", required=False, shell_complete=complete.customer_names)
@click.option("--status", default="", help="Only tickets with this status.")
@click.option("--all", "show_all", is_flag=True, help="Include resolved and closed tickets.")
@click.option("--owner", default="", help="Only this owner's tickets.")
@click.option("--mine", is_flag=True, help="Only your tickets.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ticket_ls(ctx: click.Context, ref: str | None, status: str, show_all: bool, owner: str, mine: bool,
              as_json: bool) -> None:
    """List open tickets (most urgent first), of one customer REF or of all."""
    from rich.text import Text  # not imported by --json output

    vault = open_vault(ctx)
    pool = [catalog.resolve(vault, ref)] if ref else catalog.report_customers(vault).customers
    status_id = vault.config.choice_set(tickets.STATUSES).canonical(status) if status else ""
    rows = tickets.ticket_rows(pool, status=status_id, open_only=not (show_all or status_id),
                               owner=owner or (user_of(vault) if mine else ""))
    items = [{"customer_id": c.id, "customer": c.name, **jsonable(t), "owner": t.get("owner") or c.owner,
              "path": vault.relative(c.path)} for c, t in rows]
    if as_json:
        print_json(items)
        return
    table = [[safe(t["customer"], "bold"), safe(t.get("id", "")), safe(t.get("subject", "")),
              safe(label(vault, tickets.TYPES, str(t.get("type", "")))),
              safe(label(vault, tickets.PRIORITIES, str(t.get("priority", ""))),
                   "red" if t.get("priority") in ("urgent", "high") else ""),
              safe(label(vault, tickets.STATUSES, str(t.get("status", "")))), safe(t.get("opened", "")),
              safe(t["owner"])] for t in items]
    console().print(fitted_table(TICKET_COLUMNS, table))
    console().print(Text(f"{len(items)} tickets", style="dim"))


TICKET_COLUMNS = [Column("customer", cut=True, min_width=16), Column("id"), Column("subject", cut=True, min_width=20),
                  Column("type", drop=2), Column("priority"), Column("status"), Column("opened", drop=3),
                  Column("owner", drop=4)]


# ------------------------------------------------------------------ import


@click.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--map", "mappings", multiple=True, metavar="COL=FIELD", help="Read column COL as FIELD "
              "(FIELD '-' drops the column; extra:NAME keeps it under 'extra'). Repeatable.")
@click.option("--default", "defaults", multiple=True, metavar="FIELD=VALUE",
              help="Value for FIELD where the cell is empty (e.g. industry=other). Repeatable.")
@click.option("--owner", default=None, help="Owner of rows without one (default: you).")
@click.option("--region", default="", help="Phone region for numbers without +country code (default: the vault's).")
@click.option("--duplicates", "on_duplicate", type=click.Choice(["skip", "merge", "newest"]), default="skip",
              show_default=True, help="skip duplicate rows, merge them (fill empty fields, add tags, keep the "
              "vault's other values), or newest (merge, and the imported values win); each change is printed.")
@click.option("--map-value", "value_maps", multiple=True, metavar="FIELD:VALUE=CHOICE",
              help="Read VALUE of FIELD as CHOICE (e.g. source:线上搜索=online-search). Repeatable.")
@click.option("--map-values", "value_map_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A file of FIELD:VALUE=CHOICE lines (a dry run writes one for the values it does not know).")
@click.option("--limit", type=int, default=0, help="Import only the first N rows (check the mapping first).")
@click.option("--followups", "followups_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A follow-up sheet (跟进记录表, CSV or XLSX) whose rows become dated entries of their customers "
              "(an XLSX's second sheet is read without this).")
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows even if some are rejected.")
@click.option("--rejects", "rejects_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the rejected rows with their reasons to this CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def import_command(ctx: click.Context, file: Path, mappings: tuple[str, ...], defaults: tuple[str, ...],
                   owner: str | None, region: str, on_duplicate: str, value_maps: tuple[str, ...],
                   value_map_file: Path | None, limit: int,
                   followups_file: Path | None, dry_run: bool, skip_bad: bool, rejects_file: Path | None,
                   as_json: bool) -> None:
    """Import customers from a CSV (UTF-8, UTF-8 BOM, GBK) or XLSX file."""
    from ..io.exporter import write_rejects
    from ..io.importer import ImportOptions, import_file, read_value_map, value_map_text

    vault = open_vault(ctx)
    options = ImportOptions(overrides=parse_assignments(mappings), defaults=parse_assignments(defaults),
                            owner=user_of(vault) if owner is None else owner, region=region.upper(),
                            on_duplicate=on_duplicate, skip_bad=skip_bad, dry_run=dry_run,
                            value_map=parse_value_maps((*(read_value_map(value_map_file) if value_map_file else []),
                                                        *value_maps)),
                            limit=limit, followups_file=followups_file)
    with _progress(as_json) as progress, _readable(file) as path:
        report = import_file(vault, path, options, progress)
    if rejects_file is not None and report.rejects:
        write_rejects(rejects_file, report.rejects)
    if dry_run and report.unknown_values:
        from ..fsutil import atomic_write

        map_file = file.with_name(f"{file.stem}.values.txt")
        atomic_write(map_file, value_map_text(report, vault).encode("utf-8"))
        print_note(f"wrote {map_file}: check the suggested choices, then import with --map-values {map_file}")
    if as_json:
        print_json(report.to_json(vault))
    else:
        _print_import(vault, report)
    if report.blocked:
        ctx.exit(1)


@contextmanager
def _readable(file: Path) -> Iterator[Path]:
    """``file``, or for ``-`` what stdin holds, in a temporary file (.xlsx when it is a zip, else .csv)."""
    if str(file) != "-":
        yield file
        return
    data = sys.stdin.buffer.read()
    with tempfile.TemporaryDirectory(prefix="crm-import-") as folder:
        path = Path(folder, "stdin.xlsx" if data[:2] == b"PK" else "stdin.csv")
        path.write_bytes(data)
        yield path


def parse_value_maps(items: tuple[str, ...]) -> dict[tuple[str, str], str]:
    """``source:线上搜索=online-search`` -> {("source", "线上搜索" folded): "online-search"}."""
    from ..config import fold

    result = {}
    for item in items:
        field_value, sep, target = item.partition("=")
        field_name, colon, value = field_value.partition(":")
        if not sep or not colon or not field_name.strip() or not value.strip() or not target.strip():
            raise CrmError(f"--map-value '{item}' is not FIELD:VALUE=CHOICE.",
                           "Write it like source:线上搜索=online-search.")
        result[(field_name.strip(), fold(value))] = target.strip()
    return result


class _progress:
    """A rich progress bar on stderr for large files (none for JSON or a non-terminal)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        if self.quiet or not error_console().is_terminal:
            return None
        from rich.progress import Progress

        self.bar = Progress(console=error_console(), transient=True)
        self.bar.start()
        return self.update

    def update(self, phase: str, done: int, total: int) -> None:
        if total < 500:
            return
        if phase not in self.tasks:
            self.tasks[phase] = self.bar.add_task(phase, total=total)
        self.bar.update(self.tasks[phase], completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_import(vault: Any, report: Any) -> None:
    from rich.text import Text  # not imported by --json output

    out = console()
    mapped = ", ".join(f"{c}→{f}" for c, f in report.columns)
    out.print(safe(f"{report.file} ({report.encoding}, {report.rows} rows): {mapped}", "dim"))
    for reject in report.rejects:
        print_warning(f"row {reject.row} rejected: {reject.reason}")
    for dup in report.duplicates:
        out.print(safe(f"row {dup.row} {dup.name}: duplicate of {dup.existing} ({dup.reason}), {dup.action}",
                       "yellow"))
        for change in dup.changes:
            out.print(safe(f"  {change}"))
    if report.dry_run:
        out.print(Text("Dry run: nothing was written. The first customers as they would be written:", style="bold"))
        from ..yamlsafe import dump

        for planned in report.created[:5]:
            out.print(safe(f"--- row {planned.row}", "dim"))
            out.print(safe(dump(jsonable(planned.meta)).rstrip()))
    summary = (f"{len(report.created)} new, {len(report.duplicates)} duplicates "
               f"({'merged' if report.merges else 'skipped'}), {len(report.rejects)} rejected")
    fix = "Fix those rows, or pass --skip-bad to import the others (--rejects FILE saves them)."
    if report.blocked:
        raise CrmError(f"{summary}; nothing was written because rows were rejected.", fix)
    if report.dry_run and not report.would_write:
        out.print(Text(f"{summary}: the real import would write nothing because rows were rejected. {fix}",
                       style="yellow"))
        return
    if report.followup_count:
        summary += f", {report.followup_count} past follow-up(s) as entries"
    verb = "would be imported" if report.dry_run else "imported"
    left_out = " (the rejected rows left out)" if report.rejects else ""
    out.print(Text(f"{summary}: {verb}{left_out}.", style="green" if not report.rejects else "yellow"))


# ------------------------------------------------------------------ export


@click.command(name="export")
@click.option("--format", "-f", "fmt", type=click.Choice(["csv", "xlsx", "json", "vcf", "ics"]), default=None,
              help="Output format (default: from the -o file's extension, else csv).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=None,
              help="Write to this file (default or '-': stdout; xlsx only to a file or a pipe).")
@click.option("--stage", default="", shell_complete=complete.stages, help="Only this stage.")
@click.option("--tag", default="", shell_complete=complete.tags, help="Only customers with this tag (or namespace/).")
@click.option("--owner", default="", help="Only this owner's customers.")
@click.option("--grade", default="", help="Only this grade.")
@click.option("--mine", is_flag=True, help="Only your customers.")
@click.option("--reveal", is_flag=True, help="Export phone numbers unmasked.")
@click.option("--until", default=None, metavar="YYYY-MM-DD", help="ics: follow-ups due up to this day "
              "(default: 30 days ahead).")
@click.option("--events/--todos", default=True, help="ics: events at the task's time with alarms (default), or to-dos.")
@click.option("--labels/--ids", default=None, help="csv/xlsx: stage, industry and other choices as labels (意向) "
              "or ids (intent); default: labels in a Chinese vault.")
@click.pass_context
def export_command(ctx: click.Context, fmt: str | None, output: Path | None, stage: str, tag: str, owner: str,
                   grade: str, mine: bool, reveal: bool, until: str | None, events: bool, labels: bool | None) -> None:
    """Export customers (CSV, XLSX, JSON, vCard) or due follow-ups (iCalendar)."""
    from datetime import timedelta

    from .. import actions
    from ..io import exporter
    from .common import parse_day, report_unreadable

    vault = open_vault(ctx)
    if output is not None and str(output) == "-":
        output = None
    suffix = output.suffix.lower().lstrip(".") if output else ""
    fmt = fmt or {"vcard": "vcf", "ical": "ics", "xls": "xlsx"}.get(suffix, suffix if suffix in exporter.FORMATS
                                                                   else "csv")
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        raise CrmError("XLSX cannot be written to the terminal.", "Pass -o FILE.xlsx, or pipe it.")
    filters = actions.Filters(stage=stage, tag=tag, owner=owner, grade=grade, mine_user=user_of(vault) if mine else "")
    # The listing's choice; only JSON and iCalendar need the follow-up texts, so only they read every file;
    # a table reads the stored fronts (no customer object made).
    if fmt in ("csv", "xlsx"):
        with catalog.bulk():  # a million cells made, none in a cycle: no collection walks them
            fronts, problems = catalog.exported_fronts(vault, filters, reveal=reveal)
            data = exporter.export_table(vault, fronts, fmt, reveal=reveal, labels=labels)
        report_unreadable(vault, problems)
        count, phones = len(fronts), exporter.has_phones(fronts)
    else:
        chosen = (catalog.customers if fmt in ("json", "ics") else catalog.exported)(vault, filters)
        report_unreadable(vault, chosen.problems)
        today = date.today()
        limit = parse_day(until, "--until") if until else today + timedelta(days=30)
        data = exporter.export(vault, chosen.customers, fmt, reveal=reveal, today=today, until=limit, events=events,
                               labels=labels)
        count, phones = len(chosen.customers), any(c.text("phone") for c in chosen.customers)
    if fmt == "vcf" and not reveal:
        print_warning("phone numbers are left out of the vCards; pass --reveal to include them.")
    elif fmt in ("csv", "xlsx", "json") and not reveal and phones:
        print_warning("phone numbers are masked (138****8000); pass --reveal to export them in full.")
    if output is None:
        write_export(data, fmt)
        return
    exporter.write_file(output, data)
    print_note(f"exported {count} customers to {output} ({fmt})")


@click.command(name="import-chat")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--customer", "ref", default="", help="The customer the whole chat is with (default: matched by the "
              "chat partner's remark name, contact, contacts: person or phone).")
@click.option("--me", default=None, help="Your name in the chat (default: you); your messages are signed with it.")
@click.option("--dry-run", is_flag=True, help="Show the entries; write nothing.")
@click.pass_context
def import_chat(ctx: click.Context, file: Path, ref: str, me: str | None, dry_run: bool) -> None:
    """Import a WeChat / WeCom chat export (forwarded 聊天记录 text, export tools' TXT or CSV) as wechat follow-ups."""
    from ..io.chat import plan_chat, read_messages, write_chat

    vault = open_vault(ctx)
    customer = catalog.resolve(vault, ref) if ref else None
    report = plan_chat(vault, read_messages(file), me=user_of(vault) if me is None else me, customer=customer)
    out = console()
    for target, followup in report.entries:
        first = followup.note.splitlines()[0] if followup.note else ""
        out.print(safe(f"{target.name}: {followup.at:%Y-%m-%d %H:%M} wechat · {first}"))
    for line in report.refused:
        print_warning(line)
    for partner, count in report.unmatched.items():
        print_warning(f"{count} message(s) with '{partner}' match no single customer; pass --customer REF "
                      "or add them as a contact ('crm contact').")
    if not dry_run:
        write_chat(vault, report)
    verb = "would be added" if dry_run else "added"
    out.print(safe(f"{len(report.entries)} conversation day(s) {verb}, {report.present} already there", "dim"))


COMMANDS: list[click.Command] = [deal, ticket, import_command, export_command, import_chat]
