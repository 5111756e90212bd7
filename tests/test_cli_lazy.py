"""Lazy command loading: `crm --help` lists every command from a table, a command imports only what it uses."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crmnotes.cli import COMMAND_TABLE, main
from crmnotes.vault import Vault

from .conftest import run_process

MODULES = ("customers", "search", "crmwork", "report", "sync", "tui", "team", "agenda", "campaigns", "workspace",
           "help")
# The import budget: packages a command must not load unless it uses them, each with its measured import time
# (ms, python -X importtime, median of 3 on the 2-core CI machine).  Their imports stay inside the functions
# that need them, and the processes below prove it; imports of anything else belong at the top of a module.
DEFERRED_MS = {"textual": 462, "pypinyin": 331, "openpyxl": 182, "git": 179, "filelock": 99, "whoosh": 93,
               "watchdog": 85, "frontmatter": 75, "rich": 68, "phonenumbers": 66, "rapidfuzz": 56, "yaml": 55,
               "charset_normalizer": 46, "concurrent": 36, "multiprocessing": 18}
HEAVY = tuple(DEFERRED_MS)
# what an index answer never needs: the writer's lock and worker processes, the UI, import-only packages
NOT_FOR_ANSWERS = {"filelock", "multiprocessing", "concurrent", "watchdog", "rapidfuzz", "charset_normalizer",
                   "openpyxl", "textual", "git"}
# `ls --json` after one customer file changed reads that file through the parser, the due rules and the JSON
# shape (vault.read, due.timeline, shape.customer_json), and nothing that only writes or checks need, so the
# edit costs little more than the unchanged listing.  Kept out by imports inside the functions named here:
ONE_FILE_DEFERRED = {
    "crmnotes.rules": "the field rules: validation on write and in `crm check` (mask_phone lives in sensitive)",
    "crmnotes.naming": "IDs, file names and pinyin sort keys: an edit that keeps the name keeps its key "
                       "(catalog._sort_key)",
    "crmnotes.team": "the team is read to seal a value (secret.recipients) or write a deal (deals.prepare_deal)",
}


def real_commands() -> dict[str, tuple[str, click.Command]]:
    found = {}
    for module in MODULES:
        for command in importlib.import_module(f"crmnotes.cli.{module}").COMMANDS:
            found[command.name] = (module, command)
    return found


def test_table_matches_every_module_command() -> None:
    real = real_commands()
    assert set(COMMAND_TABLE) == set(real)
    for name, (module, attribute, text, hidden) in COMMAND_TABLE.items():
        owner, command = real[name]
        assert (module, hidden) == (owner, command.hidden)
        assert getattr(importlib.import_module(f"crmnotes.cli.{module}"), attribute) is command
        stand_in = click.Command(name, help=text)
        for limit in (30, 45, 60, 200):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), name


def test_help_lists_every_visible_command_with_its_short_help() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=100)
    assert result.exit_code == 0
    listed = {line.split()[0]: line for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    real = real_commands()
    assert set(listed) == {name for name, (_, command) in real.items() if not command.hidden}
    for name, line in listed.items():
        assert real[name][1].get_short_help_str(100 - 6 - max(map(len, listed))).rstrip(".") in line


@pytest.mark.parametrize("name", sorted(COMMAND_TABLE))
def test_every_command_has_its_own_help(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: main {name}" in result.output or "Usage:" in result.output


def modules_after(args: list[str], cwd: Path, watched: tuple[str, ...] = HEAVY
                  ) -> tuple[dict[str, object], list[str]]:
    """Run ``crm ARGS`` in a fresh interpreter; its stdout and which of the ``watched`` packages (or
    modules, by their dotted names) it imported."""
    script = (
        "import sys, json\n"
        "from crmnotes.cli import main\n"
        "try:\n"
        f"    main({args!r}, standalone_mode=False)\n"
        "finally:\n"
        f"    loaded = sorted(({{m.split('.')[0] for m in sys.modules}} | set(sys.modules)) & {set(watched)!r})\n"
        "    print(json.dumps(loaded), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip().startswith("[") else {}, json.loads(
        done.stderr.strip().splitlines()[-1])


def forget_answers(vault: Vault) -> None:
    """The listing cache and the answers kept from it deleted: the next answer is read from the files."""
    (vault.cache_dir / "listing.sqlite3").unlink()
    shutil.rmtree(vault.cache_dir / "answers", ignore_errors=True)


def test_help_alone_imports_nothing_heavy(tmp_path: Path) -> None:
    _, loaded = modules_after(["--help"], tmp_path)
    assert loaded == []


def test_process_search_never_loads_pypinyin_textual_or_git(example_vault: Vault) -> None:
    modules_after(["index"], example_vault.root)  # the first build may analyse text; searching must not
    out, loaded = modules_after(["search", "数据安全", "--json"], example_vault.root)
    assert [hit["name"] for hit in out] and all("数据安全" in hit["snippet"] for hit in out)
    assert not ({"pypinyin"} | NOT_FOR_ANSWERS) & set(loaded)
    assert "whoosh" in loaded  # it really searched the index
    # nor rich (JSON), YAML (the parsed config is cached) or python-frontmatter (no file is parsed)
    assert not {"rich", "yaml", "frontmatter"} & set(loaded)


def test_index_with_nothing_changed_needs_neither_whoosh_nor_rich(example_vault: Vault) -> None:
    modules_after(["index"], example_vault.root)
    _, loaded = modules_after(["index"], example_vault.root)
    assert not ({"whoosh", "rich", "yaml", "frontmatter", "pypinyin"} | NOT_FOR_ANSWERS) & set(loaded)
    shown = run_process("index", cwd=example_vault.root)  # a pipe: the status line unstyled
    assert shown.returncode == 0 and shown.stdout.startswith("index up to date (7 customer files, ")
    assert "\x1b" not in shown.stdout and shown.stdout.endswith(" s)\n")


def test_listing_commands_load_no_index_or_ui(example_vault: Vault) -> None:
    modules_after(["ls", "--json"], example_vault.root)  # builds the listing cache
    for args in (["ls", "--json"], ["due", "--json"], ["ls", "--json", "--tag", "needs/", "--sort", "-last"]):
        out, loaded = modules_after(args, example_vault.root)
        assert out, args
        # nothing of the index, the UI, rich, YAML or the note parser: the JSON is spliced from .crmnotes/listing.txt
        assert not ({"pypinyin", "whoosh", "rich", "frontmatter", "yaml"} | NOT_FOR_ANSWERS) & set(loaded), args
    _, loaded = modules_after(["report", "funnel", "--json"], example_vault.root)  # from .crmnotes/catalog.txt
    assert not ({"pypinyin", "whoosh", "rich"} | NOT_FOR_ANSWERS) & set(loaded)


@pytest.mark.parametrize("name", ["星辰科技有限公司", "Acme Analytics Inc."])
def test_ls_json_after_one_change_reads_that_file_alone_and_prints_what_the_files_say(example_vault: Vault,
                                                                                     name: str) -> None:
    modules_after(["ls", "--json"], example_vault.root)  # builds the listing cache
    path = next(p for p in example_vault.customers_dir.rglob("*.md") if f"name: {name}\n" in p.read_text("utf-8"))
    today = date.today().isoformat()

    def edit(at: str, note: str) -> None:  # as an editor would: an entry with a next step, appended
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"\n### {today} {at} · 电话 · 李雷\n{note}\nnext: {today} @王芳 发送报价单\n")

    edit("23:58", "客户确认预算，要求下周报价。")
    out, loaded = modules_after(["ls", "--json"], example_vault.root, (*HEAVY, *ONE_FILE_DEFERRED))
    # the changed file was parsed again (its new entry shows below), but not its front-matter, whose text did
    # not change: its meta is the one stored with that text (catalog._front_columns)
    assert "yaml" not in loaded
    assert not (set(ONE_FILE_DEFERRED) | {"pypinyin", "frontmatter", "whoosh", "rich"} | NOT_FOR_ANSWERS) & set(loaded)
    assert next(c for c in out if c["name"] == name)["last_contact"] == f"{today}T23:58"
    edit("23:59", "Budget confirmed; 报价 next week.")
    fast = run_process("ls", "--json", cwd=example_vault.root)
    forget_answers(example_vault)  # the plain path: every file read again
    plain = run_process("ls", "--json", cwd=example_vault.root)
    assert fast.returncode == plain.returncode == 0 and fast.stdout == plain.stdout
    assert next(c for c in json.loads(fast.stdout) if c["name"] == name)["last_contact"] == f"{today}T23:59"


def test_ls_json_after_a_front_matter_edit_parses_it_again(example_vault: Vault) -> None:
    """A field changed, a comment or spacing changed, a stage written as its label, a front-matter broken:
    each is parsed again (YAML loaded) and the listing is byte for byte the one read from the files."""
    modules_after(["ls", "--json"], example_vault.root)  # builds the listing cache
    path = next(p for p in example_vault.customers_dir.rglob("*.md")
                if "name: 星辰科技有限公司\n" in p.read_text("utf-8"))
    original = path.read_text("utf-8")

    def listed_after(text: str) -> tuple[list[dict[str, object]], list[str]]:
        path.write_text(text, encoding="utf-8")
        out, loaded = modules_after(["ls", "--json"], example_vault.root)
        fast = run_process("ls", "--json", cwd=example_vault.root)
        forget_answers(example_vault)  # the plain path: every file read again
        plain = run_process("ls", "--json", cwd=example_vault.root)
        assert fast.returncode == plain.returncode and fast.stdout == plain.stdout and fast.stderr == plain.stderr
        modules_after(["ls", "--json"], example_vault.root)  # the cache again, for the next edit
        return out, loaded

    out, loaded = listed_after(original.replace("grade: A\n", "grade: C\n", 1))
    assert "yaml" in loaded and next(c for c in out if c["name"] == "星辰科技有限公司")["grade"] == "C"
    fenced = path.read_text("utf-8")
    _, loaded = listed_after(fenced.replace("name: 星辰科技有限公司\n", "name:   星辰科技有限公司   # 客户全称\n", 1))
    assert "yaml" in loaded
    staged = path.read_text("utf-8")
    stage = next(line for line in staged.splitlines() if line.startswith("stage: "))
    out, loaded = listed_after(staged.replace(stage, "stage: 意向", 1))  # the label: stored as the meta YAML gave
    assert "yaml" in loaded and next(c for c in out if c["name"] == "星辰科技有限公司")["stage"] == "intent"
    with open(path, "a", encoding="utf-8") as handle:  # and a body edit after it still reuses that meta
        handle.write("\n补充：客户要求现场演示。\n")
    out, loaded = modules_after(["ls", "--json"], example_vault.root)
    assert "yaml" not in loaded and next(c for c in out if c["name"] == "星辰科技有限公司")["stage"] == "intent"
    broken = path.read_text("utf-8").replace("stage: 意向", "stage: [意向", 1)
    out, loaded = listed_after(broken)  # a malformed front-matter never matches the stored text
    assert "yaml" in loaded and "星辰科技有限公司" not in {c["name"] for c in out}
