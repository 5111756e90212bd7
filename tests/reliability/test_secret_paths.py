"""PRC ID and bank card numbers cannot slip past the guards: every spelling
people use is found (and ordinary numbers are not), every file a sync would
commit is scanned by check, the hook and sync, every write path refuses them,
and no message echoes one in full.  The numbers are generated here with valid
checksums, so each refusal is for a real-looking number."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from crmnotes import actions, sensitive
from crmnotes.sync.guard import sensitive_findings
from tests.conftest import Crm, run_process

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(area: str = "110105", birth: str = "19850312", sequence: str = "123") -> str:
    body = area + birth + sequence
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def make_card(prefix: str = "622202", length: int = 16) -> str:
    body = (prefix + "1234567890123456789")[: length - 1]
    for last in "0123456789":
        if sensitive.luhn_valid(body + last):
            return body + last
    raise AssertionError


ID = make_id()  # 110105198503121234-like, checksum valid
ID_X = next(make_id(sequence=f"{n:03d}") for n in range(1000) if make_id(sequence=f"{n:03d}").endswith("X"))
CARD = make_card()
CARD19 = make_card("621700", 19)
AMEX = make_card("378282", 15)
BAD_ID = ID[:-1] + ("0" if ID[-1] == "X" else str((int(ID[-1]) + 1) % 10))
NOT_LUHN = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def spaced(number: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, pos = [], 0
    for size in sizes:
        parts.append(number[pos:pos + size])
        pos += size
    return sep.join(parts)


FOUND = {
    "id plain": f"客户身份证号{ID}，已核实",
    "id with X": f"身份证 {ID_X}",
    "id lower x": f"身份证 {ID_X.lower()}",
    "id 6-8-4 spaces": f"证件号 {spaced(ID, (6, 8, 4), ' ')} 请勿外传",
    "id 6-8-4 hyphens": f"证件号：{spaced(ID, (6, 8, 4), '-')}。",
    "id fullwidth": f"身份证号码{ID.translate(FULLWIDTH)}",
    "id glued to letters": f"ID{ID}",
    "id glued both sides": f"证件ID{ID}abc",
    "id split across lines": f"身份证 {ID[:6]} {ID[6:14]}\n{ID[14:]}",
    "card plain": f"卡号{CARD}",
    "card 4-4-4-4": f"工行卡 {spaced(CARD, (4, 4, 4, 4), ' ')} 张三",
    "card dots": f"卡号 {spaced(CARD, (4, 4, 4, 4), '.')}",
    "card double spaces": f"卡号 {spaced(CARD, (4, 4, 4, 4), '  ')}",
    "card hyphens": f"卡号 {spaced(CARD, (4, 4, 4, 4), '-')}",
    "card two lines": f"请打款到 {spaced(CARD, (4, 4), ' ')}\n{spaced(CARD[8:], (4, 4), ' ')} 谢谢",
    "card fullwidth": f"卡号：{CARD.translate(FULLWIDTH)}",
    "card fullwidth spaces": f"卡号：{spaced(CARD.translate(FULLWIDTH), (4, 4, 4, 4), chr(0x3000))}",
    "card then a year": f"卡号 {spaced(CARD, (4, 4, 4, 4), ' ')} 2025 年开户",
    "card 19 digits": f"建行 {spaced(CARD19, (4, 4, 4, 4, 3), ' ')}",
    "card amex 4-6-5": f"Amex {spaced(AMEX, (4, 6, 5), ' ')}",
    "card glued": f"No.{CARD}",
}
NOT_FOUND = {
    "phone": "电话 13800138000，微信同号",
    "phone spaced": "手机 +86 138 0013 8000",
    "phone hyphens": "座机 010-8888-6666 转 8001",
    "phones on two lines": "13800138000\n13900139000",
    "phone list": "13800138000 13900139000 13700137000",
    "international phone": "+4915112345678",
    "dates": "2025-06-01 14:00 拜访，2025年6月1日 签约，20250601",
    "timestamp": "20250101120000",
    "amounts": "报价 ¥1,234,567.89，预算 120000 元，折扣 15%",
    "customer ids": "c-20250601-9c1mh7te c-20251231-0a1b2c3d",
    "id wrong checksum": f"证件 {spaced(BAD_ID, (6, 8, 4), ' ')}",
    "card wrong luhn": f"订单号 {spaced(NOT_LUHN, (4, 4, 4, 4), ' ')}",
    "order number": "订单 2025060112345678",
    "ip and version": "服务器 192.168.100.200 版本 10.2.3",
}


@pytest.mark.parametrize("text", FOUND.values(), ids=FOUND.keys())
def test_every_spelling_is_found_and_masked(text: str) -> None:
    found = sensitive.find(text)
    assert len(found) == 1, found
    masked = sensitive.redact(text)
    for number in (ID, ID_X, CARD, CARD19, AMEX):
        assert number not in masked.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
        assert number not in "".join(ch for ch in masked if ch.isalnum())


@pytest.mark.parametrize("text", NOT_FOUND.values(), ids=NOT_FOUND.keys())
def test_ordinary_numbers_are_not_flagged(text: str) -> None:
    assert sensitive.find(text) == []
    assert sensitive.redact(text) == text


def test_lists_of_phones_amounts_dates_and_ids_never_combine_into_a_number() -> None:
    """Thousands of generated lines (seeded): runs of numbers that are each harmless must not be
    joined into a checksum-valid card or ID."""
    rng = random.Random(2025)

    def phone() -> str:
        digits = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        return rng.choice([digits, f"{digits[:3]} {digits[3:7]} {digits[7:]}", f"{digits[:3]}-{digits[3:7]}-"
                           f"{digits[7:]}", f"+86 {digits}", f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"])

    for _ in range(3000):
        day = f"{rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        lines = [
            "电话 " + "  ".join(phone() for _ in range(3)),
            "金额 " + " ".join(str(rng.randint(100, 99999)) for _ in range(5)),
            "\n".join(phone() for _ in range(3)),
            f"{day} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} c-{day.replace('-', '')}-"
            f"{rng.getrandbits(40):010x} 订单 {rng.randint(10**7, 10**8)} "
            f"¥{rng.randint(1, 999)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}",
        ]
        for text in lines:
            assert sensitive.find(text) == [], text


def test_a_number_split_across_lines_is_reported_at_its_first_line() -> None:
    text = f"第一行\n卡号 {CARD[:8]}\n{CARD[8:]}\n"
    assert [(line, kind) for line, kind, _ in sensitive.find_lines(text)] == [(2, sensitive.CARD_KIND)]


# ------------------------------------------------------------------ check, hook and sync see every file


def git(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert not ok or done.returncode == 0, done.stderr
    return done


def _vault_repo(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    done = run_process("init", str(root), "--example", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    git(root, "config", "user.name", "张伟")
    git(root, "config", "user.email", "zw@example.com")
    return root


def _plant_beside_customers(root: Path) -> dict[str, str]:
    """A number in each kind of file a vault may carry besides customer files."""
    (root / "leads.csv").write_text(f"名称,电话,身份证\n云帆,13800138000,{spaced(ID, (6, 8, 4), ' ')}\n",
                                    encoding="gbk")
    with (root / "crmnotes.yaml").open("a", encoding="utf-8") as config:
        config.write(f"# 财务卡号 {spaced(CARD, (4, 4, 4, 4), '.')}\n")
    (root / "customers" / "x" / "notes.txt").write_text(f"备注：卡号\n{CARD[:8]}\n{CARD[8:]}\n", encoding="utf-8")
    return {"leads.csv": "PRC resident ID", "crmnotes.yaml": "bank card", "customers/x/notes.txt": "bank card"}


def test_check_reports_numbers_in_every_file_sync_would_commit(tmp_path: Path) -> None:
    root = _vault_repo(tmp_path)
    planted = _plant_beside_customers(root)
    problems = Crm(root)("check", "--json", ok=False).json()["problems"]
    found = {p["path"]: p["message"] for p in problems if p["code"] == "sensitive"}
    assert set(found) == set(planted)
    for path, kind in planted.items():
        assert kind in found[path]
    text = str(problems)
    assert ID not in text and CARD not in text and CARD[:8] not in text.replace("*", "")


def test_sync_refuses_and_the_remote_gets_nothing(tmp_path: Path) -> None:
    root = _vault_repo(tmp_path)
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    git(root, "remote", "add", "origin", str(bare))
    assert run_process("sync", cwd=root).returncode == 0
    shared = git(bare, "rev-parse", "main").stdout
    _plant_beside_customers(root)
    done = run_process("sync", cwd=root)
    assert done.returncode != 0 and "commit refused" in done.stderr
    for path in ("leads.csv", "crmnotes.yaml", "customers/x/notes.txt"):
        assert path in done.stderr
    assert ID not in done.stderr and CARD not in done.stderr
    assert git(bare, "rev-parse", "main").stdout == shared
    assert git(root, "rev-parse", "HEAD").stdout == shared  # nothing committed locally either


def test_sync_without_git_reinits_but_runs_the_guard(tmp_path: Path) -> None:
    root = actions.create_vault(tmp_path / "vault", example=True)
    (root / "leads.csv").write_text(f"身份证\n{ID}\n", encoding="utf-8")
    done = run_process("sync", cwd=root)
    assert done.returncode != 0 and "commit refused" in done.stderr and ID not in done.stderr
    assert git(root, "rev-parse", "--verify", "-q", "HEAD", ok=False).returncode != 0  # no commit at all
    (root / "leads.csv").unlink()
    assert run_process("sync", cwd=root).returncode == 0
    assert git(root, "log", "--oneline").stdout.strip()


def test_the_hook_sees_any_staged_file_and_a_name_with_a_newline(tmp_path: Path) -> None:
    root = _vault_repo(tmp_path)
    odd = root / "customers" / "x" / "附件\n\x1b[2Jnotes.md"
    odd.write_text(f"卡号 {spaced(CARD, (4, 4, 4, 4), '  ')}\n", encoding="utf-8")
    git(root, "add", "-A")
    assert len(sensitive_findings(root)) == 1
    done = git(root, "commit", "-qm", "附件", ok=False)
    assert done.returncode != 0 and "refused" in done.stderr
    assert "\x1b" not in done.stderr and CARD not in done.stderr and "附件\\x0a\\x1b[2Jnotes.md" in done.stderr
    git(root, "reset", "-q")
    odd.unlink()
    _plant_beside_customers(root)
    git(root, "add", "-A")
    assert len(sensitive_findings(root)) == 3
    assert git(root, "commit", "-qm", "leads", ok=False).returncode != 0


# ------------------------------------------------------------------ every write path refuses


WRITES = {
    "set a new field": ["set", "星辰", f"bank={CARD}"],
    "set tags": ["set", "星辰", f"tags=needs/training,{ID}"],
    "set contact spaced": ["set", "星辰", f"contact=王经理 {spaced(ID, (6, 8, 4), '-')}"],
    "log channel": ["log", "星辰", "--note", "电话沟通报价", "--channel", CARD],
    "log by": ["log", "星辰", "--note", "电话沟通报价", "--by", ID],
    "log next": ["log", "星辰", "--note", "电话沟通报价", "--next", f"2030-01-02 打款到 {CARD}"],
    "log next no date": ["log", "星辰", "--note", "电话沟通报价", "--next", f"{CARD} call"],
    "log at": ["log", "星辰", "--note", "电话沟通报价", "--at", CARD],
    "log feedback": ["log", "星辰", "--note", "电话沟通报价", "--feedback", f"卡号{CARD.translate(FULLWIDTH)}"],
    "log stage": ["log", "星辰", "--note", "电话沟通报价", "--stage", ID],
    "add contact": ["add", "新客户", "-i", "internet", "-c", f"李{ID}", "-p", "13700137000"],
    "add field": ["add", "新客户", "-i", "internet", "-c", "李总", "-p", "13700137000", "--field", f"bank={CARD}"],
    "add tag": ["add", "新客户", "-i", "internet", "-c", "李总", "-p", "13700137000", "--tag", f"id/{ID}"],
    "deal name": ["deal", "add", "星辰", f"回款账户{CARD}"],
    "deal owner": ["deal", "add", "星辰", "年度续约", "--owner", ID],
    "ticket subject": ["ticket", "open", "星辰", f"退款到卡 {spaced(CARD, (4, 4, 4, 4), ' ')}"],
}


@pytest.mark.parametrize("args", WRITES.values(), ids=WRITES.keys())
def test_every_write_path_refuses_and_never_echoes_the_number(crm: Crm, snapshot_files, args: list[str]) -> None:
    before = snapshot_files(crm.root)
    out = crm(*args, ok=False)
    assert snapshot_files(crm.root) == before
    for number in (ID, CARD):
        assert number not in out.stderr + out.stdout
        assert number.translate(FULLWIDTH) not in out.stderr + out.stdout


def test_import_refuses_a_row_with_a_number(crm: Crm, snapshot_files, tmp_path: Path) -> None:
    table = tmp_path / "leads.csv"
    table.write_text(f"客户名称,所属行业,联系人,联系电话,开户行卡号\n新客户,internet,李总,13700137000,{CARD}\n",
                     encoding="utf-8")
    before = snapshot_files(crm.root)
    out = crm("import", str(table), "--map", "开户行卡号=bank", ok=False)
    assert snapshot_files(crm.root) == before and CARD not in out.stderr + out.stdout


def test_a_file_already_holding_a_number_can_still_be_logged(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    path.write_text(path.read_text(encoding="utf-8") + f"\n旧记录 {ID}\n", encoding="utf-8")
    crm("log", "星辰", "--note", "回访：客户确认下周签约")
    assert "回访：客户确认下周签约" in path.read_text(encoding="utf-8")


def test_no_message_echoes_a_full_number(crm: Crm) -> None:
    for args in (["show", CARD], ["show", f"客户{ID}"], ["history", CARD], ["log", CARD, "--note", "x"],
                 ["ls", "--limit", f"{CARD}x"], [CARD], ["export", "--format", ID]):
        out = crm(*args, ok=False)
        assert CARD not in out.stderr and ID not in out.stderr and "****" in out.stderr, args


def test_the_duplicate_refusal_masks_the_other_customers_phone(crm: Crm) -> None:
    phone = crm("show", "星辰", "--json", "--reveal").json()["phone"]
    out = crm("add", "全新的公司", "-i", "internet", "-c", "赵总", "-p", phone, ok=False)
    national = phone.removeprefix("+86")
    assert "same phone" in out.stderr and national not in out.stderr and f"{national[:3]}****{national[-4:]}" \
        in out.stderr


def test_the_tui_log_form_refuses_a_number_in_any_field_and_masks_it(example_vault) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from crmnotes.tui.screens.forms import LogForm
    from tests.test_tui import app_for, screen_text, search_for, settle

    path = next(example_vault.customers_dir.rglob("xingchen*.md"))
    before = path.read_bytes()

    async def run() -> str:
        app = app_for(example_vault)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(app, pilot)
            await search_for(app, pilot, "数据安全")
            await pilot.press("enter", "l")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, LogForm)
            form.query_one("#f-note").text = "客户要求退款"  # type: ignore[attr-defined]
            form.query_one("#f-at").value = CARD  # type: ignore[attr-defined]
            form.query_one("#f-feedback").value = f"退到 {CARD.translate(FULLWIDTH)}"  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is form
            errors = [str(widget.render()) for widget in form.query(".field-error, #form-error")]
            assert "must not be stored" in screen_text(app)
            return "\n".join(errors)  # the messages (the inputs still show what was typed)

    shown = asyncio.run(run())
    assert "must not be stored" in shown and "****" in shown
    assert CARD not in shown and CARD.translate(FULLWIDTH) not in shown
    assert path.read_bytes() == before


def test_check_scans_other_files_of_a_vault_that_is_not_yet_a_repository(crm: Crm) -> None:
    assert not (crm.root / ".git").exists()
    _plant_beside_customers(crm.root)
    (crm.root / ".crmnotes" / "cache.txt").parent.mkdir(exist_ok=True)
    (crm.root / ".crmnotes" / "cache.txt").write_text(f"缓存 {CARD}", encoding="utf-8")  # local, never synced
    problems = crm("check", "--json", ok=False).json()["problems"]
    paths = sorted(p["path"] for p in problems if p["code"] == "sensitive")
    assert paths == ["crmnotes.yaml", "customers/x/notes.txt", "leads.csv"]


def test_check_never_echoes_a_number_a_file_holds(crm: Crm) -> None:
    path = crm.root / crm("show", "星辰", "--json").json()["path"]
    entry = f"\n### 2030-01-01 10:00 · {CARD} · 李娜\n\n客户要求退款\n"
    path.write_text(path.read_text(encoding="utf-8") + entry, encoding="utf-8")
    human, data = crm("check", ok=False), crm("check", "--json", ok=False)
    assert "unknown channel" in human.stdout and "must not be stored" in human.stdout
    for out in (human.stdout + human.stderr, data.stdout):
        assert CARD not in out and "6222" in out
