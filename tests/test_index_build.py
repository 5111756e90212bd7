"""The rebuild's writer and in-memory postings pool: the index Whoosh's own writer builds, bounded memory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crmnotes import search
from crmnotes.search import index as index_module
from crmnotes.search import store
from crmnotes.search.pool import MemoryPool
from crmnotes.vault import Vault

CUSTOMER = ("---\nid: c-20250101-{id:08d}\nname: {name}\nindustry: internet\nphone: '+86138{id:08d}'\n"
            "tags:\n  - {tag}\n---\n\n# {name}\n\n## 跟进记录\n\n### 2025-01-{day:02d} 10:00 · phone · alice\n{body}\n")
NAMES = ["星辰科技", "海洋物流", "Acme Freight", "南风贸易", "Blue River Foods", "云栖数据", "北极光医疗", "Delta Labs"]
BODIES = ["客户关注冷链运输和报价", "asked for a renewal quote before Friday", "需要仓储方案，预算有限",
          "renewing the contract; 续约谈判中", "跨境电商报关流程太慢", "wants a demo of the reporting module"]


def fill(vault: Vault, count: int) -> None:
    for i in range(count):
        name = f"{NAMES[i % len(NAMES)]}{i}"
        path = vault.customers_dir / f"c{i % 7}" / f"customer-{i}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CUSTOMER.format(id=i, name=name, tag=["重点", "vip", "新客户"][i % 3], day=i % 28 + 1,
                                        body=BODIES[i % len(BODIES)] + f" 编号{i}"), encoding="utf-8")


QUERIES = ["冷链", "renewal", "renew", "报关", "续约", "name:南风贸易3", "tags:vip", "phone:13800000011", "编号17",
           "quote OR demo", "仓储 AND 预算", "\"reporting module\""]


def answers(vault: Vault) -> dict[str, list[str]]:
    return {q: sorted(h.rel.rsplit("/", 1)[-1] for h in search.search(vault, q, limit=0)) for q in QUERIES}


def whoosh_pool_build(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rebuild with Whoosh's own writer and spilling pool (what the index was built with before)."""
    from crmnotes.search import pool

    with monkeypatch.context() as patch:
        patch.setattr(pool, "PoolWriter", whoosh_writer)
        search.refresh(vault, rebuild=True, workers=1)


def whoosh_writer(ix: object, **options: object) -> object:
    from whoosh.writing import SegmentWriter

    writer = SegmentWriter(ix, **options)
    writer.pool.estimated_bytes = 0  # never full: one segment
    return writer


@pytest.mark.parametrize("workers", [1, 2])
def test_memory_pool_builds_the_index_whooshs_pool_builds(empty_vault: Vault, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    fill(empty_vault, 60)
    monkeypatch.setattr(index_module, "PARALLEL_MIN_FILES", 1)
    whoosh_pool_build(empty_vault, monkeypatch)
    expected = answers(empty_vault)
    assert expected["冷链"] and expected["renewal"] and expected["name:南风贸易3"] == ["customer-3.md"]
    stats = search.refresh(empty_vault, rebuild=True, workers=workers)
    assert stats.rebuilt and stats.total == 60
    assert answers(empty_vault) == expected


def test_a_small_pool_limit_writes_several_segments_with_the_same_answers(empty_vault: Vault,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from whoosh import index as windex

    fill(empty_vault, 50)
    search.refresh(empty_vault, rebuild=True, workers=1)
    expected = answers(empty_vault)
    monkeypatch.setattr(index_module, "POOL_BYTES", 20_000)  # a segment every few files
    search.refresh(empty_vault, rebuild=True, workers=1)
    ix = windex.open_dir(str(store.index_dir(empty_vault)))
    try:
        assert len(ix._segments()) > 3 and ix.doc_count() == 50
    finally:
        ix.close()
    assert answers(empty_vault) == expected
    # incremental updates on top of many segments still work
    target = next(empty_vault.customers_dir.rglob("customer-5.md"))
    target.write_text(target.read_text(encoding="utf-8").replace("编号5", "编号五千"), encoding="utf-8")
    assert search.refresh(empty_vault).changed == 1
    assert [h.rel.rsplit("/", 1)[-1] for h in search.search(empty_vault, "编号五千")] == ["customer-5.md"]
    shutil.rmtree(store.index_dir(empty_vault))


def test_memory_pool_yields_postings_in_codec_order() -> None:
    pool = MemoryPool()
    pool.add(("body", "中文".encode(), 0, 1.0, b"a"))
    pool.add(("body", b"apple", 1, 2.0, None))
    pool.add(("body", b"apple", 0, 1.0, b"x"))  # out of docnum order (a merge would do this)
    pool.add(("name", b"acme", 2, 4.0, b"n"))
    pool.add(("body", b"apple", 3, 1.0, b"y"))
    assert list(pool.iter_postings()) == [
        ("body", b"apple", 0, 1.0, b"x"), ("body", b"apple", 1, 2.0, None), ("body", b"apple", 3, 1.0, b"y"),
        ("body", "中文".encode(), 0, 1.0, b"a"), ("name", b"acme", 2, 4.0, b"n")]
    assert pool.fieldnames == {"body", "name"} and pool.estimated_bytes > 0
    pool.cleanup()
    assert list(pool.iter_postings()) == []


def segment_files(vault: Vault) -> dict[str, bytes]:
    """The index's segment files by extension (segment names are random; one segment here)."""
    paths = [path for path in store.index_dir(vault).iterdir() if path.name.startswith("MAIN_") and "." in path.name]
    found = {path.name.split(".", 1)[1]: path.read_bytes() for path in paths}
    assert len(found) == len(paths)  # one segment
    return found


def test_pool_writer_writes_the_bytes_whooshs_writer_writes(empty_vault: Vault,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from whoosh.formats import Positions

    from crmnotes.search import pool, schema

    # a block's pickle refers back to a value object it already holds (pickle's memo goes by identity):
    # equal position values are one object in both builds, so only what is written can differ
    canonical: dict[bytes, bytes] = {}
    monkeypatch.setattr(schema, "_encode_positions", lambda poslist: canonical.setdefault(
        value := Positions().encode(poslist), value))
    fill(empty_vault, 40)
    whoosh_pool_build(empty_vault, monkeypatch)
    expected = segment_files(empty_vault)
    assert {"trm", "pst", "_stored.col", "_body_len.col"} <= set(expected)
    monkeypatch.setattr(pool, "COMPRESS_MIN_POSTINGS", 0)  # Whoosh compresses every block
    search.refresh(empty_vault, rebuild=True, workers=1)
    assert segment_files(empty_vault) == expected


def postings_of(vault: Vault) -> dict[tuple[str, bytes], tuple[object, ...]]:
    """Every term's statistics and postings (docnum, weight, value), read back through Whoosh."""
    from whoosh import index as windex

    ix = windex.open_dir(str(store.index_dir(vault)))
    try:
        with ix.reader() as reader:
            found = {}
            for fieldname, text in reader.all_terms():
                info = reader.term_info(fieldname, text)
                matcher = reader.postings(fieldname, text)
                rows = []
                while matcher.is_active():
                    rows.append((matcher.id(), matcher.weight(), matcher.value()))
                    matcher.next()
                found[fieldname, text] = (info.weight(), info.doc_frequency(), info.min_length(), info.max_length(),
                                          info.max_weight(), info.min_id(), info.max_id(), rows)
            stored = list(reader.iter_docs())
    finally:
        ix.close()
    assert found and stored
    return {**found, ("stored", b""): tuple(stored)}


def test_uncompressed_small_blocks_hold_the_same_postings(empty_vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(empty_vault, 300)  # terms with one posting, a few, and more than a block (128)
    whoosh_pool_build(empty_vault, monkeypatch)
    expected = postings_of(empty_vault)
    search.refresh(empty_vault, rebuild=True, workers=1)
    assert postings_of(empty_vault) == expected


@pytest.mark.parametrize("text", [
    "", "王", "王 李", "数据安全数据安全 abc ABC Renewals renewing 续约 王", "ＡＢＣ１２３ 全角，标点。",
    "かなカナ 한국어 ok",
    "\n".join(NAMES + BODIES), "客户张三是联系人；电话 13800000000。Met at 2025 expo, asked 王总 about 数据安全.",
])
def test_bigram_text_indexes_what_the_tokenizer_yields(text: str) -> None:
    from whoosh.fields import TEXT

    from crmnotes.search.schema import BigramText, text_analyzer

    analyzer = text_analyzer()
    fast, plain = BigramText(analyzer=analyzer, field_boost=2.0), TEXT(analyzer=analyzer, field_boost=2.0)
    assert list(fast.index(text)) == list(plain.index(text))


def test_leftovers_of_killed_processes_are_removed_but_not_a_running_merge(empty_vault: Vault) -> None:
    import os
    import subprocess
    import sys
    import time

    fill(empty_vault, 5)
    search.refresh(empty_vault, workers=1)
    cache = empty_vault.cache_dir
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        names = [f"index.new-{dead}", f"index.old-{dead}", f"index.new-{live.pid}", f"index.merge-{dead}",
                 f"index.merge-{live.pid}", f"index.merge-{os.getpid()}", "index.new-x", "other.new-1"]
        for name in names:
            (cache / name / "part-0").mkdir(parents=True)
            (cache / name / "part-0" / "MAIN_x.pst").write_bytes(b"x")
        fill(empty_vault, 6)  # a change: the refresh takes the writer lock
        assert search.refresh(empty_vault).added == 1
        # rebuild folders go whoever made them (no rebuild runs while we hold the lock); a merge's only when
        # its process is gone; names we did not make stay
        kept = [f"index.merge-{live.pid}", f"index.merge-{os.getpid()}", "index.new-x", "other.new-1"]
        assert sorted(name for name in names if (cache / name).exists()) == sorted(kept)
        long_ago = time.time() - index_module.STALE_MERGE_SECONDS - 60
        os.utime(cache / f"index.merge-{live.pid}", (long_ago, long_ago))
        assert search.refresh(empty_vault, rebuild=True, workers=1).rebuilt
        assert not (cache / f"index.merge-{live.pid}").exists() and (cache / f"index.merge-{os.getpid()}").exists()
    finally:
        live.kill()
        live.wait()
    assert answers(empty_vault)["冷链"]


# ------------------------------------------------------------------ worker processes

# the queries of the search tests (test_search.py, test_search_cjk.py) and of this file
SEARCH_QUERIES = [*QUERIES, "数据安全", "数据", "物流调度", "北京 OR 上海", "张三", "王", "四", "xckj", "yuntu", "saas",
                  "security data", "\"data security\"", "renewing", "stage:potential", "grade:c", "industry:互联网",
                  "tag:needs", "owner:alice -数据安全", "NOT owner:alice", "(stage:won OR grade:C) security",
                  "last:<30d", "phone:2671", "8000", "冷链 OR renewal", "客户", "编号1*", "quote -renewal",
                  "tags:重点 AND NOT 报关", "运输", "module", "a"]


def ranked(vault: Vault) -> dict[str, list[tuple[str, float]]]:
    return {q: [(h.rel, h.score) for h in search.search(vault, q, limit=0)] for q in SEARCH_QUERIES}


def test_several_jobs_rank_every_query_exactly_like_one(empty_vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents keep the numbers a one-process build gives them, so even equal scores (the
    repeated notes here) come back in the same order; several segments per worker too."""
    fill(empty_vault, 90)
    monkeypatch.setattr(index_module, "PARALLEL_MIN_FILES", 1)
    search.refresh(empty_vault, rebuild=True, workers=1)
    expected = ranked(empty_vault)
    assert len(expected["冷链"]) == 15 and len({score for _, score in expected["冷链"]}) < 15  # ties to order
    for workers, pool_bytes in ((2, index_module.POOL_BYTES), (3, 40_000)):
        monkeypatch.setattr(index_module, "POOL_BYTES", pool_bytes)
        assert search.refresh(empty_vault, rebuild=True, workers=workers).rebuilt
        assert ranked(empty_vault) == expected, workers


def failing_worker(root: str, target: str, rels: list[str], pool_bytes: int) -> list[tuple[str, object, str]]:
    """A rebuild worker that dies (as one killed by the kernel would) once its share is half indexed."""
    if "customers/c0/customer-0.md" in rels:  # the first share: a real worker
        return index_module._worker_build(root, target, rels, pool_bytes)
    import os

    os.makedirs(target, exist_ok=True)
    index_module._worker_build(root, target, rels[: len(rels) // 2], pool_bytes)
    os._exit(3)


def test_a_worker_that_fails_fails_the_rebuild_and_keeps_the_old_index(empty_vault: Vault,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fill(empty_vault, 40)
    search.refresh(empty_vault, rebuild=True, workers=1)
    folder = store.index_dir(empty_vault)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    expected = ranked(empty_vault)
    (empty_vault.customers_dir / "c1" / "customer-1.md").unlink()  # what the failed rebuild would have dropped
    monkeypatch.setattr(index_module, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(index_module, "_worker_build", failing_worker)
    with pytest.raises(index_module.RebuildFailed, match="worker process stopped") as failed:
        search.refresh(empty_vault, rebuild=True, workers=2)
    assert "previous index is kept" in failed.value.hint
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before  # no half index
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(folder.name + ".new")] == []
    monkeypatch.undo()
    search.invalidate(empty_vault)
    # The old index answers, less the file deleted meanwhile (its small segment folded into the
    # update's, so the scores are those of 39 documents: compare the order).
    assert [rel for rel, _ in ranked(empty_vault)["报关"]] == [
        rel for rel, _ in expected["报关"] if rel != "customers/c1/customer-1.md"]


def test_an_update_folds_only_small_segments_and_writes_no_compound_file(empty_vault: Vault,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoosh's own policy merged two thirds of a rebuilt index into one compound segment on the
    first update, which every later search process copied into memory."""
    from whoosh import index as windex

    fill(empty_vault, 60)
    monkeypatch.setattr(index_module, "POOL_BYTES", 150_000)  # a rebuild of several segments
    monkeypatch.setattr(index_module, "SMALL_SEGMENT_DOCS", 3)  # ... each of them "big"
    search.refresh(empty_vault, rebuild=True, workers=1)
    folder = store.index_dir(empty_vault)

    def segments() -> dict[str, int]:
        ix = windex.open_dir(str(folder))
        try:
            return {segment.segment_id(): segment.doc_count_all() for segment in ix._segments()}
        finally:
            ix.close()

    built = segments()
    assert len(built) > 3 and min(built.values()) >= 3
    for number in (3, 4):  # two updates of one file each: the second folds the first's one-document segment
        path = empty_vault.customers_dir / f"c{number}" / f"customer-{number}.md"
        path.write_text(path.read_text(encoding="utf-8") + "\n第二次跟进：客户确认冷链续约。\n", encoding="utf-8")
        assert search.refresh(empty_vault).changed == 1
    after = segments()
    assert set(built) < set(after) and len(after) == len(built) + 1  # every rebuilt segment kept as it was
    assert [after[segment] for segment in set(after) - set(built)] == [2]
    assert not list(folder.glob("*.seg"))  # separate files, read in place
    assert {h.rel.rsplit("/", 1)[-1] for h in search.search(empty_vault, "确认冷链续约", limit=0)} == {
        "customer-3.md", "customer-4.md"}
