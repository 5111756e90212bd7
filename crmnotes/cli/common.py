"""Helpers every CLI command module shares: opening the vault, who the user is, parsing what was typed."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import click

from ..errors import CrmError
from ..model import Customer, Problem
from ..vault import Vault
from .output import print_warning

if TYPE_CHECKING:
    from ..workspace import Workspace


def open_vault(ctx: click.Context, *, lazy_config: bool = False) -> Vault:
    """The vault of ``--vault`` or the current folder; ``lazy_config`` parses crmnotes.yaml only
    when something needs it (``ls --json`` / ``due --json`` answered from the listing cache do not)."""
    from ..sync.repo import ensure_repo_setup  # cheap: reads .git/config, imports no GitPython

    vault = Vault.find(ctx.find_root().obj.get("vault_path"), lazy_config=lazy_config)
    ensure_repo_setup(vault.root)
    if not lazy_config and vault.config.raw.get("members"):  # a team: say how to set an identity it lacks
        user_of(vault)
    return vault


def open_workspace(ctx: click.Context, *, lazy_config: bool = False) -> Workspace:
    """The workspace of the vault ``open_vault`` finds: its mounts, or that vault alone."""
    from ..workspace import open_workspace as mounted

    return mounted(open_vault(ctx, lazy_config=lazy_config), lazy_config=lazy_config)


def open_customer(ctx: click.Context, ref: str) -> tuple[Vault, Customer]:
    """The customer ``ref`` names in any mount of the workspace, and the vault holding it (where writes go)."""
    mount, customer = open_workspace(ctx).resolve(ref)
    return mount.vault, customer


def user_of(vault: Vault) -> str:
    """The user of this clone, mapped to a team member; says once how to set it when that fails."""
    from ..identity import whoami

    me = whoami(vault.root, vault.config)
    ctx = click.get_current_context(silent=True)
    said = ctx.find_root().meta if ctx else {}
    if me.notice and not said.get("identity_notice"):
        said["identity_notice"] = True
        print_warning(me.notice)
    return me.user


def parse_day(value: str | None, option: str) -> date:
    """A day typed on the command line (``None``, the option left out: today), in any form ``when`` reads."""
    if value is None:
        return date.today()
    from ..when import DateTextError, parse_day_text

    try:
        return parse_day_text(value, date.today())
    except DateTextError as exc:
        raise CrmError(f"{option} {exc.message}", exc.hint) from None


def label(vault: Vault, list_name: str, value: str) -> str:
    from ..actions import choice_label

    return choice_label(vault, list_name, value)


def parse_assignments(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CrmError(f"'{item}' is not FIELD=VALUE.", "Write it like grade=A or tags=a,b (empty value removes).")
        result[key.strip()] = value
    return result


def report_unreadable(vault: Vault, problems: list[Problem]) -> None:
    for problem in problems:
        print_warning(f"{problem.location(vault.root)}: {problem.message}")
