"""Commands for what comes to you: tasks, done, snooze, reassign (and the agenda, calendar and reminders).

Each parses its options, calls ``crmnotes.tasks`` and friends, and prints; no rules live here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import catalog
from .. import tasks as task_lib
from ..config import fold
from ..model import Customer
from ..vault import Vault
from ..when import parse_when_text
from .common import open_customer, open_vault, parse_day, report_unreadable, user_of
from .output import console, fitted_table, print_json, print_note, ranked_columns, safe

if TYPE_CHECKING:
    from rich.text import Text


def _today(value: str | None) -> date:
    return parse_day(value, "--on")


def _task_rows(found: list[task_lib.Task], today: date) -> list[list[Text]]:
    rows = []
    for task in found:
        status = task.status(today)
        days = (today - task.day).days
        shown = f"{status} {days}d" if status == "overdue" else status
        style = "red" if status == "overdue" else "yellow" if status == "due" else ""
        rows.append([safe(task.when_text()), safe(shown, style), safe(task.customer.name, "bold"),
                     safe(task.assignee), safe(task.what)])
    return rows


@click.command()
@click.option("--mine", is_flag=True, help="Only the tasks assigned to you.")
@click.option("--assignee", default="", help="Only the tasks assigned to this person.")
@click.option("--overdue", is_flag=True, help="Only the tasks due today or earlier.")
@click.option("--on", "on_day", default=None, metavar="YYYY-MM-DD", help="Count as if today were this day.")
@click.option("--json", "as_json", is_flag=True, help="Print the tasks as JSON.")
@click.pass_context
def tasks(ctx: click.Context, mine: bool, assignee: str, overdue: bool, on_day: str | None, as_json: bool) -> None:
    """Open next steps (tasks) with customer, time and assignee, earliest first."""
    from rich.text import Text

    vault = open_vault(ctx)
    today = _today(on_day)
    scanned = catalog.report_customers(vault)
    report_unreadable(vault, scanned.problems)
    who = assignee or (user_of(vault) if mine else "")
    found = task_lib.open_tasks(scanned.customers, assignee=who, due_by=today if overdue else None)
    if as_json:
        print_json([task.to_json(vault, today) for task in found])
        return
    columns = ranked_columns(["when", "status", "customer", "assignee", "what"], {"customer", "what"})
    console().print(fitted_table(columns, _task_rows(found, today)))
    console().print(Text(f"{len(found)} open task(s)", style="dim"))


@click.command()
@click.argument("ref")
@click.argument("what", default="")
@click.option("--by", default=None, help="Who did it (default: you).")
@click.pass_context
def done(ctx: click.Context, ref: str, what: str, by: str | None) -> None:
    """Mark a customer's open next step done (all of them when WHAT is not given)."""
    def close(vault: Vault, customer: Customer) -> list[str]:
        _, closed = task_lib.close_tasks(vault, customer, what=what, by=by if by is not None else user_of(vault))
        return [f"done: {customer.name} · {task.when_text()} {task.what}".rstrip() for task in closed]

    _change_task(ctx, ref, close)


@click.command()
@click.argument("ref")
@click.argument("when")
@click.option("--what", default="", help="Which open step (part of its text) when the customer has several.")
@click.pass_context
def snooze(ctx: click.Context, ref: str, when: str, what: str) -> None:
    """Move a customer's open next step to WHEN (明天, next monday, 12-05 15:00, ...)."""
    moment = parse_when_text(when, date.today())

    def move(vault: Vault, customer: Customer) -> list[str]:
        task_lib.replan_task(vault, customer, what=what, when=moment.moment(), has_time=moment.at is not None,
                             by=user_of(vault))
        return [f"moved: {customer.name} → {moment.text()}"]

    _change_task(ctx, ref, move)


@click.command()
@click.argument("ref")
@click.argument("assignee")
@click.option("--what", default="", help="Which open step (part of its text) when the customer has several.")
@click.pass_context
def reassign(ctx: click.Context, ref: str, assignee: str, what: str) -> None:
    """Hand a customer's open next step to ASSIGNEE (@李娜 or 李娜)."""
    def hand_over(vault: Vault, customer: Customer) -> list[str]:
        task_lib.replan_task(vault, customer, what=what, assignee=assignee, by=user_of(vault), now=datetime.now())
        return [f"reassigned: {customer.name} → {assignee.lstrip('@')}"]

    _change_task(ctx, ref, hand_over)


def _change_task(ctx: click.Context, ref: str, change: Callable[[Vault, Customer], list[str]]) -> None:
    """The body of done / snooze / reassign: resolve REF, make the change, print what it says it did."""
    vault, customer = open_customer(ctx, ref)
    for line in change(vault, customer):
        console().print(line)


@click.command()
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 366), help="How many days ahead.")
@click.option("--mine", is_flag=True, help="Only what is yours.")
@click.option("--on", "on_day", default=None, metavar="YYYY-MM-DD", help="Count as if today were this day.")
@click.option("--json", "as_json", is_flag=True, help="Print the agenda as JSON.")
@click.pass_context
def agenda(ctx: click.Context, days: int, mine: bool, on_day: str | None, as_json: bool) -> None:
    """Overdue, today and the coming days: tasks and due customers by time."""
    from rich.text import Text

    from ..agenda import SECTIONS
    from ..agenda import agenda as agenda_of

    vault = open_vault(ctx)
    today = _today(on_day)
    scanned = catalog.report_customers(vault)
    report_unreadable(vault, scanned.problems)
    items = agenda_of(scanned.customers, vault.config, today, days, user_of(vault) if mine else "")
    if as_json:
        print_json([item.to_json(vault, today) for item in items])
        return
    titles = {"overdue": "Overdue", "today": f"Today {today.isoformat()}", "upcoming": f"Next {days - 1} days"}
    for section in SECTIONS:
        part = [i for i in items if i.section(today) == section]
        if not part:
            continue
        rows = [[safe(i.when_text(), "red" if section == "overdue" else ""), safe(i.customer.name, "bold"),
                 safe(i.who), safe(i.rule), safe(i.what)] for i in part]
        console().print(Text(titles[section], style="bold underline"))
        columns = ranked_columns(["when", "customer", "who", "kind", "what"], {"customer", "what"})
        console().print(fitted_table(columns, rows))
    console().print(Text(f"{len(items)} item(s) up to {days} day(s) from {today.isoformat()}", style="dim"))


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The feed file (default: .crmnotes/calendar.ics in the vault).")
@click.option("--days", default=60, show_default=True, type=click.IntRange(1, 3660), help="How many days ahead.")
@click.option("--mine", is_flag=True, help="Only your customers.")
@click.option("--reveal", is_flag=True, help="Phone numbers unmasked.")
@click.pass_context
def calendar(ctx: click.Context, output: Path | None, days: int, mine: bool, reveal: bool) -> None:
    """Write the agenda as an iCalendar feed (events with alarms) for a calendar app to subscribe to.

    The default feed (.crmnotes/calendar.ics) is rewritten by `crm watch` whenever a customer file changes."""
    from ..io import exporter

    vault = open_vault(ctx)
    scanned = catalog.report_customers(vault)
    report_unreadable(vault, scanned.problems)
    customers = scanned.customers
    if mine:
        customers = [c for c in customers if fold(c.owner) == fold(user_of(vault))]
    target, count = exporter.write_feed(vault, customers, date.today(), days, output, reveal)
    print_note(f"calendar: {count} event(s) up to {days} day(s) ahead written to {target}", stdout=True)


@click.command()
@click.option("--on", "on_day", default=None, metavar="YYYY-MM-DD", help="Count as if today were this day.")
@click.option("--dry-run", is_flag=True, help="Print the messages; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the messages and deliveries as JSON.")
@click.pass_context
def remind(ctx: click.Context, on_day: str | None, dry_run: bool, as_json: bool) -> None:
    """Send overdue and today's tasks and due customers to the chat robots and mail of crmnotes.yaml."""
    from .. import remind as remind_lib
    from .output import error_console

    vault = open_vault(ctx)
    results = remind_lib.remind(vault, _today(on_day), dry_run=dry_run)
    failed = [d for _, _, _, deliveries in results for d in deliveries if not d.ok]
    if as_json:
        print_json([{"route": route.name, "title": title, "body": body,
                     "deliveries": [d.to_json() for d in deliveries]} for route, title, body, deliveries in results])
    else:
        for _, title, body, deliveries in results:
            console().print(safe(title, "bold"))
            if dry_run:
                console().print(safe(body))
            for delivery in deliveries:
                state = f"sent ({delivery.attempts} attempt(s))" if delivery.ok else f"FAILED: {delivery.error}"
                console().print(safe(f"  {delivery.url}: {state}", "green" if delivery.ok else "red"))
    for delivery in failed:
        error_console().print(safe(f"error: reminder for {delivery.route} to {delivery.url} failed after "
                                   f"{delivery.attempts} attempt(s): {delivery.error}; the message is kept in "
                                   f"{delivery.kept}. Check the URL and the network, then run `crm remind` again."))
    if failed:
        ctx.exit(1)


COMMANDS: list[click.Command] = [tasks, done, snooze, reassign, agenda, calendar, remind]
