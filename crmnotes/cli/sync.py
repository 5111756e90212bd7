"""Commands about team sync and history: clone, sync, history, repair, and the two
hidden commands git itself runs (the merge driver and the pre-commit hook)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import open_customer, open_vault, open_workspace
from .output import console, print_json, print_note, print_warning, safe

if TYPE_CHECKING:
    from ..sync.sync import SyncReport
    from ..vault import Vault
    from ..workspace import Workspace


@click.command()
@click.option("--message", "-m", default="", help="Commit message (default: generated from what changed).")
@click.option("--json", "as_json", is_flag=True, help="Print what happened as JSON.")
@click.pass_context
def sync(ctx: click.Context, message: str, as_json: bool) -> None:
    """Commit local changes, merge the remote's, push."""
    from ..sync.sync import sync as run_sync

    ws = open_workspace(ctx)
    if ws.mounted:
        _sync_mounts(ctx, ws, message, as_json)
        return
    report = run_sync(ws.home.root, message)
    if as_json:
        print_json(_report_json(report))
    else:
        print_report(report)
    if report.not_shared:  # the rest is synced, but not everything: a script must be able to tell
        ctx.exit(1)


def _sync_mounts(ctx: click.Context, ws: Workspace, message: str, as_json: bool) -> None:
    """Sync the home vault (the team's shared repository) and each mount in turn; one that fails is
    reported and the others still sync.  Exit 1 when any did not sync whole."""
    from ..errors import CrmError
    from ..sync.sync import sync as run_sync

    places = [(ws.home.root.name, ws.home.root)] if ws.home.root not in {m.vault.root for m in ws.mounts} else []
    places += [(m.name, m.vault.root) for m in ws.mounts]
    done: list[dict[str, object]] = []
    for name, root in places:
        try:
            report = run_sync(root, message)
        except CrmError as exc:
            done.append({"mount": name, "error": exc.message, "hint": exc.hint})
            if not as_json:
                print_warning(f"{name}: {exc.message} {exc.hint}".strip())
            continue
        done.append({"mount": name, **_report_json(report)})
        if not as_json:
            console().print(safe(f"{name}:", "bold"))
            print_report(report)
    if as_json:
        print_json(done)
    if any("error" in item or item.get("not_shared") for item in done):
        ctx.exit(1)


def _report_json(report: SyncReport) -> dict[str, object]:
    return {"committed": report.committed or None, "remote": report.remote or None,
            "branch": report.branch or None, "merged_commits": report.merged_commits,
            "merged_files": report.merged_files, "pushed": report.pushed, "notes": report.notes,
            "not_shared": report.not_shared}


def print_report(report: SyncReport) -> None:
    """What a sync did, for people (``crm sync`` and the auto-sync of ``crm watch``)."""
    from rich.text import Text  # imported here: every command's result callback imports this module

    out = console()
    out.soft_wrap = True  # a commit subject is one line, whatever the terminal width
    out.print(safe(f"committed: {report.committed}") if report.committed else Text("nothing to commit", style="dim"))
    if report.merged_commits:
        customers = [f for f in report.merged_files if f.startswith("customers/")]
        out.print(safe(f"merged {report.merged_commits} commit(s) from {report.remote}/{report.branch}"
                       f" ({len(customers)} customer file(s))"))
    if report.pushed:
        out.print(safe(f"pushed to {report.remote}/{report.branch}", "green"))
    for line in report.notes:
        if line in report.not_shared:
            print_warning(line)
        else:
            print_note(line)


@click.command()
@click.argument("url")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--user", default="", help="Your name: author of your commits and what 'mine' means in this clone.")
@click.option("--email", default="", help="Your email for commits in this clone.")
def clone(url: str, folder: Path | None, user: str, email: str) -> None:
    """Clone a shared vault, ready to sync (merge driver and hook registered)."""
    from ..sync.repo import clone_vault

    root = clone_vault(url, folder, user, email)
    out = console()
    count = sum(1 for _ in (root / "customers").rglob("*.md")) if (root / "customers").is_dir() else 0
    out.print(safe(f"Cloned {url} into {root} ({count} customer files)", "bold"))
    out.print(safe("The crmnotes merge driver and pre-commit hook are registered: 'crm sync' or 'git pull' "
                   "merges customer files entry by entry.", "dim"))
    if user:
        from ..sync.gitcmd import Git

        email = Git(root).text("config", "user.email", check=False)
        out.print(safe(f"Commits from this clone are by {user} <{email}> (change with 'git config user.email').",
                       "dim"))
    if not (root / "crmnotes.yaml").is_file():
        print_warning(f"{url} holds no crmnotes vault yet (no crmnotes.yaml): create one with 'crm init {root}', "
                      "then 'crm sync'.")


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=int, default=0, help="Only the newest N changes.")
@click.option("--reveal", is_flag=True, help="Show phone numbers unmasked.")
@click.pass_context
def history(ctx: click.Context, ref: str, as_json: bool, limit: int, reveal: bool) -> None:
    """Who changed what in one customer, and when (from git)."""
    from ..sync.history import customer_history, mask_phones

    vault, customer = open_customer(ctx, ref)
    changes = customer_history(vault.root, vault.relative(customer.path))
    if limit:
        changes = changes[-limit:]
    if not reveal:
        mask_phones(changes, vault.config.phone_region)
    if as_json:
        print_json([c.to_json() for c in changes])
        return
    out = console()
    out.soft_wrap = True
    for change in changes:
        out.print(safe(change.commit[:8], "yellow") + safe(f"  {change.date}  ", "dim") + safe(change.author, "bold")
                  + safe(f"  {change.kind}", "cyan") + safe(f"  {change.subject}", "dim"))
        for item in change.fields:
            out.print(safe(f"  {item['field']}: {_value(item['old'])} -> {_value(item['new'])}"))
        for followup in change.followups:
            out.print(safe(f"  + {followup['at']} {followup['channel']} {followup['by']}: ", "green")
                      + safe(followup["note"].split("\n", 1)[0][:80]))
    if not changes:
        print_note(f"{customer.name} has no committed history yet (run 'crm sync').")


def _value(value: object) -> str:
    return "∅" if value is None else str(value)


@click.command()
@click.argument("targets", nargs=-1, metavar="[REF|PATH]...")
@click.pass_context
def repair(ctx: click.Context, targets: tuple[str, ...]) -> None:
    """Merge again files a merge left with git's conflict markers (default: every such customer file)."""
    from ..sync.repair import files_to_repair
    from ..sync.repair import repair as run_repair

    vault = open_vault(ctx)
    relpaths = [_repair_target(vault, t) for t in targets] if targets else files_to_repair(vault.root)
    if not relpaths:
        print_note("no customer file holds git conflict markers or is in conflict in an unfinished merge.")
        return
    done = [run_repair(vault.root, relpath) for relpath in relpaths]
    for repaired in done:
        console().print(safe(f"repaired {repaired.relpath}: merged {repaired.source} with the crmnotes merge "
                             f"({repaired.followups} follow-ups)" + (", marked resolved." if repaired.staged else ".")))
        for conflict in repaired.conflicts:
            console().print(safe(f"  conflict: {conflict}", "yellow"))
    if any(r.unresolved for r in done):
        print_note("both versions are kept whole where the merge could not combine them: keep the right text and "
                   "delete the !!! lines ('crm check' shows where), then run 'crm sync'.")
        ctx.exit(1)
    print_note("run 'crm sync' to finish the merge and share it." if any(r.staged for r in done)
               else "run 'crm check', then 'crm sync' to commit and share the repaired files.")


def _repair_target(vault: Vault, target: str) -> str:
    """A customer file's path relative to the vault, from a path (which may not parse) or a reference."""
    from ..catalog import resolve
    from ..errors import CrmError

    found = next((c.resolve() for c in (Path(target), vault.root / target) if c.is_file()), None)
    relpath = vault.relative(found or resolve(vault, target).path)
    if Path(relpath).is_absolute():
        raise CrmError(f"{target} is not a file inside the vault {vault.root}.", "Give a customer file of this vault.")
    return relpath


@click.command(name="merge-driver", hidden=True)
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("ours", type=click.Path(path_type=Path))
@click.argument("theirs", type=click.Path(path_type=Path))
@click.argument("relpath", default="")
def merge_driver(base: Path, ours: Path, theirs: Path, relpath: str) -> None:
    """Git merge driver for customer files (git runs it with %O %A %B %P)."""
    from ..sync.driver import run_driver

    sys.exit(run_driver(base, ours, theirs, relpath))


@click.command(name="pre-commit-hook", hidden=True)
def pre_commit_hook() -> None:
    """Git pre-commit hook: refuse sensitive numbers in staged customer files."""
    from ..safetext import terminal_text
    from ..sync.guard import sensitive_findings

    findings = sensitive_findings(Path.cwd())
    if findings:
        click.echo("crmnotes: commit refused: national ID or bank card numbers must not be stored in the vault:",
                   err=True)
        for line in findings:
            click.echo(f"  {terminal_text(line, multiline=False)}", err=True)
        click.echo("Remove them from the files (crm check lists them), then commit again.", err=True)
        sys.exit(1)


COMMANDS = [clone, sync, history, repair, merge_driver, pre_commit_hook]


WRITE_COMMANDS = {"add", "log", "set", "edit", "deal", "ticket", "import"}


def after_command(_result: object, **_params: object) -> None:
    """With ``sync: {auto_commit: true}``, commit what a writing command changed."""
    ctx = click.get_current_context()
    if ctx.invoked_subcommand not in WRITE_COMMANDS:
        return
    from ..errors import CrmError
    from ..sync.auto import auto_commit, settings
    from .output import print_warning

    try:
        vault = open_vault(ctx)
        if settings(vault.config).commit:
            subject = auto_commit(vault.root)
            if subject:
                print_note(f"auto-commit: {subject}")
    except CrmError as exc:  # the change itself is saved; only the commit failed
        print_warning(f"auto-commit failed: {exc.message} {exc.hint}".strip())
