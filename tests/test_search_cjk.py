"""Chinese words as an AND of bigrams, verified against the files: grep's recall, no false hits."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from crmnotes import actions, search
from crmnotes.search import session as session_mod
from crmnotes.search.query import compile_query, parse
from crmnotes.vault import Vault

from .conftest import run_process

TODAY = date.today()
# 数据, 据安 and 安全 all occur, never as 数据安全: an AND of the bigrams matches it
SCATTERED = "数据中心已上线，根据安排下周复查，安全第一。"
INSIDE = "我们公司非常重视数据安全合规的问题，下月再谈。"


def add(vault: Vault, name: str, note: str, **fields: str) -> Path:
    draft = actions.NewCustomer(name=name, industry="internet", contact=fields.get("contact", "联系人"), phone="",
                                email="x@example.com", source="", stage="", grade=fields.get("grade", ""),
                                owner="tester", tags=[])
    created = datetime.combine(TODAY - timedelta(days=30), datetime.min.time()).replace(hour=9)
    customer = actions.add_customer(vault, draft, force=True, now=created)
    at = created + timedelta(days=1)
    return actions.log_followup(vault, customer, actions.LogEntry(note=note, at=at, by="tester")).path


def names(vault: Vault, query: str, limit: int = 0) -> list[str]:
    return sorted(hit.customer.name for hit in search.search(vault, query, limit=limit))


def grep(vault: Vault, word: str) -> list[str]:
    """The names of the files holding ``word``, read straight from disk."""
    found = []
    for path in sorted(vault.customers_dir.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if word in text:
            found.append(vault.read(path).name)
    return sorted(found)


@pytest.fixture
def vault(empty_vault: Vault) -> Vault:
    add(empty_vault, "散落公司", SCATTERED)
    add(empty_vault, "合规科技", INSIDE, grade="A")
    add(empty_vault, "名称数据安全", "只谈价格。")
    add(empty_vault, "Other Co", "integration and renewal; 安全 only.")
    yield empty_vault
    session_mod.close_all()


def test_scattered_bigrams_are_not_a_hit(vault: Vault) -> None:
    found = names(vault, "数据安全")
    assert "散落公司" not in found
    assert found == ["合规科技", "名称数据安全"] == grep(vault, "数据安全")


def test_four_character_word_inside_an_unspaced_sentence(vault: Vault) -> None:
    assert names(vault, "数据安全合规") == ["合规科技"]
    assert names(vault, "重视数据") == ["合规科技"]
    assert names(vault, "据安排") == ["散落公司"]


def test_two_characters_are_one_term(vault: Vault) -> None:
    compiled = compile_query(parse("安全"), vault.config, TODAY)
    assert compiled.check is None  # nothing to verify: a bigram is exact
    assert names(vault, "安全") == grep(vault, "安全")


def test_a_false_hit_is_dropped_and_the_next_one_pulled(vault: Vault) -> None:
    # with limit 1 the loose AND may rank the scattered file first; the answer is still a real one
    for limit in (1, 2):
        found = names(vault, "数据安全", limit=limit)
        assert len(found) == limit
        assert set(found) <= {"合规科技", "名称数据安全"}


def test_loose_word_inside_or_and_not(vault: Vault) -> None:
    assert names(vault, "数据安全 OR integration") == ["Other Co", "合规科技", "名称数据安全"]
    assert names(vault, "(数据安全 OR integration) grade:A") == ["合规科技"]
    assert names(vault, "(数据安全 OR renewal) AND NOT grade:A") == ["Other Co", "名称数据安全"]
    # excluding is exact: the scattered file does not hold the word, so it stays
    assert "散落公司" in names(vault, "NOT 数据安全")
    assert "合规科技" not in names(vault, "-数据安全")


def test_not_inside_an_or_is_one_more_branch(vault: Vault) -> None:
    # it used to reach Whoosh as None ("None is not a query"); each branch is checked on its own
    assert names(vault, "数据安全 OR NOT grade:A") == ["Other Co", "合规科技", "名称数据安全", "散落公司"]
    assert names(vault, "renewal OR NOT 数据安全") == ["Other Co", "散落公司"]
    assert names(vault, "(合规 OR NOT 数据安全) AND grade:A") == ["合规科技"]
    assert names(vault, "(renewal OR -安全) AND NOT 散落") == ["Other Co"]  # every file holds 安全


def test_name_field_is_verified_too(vault: Vault) -> None:
    assert names(vault, "name:数据安全") == ["名称数据安全"]
    add(vault, "数据中心根据安全", "无")  # all three bigrams in the name, apart
    assert names(vault, "name:数据安全") == ["名称数据安全"]


def test_quoted_chinese_is_the_word(vault: Vault) -> None:
    assert names(vault, '"数据安全"') == names(vault, "数据安全")


def test_edit_behind_the_tools_back_is_verified_against_the_new_text(vault: Vault) -> None:
    assert "散落公司" not in names(vault, "数据安全")
    path = next(p for p in vault.customers_dir.rglob("*.md") if "根据安排" in p.read_text(encoding="utf-8"))
    path.write_text(path.read_text(encoding="utf-8") + "\n补充：数据安全评估已完成。\n", encoding="utf-8")
    search.invalidate(vault)
    assert "散落公司" in names(vault, "数据安全")


def test_matches_grep_on_the_example_vault(example_vault: Vault) -> None:
    for word in ("数据安全", "星辰科技", "总经理", "等保合规"):
        found = sorted(hit.rel for hit in search.search(example_vault, word, limit=0))
        held = sorted(str(p.relative_to(example_vault.root)) for p in example_vault.customers_dir.rglob("*.md")
                      if word in p.read_text(encoding="utf-8"))
        assert found == held, word
    session_mod.close_all()


def test_search_process_json(vault: Vault) -> None:
    result = run_process("search", "数据安全", "--json", cwd=vault.root)
    assert result.returncode == 0, result.stderr
    assert "散落公司" not in result.stdout and "合规科技" in result.stdout


def test_a_space_between_chinese_words_in_a_phrase_is_optional(vault: Vault) -> None:
    add(vault, "空格公司", "客户说数据 安全 是次要的。")
    assert names(vault, '"数据 安全"') == ["合规科技", "名称数据安全", "空格公司"]
    assert names(vault, '"安全 合规"') == ["合规科技"]  # INSIDE: 数据安全合规
    assert names(vault, '"数据　安全 合规"') == ["合规科技"]  # a full-width space too, two optional spaces
    assert "空格公司" not in names(vault, "数据安全")  # unquoted, the word stays the word
    assert names(vault, 'NOT "数据 安全"') == ["Other Co", "散落公司"]
    hit = next(h for h in search.search(vault, '"数据 安全"', limit=0) if h.customer.name == "合规科技")
    start, end = hit.snippet.spans[0]
    assert hit.snippet.text[start:end] == "数据安全"
