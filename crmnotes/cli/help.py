"""``crm help [TOPIC|COMMAND]`` and ``crm help --man``.

Topic pages are the text files of ``help_topics/`` (package data, so an
installed wheel has them); the ``due`` page ends with the docstrings of the
registered due rules, so it says what the code does.  A command's page is its
``--help``; ``--man`` prints a roff man page generated from the click command
tree (``crm help --man | man -l -``).
"""

from __future__ import annotations

from datetime import date
from importlib import resources

import click

from ..errors import CrmError

TOPICS = ("vault", "search", "due", "sync", "import", "roles", "completion")


def _page(name: str) -> str:
    return resources.files(__package__).joinpath("help_topics", f"{name}.txt").read_text(encoding="utf-8")


def topic_text(name: str) -> str:
    """The page of one topic (the due rules appended to ``due``)."""
    text = _page(name)
    if name == "due":
        text += "".join(f"\n{rule}\n{_indent(doc)}\n" for rule, doc in _rule_docs())
    return text


def _rule_docs() -> list[tuple[str, str]]:
    from ..due import rule_docs

    return [(name, doc.replace("``", "")) for name, doc in rule_docs()]


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else "" for line in text.splitlines())


def _topic_title(name: str) -> str:
    return _page(name).splitlines()[0]


@click.command(name="help")
@click.argument("words", nargs=-1, metavar="[TOPIC|COMMAND [SUBCOMMAND]]",
                shell_complete=lambda ctx, param, incomplete: _completions(ctx, incomplete))
@click.option("--man", is_flag=True, help="Print a man page (roff): crm help --man | man -l -")
@click.pass_context
def help_command(ctx: click.Context, words: tuple[str, ...], man: bool) -> None:
    """Help topics (vault, search, due, sync, import, roles, completion) and each command's help."""
    root = ctx.find_root()
    if man:
        click.echo(man_page(root.command, root), nl=False)
    elif not words:
        click.echo(overview(root))
    elif words[0] in TOPICS and len(words) == 1:
        click.echo(topic_text(words[0]), nl=False)
    else:
        command, sub = _command_of(root, words)
        click.echo(command.get_help(sub))


def _command_of(root: click.Context, words: tuple[str, ...]) -> tuple[click.Command, click.Context]:
    """The command named by ``words`` (``deal add``) and a context whose usage line names it."""
    command, context = root.command, root
    for word in words:
        found = command.get_command(context, word) if isinstance(command, click.Group) else None
        if found is None:
            raise CrmError(f"there is no help topic or command '{' '.join(words)}'.",
                           f"Topics: {', '.join(TOPICS)}; commands: {', '.join(_visible(root))}.")
        command, context = found, click.Context(found, info_name=word, parent=context)
    return command, context


def _completions(ctx: click.Context, incomplete: str) -> list[str]:
    return [name for name in dict.fromkeys((*TOPICS, *_visible(ctx.find_root()))) if name.startswith(incomplete)]


def _visible(root: click.Context) -> list[str]:
    from . import COMMAND_TABLE

    return [name for name, (_, _, _, hidden) in sorted(COMMAND_TABLE.items()) if not hidden]


def overview(root: click.Context) -> str:
    """``crm help``: the topics with their titles, then the commands with their short help."""
    from . import COMMAND_TABLE

    formatter = click.HelpFormatter()
    with formatter.section("Topics (crm help TOPIC)"):
        formatter.write_dl([(name, _topic_title(name).split(": ", 1)[-1]) for name in TOPICS])
    with formatter.section("Commands (crm help COMMAND, or crm COMMAND --help)"):
        formatter.write_dl([(name, click.Command(name, help=text).get_short_help_str(60))
                            for name, (_, _, text, hidden) in sorted(COMMAND_TABLE.items()) if not hidden])
    return formatter.getvalue().rstrip("\n")


# ------------------------------------------------------------------ man page


def man_page(group: click.Command, root: click.Context) -> str:
    """A section-1 man page of ``crm``: every visible command with its usage, help and options."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("crmnotes")
    except PackageNotFoundError:
        release = "dev"
    lines = [f'.TH CRM 1 "{date.today().isoformat()}" "crmnotes {release}" "User Commands"',
             ".SH NAME", r"crm \- a plain\-text CRM in a folder of markdown files",
             ".SH SYNOPSIS", r".B crm", r"[\fB\-\-vault\fR \fIPATH\fR] \fICOMMAND\fR [\fIARGS\fR]...",
             ".SH DESCRIPTION", _roff(group.help or ""),
             ".SH OPTIONS", *_options(group, root), ".SH COMMANDS"]
    for name, command, context in _walk(group, root):
        lines += _command_section(name, command, context)
    lines += [".SH TOPICS", "Read with", r"\fBcrm help\fR \fITOPIC\fR:"]
    for topic in TOPICS:
        lines += [".TP", rf"\fB{topic}\fR", _roff(_topic_title(topic))]
    lines += [".SH ENVIRONMENT", ".TP", r"\fBCRMNOTES_VAULT\fR", "The vault when \\fB\\-\\-vault\\fR is not given.",
              ".TP", r"\fBCRMNOTES_USER\fR", "Who \"mine\" is (see \\fBcrm whoami\\fR).",
              ".SH SEE ALSO", r"\fBgit\fR(1)"]
    return "\n".join(lines) + "\n"


def _walk(group: click.Command, root: click.Context, path: str = "crm"
          ) -> list[tuple[str, click.Command, click.Context]]:
    """(full name, command, context) of every visible command and subcommand, depth first."""
    found: list[tuple[str, click.Command, click.Context]] = []
    if not isinstance(group, click.Group):
        return found
    for name in group.list_commands(root):
        command = group.get_command(root, name)
        if command is None or command.hidden:
            continue
        context = click.Context(command, info_name=name, parent=root)
        found.append((f"{path} {name}", command, context))
        found += _walk(command, context, f"{path} {name}")
    return found


def _command_section(name: str, command: click.Command, context: click.Context) -> list[str]:
    usage = " ".join(command.collect_usage_pieces(context))
    lines = [f'.SS "{_roff(name)}"', rf"\fB{_roff(name)}\fR {_roff(usage)}", ".PP"]
    lines += [f"{_roff(paragraph)}\n.PP" for paragraph in (command.help or "").split("\n\n") if _roff(paragraph)]
    return lines + _options(command, context)


def _options(command: click.Command, context: click.Context) -> list[str]:
    lines = []
    for parameter in command.get_params(context):
        record = parameter.get_help_record(context)
        if record is not None and (record[1] or isinstance(parameter, click.Option)):  # arguments: when explained
            lines += [".TP", rf"\fB{_roff(record[0])}\fR", _roff(record[1])]
    return lines


def _roff(text: str) -> str:
    """Text safe in a roff line: backslashes and dashes escaped, no line read as a request, and every
    non-ASCII character (李娜, …) as a \\[uXXXX] escape, which groff and mandoc read without preconv."""
    text = text.replace("\b", "").replace("\\", r"\e").replace("-", r"\-")
    text = "".join(ch if ord(ch) < 128 else f"\\[u{ord(ch):04X}]" for ch in text)
    return "\n".join(rf"\&{line}" if line.startswith((".", "'")) else line
                     for line in (part.strip() for part in text.splitlines()) if line)


COMMANDS: list[click.Command] = [help_command]
