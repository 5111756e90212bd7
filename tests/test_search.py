"""Search on real Whoosh indexes in temp vaults: Chinese recall, pinyin, fields, booleans, dates, freshness."""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from crmnotes import actions, search
from crmnotes.search.query import QueryError
from crmnotes.search.store import INDEX_DIR, INDEX_VERSION, MANIFEST
from crmnotes.vault import Vault

TODAY = date.today()


def names(vault: Vault, query: str) -> list[str]:
    return [hit.customer.name for hit in search.search(vault, query, limit=0)]


def add(vault: Vault, name: str, note: str = "", *, days_ago: int = 1, **fields: str) -> Path:
    draft = actions.NewCustomer(name=name, industry=fields.pop("industry", "internet"),
                                contact=fields.pop("contact", "联系人"), phone=fields.pop("phone", ""),
                                email=fields.pop("email", "x@example.com"), source=fields.pop("source", ""),
                                stage=fields.pop("stage", ""), grade=fields.pop("grade", ""),
                                owner=fields.pop("owner", "tester"), tags=fields.pop("tags", "").split(",")
                                if fields.get("tags") else [])
    fields.pop("tags", None)
    created = datetime.combine(TODAY - timedelta(days=fields.pop("created_days_ago", 200)), datetime.min.time())
    customer = actions.add_customer(vault, draft, force=True, now=created.replace(hour=9))
    if note:
        at = datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time()).replace(hour=10)
        customer = actions.log_followup(vault, customer, actions.LogEntry(note=note, at=at, by="tester"))
    return customer.path


@pytest.fixture
def vault(empty_vault: Vault) -> Vault:
    v = empty_vault
    add(v, "星辰科技有限公司", "张三是北京星辰科技的总经理，关注数据安全和等保合规，计划采购SaaS平台。",
        contact="王经理", phone="13800138000", source="展会", stage="意向", grade="A", owner="alice",
        tags="needs/data-security,budget/50k-plus")
    add(v, "上海云图数据有限公司", "客户在上海做物流调度，预算有限，下月再联系。", contact="李四", phone="13912345678",
        industry="logistics", source="referral", stage="potential", grade="B", owner="bob", tags="needs/cost-down",
        days_ago=120, created_days_ago=400)
    add(v, "Acme Analytics", "Sarah asked about data security and an audit trail; renewal in spring.",
        contact="Sarah Chen", email="sarah@acme.example", phone="+14155552671", source="website", stage="won",
        grade="A", owner="alice", tags="role/decision-maker", days_ago=5)
    add(v, "Northwind Traders", "Security review done. Data export is what they care about.", contact="Tom Lee",
        industry="retail", source="ad", grade="C", owner="bob", days_ago=10)
    return v


# ------------------------------------------------------------------ Chinese and English recall


def test_chinese_words_inside_unspaced_sentences_are_found(vault: Vault) -> None:
    for word in ("张三", "北京", "总经理", "数据安全", "等保合规", "物流调度", "预算"):
        found = names(vault, word)
        assert found, word
    assert names(vault, "张三") == ["星辰科技有限公司"]
    assert names(vault, "物流调度") == ["上海云图数据有限公司"]
    assert names(vault, "三是北") == ["星辰科技有限公司"]  # any substring grep would find
    assert names(vault, "北京物流") == []  # the characters exist, the string does not


def test_single_chinese_character_is_found_anywhere_in_a_run(vault: Vault) -> None:
    assert "星辰科技有限公司" in names(vault, "王")  # contact 王经理, start of a run
    assert "上海云图数据有限公司" in names(vault, "四")  # contact 李四, end of a run


def test_mixed_chinese_and_english(vault: Vault) -> None:
    assert names(vault, "SaaS平台") == ["星辰科技有限公司"]
    assert names(vault, "saas") == ["星辰科技有限公司"]


def test_english_stemming_and_phrases(vault: Vault) -> None:
    assert set(names(vault, "renewing")) == {"Acme Analytics"}
    found = names(vault, "security data")  # 星辰 only by its tag needs/data-security: ranked below the notes
    assert set(found) == {"Acme Analytics", "Northwind Traders", "星辰科技有限公司"} and found[-1] == "星辰科技有限公司"
    assert names(vault, '"data security"') == ["Acme Analytics", "星辰科技有限公司"]
    assert names(vault, '"数据安全"') == ["星辰科技有限公司"]


def test_name_match_ranks_first(vault: Vault) -> None:
    found = names(vault, "数据")
    assert found[0] == "上海云图数据有限公司"  # in the name beats in the notes
    assert "星辰科技有限公司" in found


def test_pinyin_and_initials_find_chinese_names_and_contacts(vault: Vault) -> None:
    assert names(vault, "xingchen") == ["星辰科技有限公司"]
    assert names(vault, "xckj") == ["星辰科技有限公司"]
    assert names(vault, "wjl") == ["星辰科技有限公司"]
    assert names(vault, "yuntu") == ["上海云图数据有限公司"]  # from a syllable inside the name
    assert names(vault, "zzzq") == []


def test_phone_numbers_by_any_four_digit_run(vault: Vault) -> None:
    assert names(vault, "8000") == ["星辰科技有限公司"]
    assert names(vault, "0013") == ["星辰科技有限公司"]
    assert names(vault, "138-0013-8000") == ["星辰科技有限公司"]
    assert names(vault, "phone:2671") == ["Acme Analytics"]
    with pytest.raises(QueryError):
        search.search(vault, "phone:12")


# ------------------------------------------------------------------ fields, booleans, dates


def test_every_field_filter(vault: Vault) -> None:
    assert names(vault, "stage:intent") == ["星辰科技有限公司"]
    assert names(vault, "stage:意向") == ["星辰科技有限公司"]
    assert set(names(vault, "tag:needs/")) == {"星辰科技有限公司", "上海云图数据有限公司"}
    assert set(names(vault, "tag:needs")) == {"星辰科技有限公司", "上海云图数据有限公司"}
    assert names(vault, "tag:needs/data-security") == ["星辰科技有限公司"]
    assert set(names(vault, "owner:ALICE")) == {"星辰科技有限公司", "Acme Analytics"}
    assert names(vault, "industry:物流") == ["上海云图数据有限公司"]
    assert set(names(vault, "industry:互联网")) == {"星辰科技有限公司", "Acme Analytics"}
    assert names(vault, "source:展会") == ["星辰科技有限公司"]
    assert names(vault, "grade:c") == ["Northwind Traders"]
    assert names(vault, "联系人:李四") == ["上海云图数据有限公司"]
    assert names(vault, 'contact:"Sarah Chen"') == ["Acme Analytics"]
    target = search.search(vault, "Northwind")[0].customer.id
    assert "Northwind Traders" in names(vault, f"id:{target[:11]}")
    assert names(vault, f"id:{target}") == ["Northwind Traders"]


def test_silent_stage_is_computed_from_last_contact(vault: Vault) -> None:
    # 上海云图 was last contacted 120 days ago: silent, no longer "potential"
    assert names(vault, "stage:silent") == ["上海云图数据有限公司"]
    assert "上海云图数据有限公司" not in names(vault, "stage:potential")


def test_boolean_queries(vault: Vault) -> None:
    assert set(names(vault, "北京 OR 上海")) == {"星辰科技有限公司", "上海云图数据有限公司"}
    assert names(vault, "owner:alice AND NOT grade:A") == []
    assert names(vault, "owner:alice -数据安全") == ["Acme Analytics"]
    assert set(names(vault, "(stage:won OR grade:C) security")) == {"Acme Analytics", "Northwind Traders"}
    assert set(names(vault, "NOT owner:alice")) == {"上海云图数据有限公司", "Northwind Traders"}


def test_date_ranges(vault: Vault) -> None:
    old = TODAY - timedelta(days=400)
    assert names(vault, f"created:{old.isoformat()}") == ["上海云图数据有限公司"]
    assert names(vault, f"created:{old.year}-{old.month:02d}..{old.year}-{old.month:02d}") == ["上海云图数据有限公司"]
    assert names(vault, f"created:<{(old + timedelta(days=1)).isoformat()}") == ["上海云图数据有限公司"]
    assert set(names(vault, "last:<30d")) == {"星辰科技有限公司", "Acme Analytics", "Northwind Traders"}
    assert names(vault, "last:>90d") == ["上海云图数据有限公司"]
    assert set(names(vault, "last:<8d renewal")) == {"Acme Analytics"}


@pytest.mark.parametrize("bad", ['"unclosed', "(北京", "北京)", "OR 北京", "北京 AND", "colour:red", "created:soon",
                                 "created:2024-13", "stage:", "   "])
def test_malformed_query_is_a_clear_error(vault: Vault, bad: str) -> None:
    with pytest.raises(QueryError) as raised:
        search.search(vault, bad)
    assert raised.value.message.endswith(".")


# ------------------------------------------------------------------ snippets


def test_snippet_highlights_the_match(vault: Vault) -> None:
    hit = search.search(vault, "数据安全")[0]
    assert hit.snippet.spans
    assert all(hit.snippet.text[s:e] == "数据安全" for s, e in hit.snippet.spans)
    english = search.search(vault, "renewing")[0]
    assert [english.snippet.text[s:e].lower() for s, e in english.snippet.spans] == ["renew"]


def test_snippets_drop_markdown_heading_marks(vault: Vault) -> None:
    hits = search.search(vault, "数据安全", limit=0)
    texts = [hit.snippet.text for hit in hits if hit.snippet.text]
    assert texts and not any("#" in text for text in texts)
    assert all(hit.snippet.text[s:e] == "数据安全" for hit in hits for s, e in hit.snippet.spans)


# ------------------------------------------------------------------ freshness


def test_file_edited_behind_the_tools_back_is_found_next_time(vault: Vault) -> None:
    assert names(vault, "北京")
    path = next(vault.customers_dir.rglob("*.md"))
    for p in vault.customers_dir.rglob("*.md"):
        if "北京" in p.read_text(encoding="utf-8"):
            path = p
    text = path.read_text(encoding="utf-8").replace("北京", "广州")
    path.write_text(text, encoding="utf-8")
    assert names(vault, "北京") == []
    assert names(vault, "广州") == ["星辰科技有限公司"]
    stats = search.refresh(vault)
    assert stats.changes == 0


def test_deleted_and_renamed_files(vault: Vault) -> None:
    paths = {vault.read(p).name: p for p in vault.customers_dir.rglob("*.md")}
    paths["Northwind Traders"].unlink()
    assert names(vault, "Northwind") == []
    moved = paths["Acme Analytics"].with_name("renamed-acme.md")
    paths["Acme Analytics"].rename(moved)
    hits = search.search(vault, "Acme")
    assert [h.rel for h in hits] == [vault.relative(moved)]


def test_touched_file_is_hashed_not_reindexed(vault: Vault) -> None:
    search.refresh(vault)
    path = next(vault.customers_dir.rglob("*.md"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    stats = search.refresh(vault)
    assert (stats.changes, stats.rebuilt) == (0, False)


def test_incremental_update_is_not_a_rebuild(vault: Vault) -> None:
    search.refresh(vault)
    add(vault, "杭州新客户", "第一次电话沟通，对方是连锁药房。")
    stats = search.refresh(vault)
    assert (stats.added, stats.rebuilt) == (1, False)
    assert names(vault, "连锁药房") == ["杭州新客户"]


def test_unreadable_file_is_skipped_and_reported(vault: Vault) -> None:
    bad = vault.customers_dir / "b" / "broken.md"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text("---\nname: [unclosed\n---\n北京\n", encoding="utf-8")
    stats = search.refresh(vault)
    assert "customers/b/broken.md" in stats.unreadable
    assert names(vault, "北京") == ["星辰科技有限公司"]
    scan = search.load_customers(vault)
    assert [p.path.name for p in scan.problems] == ["broken.md"]


# ------------------------------------------------------------------ recovery


def test_corrupt_index_is_rebuilt(vault: Vault) -> None:
    search.refresh(vault)
    folder = vault.cache_dir / INDEX_DIR
    for segment in folder.glob("*.seg"):
        segment.write_bytes(b"garbage")
    for toc in folder.glob("*.toc"):
        toc.write_bytes(toc.read_bytes()[:20])
    assert names(vault, "张三") == ["星辰科技有限公司"]


def test_missing_and_old_version_index_is_rebuilt(vault: Vault) -> None:
    search.refresh(vault)
    manifest = vault.cache_dir / INDEX_DIR / MANIFEST
    old = manifest.read_text(encoding="utf-8")
    manifest.write_text(old.replace(f'"version": {INDEX_VERSION}', '"version": 1'), encoding="utf-8")
    assert search.refresh(vault).rebuilt
    shutil.rmtree(vault.cache_dir / INDEX_DIR)
    assert names(vault, "xckj") == ["星辰科技有限公司"]


def test_lock_of_a_killed_process_does_not_block(vault: Vault, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    search.refresh(vault)
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from crmnotes.vault import Vault\n"
        "from crmnotes.search.index import writer_lock\n"
        "from whoosh import index\n"
        "v = Vault(Path(sys.argv[1]))\n"
        "with writer_lock(v):\n"
        "    w = index.open_dir(str(v.cache_dir / 'index')).writer()\n"
        "    print('locked', flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(vault.root)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL and "locked" in proc.stdout
    add(vault, "深圳海豚物流", "冷链运输报价。")
    assert names(vault, "冷链运输") == ["深圳海豚物流"]


def test_concurrent_refreshes_in_threads_never_raise_lock_errors(vault: Vault) -> None:
    from concurrent.futures import ThreadPoolExecutor

    search.refresh(vault)
    for i in range(6):
        add(vault, f"并发客户{i}", f"第{i}次沟通，谈到仓储自动化。")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: names(vault, "仓储自动化"), range(8)))
    assert all(len(r) == 6 for r in results)


def test_worker_processes_build_the_same_index(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmnotes.search import index as index_module

    expected = {q: sorted(names(vault, q)) for q in ("数据安全", "xckj", "security", "stage:won")}
    monkeypatch.setattr(index_module, "PARALLEL_MIN_FILES", 1)
    assert search.refresh(vault, rebuild=True, workers=2).rebuilt
    assert {q: sorted(names(vault, q)) for q in expected} == expected


def test_example_vault_search(example_vault: Vault) -> None:
    assert names(example_vault, "王经理")[0] == "星辰科技有限公司"
    assert "北京云帆教育科技有限公司" in names(example_vault, "陈老师")


def test_catalog_from_the_index_equals_reading_the_files(example_vault: Vault) -> None:
    from crmnotes import catalog

    from_index = catalog.load(example_vault)
    assert (example_vault.cache_dir / INDEX_DIR / MANIFEST).is_file()
    from_files = example_vault.scan()
    as_json = [actions.customer_json(example_vault, c, today=TODAY) for c in from_index.customers]
    assert as_json == [actions.customer_json(example_vault, c, today=TODAY) for c in from_files.customers]
    path = from_files.customers[0].path
    path.write_text(path.read_text(encoding="utf-8").replace("grade: ", "grade: C\nold_grade: ", 1), encoding="utf-8")
    assert [r.grade for r in catalog.rows(example_vault, actions.Filters(grade="C"))].count("C") == len(
        [c for c in example_vault.scan().customers if c.grade == "C"])
