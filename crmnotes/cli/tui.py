"""``crm tui``: open the terminal UI on the vault."""

from __future__ import annotations

import click

from .customers import open_vault


@click.command()
@click.pass_context
def tui(ctx: click.Context) -> None:
    """The terminal UI: browse, search, log and edit (also what `crm` alone opens)."""
    vault = open_vault(ctx)
    # Deferred: Textual costs ~150 ms to import; only this command pays for it.
    from ..tui.app import make_app

    make_app(vault).run()


COMMANDS = [tui]
