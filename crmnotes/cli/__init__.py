"""The ``crm`` command line: a thin click face over ``crmnotes.actions``.

Commands live in submodules grouped by area; each parses its options, calls
the library and prints.  ``CrmError`` becomes one line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import Any

import click

from ..errors import CrmError

DEBUG_ENV = "CRMNOTES_DEBUG"
# A full disk or quota, a file over the size limit, a read-only or forbidden folder: the user's to fix, not a bug.
_DISK_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES}


class CrmGroup(click.Group):
    """Turns library errors into one clear line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        from .output import print_error  # rich: not needed by --help

        try:
            return super().invoke(ctx)
        except CrmError as exc:
            print_error(exc.message, exc.hint)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            print_error("interrupted.")
            ctx.exit(130)
        except click.ClickException as exc:  # click prints it: a bad option value is quoted, so mask and defuse it
            from ..safetext import terminal_text
            from ..sensitive import redact

            exc.message = terminal_text(redact(exc.message))  # type: ignore[misc]  # click types it Final; masked in place so click still prints it
            raise
        except (click.exceptions.Exit, click.Abort):
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


# Every command: name -> (module under crmnotes.cli, function, its help's first paragraph, hidden).
# ``crm --help`` is printed from this table and a command's module is imported
# only when that command runs, so ``crm ls`` never loads the import/export,
# sync, search or TUI code.  tests/test_cli_lazy.py checks the table against
# each module's COMMANDS list.
COMMAND_TABLE: dict[str, tuple[str, str, str, bool]] = {
    "init": ("customers", "init", "Create a vault (a git repository) in PATH.", False),
    "add": ("customers", "add", "Create a customer and print its ID.", False),
    "log": ("customers", "log", "Append a follow-up to a customer.", False),
    "show": ("customers", "show", "One customer with its follow-ups, deals and tickets.", False),
    "edit": ("customers", "edit", "Open a customer's file in $EDITOR, then check it.", False),
    "set": ("customers", "set_command", "Change fields (an empty VALUE removes the field; tags+=x and tags-=x add "
            "and remove tags).", False),
    "contact": ("customers", "contact", "Add a person to a customer's contacts (or update the one of that name).",
                False),
    "rm": ("customers", "rm", "Archive a customer: its file moves to archive/ (kept in git history, never deleted).",
           False),
    "ls": ("customers", "ls", "List customers.", False),
    "due": ("customers", "due", "Customers due or overdue for a follow-up, and why.", False),
    "tasks": ("agenda", "tasks", "Open next steps (tasks) with customer, time and assignee, earliest first.", False),
    "done": ("agenda", "done", "Mark a customer's open next step done (all of them when WHAT is not given).", False),
    "snooze": ("agenda", "snooze", "Move a customer's open next step to WHEN (明天, next monday, 12-05 15:00, ...).",
               False),
    "reassign": ("agenda", "reassign", "Hand a customer's open next step to ASSIGNEE (@李娜 or 李娜).", False),
    "agenda": ("agenda", "agenda", "Overdue, today and the coming days: tasks and due customers by time.", False),
    "calendar": ("agenda", "calendar", "Write the agenda as an iCalendar feed (events with alarms) for a calendar app "
                 "to subscribe to.", False),
    "remind": ("agenda", "remind", "Send overdue and today's tasks and due customers to the chat robots and mail of "
               "crmnotes.yaml.", False),
    "check": ("customers", "check", "Validate the vault; exit 1 when anything is wrong.", False),
    "search": ("search", "search", "Full-text and field search, best matches first.", False),
    "index": ("search", "index", "Bring the search index up to date (it is also refreshed before every search).",
              False),
    "watch": ("search", "watch", "Keep the search index fresh while files change (Ctrl-C stops).", False),
    "deal": ("crmwork", "deal", "Deals (opportunities): add, change, list.", False),
    "ticket": ("crmwork", "ticket", "Service tickets: open, update, close, list.", False),
    "import": ("crmwork", "import_command", "Import customers from a CSV (UTF-8, UTF-8 BOM, GBK) or XLSX file.",
               False),
    "import-chat": ("crmwork", "import_chat", "Import a WeChat / WeCom chat export (forwarded 聊天记录 text, export "
                    "tools' TXT or CSV) as wechat follow-ups.", False),
    "export": ("crmwork", "export_command", "Export customers (CSV, XLSX, JSON, vCard) or due follow-ups "
               "(iCalendar).", False),
    "report": ("report", "report_command", "Reports: funnel, sources, owners, activity, forecast, churn, tags, "
               "churn-rate, cycle, conversion, trend, repeat, satisfaction, completeness, acquisition; movement "
               "(between --since and --until, from git).", False),
    "campaign": ("campaigns", "campaign", "Marketing campaigns (市场活动): add, set, ls, show, report.", False),
    "clone": ("sync", "clone", "Clone a shared vault, ready to sync (merge driver and hook registered).", False),
    "sync": ("sync", "sync", "Commit local changes, merge the remote's, push.", False),
    "history": ("sync", "history", "Who changed what in one customer, and when (from git).", False),
    "repair": ("sync", "repair", "Merge again files a merge left with git's conflict markers (default: every such "
               "customer file).", False),
    "merge-driver": ("sync", "merge_driver", "Git merge driver for customer files (git runs it with %O %A %B %P).",
                     True),
    "pre-commit-hook": ("sync", "pre_commit_hook", "Git pre-commit hook: refuse sensitive numbers in staged "
                        "customer files.", True),
    "whoami": ("team", "whoami", "Who you are in this vault, and how that was decided.", False),
    "server-hook": ("team", "server_hook", "Git pre-receive / update hook of the team's server: refuses pushes the "
                    "team's roles do not allow.", False),
    "person": ("team", "person", "PIPL requests about one person: export everything held about them, or erase it.",
               False),
    "key": ("team", "key", "Your age key, which opens the fields crmnotes.yaml encrypts (encrypt: fields:).", False),
    "help": ("help", "help_command", "Help topics (vault, search, due, sync, import, roles, completion) and each "
             "command's help.", False),
    "workspace": ("workspace", "workspace", "Mount several vault repositories (one per rep or team) so that ls, "
                  "search, due, report, sync and the TUI span them all.", False),
    "move": ("workspace", "move", "Move a customer to another mount's repository, with its follow-ups.", False),
    "tui": ("tui", "tui", "The terminal UI: browse, search, log and edit (also what `crm` alone opens).", False),
    "serve": ("tui", "serve", "The terminal UI in browser tabs, behind a random access token.", False),
}


class LazyGroup(CrmGroup):
    """Commands from ``COMMAND_TABLE``, imported on first use; ``--help`` lists them without importing any."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_TABLE, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_TABLE:
            import importlib

            module, attribute, _, _ = COMMAND_TABLE[cmd_name]
            self.commands[cmd_name] = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and _kept_answer_likely(args):  # before the command's module is imported: find runs meanwhile
            from ..answers import foresee
            from ..vault import Vault

            with contextlib.suppress(CrmError):  # no vault: the command itself says so
                foresee(Vault.find(ctx.params.get("vault_path"), lazy_config=True))
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Stand-ins carrying the table's help give click's own truncation without importing the modules.
        stand_ins = {name: click.Command(name, help=text, hidden=hidden)
                     for name, (_, _, text, hidden) in COMMAND_TABLE.items()}
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or stand_ins[name]
            if not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])


def _kept_answer_likely(args: list[str]) -> bool:
    """Will ``crm ARGS`` ask for a kept answer (``answers.memo``)?  ``ls --json``, ``due --json`` and a
    report of the vault as it is now do."""
    if args[0] in ("ls", "due"):
        return "--json" in args
    return args[0] == "report" and "movement" not in args and not any(a.startswith("--as-of") for a in args)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
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


@main.result_callback()
def _after_command(result: object, **params: object) -> None:
    from .sync import after_command  # auto-commit, when crmnotes.yaml turns it on

    after_command(result, **params)
