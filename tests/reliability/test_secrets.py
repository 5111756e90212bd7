"""PRC ID and bank card numbers are refused in every field and entry, by
crm check and by the pre-commit hook; numbers without a valid checksum are
not flagged; exports mask phones unless --reveal."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from crmnotes import rules
from tests.conftest import Crm

from .harness import run

PRC_ID = "11010519491231002X"  # valid checksum (GB 11643 example)
CARD = "6222 0212 3456 7894"  # not Luhn-valid: fixed below
BAD_ID = "110105194912310021"  # wrong check digit


def _luhn_fix(digits: str) -> str:
    base = digits.replace(" ", "")[:-1]
    for last in "0123456789":
        if rules.is_bank_card(base + last):
            return base + last
    raise AssertionError


LUHN_CARD = _luhn_fix(CARD)
NOT_LUHN = LUHN_CARD[:-1] + str((int(LUHN_CARD[-1]) + 1) % 10)
PLACES = ["name", "contact", "email", "city", "tags", "nested", "body", "note", "feedback", "next"]


def _plant(crm: Crm, where: str, number: str) -> Path:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    text = path.read_text(encoding="utf-8")
    head, _, body = text.partition("\n---\n")
    if where in ("name", "contact", "email"):
        head = head.replace(f"\n{where}: ", f"\n{where}: {number} ", 1)
    elif where == "city":
        head += f"\ncity: 身份证{number}"
    elif where == "tags":
        head = head.replace("tags:\n", f"tags:\n  - id/{number}\n", 1)
    elif where == "nested":
        head += f"\nnotes_list:\n  - what: 卡号{number}\n    when: 2030-01-01"
    elif where == "body":
        body = f"\n客户身份证号 {number}\n" + body
    else:
        prefix = {"note": "", "feedback": "feedback: ", "next": "next: 2030-01-01 "}[where]
        body += f"\n### 2030-01-01 10:00 · phone · alice\n\n{prefix}号码 {number}\n"
    path.write_text(f"{head}\n---\n{body}", encoding="utf-8")
    return path


@pytest.mark.parametrize("where", PLACES)
@pytest.mark.parametrize("number", [PRC_ID, LUHN_CARD])
def test_check_refuses_sensitive_numbers_everywhere(crm: Crm, where: str, number: str) -> None:
    _plant(crm, where, number)
    problems = crm("check", "--json", ok=False).json()["problems"]
    found = [p for p in problems if "must not be stored" in p["message"]]
    assert found, where
    assert number not in json.dumps(found)  # reported masked


@pytest.mark.parametrize("number", [BAD_ID, NOT_LUHN, "13800138000", "20250101120000", "1234567890123"])
def test_numbers_without_a_valid_checksum_are_not_flagged(crm: Crm, number: str) -> None:
    _plant(crm, "body", number)
    problems = crm("check", "--json", ok=None).json()["problems"]
    assert not [p for p in problems if "must not be stored" in p["message"]]


def test_crm_log_refuses_a_card_number(crm: Crm) -> None:
    out = crm("log", "星辰", "--note", f"卡号 {LUHN_CARD}", ok=False)
    assert "bank card" in out.stderr and LUHN_CARD not in out.stderr


@pytest.mark.parametrize("where", ["city", "body", "feedback"])
def test_the_pre_commit_hook_refuses_them(tmp_path: Path, where: str) -> None:
    root = tmp_path / "v"
    subprocess.run(["git", "init", "-q", str(tmp_path / "x")], check=True)
    import sys

    from .sync_faults import child_env

    subprocess.run([sys.executable, "-m", "crmnotes", "init", str(root), "--example"], check=True, env=child_env(),
                   capture_output=True)
    for key, value in (("user.name", "t"), ("user.email", "t@example.com")):
        subprocess.run(["git", "config", key, value], cwd=root, check=True)
    path = _plant(Crm(root), where, PRC_ID)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    done = subprocess.run(["git", "commit", "-qm", "x"], cwd=root, capture_output=True, text=True)
    assert done.returncode != 0 and "refused" in done.stderr and PRC_ID not in done.stderr
    assert PRC_ID in path.read_text(encoding="utf-8")  # refused, not rewritten
    assert "refused" in run(root, "sync", ok=False).stderr


def test_exports_mask_phones_unless_revealed(crm: Crm, tmp_path: Path) -> None:
    phone = crm("show", "星辰", "--json", "--reveal").json()["phone"]
    digits = phone.lstrip("+").removeprefix("86")
    for fmt in ("csv", "json", "ics"):
        masked = crm("export", "--format", fmt).stdout
        revealed = crm("export", "--format", fmt, "--reveal").stdout
        assert digits not in masked and "****" in masked, fmt
        assert digits in revealed, fmt
    rows = list(csv.DictReader(io.StringIO(crm("export", "--format", "csv").stdout.lstrip("\ufeff"))))
    assert all("*" in (r.get("phone") or "*") for r in rows)
