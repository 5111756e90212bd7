"""``crm tui``: open the terminal UI on the vault; ``crm serve``: the same UI in a browser."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .common import open_vault, open_workspace

if TYPE_CHECKING:
    from textual.app import App


@click.command()
@click.option("--served", is_flag=True, hidden=True, help="Run as a session of `crm serve`: quit when it is gone.")
@click.pass_context
def tui(ctx: click.Context, served: bool) -> None:
    """The terminal UI: browse, search, log and edit (also what `crm` alone opens)."""
    ws = open_workspace(ctx)
    # Deferred: Textual is the heaviest import of all; only this command pays for it.
    from ..tui.app import make_app

    app = make_app(ws.home, workspace=ws)
    if served:
        end_with_server(app)
    app.run()


def end_with_server(app: App[None]) -> None:
    """Quit ``app`` once the process that started it is gone.

    ``crm serve`` stopped with Ctrl-C ends its sessions itself; killed, it
    cannot, and the app (reading an input nobody writes) would run on.
    """
    import contextlib
    import os
    import threading
    import time

    server = os.getppid()

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(1)
        with contextlib.suppress(RuntimeError):  # not running (any more): nothing to end
            app.call_from_thread(app.exit)

    threading.Thread(target=watch, name="end-with-server", daemon=True).start()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback lets other machines connect (a warning says so).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--public-url", metavar="URL", help="The address browsers use when a reverse proxy is in front "
              "(e.g. https://crm.example.lan); the page's websocket and assets are loaded from it.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, public_url: str | None) -> None:
    """The terminal UI in browser tabs, behind a random access token.

    Prints the address to open (the token is in it). Each tab runs its own
    `crm tui` as you, on this vault; closing the tab ends it. Ctrl-C stops.
    """
    if public_url and not public_url.startswith(("http://", "https://")):
        raise click.BadParameter(f"'{public_url}' is not an address; give one like https://crm.example.lan.",
                                 param_hint="--public-url")
    vault = open_vault(ctx)
    from ..serve import serve as serve_vault  # deferred: aiohttp and textual-serve load only here

    serve_vault(vault.root, host=host, port=port, public_url=public_url)


COMMANDS = [tui, serve]
