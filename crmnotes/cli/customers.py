"""Commands about customers and follow-ups: init, add, log, show, edit, set, ls, due, check."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import catalog, workspace
from ..errors import CrmError
from ..filters import SORT_KEYS, Filters
from ..model import Customer, Problem, format_minute
from ..vault import Vault
from . import complete
from .common import (
    label,
    open_customer,
    open_vault,
    open_workspace,
    parse_assignments,
    parse_day,
    report_unreadable,
    user_of,
)
from .output import (
    Column,
    console,
    fitted_table,
    print_json,
    print_json_text,
    print_note,
    print_warning,
    prose_lines,
    safe,
)

if TYPE_CHECKING:  # `ls --json` / `due --json` load neither rich nor the use cases (note parser, rules)
    from rich.text import Text


SORT_CHOICES = [*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS)]


# ------------------------------------------------------------------ init


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--example", is_flag=True, help="Add sample customers (Chinese and English).")
@click.option("--user", default="", help="Who you are in this vault (your member id in crmnotes.yaml); "
              "kept in this clone's git config.")
def init(path: Path, example: bool, user: str) -> None:
    """Create a vault (a git repository) in PATH."""
    from rich.text import Text

    from .. import actions
    from ..sync.repo import init_repo

    root = actions.create_vault(path, example=example)
    init_repo(root)
    if user.strip():
        from ..identity import set_user

        set_user(root, user.strip())
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
@click.option("--stage", default="", shell_complete=complete.stages, help="Lifecycle stage (default: the first stage).")
@click.option("--grade", "-g", default="", help="Grade A / B / C.")
@click.option("--owner", "-o", default=None, help="Owner (default: you).")
@click.option("--tag", "-t", "tags", multiple=True, shell_complete=complete.tags,
              help="A tag such as budget/50k-plus (repeatable).")
@click.option("--field", "extra", multiple=True, metavar="KEY=VALUE", help="Any other field (repeatable).")
@click.option("--force", is_flag=True, help="Add even if it looks like an existing customer.")
@click.option("--json", "as_json", is_flag=True, help="Print the new customer as JSON.")
@click.pass_context
def add(ctx: click.Context, name: str, industry: str, contact: str, phone: str, email: str, source: str,
        stage: str, grade: str, owner: str | None, tags: tuple[str, ...], extra: tuple[str, ...],
        force: bool, as_json: bool) -> None:
    """Create a customer and print its ID."""
    from .. import actions

    ws = open_workspace(ctx)
    owner = user_of(ws.home) if owner is None else owner
    vault = ws.for_owner(owner).vault  # in a workspace: the owner's repository
    draft = actions.NewCustomer(
        name=name, industry=industry, contact=contact, phone=phone, email=email, source=source, stage=stage,
        grade=grade, owner=owner, tags=list(tags),
        extra=parse_assignments(extra),
    )
    customer = actions.add_customer(vault, draft, force=force)
    if as_json:
        print_json(actions.customer_json(vault, customer))
        return
    click.echo(customer.id)
    print_note(f"added {customer.name} -> {vault.relative(customer.path)}")


# ------------------------------------------------------------------ log


@click.command()
@click.argument("ref", shell_complete=complete.customer_names)
@click.option("--note", "-n", required=True, help="What was said (specific, not 'talked').")
@click.option("--channel", "-c", default="phone", show_default=True, help="phone, wechat, email, visit, meeting, ...")
@click.option("--at", default=None, metavar="'YYYY-MM-DD HH:MM'", help="When (default: now).")
@click.option("--by", default=None, help="Who followed up (default: you).")
@click.option("--next", "next_step", default="", metavar="'WHEN [@who] what'",
              help="The next step: '2026-12-05 15:00 @李娜 发送报价', '明天下午3点 回访', 'next monday call'.")
@click.option("--feedback", "-f", default="", help="The customer's feedback.")
@click.option("--stage", default="", shell_complete=complete.stages, help="Move the customer to this stage.")
@click.option("--json", "as_json", is_flag=True, help="Print the customer as JSON afterwards.")
@click.pass_context
def log(ctx: click.Context, ref: str, note: str, channel: str, at: str | None, by: str | None, next_step: str,
        feedback: str, stage: str, as_json: bool) -> None:
    """Append a follow-up to a customer."""
    from .. import actions

    vault, customer = open_customer(ctx, ref)
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
@click.argument("ref", shell_complete=complete.customer_names)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reveal", is_flag=True, help="Show phone numbers unmasked.")
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool, reveal: bool) -> None:
    """One customer with its follow-ups, deals and tickets."""
    from .. import actions

    vault, customer = open_customer(ctx, ref)
    if as_json:
        print_json(actions.customer_json(vault, customer, reveal=reveal))
        return
    render_customer(vault, customer, reveal)


def render_customer(vault: Vault, customer: Customer, reveal: bool) -> None:
    """Fields, then the notes, deals and tickets, then the follow-ups (in crmnotes.yaml's order)."""
    from rich.table import Table
    from rich.text import Text

    from .. import actions
    from ..notes import notes_text

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
    notes = notes_text(vault.read_document(customer.path))
    if notes:
        out.print(Text(f"\n{actions.word(vault, 'notes')}", style="bold"))
        for line in prose_lines(safe(notes), out.width, indent=0):
            out.print(line)
    for kind, items in (("deals", customer.deals), ("tickets", customer.tickets)):
        if items:
            headers, rows = actions.record_table(vault, kind, items)
            out.print(Text(f"\n{actions.word(vault, kind)}", style="bold"))
            out.print(fitted_table([Column(h, cut=i > 0, min_width=10) for i, h in enumerate(headers)],
                                   [[safe(cell) for cell in row] for row in rows]))
    followups = actions.followups_in_order(vault, customer)
    if followups:
        order = actions.word(vault, "newest-first" if vault.config.newest_first else "oldest-first")
        out.print(Text(f"\n{actions.word(vault, 'followups')} ({len(followups)}, {order})", style="bold"))
    for followup in followups:
        head = safe(actions.followup_when(followup), "cyan")
        head += safe(f"  {label(vault, 'channels', followup.channel)}  {followup.by}", "dim")
        if followup.stage_to:
            head += safe(f"  {label(vault, 'stages', followup.stage_from) or '?'} -> "
                         f"{label(vault, 'stages', followup.stage_to)}", "magenta")
        out.print(head)
        body = [safe(followup.note)]
        if followup.next_text:
            body.append(safe(f"{actions.word(vault, 'next')}: {followup.next_text}", "green"))
        if followup.feedback:
            body.append(safe(f"{actions.word(vault, 'feedback')}: {followup.feedback}", "yellow"))
        for part in body:
            for line in prose_lines(part, out.width):
                out.print(line)
    for problem in customer.problems:
        print_warning(f"{problem.location(vault.root)}: {problem.message}")


# ------------------------------------------------------------------ edit


@click.command()
@click.argument("ref", shell_complete=complete.customer_names)
@click.pass_context
def edit(ctx: click.Context, ref: str) -> None:
    """Open a customer's file in $EDITOR, then check it."""
    from .. import actions

    vault, customer = open_customer(ctx, ref)
    actions.run_editor(customer.path)
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
@click.argument("args", nargs=-1, required=True, metavar="[REF...] FIELD=VALUE...",
                shell_complete=complete.customer_names)
@click.option("--query", "-q", default="", help="Change every customer this search finds (the syntax of "
              "'crm search', e.g. 'tag:risk/高 owner:张伟').")
@click.option("--yes", "-y", is_flag=True, help="Change several customers without asking first.")
@click.option("--json", "as_json", is_flag=True, help="Print the customer(s) as JSON afterwards.")
@click.pass_context
def set_command(ctx: click.Context, args: tuple[str, ...], query: str, yes: bool, as_json: bool) -> None:
    """Change fields (an empty VALUE removes the field; tags+=x and tags-=x add and remove tags).

    \b
    Several customers at once: give several REFs or --query; the changes are
    shown first and asked for (--yes skips the question).
    """
    from .. import actions

    refs = [a for a in args if "=" not in a]
    raw = parse_assignments([a for a in args if "=" in a])
    if not raw:
        raise CrmError("nothing to set.", "Add FIELD=VALUE, e.g. grade=A or tags+=risk/高.")
    if not refs and not query:
        raise CrmError("no customer named.", "Give a REF (ID, name or path) or --query.")
    ws = open_workspace(ctx)
    if len(refs) == 1 and not query:  # in a workspace: the customer's mount, wherever it is
        mount, found = ws.resolve(refs[0])
        vault, customers = mount.vault, [found]
    else:
        vault = ws.home
        customers = chosen_customers(vault, refs, query)
    if len(customers) > 1 or query:
        changes = actions.preview_set(vault, customers, raw)  # validates every customer before any write
        for customer, diff in changes:
            print_note(f"{customer.name} ({customer.id}): " + "; ".join(f"{k} {old or '(empty)'} → {new or '(removed)'}"
                                                                        for k, old, new in diff))
        if not yes and not click.confirm(f"Change {len(customers)} customer(s)?", default=False, err=True):
            raise CrmError("nothing was changed.")
    updated = [actions.set_fields(vault, c, actions.list_edits(c, raw)) for c in customers]
    if as_json:
        print_json(actions.customer_json(vault, updated[0]) if len(updated) == 1 and not query
                   else [actions.customer_json(vault, c) for c in updated])
        return
    for customer in updated:
        print_note(f"updated {customer.name}: {', '.join(raw)}")
    if ws.mounted and "owner" in raw and len(updated) == 1:  # the new owner's customers may live elsewhere
        here, there = ws.mount_of(updated[0].path), ws.for_owner(updated[0].owner)
        if there.owners and there is not here:
            print_note(f"{updated[0].owner}'s customers are in mount '{there.name}': "
                       f"'crm move {updated[0].id} --to {there.name}' moves it there")


def chosen_customers(vault: Vault, refs: list[str], query: str) -> list[Customer]:
    """The customers REFs and a search name, each once, in the order given."""
    found: dict[Path, Customer] = {}
    pool = catalog.report_customers(vault).customers if len(refs) > 1 else None
    for ref in refs:
        customer = vault.resolve(ref, pool)
        if customer.path not in found:  # a summary of the listing: the change is made to the whole file
            found[customer.path] = vault.read(customer.path) if pool is not None else customer
    if query:
        from .. import search as engine

        for hit in engine.search(vault, query, limit=100_000):
            found.setdefault(hit.customer.path, vault.read(hit.customer.path))
        if not found:
            raise CrmError(f"no customer matches '{query}'.", "Check the query with 'crm search'.")
    return list(found.values())


# ------------------------------------------------------------------ ls


@click.command(name="ls")
@click.option("--stage", default="", shell_complete=complete.stages, help="Only this stage (silent is computed).")
@click.option("--tag", default="", shell_complete=complete.tags,
              help="Only customers with this tag (or namespace, e.g. needs/).")
@click.option("--owner", default="", help="Only this owner's customers.")
@click.option("--grade", default="", help="Only this grade.")
@click.option("--mine", is_flag=True, help="Only your customers.")
@click.option("--sort", default="name", show_default=True, type=click.Choice(SORT_CHOICES),
              help="Sort column (prefix - to reverse).")
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
    ws = open_workspace(ctx, lazy_config=as_json and not full)
    vault = ws.home
    filters = Filters(stage=stage, tag=tag, owner=owner, grade=grade, mine_user=user_of(vault) if mine else "")
    if as_json and full:  # every follow-up: customer objects, chosen like every list
        print_json(_full_listing(ws, filters, sort, limit, reveal))
        return
    if as_json:  # spliced from the cache's serialized keys: no customer objects
        from .output import print_json_parts

        parts, problems = workspace.listing_json_parts(ws, filters, sort, limit, reveal=reveal)
        report_unreadable(vault, problems)
        print_json_parts(parts, escaped=True)
        return
    from rich.text import Text

    today = date.today()
    found, problems = workspace.entries(ws, filters, sort, today, limit)
    report_unreadable(vault, problems)
    rows = []
    for mount, entry in found:
        answer = entry.on(today)
        when = answer.due_on(today)
        last = entry.last_contact
        rows.append([
            safe(entry.name, "bold"), safe(label(vault, "stages", answer.stage)), safe(entry.grade),
            safe(entry.owner), safe(entry.contact), safe(entry.phone if reveal else entry.masked_phone),
            safe(last.date().isoformat() if last else ""), due_text(when, today), safe(", ".join(entry.tags)),
            *([safe(mount.name)] if ws.mounted else []),
        ])
    console().print(fitted_table(LS_COLUMNS + ([MOUNT_COLUMN] if ws.mounted else []), rows))
    console().print(Text(f"{len(found)} customer{'s' if len(found) != 1 else ''}", style="dim"))


def _full_listing(ws: workspace.Workspace, filters: Filters, sort: str, limit: int, reveal: bool
                  ) -> list[dict[str, object]]:
    """``ls --json --full``: every mount's chosen customers whole, in one vault's order."""
    from .. import actions

    chosen: list[tuple[workspace.Mount, Customer]] = []
    for mount in ws.mounts:
        scan = catalog.load(mount.vault)
        report_unreadable(mount.vault, scan.problems)
        chosen += [(mount, c) for c in actions.list_customers(mount.vault, filters, sort, customers=scan.customers)]
    if ws.mounted:
        from ..due import answer
        from ..filters import sort_key

        day = date.today()
        config_of = {id(c): mount.vault.config for mount, c in chosen}  # each customer's due rules are its mount's
        key = sort_key(sort, lambda c: answer(c, config_of[id(c)], day).due_on(day))  # asked only by "next"
        chosen.sort(key=lambda pair: key(pair[1]), reverse=sort.startswith("-"))
    return [{**actions.customer_json(mount.vault, c, reveal=reveal), **({"mount": mount.name} if ws.mounted else {})}
            for mount, c in (chosen[:limit] if limit > 0 else chosen)]


LS_COLUMNS = [Column("name", cut=True, min_width=24), Column("stage"), Column("grade"), Column("owner", drop=1),
              Column("contact", drop=3, cut=True, min_width=8), Column("phone", drop=4), Column("last contact"),
              Column("next"), Column("tags", drop=2, cut=True, min_width=20)]
MOUNT_COLUMN = Column("mount", drop=1)  # who may see it: kept before contact and phone
DUE_COLUMNS = [Column("due"), Column("status"), Column("name", cut=True, min_width=14), Column("owner", drop=1),
               Column("stage"), Column("why", cut=True, min_width=28)]


def due_text(due: date | None, today: date) -> Text:
    from rich.text import Text

    from ..due import status_of

    if due is None:
        return Text("")
    style = {"overdue": "red", "due": "yellow"}.get(status_of(due, today), "")
    return Text(due.isoformat(), style=style)


# ------------------------------------------------------------------ due


@click.command()
@click.option("--on", "on_day", default=None, metavar="YYYY-MM-DD", help="Due on or before this day (default today).")
@click.option("--owner", default="", help="Only this owner's customers.")
@click.option("--mine", is_flag=True, help="Only your customers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def due(ctx: click.Context, on_day: str | None, owner: str, mine: bool, as_json: bool) -> None:
    """Customers due or overdue for a follow-up, and why."""
    ws = open_workspace(ctx, lazy_config=as_json)
    vault = ws.home
    day = parse_day(on_day, "--on")
    who = owner or (user_of(vault) if mine else "")
    if as_json:
        text, problems = workspace.due_json(ws, day, who)
        report_unreadable(vault, problems)
        print_json_text(text, escaped=True)
        return
    from rich.text import Text

    items, problems = workspace.due(ws, day, who)
    report_unreadable(vault, problems)
    rows = []
    for mount, item in items:
        status = item.status(day)
        days = item.days_overdue(day)
        shown = f"{status} {days}d" if status == "overdue" else status
        rows.append([due_text(item.due, day), safe(shown, "red" if status == "overdue" else "yellow"),
                     safe(item.entry.name, "bold"), safe(item.entry.owner),
                     safe(label(vault, "stages", item.stage)), safe(item.reason),
                     *([safe(mount.name)] if ws.mounted else [])])
    console().print(fitted_table(DUE_COLUMNS + ([MOUNT_COLUMN] if ws.mounted else []), rows))
    console().print(Text(f"{len(items)} due on or before {day.isoformat()}", style="dim"))


# ------------------------------------------------------------------ check


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--fix", is_flag=True, help="First apply every safe fix (missing ids, labels to ids, phones to "
              "E.164, typos of choices), printing each change.")
@click.option("--dry-run", is_flag=True, help="With --fix: print the changes without writing them.")
@click.pass_context
def check(ctx: click.Context, as_json: bool, fix: bool, dry_run: bool) -> None:
    """Validate the vault; exit 1 when anything is wrong."""
    from rich.text import Text

    from .. import actions
    from ..sync.guard import other_file_problems
    from ..sync.state import repo_problems

    vault = open_vault(ctx)
    if dry_run and not fix:
        raise CrmError("--dry-run goes with --fix.", "Run 'crm check --fix --dry-run'.")
    fixed: list[dict[str, object]] = []
    if fix:
        fixed = fix_vault(vault, dry_run, quiet=as_json)
        if dry_run:
            if as_json:
                print_json({"dry_run": True, "fixes": fixed})
            return
    passed: list[str] = []  # one walk of customers/ serves both looks
    problems = repo_problems(vault.root) + actions.check_vault(vault, passed)
    problems += other_file_problems(vault.root, passed)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        print_json({"ok": not errors, "errors": len(errors), "warnings": len(problems) - len(errors),
                    "problems": [p.to_json(vault.root) for p in problems], **({"fixes": fixed} if fix else {})})
    else:
        print_problems(vault, problems)
        if not problems:
            console().print(Text("All customer files are valid.", style="green"))
    if errors:
        ctx.exit(1)


def fix_vault(vault: Vault, dry_run: bool, quiet: bool) -> list[dict[str, object]]:
    """Print (and unless ``dry_run`` apply) every safe fix; the fixes as JSON rows."""
    from rich.text import Text

    from .. import fixes

    planned = fixes.vault_fixes(vault)
    out = console()

    def show(item: fixes.Fix) -> None:
        if not quiet:
            out.print(safe(item.describe(vault)))

    if dry_run:
        for item in planned:
            show(item)
        done = planned
    else:
        done = fixes.apply_fixes(vault, planned, show)
    if not quiet:
        verb = "would change" if dry_run else "changed"
        files = len({f.path for f in done})
        out.print(Text(f"{len(done)} fix(es): {verb} {files} file(s)", style="dim"))
    return [{"path": vault.relative(f.path), "field": f.field, "old": str(f.old) if f.old is not None else None,
             "new": str(f.new), "why": f.why} for f in done]


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


@click.command(name="rm")
@click.argument("ref")
@click.pass_context
def rm(ctx: click.Context, ref: str) -> None:
    """Archive a customer: its file moves to archive/ (kept in git history, never deleted)."""
    from .. import actions

    vault, customer = open_customer(ctx, ref)
    target = actions.archive_customer(vault, customer)
    print_note(f"archived {customer.name}: {vault.relative(customer.path)} → {vault.relative(target)}")


@click.command(name="contact")
@click.argument("ref")
@click.argument("name")
@click.option("--role", default="", help="Their role, e.g. 决策人, 技术负责人, 采购.")
@click.option("--phone", default="", help="Their phone (stored as E.164, shown masked).")
@click.option("--email", default="", help="Their e-mail.")
@click.pass_context
def contact(ctx: click.Context, ref: str, name: str, role: str, phone: str, email: str) -> None:
    """Add a person to a customer's contacts (or update the one of that name)."""
    from .. import actions

    vault, customer = open_customer(ctx, ref)
    updated = actions.add_contact(vault, customer, name, role, phone, email)
    print_note(f"{updated.name}: contact {name} saved ({len(updated.meta.get('contacts') or [])} in all)")


COMMANDS = [init, add, log, show, edit, set_command, ls, due, check, rm, contact]
