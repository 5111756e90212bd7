"""``crm search`` and ``crm index`` through the real entry point, and as real processes."""

from __future__ import annotations

from crmnotes.vault import Vault
from tests.conftest import Crm, run_process
from tests.test_cli_lazy import modules_after


def test_search_json_ranks_and_highlights(crm: Crm) -> None:
    hits = crm("search", "数据安全", "--json").json()
    assert hits[0]["name"] == "星辰科技有限公司"
    first = hits[0]
    for key in ("id", "name", "path", "stage", "owner", "tags", "score", "snippet", "highlights"):
        assert key in first
    assert all(first["snippet"][s:e] == "数据安全" for s, e in first["highlights"])
    assert "****" in first["phone"]


def test_search_query_words_join_and_fields_combine(crm: Crm) -> None:
    hits = crm("search", "stage:intent", "owner:张伟", "--json").json()
    assert [h["name"] for h in hits] == ["星辰科技有限公司"]


def test_search_human_output(crm: Crm) -> None:
    out = crm("search", "xckj").stdout
    assert "星辰科技有限公司" in out and "1 result" in out


def test_malformed_query_is_one_line_on_stderr(crm: Crm) -> None:
    result = crm("search", "(北京", ok=False)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "parenthesis" in result.stderr


def test_index_command(crm: Crm) -> None:
    first = crm("index", "--json").json()
    assert first["total"] == 7
    again = crm("index", "--json").json()
    assert (again["added"], again["changed"], again["removed"], again["rebuilt"]) == (0, 0, 0, False)
    assert crm("index", "--rebuild", "--json").json()["rebuilt"] is True
    assert "rebuilt" in crm("index", "--rebuild").stdout
    assert crm("index", "--rebuild", "--jobs", "2", "--json").json()["total"] == 7
    assert "--jobs" in crm("index", "--rebuild", "--jobs", "0", ok=False).stderr


def test_processes_stay_quiet(example_vault: Vault) -> None:
    built = run_process("index", cwd=example_vault.root)
    assert built.returncode == 0 and built.stderr == ""
    out, _ = modules_after(["search", "--json", "数据安全"], example_vault.root)
    assert out[0]["name"] == "星辰科技有限公司"
