"""Commands about workspaces (several vault repositories mounted in one): workspace add / ls / rm, move."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CrmError
from .common import open_vault, open_workspace
from .output import console, print_json, print_note, safe


@click.group()
def workspace() -> None:
    """Mount several vault repositories (one per rep or team) so that ls, search, due, report, sync and the
    TUI span them all.

    The mount list is local to this clone (.crmnotes/workspace.json, never committed)."""


@workspace.command("add")
@click.argument("source")
@click.option("--name", default="", help="The mount's name (default: the folder's name).")
@click.option("--owner", "owners", multiple=True, help="A member whose new customers go to this mount "
              "(repeatable; default: the first mount).")
@click.option("--into", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With a URL: the folder to clone into (default: next to this vault).")
@click.pass_context
def workspace_add(ctx: click.Context, source: str, name: str, owners: tuple[str, ...], into: Path | None) -> None:
    """Mount the vault at SOURCE: a folder, or a repository URL (cloned first, like 'crm clone')."""
    from ..workspace import add_mount

    home = open_vault(ctx, lazy_config=True)
    path = Path(source)
    if not (path / "crmnotes.yaml").is_file() and (not path.exists() or (path / "HEAD").is_file()):  # a repository
        from ..sync.repo import clone_folder_name, clone_vault

        path = clone_vault(source, into or home.root.parent / (name or clone_folder_name(source)))
        print_note(f"cloned {source} into {path}")
    mount = add_mount(home, path, name, owners)
    print_note(f"mounted {mount.vault.root} as '{mount.name}'")


@workspace.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def workspace_ls(ctx: click.Context, as_json: bool) -> None:
    """The mounts of this workspace."""
    ws = open_workspace(ctx, lazy_config=True)
    mounts = ws.mounts if ws.mounted else []
    if as_json:
        print_json([{"name": m.name, "path": str(m.vault.root), "owners": list(m.owners)} for m in mounts])
        return
    if not mounts:
        print_note("no mounts: this vault is used alone (add one with 'crm workspace add PATH|URL').")
    for mount in mounts:
        owners = f"  owners: {', '.join(mount.owners)}" if mount.owners else ""
        console().print(safe(mount.name, "bold") + safe(f"  {mount.vault.root}{owners}", "dim"))


@workspace.command("rm")
@click.argument("name")
@click.pass_context
def workspace_rm(ctx: click.Context, name: str) -> None:
    """Unmount NAME (its folder and repository stay as they are)."""
    from ..workspace import remove_mount

    remove_mount(open_vault(ctx, lazy_config=True), name)
    print_note(f"unmounted '{name}'")


@click.command()
@click.argument("ref")
@click.option("--to", "to_mount", default="", help="The mount to move the customer to.")
@click.option("--owner", default="", help="The new owner (default mount: the one listing this owner).")
@click.option("--json", "as_json", is_flag=True, help="Print what happened as JSON.")
@click.pass_context
def move(ctx: click.Context, ref: str, to_mount: str, owner: str, as_json: bool) -> None:
    """Move a customer to another mount's repository, with its follow-ups.

    The file is committed there first, then removed (and committed) here; each commit names the other
    repository, so both histories tell where the customer went."""
    from .. import actions
    from ..sync.move import move_customer

    ws = open_workspace(ctx)
    if not ws.mounted:
        raise CrmError("this vault mounts no other repository.", "Mount one with 'crm workspace add PATH|URL'.")
    if not to_mount and not owner:
        raise CrmError("say where to: --to MOUNT, or --owner MEMBER (the mount listing that owner).")
    source, customer = ws.resolve(ref)
    target = ws.named(to_mount) if to_mount else ws.for_owner(owner)

    def new_owner(path: Path) -> None:
        if owner:
            actions.set_fields(target.vault, target.vault.read(path), {"owner": owner})

    moved = move_customer(source.vault, customer, target.vault, source.name, target.name, new_owner)
    if as_json:
        print_json({"id": customer.id, "from": source.name, "to": target.name,
                    "path": target.vault.relative(moved.path), "target_commit": moved.target_commit,
                    "source_commit": moved.source_commit or None})
        return
    print_note(f"moved {customer.name} ({customer.id}) from {source.name} to {target.name} "
               f"({target.vault.relative(moved.path)}); run 'crm sync' to share both commits")


COMMANDS = [workspace, move]
