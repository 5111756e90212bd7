"""The ``crm`` command line: a thin click face over ``crmnotes.actions``.

Commands live in submodules grouped by area; each parses its options, calls
the library and prints.  ``CrmError`` becomes one line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

import click

from ..errors import CrmError
from .output import print_error

DEBUG_ENV = "CRMNOTES_DEBUG"
# A full disk or quota, a file over the size limit, a read-only or forbidden folder: the user's to fix, not a bug.
_DISK_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES}


class CrmGroup(click.Group):
    """Turns library errors into one clear line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrmError as exc:
            print_error(exc.message, exc.hint)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            print_error("interrupted.")
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            sys.stderr.close()  # `crm ls | head`: the reader left; nothing to report
            ctx.exit(0)
        except Exception as exc:  # a bug, not a user mistake: still no traceback unless asked
            if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
                where = f" writing {exc.filename}" if exc.filename else ""
                print_error(f"the disk refused a write{where}: {exc.strerror or exc}.",
                            "Free some space (or fix the permissions) and run the command again; "
                            "files already saved are intact.")
                ctx.exit(74)
            if os.environ.get(DEBUG_ENV):
                raise
            print_error(f"internal error: {type(exc).__name__}: {exc}.",
                        f"Please report it; set {DEBUG_ENV}=1 to see the traceback.")
            ctx.exit(70)


@click.group(cls=CrmGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--vault", "vault_path", metavar="PATH", help="The vault to use (default: $CRMNOTES_VAULT or the "
              "nearest parent folder with crmnotes.yaml).")
@click.version_option(package_name="crmnotes", prog_name="crm")
@click.pass_context
def main(ctx: click.Context, vault_path: str | None) -> None:
    """crmnotes: a plain-text CRM in a folder of markdown files."""
    ctx.obj = {"vault_path": vault_path}
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():  # a person at a terminal: open the TUI
            from .tui import tui

            ctx.invoke(tui)
            return
        click.echo(ctx.get_help())


def register() -> None:
    """Add every area's commands; each module defers its heavy imports."""
    from . import crmwork, customers, search, sync, tui

    for area in (customers, search, crmwork, sync, tui):
        for command in area.COMMANDS:
            main.add_command(command)
    main.result_callback()(sync.after_command)  # auto-commit, when crmnotes.yaml turns it on


register()
