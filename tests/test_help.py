"""`crm help [TOPIC|COMMAND]` and `crm help --man`: topic pages from package data, the due page from the
registered rules' docstrings, a command's --help, and a man page groff and man render."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from crmnotes.cli import COMMAND_TABLE, main
from crmnotes.cli.help import TOPICS
from crmnotes.due import RULES, rule_docs


def crm(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("topic", TOPICS)
def test_each_topic_prints_its_page(topic: str) -> None:
    code, out, _ = crm("help", topic)
    assert code == 0 and len(out.splitlines()) >= 10
    assert out.splitlines()[0].split(":")[0]  # a title line first


def test_data_topics_show_chinese_examples() -> None:
    for topic, example in (("vault", "星辰科技有限公司"), ("search", "数据安全"), ("import", "客户.xlsx"),
                           ("roles", "张伟"), ("due", "上门访谈")):
        assert example in crm("help", topic)[1], topic


def test_due_page_names_every_registered_rule_with_its_docstring() -> None:
    out = crm("help", "due")[1]
    assert [r.name for r in RULES] == [name for name, _ in rule_docs()]
    for name, doc in rule_docs():
        assert f"\n{name}\n" in out
        first_words = " ".join(doc.replace("``", "").split()[:6])
        assert first_words in " ".join(out.split()), name


def test_unknown_topic_is_refused_with_the_list() -> None:
    code, out, err = crm("help", "报表")
    assert code == 2 and not out
    assert "no help topic or command '报表'" in err and all(topic in err for topic in TOPICS)
    assert "report" in err


def test_help_command_is_that_commands_help() -> None:
    assert crm("help", "report")[1] == crm("report", "--help")[1]
    assert crm("help", "deal", "add")[1] == crm("deal", "add", "--help")[1]
    assert crm("help", "deal", "nosuch")[0] == 2


def test_help_alone_lists_topics_and_commands() -> None:
    code, out, _ = crm("help")
    assert code == 0
    topics, commands = out.split("Commands")
    assert all(f"\n  {topic} " in topics for topic in TOPICS)
    listed = {line.split()[0] for line in commands.splitlines()[1:] if line.strip()}
    assert listed == {name for name, (*_, hidden) in COMMAND_TABLE.items() if not hidden}


def test_man_page_has_a_header_and_every_top_level_command() -> None:
    code, man, _ = crm("help", "--man")
    assert code == 0 and man.startswith(".TH CRM 1 ")
    for name, (*_, hidden) in COMMAND_TABLE.items():
        if not hidden:
            assert f'.SS "crm {name.replace("-", chr(92) + "-")}"' in man, name
    assert '.SS "crm deal add"' in man  # subcommands too
    assert not any(line.startswith(".") and line.split()[0] not in {".TH", ".SH", ".SS", ".TP", ".PP", ".B"}
                   for line in man.splitlines())  # no help text read as a roff request
    assert all(ord(ch) < 128 for ch in man)  # 李娜 as \[u674E]\[u5A1C]: no preconv needed


def test_man_page_renders() -> None:
    man = crm("help", "--man")[1]
    groff, man_command = shutil.which("groff"), shutil.which("man")
    if not groff and not man_command:
        pytest.skip("neither groff nor man is installed")
    if groff:
        checks = ["-wmac", "-wchar", "-Wbreak"]  # requests and characters; a long word may not justify
        done = subprocess.run([groff, "-man", "-Tutf8", *checks, "-z"], input=man, capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
        shown = re.sub(".\b", "", subprocess.run([groff, "-man", "-Tutf8"], input=man, capture_output=True,
                                                   text=True, check=True).stdout)  # bold as overstrike
        assert "crm reassign" in shown and "李娜" in shown
    if man_command:
        shown = subprocess.run([man_command, "-l", "-"], input=man, capture_output=True, text=True, check=False,
                               env={"MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100", "PATH": "/usr/bin:/bin"})
        assert shown.returncode == 0 and "crm deal add" in re.sub(".\b", "", shown.stdout), shown.stderr


def test_help_completes_topics_and_commands_once_each() -> None:
    result = CliRunner().invoke(main, [], prog_name="crm", env={"_CRM_COMPLETE": "bash_complete",
                                                                 "COMP_WORDS": "crm help se", "COMP_CWORD": "2"})
    offered = [line.split(",", 1)[1] for line in result.output.splitlines()]
    assert offered == ["search", "serve", "server-hook", "set"]
