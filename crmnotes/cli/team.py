"""Commands about the team: who you are, the server-side push rules, and one person's data (PIPL)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import CrmError
from .common import open_customer, open_vault
from .output import console, print_json, print_note, safe


@click.command()
@click.option("--set", "new_user", metavar="ID", default="", help="Remember who you are in this clone "
              "(your member id, name or alias from crmnotes.yaml).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def whoami(ctx: click.Context, new_user: str, as_json: bool) -> None:
    """Who you are in this vault, and how that was decided."""
    from ..identity import set_user
    from ..identity import whoami as find_identity
    from ..team import team_of

    vault = open_vault(ctx, lazy_config=True)  # the notice is this command's own output
    if new_user.strip():
        team = team_of(vault.config)
        member = team.find(new_user) if team else None
        if team and member is None:
            try:
                team.resolve(new_user.strip(), "your identity")
            except ValueError as exc:
                raise CrmError(f"{exc}.", "Ask an admin to add you to 'members:' in crmnotes.yaml.") from None
        set_user(vault.root, member.id if member else new_user.strip())
    me = find_identity(vault.root, vault.config)
    member = me.member
    if as_json:
        print_json({"user": me.user, "source": me.source, "member": member.id if member else None,
                    "role": member.role if member else None, "team": member.team if member else None})
        return
    role = f" ({member.role}{', ' + member.team if member.team else ''}, id {member.id})" if member else ""
    console().print(safe(me.user, "bold") + safe(role) + safe(f"  from {me.source}", "dim"))
    if me.notice:
        print_note(me.notice)


@click.command("server-hook")
@click.argument("hook_args", nargs=-1, metavar="[REF OLD NEW]")
@click.option("--install", "install_into", metavar="BARE_REPO", type=click.Path(file_okay=False, path_type=Path),
              help="Install this command as BARE_REPO's pre-receive hook instead of running it.")
def server_hook(hook_args: tuple[str, ...], install_into: Path | None) -> None:
    """Git pre-receive / update hook of the team's server: refuses pushes the team's roles do not allow."""
    from ..sync import serverhook

    if install_into is not None:
        hook = serverhook.install(install_into)
        console().print(safe(f"installed {hook}"))
        return
    if len(hook_args) == 3:  # the update hook: REF OLD NEW as arguments
        updates = [(hook_args[1], hook_args[2], hook_args[0])]
    elif not hook_args:  # pre-receive: "OLD NEW REF" lines on stdin
        updates = serverhook.read_updates(sys.stdin.read())
    else:
        raise click.UsageError("give REF OLD NEW (the update hook) or nothing (pre-receive reads stdin).")
    refusals = serverhook.check_push(Path.cwd(), updates)
    for line in serverhook.refusal_lines(refusals):
        click.echo(line, err=True)
    if refusals:
        sys.exit(1)


@click.group()
def person() -> None:
    """PIPL requests about one person: export everything held about them, or erase it."""


@person.command("export")
@click.argument("ref")
@click.option("--out", "-o", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (default: person-<id>.json in the current folder).")
@click.pass_context
def person_export(ctx: click.Context, ref: str, out_path: Path | None) -> None:
    """Write everything held about one person (fields, follow-ups, deals, tickets, history) to a JSON file."""
    import json

    from ..fsutil import atomic_write
    from ..person import collect
    from ..sync.purge import history_lines

    vault, customer = open_customer(ctx, ref)
    record = collect(vault, customer)
    data = record.to_json()
    data["history"] = history_lines(vault.root, vault.relative(customer.path)) if (vault.root / ".git").exists() \
        else []
    target = out_path or Path(f"person-{customer.id}.json")
    atomic_write(target, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    console().print(safe(f"wrote {target}: {customer.name}, {len(customer.followups)} follow-ups, "
                         f"{len(customer.deals)} deals, {len(customer.tickets)} tickets, "
                         f"{len(data['history'])} history entries"))
    if record.mentions:
        print_note(f"also mentioned in {', '.join(record.mentions)} (not exported: those files are about others).")


@person.command("erase")
@click.argument("ref")
@click.option("--purge-history", is_flag=True, help="Also rewrite all git history without the person "
              "(admin only; every teammate must clone again afterwards).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def person_erase(ctx: click.Context, ref: str, purge_history: bool, yes: bool) -> None:
    """Remove one person's customer file (and the caches holding it); with --purge-history, from history too."""
    from ..identity import whoami as find_identity
    from ..person import collect, erase, traces
    from ..sync import purge

    vault, customer = open_customer(ctx, ref)
    relpath = vault.relative(customer.path)
    has_git = (vault.root / ".git").exists()
    if purge_history:
        if not has_git:
            raise CrmError("this vault is not a git repository: there is no history to purge.")
        me = find_identity(vault.root, vault.config)
        if me.has_team and (me.member is None or me.member.role != "admin"):
            raise CrmError(f"only an admin may purge history, and you are {me.user} "
                           f"({me.member.role if me.member else 'not a member'}).",
                           "Ask an admin of the team to run it.")
        if purge.uncommitted(vault.root):
            raise CrmError("the vault has uncommitted changes, which the history rewrite would throw away.",
                           "Run 'crm sync' (or commit them) first, then erase again.")
    found = traces(customer)
    mentions = collect(vault, customer).mentions
    paths = purge.history_paths(vault.root, relpath) if purge_history else [relpath]
    if not yes:
        what = "and rewrite ALL git history" if purge_history else "from the working tree"
        click.confirm(f"Erase {customer.name} ({relpath}) {what}?", abort=True, err=True)
    for removed in erase(vault, customer):
        console().print(safe(f"removed {removed}"))
    if mentions:
        print_note(f"still mentioned in {', '.join(mentions)}: edit those by hand if the mention identifies the "
                   "person" + (" (the purge replaces the name, phones and emails there too)." if purge_history
                               else "."))
    if not purge_history:
        if has_git:
            print_note("the file is gone from the working tree; git history still holds it. Run 'crm sync' to "
                       "share the removal, and 'crm person erase REF --purge-history' (an admin, with a copy of "
                       "the file or before syncing) to remove it from history.")
        return
    old_remotes = purge.remotes(vault.root)
    purge.commit_erase(vault.root, relpath)
    purge.purge(vault.root, paths, found)
    console().print(safe(f"history rewritten without {len(paths)} path(s) and {len(found)} trace(s)."))
    for step in purge.after_purge(old_remotes):
        print_note(step)


@click.group()
def key() -> None:
    """Your age key, which opens the fields crmnotes.yaml encrypts (encrypt: fields:)."""


@key.command("new")
def key_new() -> None:
    """Create your private key ($CRMNOTES_AGE_KEY or ~/.config/crmnotes/age.key) and print its public key."""
    from ..secret import key_path, new_key

    public = new_key(key_path())
    console().print(safe(public, "bold"))
    print_note(f"private key written to {key_path()} (keep it and back it up: a lost key cannot be recovered). "
               "Ask an admin to add the public key above as 'age:' of your entry under 'members:'.")


COMMANDS = [whoami, server_hook, person, key]
