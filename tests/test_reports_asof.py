"""Reports as of a day and pipeline movement, from the vault's git history: a vault whose customers
move through stages in commits dated 2026-09-01, 09-15 and 10-05."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from datetime import date
from pathlib import Path

import pytest

from crmnotes import reports
from crmnotes.vault import Vault
from tests.conftest import Crm


def _customer(ident: str, name: str, stage: str, created: str, deal: str) -> str:
    return (f"---\nid: {ident}\nname: {name}\nindustry: internet\ncontact: 王经理\nphone: '+8613800000001'\n"
            f"stage: {stage}\nowner: 张伟\ncreated: {created}\ndeals:\n{deal}---\n\n# {name}\n")


JIA, YI, BING = "customers/j/jia.md", "customers/y/yi.md", "customers/b/bing.md"
HISTORY = [  # (commit day, files written that day)
    ("2026-09-01", {
        JIA: _customer("c-1", "甲公司", "potential", "2026-09-01T09:00",
                       "  - {id: D1, name: 平台, stage: initial-contact, amount: 100000, close: 2026-09-20}\n"),
        YI: _customer("c-2", "乙公司", "intent", "2026-09-01T09:00",
                      "  - {id: D1, name: 升级, stage: proposal, amount: 50000, close: 2026-10-15}\n"),
    }),
    ("2026-09-15", {
        JIA: _customer("c-1", "甲公司", "intent", "2026-09-01T09:00",
                       "  - {id: D1, name: 平台, stage: negotiation, amount: 100000, close: 2026-09-20}\n"),
        YI: _customer("c-2", "乙公司", "intent", "2026-09-01T09:00",
                      "  - {id: D1, name: 升级, stage: proposal, amount: 50000, close: 2026-11-30}\n"),
        BING: _customer("c-3", "丙公司", "potential", "2026-09-15T09:00",
                        "  - {id: D1, name: 试用, stage: initial-contact, amount: 20000}\n"),
    }),
    ("2026-10-05", {
        JIA: _customer("c-1", "甲公司", "won", "2026-09-01T09:00",
                       "  - {id: D1, name: 平台, stage: won, amount: 100000, close: 2026-10-05}\n"),
        YI: _customer("c-2", "乙公司", "intent", "2026-09-01T09:00",
                      "  - {id: D1, name: 升级, stage: lost, amount: 50000, close: 2026-11-30}\n"),
    }),
]


def _git(root: Path, *args: str, day: str = "2026-09-01") -> bytes:
    when = f"{day}T18:00:00"
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "张伟",
           "GIT_AUTHOR_EMAIL": "zw@example.com", "GIT_COMMITTER_NAME": "张伟", "GIT_COMMITTER_EMAIL": "zw@example.com"}
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True).stdout


@pytest.fixture
def history(empty_vault: Vault) -> Vault:
    root = empty_vault.root
    if not (root / ".git").exists():
        _git(root, "init", "-q")
    for day, files in HISTORY:
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        _git(root, "add", "-A", day=day)
        _git(root, "commit", "-q", "--no-verify", "-m", f"{day} 的变化", day=day)
    return empty_vault


def _checked_out(vault: Vault, day: str, into: Path) -> Vault:
    """The vault's files as they were at the end of ``day``, written out by git archive."""
    commit = _git(vault.root, "rev-list", "-1", f"--before={day} 23:59:59", "HEAD").decode().strip()
    with tarfile.open(fileobj=io.BytesIO(_git(vault.root, "archive", "--format=tar", commit))) as tar:
        tar.extractall(into, filter="data")
    return Vault(into)


@pytest.mark.parametrize("name", ["funnel", "sources", "forecast", "conversion", "trend", "completeness"])
def test_as_of_equals_the_files_checked_out_at_that_day(history: Vault, tmp_path: Path, name: str) -> None:
    data = Crm(history.root)("report", name, "--as-of", "2026-09-30", "--json").json()
    then = _checked_out(history, "2026-09-30", tmp_path / "then")
    expected = reports.build(name, then.scan().customers, history.config, until=date(2026, 9, 30),
                             today=date(2026, 9, 30)).to_json()
    assert data == expected


def test_funnel_as_of_hand_figures(history: Vault) -> None:
    crm = Crm(history.root)

    def stages(*args: str) -> tuple[int, int, int]:
        rows = {r["stage"]: r["customers"] for r in crm("report", "funnel", *args, "--json").json()["rows"]}
        return rows["potential"], rows["intent"], rows["won"]

    assert stages("--as-of", "2026-09-30") == (1, 2, 0)  # 丙; 甲 乙
    assert stages("--as-of", "2026-09-10") == (1, 1, 0)  # 甲; 乙 (丙 not yet there)
    assert stages("--until", "2026-10-31") == (1, 1, 1)  # the files now: 丙; 乙; 甲
    early = crm("report", "funnel", "--as-of", "2026-08-31", ok=False)
    assert "history starts after 2026-08-31" in early.stderr


def test_movement_between_two_days(history: Vault) -> None:
    crm = Crm(history.root)
    september = crm("report", "movement", "--since", "2026-09-01", "--until", "2026-09-30", "--json").json()
    assert [(r["name"], r["kind"], r["from"], r["to"]) for r in september["rows"]] == [
        ("丙公司", "new", None, "初步接触"), ("甲公司", "advanced", "初步接触", "商务谈判"),
        ("乙公司", "slipped", "方案报价", "方案报价")]
    october = crm("report", "movement", "--since", "2026-09-30", "--until", "2026-10-31", "--json").json()
    assert [(r["name"], r["kind"]) for r in october["rows"]] == [("甲公司", "won"), ("乙公司", "lost")]
    assert october["totals"]["won_value"] == 100000 and october["totals"]["lost"] == 1
    assert "the movement report needs --since" in crm("report", "movement", ok=False).stderr


def test_as_of_needs_git(tmp_path: Path) -> None:
    from crmnotes import actions

    plain = Vault(actions.create_vault(tmp_path / "plain"))
    if (plain.root / ".git").exists():  # crm init makes a repository; a copied folder may have none
        subprocess.run(["rm", "-rf", str(plain.root / ".git")], check=True)
    result = Crm(plain.root)("report", "funnel", "--as-of", "2026-09-30", ok=False)
    assert "not a git repository" in result.stderr and "Traceback" not in result.stderr
