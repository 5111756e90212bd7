"""The hostile and broken input corpus (tests/hostile/) through the real
commands: each gets a clear message, the rest of the vault keeps working,
nothing existing is modified, and no escape sequence reaches the terminal."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from crmnotes import note
from tests.conftest import Crm

from .harness import all_files

CORPUS = Path(__file__).parents[1] / "hostile"
UNREADABLE = sorted(p.name for p in CORPUS.glob("*.md") if not p.name.startswith("valid_"))
EXAMPLE_CUSTOMERS = 7
PWNED = Path("/tmp/crm-hostile-pwned")
ESCAPES = ("\x1b", "\x07", "\x9b", "\x08")


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text and "Error:" not in text.replace("crm: error:", "")


@pytest.fixture
def hostile(crm: Crm, tmp_path: Path) -> Crm:
    """The example vault plus every unreadable corpus file, a 50 MB file, a
    symlink out of the vault and odd but valid file names."""
    folder = crm.root / "customers" / "z"
    folder.mkdir()
    for name in UNREADABLE:
        (folder / name).write_bytes((CORPUS / name).read_bytes())
    with open(folder / "fifty_mb.md", "wb") as handle:  # generated, never committed
        handle.write(b"---\nname: huge\n---\n")
        handle.truncate(50 * 2**20)
    outside = tmp_path / "outside.md"
    outside.write_text("---\nid: c-20250101-outside1\nname: 外部机密\n---\n", encoding="utf-8")
    (folder / "link_out.md").symlink_to(outside)
    return crm


def test_every_command_reports_bad_files_and_keeps_working(hostile: Crm, tmp_path: Path) -> None:
    before = all_files(hostile.root)
    bad = {f"customers/z/{n}" for n in [*UNREADABLE, "fifty_mb.md"]}
    listed = hostile("ls")
    assert f"{EXAMPLE_CUSTOMERS} customers" in listed.stdout
    for rel in bad:
        assert rel in listed.stderr
    assert "outside the vault" in listed.stderr and "外部机密" not in listed.stdout
    assert len(hostile("ls", "--json").json()) == EXAMPLE_CUSTOMERS
    report = hostile("check", "--json", ok=False).json()
    assert {p["path"] for p in report["problems"] if p["code"] == "unreadable"} == bad
    assert [p for p in report["problems"] if p["code"] == "unsafe-path"]
    assert [h["name"] for h in hostile("search", "数据安全", "--json").json()]
    assert len(hostile("due", "--json").json()) >= 1
    exported = tmp_path / "out.csv"
    hostile("export", "-o", str(exported))
    assert len(list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))) == EXAMPLE_CUSTOMERS + 1
    for rel in sorted(bad):
        shown = hostile("show", rel, ok=False)
        logged = hostile("log", rel, "--note", "不应写入", ok=False)
        for out in (shown, logged):
            assert out.stderr.startswith("crm: error:") and rel in out.stderr
            _no_traceback(out.stderr)
    hostile("log", "星辰", "--note", "其余客户照常工作")
    after = all_files(hostile.root)
    changed = {rel for rel in after if after[rel] != before.get(rel)}
    assert len(changed) == 1 and next(iter(changed)).startswith("customers/x/")
    assert not PWNED.exists()


def test_index_and_search_skip_bad_files_and_say_so(hostile: Crm) -> None:
    out = hostile("index", "--rebuild")
    _no_traceback(out.stdout, out.stderr)
    hits = hostile("search", "name:huge OR 外部机密 OR lol", "--json").json()
    assert hits == []


def test_escape_sequences_in_fields_never_reach_the_terminal(crm: Crm) -> None:
    target = crm.root / "customers" / "e" / "eyi-ansi.md"
    target.parent.mkdir()
    target.write_bytes((CORPUS / "valid_ansi_fields.md").read_bytes())
    outputs = [crm("show", str(target)), crm("show", "恶意", "--reveal"), crm("ls"), crm("search", "数据安全"),
               crm("search", "恶意"), crm("due", "--owner", "alice"), crm("check", ok=None)]
    outputs.append(crm("log", "恶意", "--note", "新的\x1b[31m记录\x1b]0;x\x07", "--feedback", "\x1b[2J满意"))
    outputs.append(crm("set", "恶意", "city=\x1b[5m北京"))
    outputs.append(crm("history", "恶意", ok=None))
    for out in outputs:
        for byte in ESCAPES:
            assert byte not in out.stdout and byte not in out.stderr, (byte, out.stdout)
    assert "红色" in outputs[0].stdout and "恶意" in outputs[2].stdout
    written = target.read_text(encoding="utf-8")
    new_part = written.split("数据安全")[-1]  # what crm wrote is clean; what the user wrote is kept
    assert "\x1b" not in new_part and "新的记录" in new_part and "\x1b[41m" in written


def test_crlf_and_bom_are_read_and_kept(crm: Crm) -> None:
    target = crm.root / "customers" / "h" / "huiche.md"
    original = (CORPUS / "valid_crlf_bom.md").read_bytes()
    target.write_bytes(original)
    shown = crm("show", "回车换行", "--json").json()
    assert shown["name"] == "回车换行公司" and len(shown["followups"]) == 1
    crm("log", "回车换行", "--note", "第二次电话\n两行", "--at", "2025-02-01 10:00")
    data = target.read_bytes()
    assert data.startswith(original) and b"\n" not in data.replace(b"\r\n", b"")
    assert len(crm("show", "回车换行", "--json").json()["followups"]) == 2


@pytest.mark.parametrize("name", ["..", "../../etc/passwd", "CON", "nul", "aux.txt", "COM1", "LPT9", ".hidden",
                                  "a/b\\c", "星" * 300, "x" * 1000, "名字\x00带空字符", "\u202etxt.exe"])
def test_hostile_customer_names_give_safe_file_names(crm_empty: Crm, name: str) -> None:
    out = crm_empty("add", name, "--industry", "internet", "--contact", "王", "--phone", "13800138000",
                    "--force", ok=None)
    if out.exit_code != 0:  # refused: a clear sentence, nothing written
        assert out.stderr.startswith("crm: error:")
        assert not list((crm_empty.root / "customers").rglob("*.md"))
        return
    path = crm_empty.root / crm_empty("show", out.stdout.strip(), "--json").json()["path"]
    assert path.resolve().is_relative_to((crm_empty.root / "customers").resolve())
    assert len(path.name.encode()) <= 255 and path.name.isascii()
    assert path.name.split(".")[0].upper() not in {"CON", "NUL", "AUX", "COM1", "LPT9", "PRN"}
    assert not path.name.startswith(".") and ".." not in path.name


def test_odd_but_valid_file_names_in_the_vault_are_read(crm: Crm) -> None:
    folder = crm.root / "customers" / "w"
    folder.mkdir()
    text = "---\nid: c-20250101-{}\nname: {}\nindustry: internet\n---\n"
    names = {"CON.md": "保留名甲", "a..b.md": "双点乙", ("长" * 80) + ".md": "超长名丙"}
    for i, (file, customer) in enumerate(names.items()):
        (folder / file).write_text(text.format(f"odd{i:05d}", customer), encoding="utf-8")
    listed = {c["name"] for c in crm("ls", "--json").json()}
    assert set(names.values()) <= listed
    for customer in names.values():
        crm("log", customer, "--note", "文件名奇怪也能写")


def test_a_very_long_line_is_read_and_appended_to(crm: Crm) -> None:
    target = crm.root / "customers" / "l" / "long.md"
    target.parent.mkdir()
    line = "很长的一行" * 200_000  # 3 MB on one line, under the size limit
    target.write_text(f"---\nid: c-20250101-long0001\nname: 长行公司\nindustry: internet\n---\n\n{line}\n",
                      encoding="utf-8")
    before = target.read_bytes()
    crm("log", "长行公司", "--note", "追加")
    assert target.read_bytes().startswith(before)


# ------------------------------------------------------------------ import / export


def _import(crm: Crm, file: Path, ok: bool | None = True) -> tuple[object, set[str]]:
    before = all_files(crm.root)
    out = crm("import", str(file), ok=ok)
    _no_traceback(out.stdout, out.stderr)
    after = all_files(crm.root)
    assert all(after[rel] == data for rel, data in before.items()), "import modified an existing file"
    return out, set(after) - set(before)


@pytest.mark.parametrize(("file", "name"), [("gbk.csv", "北风贸易有限公司"), ("bom.csv", "南方明远咨询有限公司")])
def test_gbk_and_bom_csvs_import(crm: Crm, file: str, name: str) -> None:
    _, created = _import(crm, CORPUS / "csv" / file)
    assert len(created) == 1 and crm("show", name, "--json").json()["name"] == name


@pytest.mark.parametrize(("file", "words"), [
    ("mixed.csv", "UTF-8"), ("binary.csv", ""), ("empty.csv", ""), ("not_a_zip.xlsx", "not a valid .xlsx"),
    ("truncated_zip.xlsx", ""),
])
def test_broken_import_files_are_refused_and_nothing_is_written(crm: Crm, file: str, words: str) -> None:
    out, created = _import(crm, CORPUS / "csv" / file, ok=False)
    assert out.stderr.startswith("crm: error:") and words in out.stderr  # type: ignore[attr-defined]
    assert created == set()


def test_an_xlsx_zip_bomb_is_not_opened(crm: Crm, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:  # generated, never committed
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b"\0" * 2**20
            for _ in range(64):
                member.write(chunk)
    assert bomb.stat().st_size < 2**20
    out, created = _import(crm, bomb, ok=False)
    assert "zip bomb" in out.stderr and created == set()  # type: ignore[attr-defined]


def test_formula_cells_are_neutralized_in_every_export(crm: Crm, tmp_path: Path) -> None:
    _import(crm, CORPUS / "csv" / "formulas.csv", ok=None)
    crm("add", "=cmd|' /C calc'!A0", "--industry", "internet", "--contact", "@SUM(1+1)", "--phone", "13700137009",
        "--force")
    out_csv, out_xlsx = tmp_path / "x.csv", tmp_path / "x.xlsx"
    crm("export", "-o", str(out_csv))
    crm("export", "-o", str(out_xlsx))
    cells = [c for row in csv.reader(io.StringIO(out_csv.read_text(encoding="utf-8-sig"))) for c in row]
    assert any("cmd|" in c for c in cells)
    for cell in cells:
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
        assert not (cell.startswith("-") and not cell[1:].replace(".", "").isdigit()), cell
    from openpyxl import load_workbook

    sheet = load_workbook(out_xlsx).active
    assert sheet is not None
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.value


def test_parse_of_a_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = b"---\nname: x\n---\n" + b"y" * (note.MAX_FILE_BYTES + 1)
    with pytest.raises(Exception, match="too large"):
        note.parse(big)


# ------------------------------------------------------------------ what is not a plain file in customers/


def _remove_deep_folders(root: Path) -> None:
    """Bottom-up, one rmdir at a time: shutil.rmtree (and so pytest's temp cleanup) recurses that deep."""
    import os

    deepest = root / "customers" / "deep"
    while (deepest / "d").is_dir():
        deepest = deepest / "d"
    for name in os.listdir(deepest):
        os.unlink(deepest / name)
    while deepest != root / "customers":
        deepest.rmdir()
        deepest = deepest.parent


def _odd_file_system_entries(root: Path) -> None:
    """A FIFO (and a link to it), 1,200 nested folders, a non-UTF-8 file name and folder name."""
    import os

    folder = root / "customers" / "f"
    folder.mkdir()
    os.mkfifo(folder / "pipe.md")
    (folder / "pipe-link.md").symlink_to("pipe.md")
    deep = root / "customers" / "deep"
    deep.mkdir()
    for _ in range(1200):  # one mkdir at a time: os.makedirs itself recurses that deep
        deep = deep / "d"
        deep.mkdir()
    (deep / "buried.md").write_text("---\nid: c-20250101-buried01\nname: 埋得很深\n---\n", encoding="utf-8")
    gbk = os.fsencode(root / "customers" / "f") + b"/" + "星辰".encode("gbk") + b".md"
    with open(gbk, "wb") as handle:
        handle.write("---\nid: c-20250101-gbkname1\nname: 乱码文件名\n---\n".encode())
    os.mkdir(os.fsencode(root / "customers") + b"/" + "中文".encode("gbk"))


def test_fifos_deep_folders_and_undecodable_names_are_skipped_and_reported(crm: Crm, tmp_path: Path) -> None:

    _odd_file_system_entries(crm.root)
    try:
        _odd_entries_are_skipped(crm, tmp_path)
    finally:
        _remove_deep_folders(crm.root)


def _odd_entries_are_skipped(crm: Crm, tmp_path: Path) -> None:
    from tests.conftest import run_process

    vault = ["--vault", str(crm.root)]
    for args in (["ls"], ["due"], ["search", "数据安全"], ["index", "--rebuild"], ["index"],
                 ["export", "-o", str(tmp_path / "out.csv")], ["report"]):
        done = run_process(*vault, *args, cwd=tmp_path)  # a real process: a FIFO read would hang it (timeout)
        assert done.returncode == 0, (args, done.stderr)
        _no_traceback(done.stdout, done.stderr)
    assert len(crm("ls", "--json").json()) == EXAMPLE_CUSTOMERS
    problems = crm("check", "--json", ok=False).json()["problems"]
    codes = {p["code"]: p["path"] for p in problems if p["code"] in ("not-a-file", "too-deep", "undecodable-name")}
    assert codes["not-a-file"] in ("customers/f/pipe.md", "customers/f/pipe-link.md")
    assert codes["too-deep"].startswith("customers/deep/d/d/")
    assert "\\x" in codes["undecodable-name"]
    assert len([p for p in problems if p["code"] == "not-a-file"]) == 2
    assert len([p for p in problems if p["code"] == "undecodable-name"]) == 2
    refused = crm("log", str(crm.root / "customers" / "f" / "pipe.md"), "--note", "不应写入", ok=False)
    assert refused.exit_code == 2 and "not a regular file" in refused.stderr
    crm("log", "星辰", "--note", "其余客户照常工作")


def test_the_reader_refuses_a_fifo_without_blocking(crm: Crm) -> None:
    import os

    from crmnotes.errors import FileFormatError
    from crmnotes.vault import Vault

    pipe = crm.root / "customers" / "pipe.md"
    os.mkfifo(pipe)
    with pytest.raises(FileFormatError, match="not a regular file"):
        Vault(crm.root).read(pipe)


def test_the_watcher_passes_over_an_undecodable_name_and_keeps_reporting(crm: Crm) -> None:
    import os
    import threading

    from crmnotes.watch import VaultWatcher

    seen: set[str] = set()
    arrived = threading.Event()

    def changed(paths: set[str] | None) -> None:
        seen.update(paths or ())
        if "customers/x/later.md" in seen:
            arrived.set()

    with VaultWatcher(crm.root, changed):
        with open(os.fsencode(crm.root / "customers" / "x") + b"/" + "乱码".encode("gbk") + b".md", "wb") as handle:
            handle.write(b"---\nname: x\n---\n")
        (crm.root / "customers" / "x" / "later.md").write_text("---\nname: 后来\n---\n", encoding="utf-8")
        assert arrived.wait(15)
    assert all(name.isprintable() and "\\" not in name for name in seen)
    assert len(crm("search", "数据安全", "--json").json()) >= 1
