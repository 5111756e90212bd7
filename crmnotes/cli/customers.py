"""Commands about customers and follow-ups: init, add, log, show, edit, set, ls, due, check."""

from __future__ import annotations

import os
import shlex
import subprocess
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import catalog
from ..errors import CrmError
from ..filters import Filters
from ..identity import vault_user
from ..model import Customer, Problem, format_minute
from ..vault import Vault
from .output import console, print_json, print_json_text, print_warning, safe

if TYPE_CHECKING:  # `ls --json` / `due --json` load neither rich nor the use cases (note parser, rules)
    from rich.table import Table
    from rich.text import Text


def open_vault(ctx: click.Context, *, lazy_config: bool = False) -> Vault:
    """The vault of ``--vault`` or the current folder; ``lazy_config`` parses crmnotes.yaml only
    when something needs it (``ls --json`` / ``due --json`` answered from the listing cache do not)."""
    from ..sync.repo import ensure_repo_setup  # cheap: reads .git/config, imports no GitPython

    vault = Vault.find(ctx.find_root().obj.get("vault_path"), lazy_config=lazy_config)
    ensure_repo_setup(vault.root)
    return vault


def user_of(vault: Vault) -> str:
    return vault_user(vault.root, vault.config.user)


def parse_day(value: str | None, option: str) -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CrmError(f"{option} '{value}' is not a date.", "Use YYYY-MM-DD.") from None


def label(vault: Vault, list_name: str, value: str) -> str:
    from ..actions import choice_label

    return choice_label(vault, list_name, value)


# ------------------------------------------------------------------ init


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--example", is_flag=True, help="Add sample customers (Chinese and English).")
def init(path: Path, example: bool) -> None:
    """Create a vault (a git repository) in PATH."""
    from rich.text import Text

    from .. import actions
    from ..sync.repo import init_repo

    root = actions.create_vault(path, example=example)
    init_repo(root)
    count = sum(1 for _ in Path(root, "customers").rglob("*.md"))
    console().print(Text(f"Created vault {root}", style="bold") + safe(f" ({count} customers)" if example else ""))
    console().print(Text("Next: cd into it and run 'crm add NAME --industry I --contact C --phone P'.", style="dim"))


# ------------------------------------------------------------------ add


@click.command()
@click.argument("name")
@click.option("--industry", "-i", default="", help="Industry (id, label or alias from crmnotes.yaml).")
@click.option("--contact", "-c", default="", help="Contact person.")
@click.option("--phone", "-p", default="", help="Phone; normalized to E.164 with the vault's region.")
@click.option("--email", "-e", default="", help="Email address.")
@click.option("--source", "-s", default="", help="Where the customer came from (trade-show, referral, ...).")
@click.option("--stage", default="", help="Lifecycle stage (default: the first stage).")
@click.option("--grade", "-g", default="", help="Grade A / B / C.")
@click.option("--owner", "-o", default=None, help="Owner (default: you).")
@click.option("--tag", "-t", "tags", multiple=True, help="A tag such as budget/50k-plus (repeatable).")
@click.option("--field", "extra", multiple=True, metavar="KEY=VALUE", help="Any other field (repeatable).")
@click.option("--force", is_flag=True, help="Add even if it looks like an existing customer.")
@click.option("--json", "as_json", is_flag=True, help="Print the new customer as JSON.")
@click.pass_context
def add(ctx: click.Context, name: str, industry: str, contact: str, phone: str, email: str, source: str,
        stage: str, grade: str, owner: str | None, tags: tuple[str, ...], extra: tuple[str, ...],
        force: bool, as_json: bool) -> None:
    """Create a customer and print its ID."""
    from .. import actions

    vault = open_vault(ctx)
    draft = actions.NewCustomer(
        name=name, industry=industry, contact=contact, phone=phone, email=email, source=source, stage=stage,
        grade=grade, owner=user_of(vault) if owner is None else owner, tags=list(tags),
        extra=parse_assignments(extra),
    )
    customer = actions.add_customer(vault, draft, force=force)
    if as_json:
        print_json(actions.customer_json(vault, customer))
        return
    click.echo(customer.id)
    print_note(f"added {customer.name} -> {vault.relative(customer.path)}")


def parse_assignments(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CrmError(f"'{item}' is not FIELD=VALUE.", "Write it like grade=A or tags=a,b (empty value removes).")
        result[key.strip()] = value
    return result


def print_note(message: str) -> None:
    from .output import error_console

    error_console().print(safe(message, "dim"))


# ------------------------------------------------------------------ log


@click.command()
@click.argument("ref")
@click.option("--note", "-n", required=True, help="What was said (specific, not 'talked').")
@click.option("--channel", "-c", default="phone", show_default=True, help="phone, wechat, email, visit, meeting, ...")
@click.option("--at", default=None, metavar="'YYYY-MM-DD HH:MM'", help="When (default: now).")
@click.option("--by", default=None, help="Who followed up (default: you).")
@click.option("--next", "next_step", default="", metavar="'WHEN [@who] what'",
              help="The next step: '2026-12-05 15:00 @李娜 发送报价', '明天下午3点 回访', 'next monday call'.")
@click.option("--feedback", "-f", default="", help="The customer's feedback.")
@click.option("--stage", default="", help="Move the customer to this stage.")
@click.option("--json", "as_json", is_flag=True, help="Print the customer as JSON afterwards.")
@click.pass_context
def log(ctx: click.Context, ref: str, note: str, channel: str, at: str | None, by: str | None, next_step: str,
        feedback: str, stage: str, as_json: bool) -> None:
    """Append a follow-up to a customer."""
    from .. import actions

    vault = open_vault(ctx)
    customer = vault.resolve(ref)
    entry = actions.LogEntry(note=note, channel=channel, at=at, by=user_of(vault) if by is None else by,
                             next=next_step, feedback=feedback, stage=stage)
    updated = actions.log_followup(vault, customer, entry)
    if as_json:
        print_json(actions.customer_json(vault, updated))
        return
    before = {(f.at, f.note) for f in customer.followups}
    added = [f for f in updated.followups if (f.at, f.note) not in before]
    latest = added[0] if added else max(updated.followups, key=lambda f: f.at)
    moved = f", stage {latest.stage_from} -> {latest.stage_to}" if latest.stage_to else ""
    print_note(f"logged {latest.channel} follow-up on {updated.name} at {format_minute(latest.at)}{moved}")


# ------------------------------------------------------------------ show


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reveal", is_flag=True, help="Show phone numbers unmasked.")
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool, reveal: bool) -> None:
    """One customer with its follow-ups, deals and tickets."""
    from .. import actions

    vault = open_vault(ctx)
    customer = vault.resolve(ref)
    if as_json:
        print_json(actions.customer_json(vault, customer, reveal=reveal))
        return
    render_customer(vault, customer, reveal)


def render_customer(vault: Vault, customer: Customer, reveal: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from .. import actions

    today = date.today()
    out = console()
    out.print(safe(customer.name, "bold") + safe(f"  {customer.id}", "dim"))
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="dim")
    fields.add_column()
    for key, value in actions.display_fields(vault, customer, today, reveal=reveal):
        fields.add_row(key, safe(value))
    out.print(fields)
    out.print(safe(vault.relative(customer.path), "dim"))
    for title, items in (("Deals", customer.deals), ("Tickets", customer.tickets)):
        if items:
            out.print(Text(f"\n{title}", style="bold"))
            for item in items:
                out.print(safe("  " + ", ".join(f"{k}: {v}" for k, v in item.items())))
    if customer.followups:
        out.print(Text(f"\nFollow-ups ({len(customer.followups)})", style="bold"))
    for followup in customer.followups:
        head = safe(format_minute(followup.at).replace("T", " "), "cyan")
        head += safe(f"  {label(vault, 'channels', followup.channel)}  {followup.by}", "dim")
        if followup.stage_to:
            head += safe(f"  {followup.stage_from or '?'} -> {followup.stage_to}", "magenta")
        out.print(head)
        for line in followup.note.splitlines():
            out.print(safe("  " + line))
        if followup.next_text:
            out.print(safe(f"  next: {followup.next_text}", "green"))
        if followup.feedback:
            out.print(safe(f"  feedback: {followup.feedback}", "yellow"))
    for problem in customer.problems:
        print_warning(f"{problem.location(vault.root)}: {problem.message}")


# ------------------------------------------------------------------ edit


@click.command()
@click.argument("ref")
@click.pass_context
def edit(ctx: click.Context, ref: str) -> None:
    """Open a customer's file in $EDITOR, then check it."""
    from .. import actions

    vault = open_vault(ctx)
    customer = vault.resolve(ref)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or ("notepad" if os.name == "nt" else "vi")
    try:
        subprocess.run([*shlex.split(editor), str(customer.path)], check=False)
    except OSError as exc:
        raise CrmError(f"cannot start the editor '{editor}' ({exc.strerror}).", "Set $EDITOR to your editor.") from None
    try:
        edited = vault.read(customer.path)
    except CrmError as exc:
        raise CrmError(f"{exc.message} Your edit is saved as it is.", "Run 'crm edit' again to fix it.") from None
    problems = edited.problems + actions.check_customer(vault, edited)
    print_problems(vault, problems)
    if any(p.severity == "error" for p in problems):
        ctx.exit(1)


# ------------------------------------------------------------------ set


@click.command(name="set")
@click.argument("ref")
@click.argument("assignments", nargs=-1, required=True, metavar="FIELD=VALUE...")
@click.option("--json", "as_json", is_flag=True, help="Print the customer as JSON afterwards.")
@click.pass_context
def set_command(ctx: click.Context, ref: str, assignments: tuple[str, ...], as_json: bool) -> None:
    """Change fields (an empty VALUE removes the field)."""
    from .. import actions

    vault = open_vault(ctx)
    customer = vault.resolve(ref)
    updated = actions.set_fields(vault, customer, parse_assignments(assignments))
    if as_json:
        print_json(actions.customer_json(vault, updated))
        return
    print_note(f"updated {updated.name}: {', '.join(parse_assignments(assignments))}")


# ------------------------------------------------------------------ ls


@click.command(name="ls")
@click.option("--stage", default="", help="Only this stage (silent is computed).")
@click.option("--tag", default="", help="Only customers with this tag (or namespace, e.g. needs/).")
@click.option("--owner", default="", help="Only this owner's customers.")
@click.option("--grade", default="", help="Only this grade.")
@click.option("--mine", is_flag=True, help="Only your customers.")
@click.option("--sort", default="name", show_default=True, help="name, created, last, stage, grade, owner, next "
              "(prefix - to reverse).")
@click.option("--limit", type=int, default=0, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: every key of `crm show --json` except the "
              "follow-up texts (followup_count and last_contact instead).")
@click.option("--full", is_flag=True, help="With --json: the complete shape of `crm show --json`, follow-ups included.")
@click.option("--reveal", is_flag=True, help="Show phone numbers unmasked.")
@click.pass_context
def ls(ctx: click.Context, stage: str, tag: str, owner: str, grade: str, mine: bool, sort: str, limit: int,
       as_json: bool, full: bool, reveal: bool) -> None:
    """List customers.

    \b
    --json prints one object per customer: the keys of `crm show --json`
    without `followups`, plus `followup_count`; --json --full adds the
    follow-ups (slower: every entry of every customer).
    """
    vault = open_vault(ctx, lazy_config=as_json and not full)
    filters = Filters(stage=stage, tag=tag, owner=owner, grade=grade, mine_user=user_of(vault) if mine else "")
    if as_json and full:  # every follow-up: customer objects, chosen like every list
        from .. import actions

        scan = catalog.load(vault)
        customers = actions.list_customers(vault, filters, sort, customers=scan.customers)
        report_unreadable(vault, scan.problems)
        chosen = customers[:limit] if limit > 0 else customers
        print_json([actions.customer_json(vault, c, reveal=reveal) for c in chosen])
        return
    if as_json:  # spliced from the cache's serialized keys: no customer objects
        text, problems = catalog.listing_json(vault, filters, sort, limit, reveal=reveal)
        report_unreadable(vault, problems)
        print_json_text(text)
        return
    from rich.text import Text

    today = date.today()
    listing = catalog.entries(vault, filters, sort, today, limit)
    report_unreadable(vault, listing.problems)
    customers = listing.entries
    rows = []
    for entry in customers:
        found = entry.on(today)
        when = found.due_on(today)
        last = entry.last_contact
        rows.append([
            safe(entry.name, "bold"), safe(label(vault, "stages", found.stage)), safe(entry.grade),
            safe(entry.owner), safe(entry.contact), safe(entry.phone if reveal else entry.masked_phone),
            safe(last.date().isoformat() if last else ""), due_text(when, today), safe(", ".join(entry.tags)),
        ])
    headers = ["name", "stage", "grade", "owner", "contact", "phone", "last contact", "next", "tags"]
    console().print(fitted_table(headers, rows, flexible={"name", "contact", "tags"},
                                 droppable=("phone", "contact", "tags", "owner")))
    console().print(Text(f"{len(customers)} customer{'s' if len(customers) != 1 else ''}", style="dim"))


def fitted_table(
    headers: list[str], rows: list[list[Text]], flexible: set[str], droppable: tuple[str, ...] = ()
) -> Table:
    """A table for the terminal's width: short columns (dates, stages) keep
    their width, ``flexible`` ones shrink or wrap, and ``droppable`` ones are
    left out, in that order, when even that does not fit."""
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table

    widths = [max([cell_len(h), *(row[i].cell_len for row in rows)]) for i, h in enumerate(headers)]
    shown = list(range(len(headers)))

    def needed() -> int:
        return sum(min(widths[i], 8) if headers[i] in flexible else widths[i] for i in shown) + 2 * len(shown)

    for name in droppable:
        if needed() <= console().width:
            break
        shown.remove(headers.index(name))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for i in shown:
        header = headers[i]
        if header in flexible:
            wraps = header != "name"
            table.add_column(header, overflow="fold" if wraps else "ellipsis", no_wrap=not wraps,
                             min_width=min(widths[i], 8))
        else:
            table.add_column(header, no_wrap=True, min_width=widths[i])
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


def due_text(due: date | None, today: date) -> Text:
    from rich.text import Text

    from ..due import status_of

    if due is None:
        return Text("")
    style = {"overdue": "red", "due": "yellow"}.get(status_of(due, today), "")
    return Text(due.isoformat(), style=style)


def report_unreadable(vault: Vault, problems: list[Problem]) -> None:
    for problem in problems:
        print_warning(f"{problem.location(vault.root)}: {problem.message}")


# ------------------------------------------------------------------ due


@click.command()
@click.option("--on", "on_day", default=None, metavar="YYYY-MM-DD", help="Due on or before this day (default today).")
@click.option("--owner", default="", help="Only this owner's customers.")
@click.option("--mine", is_flag=True, help="Only your customers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def due(ctx: click.Context, on_day: str | None, owner: str, mine: bool, as_json: bool) -> None:
    """Customers due or overdue for a follow-up, and why."""
    vault = open_vault(ctx, lazy_config=as_json)
    day = parse_day(on_day, "--on")
    who = owner or (user_of(vault) if mine else "")
    if as_json:
        text, problems = catalog.due_json(vault, day, who)
        report_unreadable(vault, problems)
        print_json_text(text)
        return
    from rich.text import Text

    items, problems = catalog.due(vault, day, who)
    report_unreadable(vault, problems)
    rows = []
    for item in items:
        status = item.status(day)
        days = item.days_overdue(day)
        shown = f"{status} {days}d" if status == "overdue" else status
        rows.append([due_text(item.due, day), safe(shown, "red" if status == "overdue" else "yellow"),
                     safe(item.entry.name, "bold"), safe(item.entry.owner),
                     safe(label(vault, "stages", item.stage)), safe(item.reason)])
    console().print(fitted_table(["due", "status", "name", "owner", "stage", "why"], rows, flexible={"name", "why"}))
    console().print(Text(f"{len(items)} due on or before {day.isoformat()}", style="dim"))


# ------------------------------------------------------------------ check


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Validate the vault; exit 1 when anything is wrong."""
    from rich.text import Text

    from .. import actions
    from ..sync.state import repo_problems

    vault = open_vault(ctx)
    problems = repo_problems(vault.root) + actions.check_vault(vault)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        print_json({"ok": not errors, "errors": len(errors), "warnings": len(problems) - len(errors),
                    "problems": [p.to_json(vault.root) for p in problems]})
    else:
        print_problems(vault, problems)
        if not problems:
            console().print(Text("All customer files are valid.", style="green"))
    if errors:
        ctx.exit(1)


def print_problems(vault: Vault, problems: list[Problem]) -> None:
    from rich.text import Text

    out = console()
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        out.print(safe(problem.location(vault.root), "bold") + Text(f" {problem.severity}: ", style=style)
                  + safe(problem.message))
    if problems:
        errors = sum(p.severity == "error" for p in problems)
        out.print(Text(f"{errors} error(s), {len(problems) - errors} warning(s)", style="dim"))


COMMANDS = [init, add, log, show, edit, set_command, ls, due, check]
