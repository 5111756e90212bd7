"""Defects found checking issue 17 by hand in a real terminal (``COLUMNS=80``)."""

from __future__ import annotations

from rich.cells import cell_len

from crmnotes.vault import Vault

from .conftest import Crm, run_process

# A few Latin words, then a long run of Chinese without spaces: Rich breaks lines only at spaces, so it
# moved the whole run to the next line, leaving "对方 IT" alone on a short line.
NOTE = ("对方 IT 部门关心私有化部署和数据安全。发送了年度合同草稿，等待法务审核。"
        "客户关注数据安全，要求提供等保合规方案。讨论了分期付款方案，对方需要降本增效。")


def test_show_wraps_chinese_prose_at_the_edge_and_keeps_the_indent(crm: Crm, example_vault: Vault) -> None:
    crm("log", "星辰", "-n", NOTE, "-c", "wechat")
    result = run_process("show", "星辰", cwd=example_vault.root, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  对方 IT"))
    body = [lines[first]]
    while lines[first + len(body)].startswith("  "):
        body.append(lines[first + len(body)])
    assert len(body) == 2
    assert all(cell_len(line) <= 80 for line in body)
    assert cell_len(body[0]) >= 76  # filled to the edge, not cut at the last space
    assert all(line.startswith("  ") and not line.startswith("   ") for line in body)  # continuation indented too
    assert "".join(body).replace(" ", "") == NOTE.replace(" ", "")
    assert not any(line.lstrip().startswith(("，", "。")) for line in body)  # no line opens with a comma


def test_search_snippet_wraps_chinese_at_the_edge(crm: Crm, example_vault: Vault) -> None:
    crm("log", "星辰", "-n", NOTE, "-c", "wechat")
    result = run_process("search", "等保合规方案", cwd=example_vault.root, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines)
    assert all(line.startswith("  ") for line in lines[1:3])  # facts and snippet sit under the name


def test_a_deal_currency_must_be_a_currency_code(crm: Crm, example_vault: Vault) -> None:
    # tabbing one field too far in the deal form typed the amount into currency: it was saved as
    # currency '200000' and the board summed "200000 180,000"
    before = example_vault.resolve("星辰").path.read_bytes()
    failed = crm("deal", "set", "星辰", "1", "--currency", "200000", ok=False)
    assert "currency" in failed.stderr and "CNY" in failed.stderr
    assert example_vault.resolve("星辰").path.read_bytes() == before
    crm("deal", "set", "星辰", "1", "--currency", "usd")
    assert "currency: USD" in example_vault.resolve("星辰").path.read_text(encoding="utf-8")


def test_report_help_names_every_report(crm: Crm) -> None:
    # the list in the help text stopped at acquisition: movement was only in the usage line
    from crmnotes.cli.report import REPORT_NAMES

    page = crm("report", "--help").stdout
    for name in REPORT_NAMES:
        assert name in page.split("Options:")[0].split("\n\n", 1)[1], name
