"""Commands about the team: who you are, the server-side push rules, and one person's data (PIPL)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import CrmError
from .customers import open_vault, print_note
from .output import console, print_json, safe


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

    vault = open_vault(ctx)
    if new_user.strip():
        team = team_of(vault.config)
        if team and team.find(new_user) is None:
            try:
                team.resolve(new_user.strip(), "your identity")
            except ValueError as exc:
                raise CrmError(f"{exc}.", "Ask an admin to add you to 'members:' in crmnotes.yaml.") from None
        set_user(vault.root, team.find(new_user).id if team else new_user.strip())
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


COMMANDS = [whoami, server_hook]
