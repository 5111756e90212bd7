"""No byte of a hostile vault drives the terminal: a customer whose name, contact,
phone, owner, tags, notes and follow-ups hold ESC sequences (screen clear, OSC 52
clipboard write, OSC 8 links), C1 controls and bidi overrides goes through every
command as a real ``crm`` process and through the TUI, and neither stdout nor
stderr carries ESC, a C1 control or a raw bidi control; JSON escapes them all."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from crmnotes import actions, safetext
from crmnotes.tui.app import make_app
from crmnotes.vault import Vault
from tests.conftest import TODAY, run_process

ESC, BEL, CSI, OSC, ST = "\x1b", "\x07", "\x9b", "\x9d", "\x9c"
RLO, PDF, LRI, PDI, FSI = "\u202e", "\u202c", "\u2066", "\u2069", "\u2068"
NAME = f"恶意{ESC}[2J{ESC}]52;c;aGVsbG8={BEL}科技{RLO}gnp.exe{LRI}隔离{PDI}{CSI}31m公司"
HOSTILE_TAG = f"needs/{ESC}]8;;http://evil{ESC}\\点我"
# What must never reach a terminal: C0 but tab/newline/CR, DEL, C1, bidi controls.
FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
FORBIDDEN_BYTES = re.compile(rb"\x1b|\x9b|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def _yaml(text: str) -> str:
    """A double-quoted YAML scalar holding any control character."""
    return json.dumps(text)  # JSON strings are valid YAML double-quoted scalars


def _hostile_file(root: Path) -> Path:
    body = (f"# {NAME}\n\n[点我](http://evil.example/) 正文{ESC}]8;;http://evil.example{ESC}\\链接{ESC}]8;;{ESC}\\ "
            f"{RLO}cba{PDF}\n\n## 跟进记录\n\n### {TODAY.isoformat()} 10:00 · phone · 李娜\n\n"
            f"客户说数据安全{ESC}[2J清屏 {OSC}8;;http://x{ST}链接 {FSI}隔离{PDI}\n"
            f"next: {TODAY.isoformat()} 回访{ESC}[5m\nfeedback: 满意{CSI}0m\n")
    text = (f"---\nid: c-20250601-evil0001\nname: {_yaml(NAME)}\nindustry: internet\n"
            f"contact: {_yaml('陈' + chr(0x85) + '老师' + RLO)}\nphone: {_yaml('+8613912345678' + ESC + '[8m')}\n"
            f"source: online-search\nstage: intent\ngrade: A\nowner: {_yaml('李娜' + ESC + '[31m')}\n"
            f"tags:\n  - {_yaml(HOSTILE_TAG)}\n  - {_yaml('数据' + RLO)}\n"
            f"created: 2026-01-15T14:00\n---\n\n{body}")
    path = root / "customers" / "e" / "evil.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = actions.create_vault(tmp_path_factory.mktemp("escapes") / "vault", example=True, today=TODAY)
    _hostile_file(root)
    return root


COMMANDS = [
    ["ls"], ["ls", "--json"], ["ls", "--json", "--full"], ["ls", "--reveal"],
    ["show", "c-20250601-evil0001"], ["show", "c-20250601-evil0001", "--json"], ["show", "恶意", "--reveal"],
    ["search", "数据安全"], ["search", "清屏", "--json"], ["due", "--on", "2099-01-01"],
    ["due", "--on", "2099-01-01", "--json"], ["check"], ["check", "--json"],
    ["export"], ["export", "--format", "json"], ["export", "--format", "vcf", "--reveal"],
    ["export", "--format", "ics", "--until", "2099-01-01"], ["report", "tags"], ["report", "owners", "--json"],
    ["show", f"没有{ESC}]52;c;eA=={BEL}{RLO}这个人"], ["export", "--format", f"{ESC}[2J{CSI}"],
    ["log", "恶意", "--note", "x", "--at", f"2026{ESC}[2J{CSI}"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a)[:40])
def test_no_control_reaches_the_terminal(hostile_root: Path, args: list[str]) -> None:
    done = run_process("--vault", str(hostile_root), *args, cwd=hostile_root)
    assert done.returncode in (0, 1, 2), done.stderr
    for name, stream in (("stdout", done.stdout), ("stderr", done.stderr)):
        assert not FORBIDDEN.findall(stream), (name, sorted({hex(ord(c)) for c in FORBIDDEN.findall(stream)}))
    if "--json" in args or args[-2:] == ["--format", "json"]:
        json.loads(done.stdout)  # still JSON, the controls escaped inside its strings


def test_json_keeps_the_values_exactly(hostile_root: Path) -> None:
    shown = json.loads(run_process("--vault", str(hostile_root), "show", "c-20250601-evil0001", "--json",
                                   cwd=hostile_root).stdout)
    assert shown["name"] == NAME  # escaped on the wire, the same text for a program
    assert f"{RLO}gnp.exe" in shown["name"] and "\\u202e" not in shown["name"]


def test_the_terminal_sees_visible_escapes_not_silence(hostile_root: Path) -> None:
    out = run_process("--vault", str(hostile_root), "show", "c-20250601-evil0001", cwd=hostile_root).stdout
    assert "\\x1b[2J" in out and "\\x1b]52;c;" in out and "\\u202egnp.exe" in out and "\\x9b31m" in out


def test_export_to_a_file_keeps_the_exact_bytes(hostile_root: Path, tmp_path: Path) -> None:
    target = tmp_path / "all.csv"
    run_process("--vault", str(hostile_root), "export", "-o", str(target), cwd=hostile_root)
    assert NAME.replace(BEL, "") in target.read_text(encoding="utf-8-sig") or NAME in target.read_text("utf-8-sig")


def test_safetext_escapes_every_control_and_keeps_lines() -> None:
    text = f"甲\t乙\n丙{ESC}[2J{CSI}丁{RLO}\r\n戊\r己\x7f"
    shown = safetext.terminal_text(text)
    assert shown == "甲\t乙\n丙\\x1b[2J\\x9b丁\\u202e\r\n戊\\x0d己\\x7f"
    assert safetext.terminal_text("一\n二", multiline=False) == "一\\x0a二"
    assert not FORBIDDEN.search(safetext.terminal_text("".join(map(chr, range(0x2100)))))
    data = {"name": NAME, "note": f"{chr(0x85)}{LRI}\u2028"}
    dumped = safetext.dumps(data)
    assert not FORBIDDEN.search(dumped) and "\u2028" not in dumped and json.loads(dumped) == data
    raw = json.dumps(data, ensure_ascii=False).encode()
    assert not FORBIDDEN_BYTES.search(safetext.json_bytes(raw)) and json.loads(safetext.json_bytes(raw)) == data
    unsafe = [*map(chr, range(0x7F, 0xA0)), "\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)),
              *map(chr, range(0x2066, 0x206A)), "\u2028", "\u2029"]
    for char in unsafe:  # each alone among safe text that shares its first UTF-8 byte (· — “”)
        raw = json.dumps({"name": f"星辰·科技—“{char}”"}, ensure_ascii=False).encode()
        shown = safetext.json_bytes(raw)
        assert char.encode() not in shown and json.loads(shown) == json.loads(raw), repr(char)
    calm = json.dumps({"name": "星辰·科技—“数据”"}, ensure_ascii=False).encode()
    assert safetext.json_bytes(calm) is calm  # nothing to escape: the same bytes, no copy


# ------------------------------------------------------------------ the TUI


def _strip_texts(widget) -> list[str]:  # type: ignore[no-untyped-def]
    from textual.geometry import Region

    texts = []
    for part in [widget, *widget.query("*")]:
        if part.size.area:
            for strip in part.render_lines(Region(0, 0, part.size.width, part.size.height)):
                texts.append("".join(segment.text for segment in strip))
    return texts


def test_tui_table_and_side_pane_show_the_hostile_name_inert(tmp_path: Path) -> None:
    root = actions.create_vault(tmp_path / "vault", example=True, today=TODAY)
    _hostile_file(root)

    async def run() -> tuple[list[str], list[str]]:
        app = make_app(Vault(root), today=TODAY, user="李娜", poll_seconds=None)
        async with app.run_test(size=(200, 50)) as pilot:
            for _ in range(500):
                await app.workers.wait_for_complete()
                await pilot.pause()
                if app.main.base is not None and not app.main.stale:
                    break
            table = app.main.table
            index = next(i for i, row in enumerate(table.all_rows) if row.path.endswith("evil.md"))
            table.move_cursor(row=index - table.window_start)
            for _ in range(20):
                await app.workers.wait_for_complete()
                await pilot.pause()
            app.main.show_side()
            await pilot.pause()
            assert app.main.side.customer is not None and app.main.side.customer.name == NAME
            return _strip_texts(table), _strip_texts(app.main.side)

    table_lines, side_lines = asyncio.run(run())
    for lines in (table_lines, side_lines):
        shown = "\n".join(lines)
        assert not FORBIDDEN.findall(shown), sorted({hex(ord(c)) for c in FORBIDDEN.findall(shown)})
    assert any("恶意\\x1b[2J" in line for line in table_lines)
    side = "\n".join(side_lines)
    assert "\\u202egnp.exe" in side and "\\x1b[2J清屏" in side and "\\x1b]8;;http://evil.example" in side


def test_tui_due_screen_forms_and_notifications_are_inert(tmp_path: Path) -> None:
    root = actions.create_vault(tmp_path / "vault", example=True, today=TODAY)
    _hostile_file(root)

    async def run() -> list[str]:
        app = make_app(Vault(root), today=TODAY, user="李娜", poll_seconds=None)
        shown: list[str] = []
        async with app.run_test(size=(160, 50), notifications=True) as pilot:
            for _ in range(500):
                await app.workers.wait_for_complete()
                await pilot.pause()
                if app.main.base is not None and not app.main.stale:
                    break
            table = app.main.table
            table.move_cursor(row=next(i for i, r in enumerate(table.all_rows) if r.path.endswith("evil.md")))
            await pilot.pause()
            app.notify(f"无法读取 customers/{NAME}.md", title=f"出错{ESC}]0;标题{BEL}")
            for _ in range(10):
                await pilot.pause()
                toasts = app.screen.query("Toast")
                if toasts:
                    break
            assert toasts
            shown += [line for toast in toasts for line in _strip_texts(toast)]
            await pilot.press("e")  # the edit form, its heading and its choice lists
            await pilot.pause()
            shown += _strip_texts(app.screen)
            await pilot.press("escape")
            await pilot.press("u")  # the due screen lists the hostile customer
            await pilot.pause()
            await pilot.pause()
            shown += _strip_texts(app.screen)
        return shown

    lines = asyncio.run(run())
    shown = "\n".join(lines)
    assert not FORBIDDEN.findall(shown), [line for line in lines if FORBIDDEN.search(line)]
    assert not FORBIDDEN.findall(shown), sorted({hex(ord(c)) for c in FORBIDDEN.findall(shown)})
    assert "出错\\x1b]0;标题\\x07" in shown and "无法读取" in shown  # the toast
    assert "Edit fields ·" in shown  # the form is open: its heading and name field are among the lines
    assert sum("恶意\\x1b[2J" in line for line in lines) >= 4  # toast, heading, name field, due row
