"""Commands about the search index: search, index, watch."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

import click

from ..errors import CrmError
from ..vault import Vault
from .common import label, open_vault, open_workspace
from .output import console, error_console, print_json, print_note, print_warning, prose_lines, safe

PROGRESS_MIN_FILES = 200  # smaller vaults index faster than a bar can draw


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", "-n", type=int, default=20, show_default=True, help="At most this many results (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reveal", is_flag=True, help="Show phone numbers unmasked.")
@click.option("--all", "with_archive", is_flag=True, help="Also archived customers (archive/) whose file holds "
              "every word of the query.")
@click.pass_context
def search(ctx: click.Context, query: tuple[str, ...], limit: int, as_json: bool, reveal: bool,
           with_archive: bool) -> None:
    """Full-text and field search, best matches first.

    \b
    Words and "phrases" match name, contact, notes and follow-ups (Chinese
    is matched inside unspaced text; pinyin and initials find Chinese names).
    Fields: stage: tag: owner: industry: source: grade: id: name: contact:
    phone: channel:, dates created: last: next: (2024-01..2024-03, <30d, >90d).
    Combine with AND, OR, NOT, -word and parentheses.
    """
    from .. import search as engine
    from ..catalog import row_of

    ws = open_workspace(ctx)
    vault = ws.home
    hits = engine.search_many(ws.vaults, " ".join(query), limit=limit)
    mount_of = {id(m.vault): m.name for m in ws.mounts} if ws.mounted else {}
    today = date.today()
    archived = _archived(vault, query) if with_archive else []
    if as_json:
        out = []
        for hit in hits:
            data = row_of(hit.vault, hit.customer, today).to_json()
            data["phone"] = _phone(hit.vault, data["phone"], reveal)
            data.update(score=round(hit.score, 4), snippet=hit.snippet.text,
                        highlights=[list(span) for span in hit.snippet.spans])
            if mount_of:
                data["mount"] = mount_of[id(hit.vault)]
            out.append(data)
        print_json(out + [{**row_of(vault, c, today).to_json(), "phone": _phone(vault, c.text("phone"), reveal),
                           "archived": True, "path": vault.relative(c.path)} for c in archived])
        return
    out_console = console()
    for hit in hits:
        row = row_of(hit.vault, hit.customer, today)
        where = f"  [{mount_of[id(hit.vault)]}]" if mount_of else ""
        head = safe(row.name, "bold") + safe(f"  {row.id}{where}", "dim")
        facts = [label(vault, "stages", row.stage), row.grade, row.owner, row.contact,
                 _phone(vault, row.phone, reveal), ", ".join(row.tags)]
        out_console.print(head)
        shown = [safe(" · ".join(f for f in facts if f), "cyan")]
        if hit.snippet.text:
            shown.append(highlighted(hit.snippet.text, hit.snippet.spans))
        for part in shown:
            for line in prose_lines(part, out_console.width):
                out_console.print(line)
    for customer in archived:
        where = vault.relative(customer.path)
        out_console.print(safe(customer.name, "bold") + safe(f"  {customer.id}  archived: {where}", "dim"))
    count = len(hits) + len(archived)
    more = " (use --limit for more)" if limit and len(hits) == limit else ""
    out_console.print(safe(f"{count} result{'s' if count != 1 else ''}{more}", "dim"))


def _archived(vault: Vault, query: tuple[str, ...]) -> list[Any]:
    import shlex

    from ..actions import archived_matches

    try:
        words = shlex.split(" ".join(query))
    except ValueError:
        words = list(query)
    return archived_matches(vault, [w for w in words if not w.startswith("-")])


def _phone(vault: Vault, phone: str, reveal: bool) -> str:
    from ..rules import mask_phone  # not at the top: `crm index` and `crm watch` do without it

    return phone if reveal or not phone else mask_phone(phone, vault.config.phone_region)


def highlighted(text: str, spans: list[tuple[int, int]]) -> Any:
    """A snippet with its matches in reverse video (inert text: never parsed as markup); made safe
    piece by piece, so a control shown as an escape does not shift the highlights."""
    out, pos = safe(""), 0
    for start, end in sorted(spans):
        start = max(start, pos)
        out += safe(text[pos:start]) + safe(text[start:end], "bold reverse")
        pos = max(pos, end)
    return out + safe(text[pos:])


@click.command()
@click.option("--rebuild", is_flag=True, help="Rebuild the index from scratch.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for a rebuild (default: one per core, at most 4).")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.pass_context
def index(ctx: click.Context, rebuild: bool, jobs: int | None, as_json: bool) -> None:
    """Bring the search index up to date (it is also refreshed before every search)."""
    from .. import search as engine

    vault = open_vault(ctx)
    with _progress(as_json) as progress:
        stats = engine.refresh(vault, rebuild=rebuild, progress=progress, workers=jobs)
    if as_json:
        print_json({"total": stats.total, "added": stats.added, "changed": stats.changed, "removed": stats.removed,
                    "rebuilt": stats.rebuilt, "unreadable": stats.unreadable, "seconds": round(stats.seconds, 3)})
        return
    for rel, error in sorted(stats.unreadable.items()):
        print_warning(f"{rel} {error}")
    what = "rebuilt" if stats.rebuilt else "up to date" if not stats.changes else "updated"
    detail = "" if stats.rebuilt or not stats.changes else \
        f": {stats.added} added, {stats.changed} changed, {stats.removed} removed"
    print_note(f"index {what}{detail} ({stats.total} customer files, {stats.seconds:.2f} s)", stdout=True)


class _progress:
    """A rich progress bar on stderr for large (re)builds in a terminal; nothing otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.quiet or total < PROGRESS_MIN_FILES or not error_console().is_terminal:
            return
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                console=error_console(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("index", total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _announce_tasks(vault: Vault, since: datetime) -> datetime:
    """Desktop notifications (``reminders.desktop``) for the tasks whose time came since ``since``."""
    from .. import catalog, remind

    now = datetime.now()
    try:
        if not remind.settings(vault.config).desktop:
            return now  # nothing to announce to: no need to read the vault every minute
        items = remind.falling_due(catalog.report_customers(vault).customers, vault.config, since, now)
        for delivery in remind.announce(vault, items):
            if not delivery.ok:
                print_warning(f"desktop notification to {delivery.url} failed: {delivery.error}")
    except CrmError as exc:
        print_warning(f"{exc.message} {exc.hint}".strip())
    return now


@click.command()
@click.pass_context
def watch(ctx: click.Context) -> None:
    """Keep the search index fresh while files change (Ctrl-C stops)."""
    from .. import search as engine
    from ..io import exporter
    from ..search.index import warm_up
    from ..watch import VaultWatcher

    vault = open_vault(ctx)
    out = console()
    stats = engine.refresh(vault)
    warm_up(vault)

    def changed(paths: set[str] | None) -> None:
        result = engine.refresh(vault, paths=paths)  # only what the watcher saw (None: check everything)
        if result.changes:
            stamp = time.strftime("%H:%M:%S")
            out.print(safe(f"{stamp} index updated: {result.added} added, {result.changed} changed, "
                           f"{result.removed} removed ({result.seconds:.2f} s)"))
        for rel, error in sorted(result.unreadable.items()):
            print_warning(f"{rel} {error}")
        if result.changes:
            exporter.refresh_feed(vault)  # the calendar feed of `crm calendar`, when there is one

    def failed(exc: BaseException) -> None:
        print_warning(f"could not update the index: {exc}")

    watcher = VaultWatcher(vault.root, changed, failed).start()
    # printed once the OS watches are in place: a write after this line is seen
    out.print(safe(f"watching {vault.root} ({stats.total} customer files); Ctrl-C stops", "dim"))
    every = auto_sync_interval(vault)
    next_sync = time.monotonic() + every if every else None
    announced = datetime.now()
    try:
        while True:
            time.sleep(0.5)
            if datetime.now() - announced >= timedelta(minutes=1):
                announced = _announce_tasks(vault, announced)
            if next_sync is not None and time.monotonic() >= next_sync:
                auto_sync(vault)
                next_sync = time.monotonic() + (every or 0)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
    out.print(safe("stopped watching", "dim"))


def auto_sync_interval(vault: Vault) -> float | None:
    """Seconds between syncs when crmnotes.yaml turns auto-sync on."""
    from ..sync.auto import settings

    try:
        every = settings(vault.config).interval_seconds
    except CrmError as exc:
        print_warning(f"auto-sync is off: {exc}")
        return None
    if every:
        console().print(safe(f"auto-sync every {every / 60:g} minutes", "dim"))
    return every


def auto_sync(vault: Vault) -> None:
    """One periodic ``crm sync``; a failure is reported and watching goes on."""
    from ..sync.sync import sync
    from .sync import print_report

    console().print(safe(time.strftime("%H:%M:%S") + " auto-sync", "dim"))
    try:
        print_report(sync(vault.root))
    except CrmError as exc:
        print_warning(f"auto-sync failed: {exc}")


COMMANDS = [search, index, watch]
