"""The long-lived searcher: one open index per vault, refreshed on real changes only, lazy hits."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pytest

from crmnotes import actions, note, search
from crmnotes.errors import CrmError
from crmnotes.search import session as session_mod
from crmnotes.search.engine import body_of
from crmnotes.vault import Vault

TODAY = date.today()
HOUR_NS = 3600 * 10**9


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    made = Vault(actions.create_vault(tmp_path / "vault", example=True, today=TODAY))
    yield made
    session_mod.close_all()


def names(vault: Vault, query: str) -> list[str]:
    return sorted(hit.customer.name for hit in search.search(vault, query, limit=0))


def file_with(vault: Vault, text: str) -> Path:
    return next(p for p in sorted(vault.customers_dir.rglob("*.md")) if text in p.read_text(encoding="utf-8"))


def settle(vault: Vault) -> None:
    """Backdate every folder under customers/, as in a vault nobody touched for an hour:
    then only the cheap folder check runs between full checks."""
    old = time.time_ns() - HOUR_NS
    for folder in [vault.customers_dir, *[p for p in vault.customers_dir.rglob("*") if p.is_dir()]]:
        os.utime(folder, ns=(old, old))


def warm(vault: Vault) -> session_mod.Session:
    settle(vault)
    assert "星辰科技有限公司" in names(vault, "北京")  # the first search: a full check of settled folders
    found = session_mod.session_of(vault)
    assert found.settled and not found.dirty
    return found


def test_one_searcher_is_kept_while_nothing_changes(vault: Vault) -> None:
    found = warm(vault)
    generation = found.generation
    for query in ("北京", "数据安全", "stage:intent", "xingchen", "renewal"):
        search.search(vault, query)
    assert found.generation == generation
    assert session_mod.session_of(vault) is found


def test_editor_save_by_rename_is_seen_by_the_next_search(vault: Vault) -> None:
    warm(vault)
    path = file_with(vault, "星辰科技有限公司")
    temp = path.with_name(f".{path.name}.swp")
    temp.write_text(path.read_text(encoding="utf-8").replace("北京", "广州"), encoding="utf-8")
    os.replace(temp, path)  # what vim and most IDEs do: the folder's mtime moves
    assert "星辰科技有限公司" not in names(vault, "北京")
    assert names(vault, "广州") == ["星辰科技有限公司"]


def test_in_place_write_reported_by_a_watcher_is_seen_at_once(vault: Vault) -> None:
    warm(vault)
    path = file_with(vault, "星辰科技有限公司")
    folder_mtime = path.parent.stat().st_mtime_ns
    with open(path, "r+", encoding="utf-8") as handle:  # in place: no folder moves
        text = handle.read().replace("北京", "青岛")
        handle.seek(0)
        handle.write(text)
        handle.truncate()
    assert path.parent.stat().st_mtime_ns == folder_mtime
    search.invalidate(vault)
    assert names(vault, "青岛") == ["星辰科技有限公司"]
    assert "星辰科技有限公司" not in names(vault, "北京")


def test_in_place_write_is_seen_once_the_background_check_has_run(
        vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    """The periodic check does not walk on the search that starts it: find fingerprints customers/
    meanwhile, and the first search after it finished sees the write.  Once the index is stamped with
    the fingerprint (one walk after the change), the checks that follow walk nothing."""
    found = warm(vault)
    monkeypatch.setattr(session_mod, "FULL_CHECK_SECONDS", 0.0)  # "the period has passed"
    path = file_with(vault, "星辰科技有限公司")
    path.write_text(path.read_text(encoding="utf-8").replace("北京", "成都"), encoding="utf-8")
    names(vault, "成都")  # starts the check; its answer may come before it
    started = found.background
    assert started is not None
    deadline = time.monotonic() + 30
    while any(find.poll() is None for _, find in started) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert names(vault, "成都") == ["星辰科技有限公司"]
    for _ in range(2):  # the update did not stamp a fingerprint: the next check walks once and stamps it
        started = found.background
        while started is not None and any(find.poll() is None for _, find in started):
            time.sleep(0.01)
        names(vault, "成都")
    walks: list[int] = []
    original = Vault.customer_stats
    monkeypatch.setattr(Vault, "customer_stats", lambda self, *a, **k: walks.append(1) or original(self, *a, **k))
    for _ in range(3):
        started = found.background
        while started is not None and any(find.poll() is None for _, find in started):
            time.sleep(0.01)
        assert names(vault, "成都") == ["星辰科技有限公司"]
    assert walks == []


def test_in_place_write_is_seen_by_the_periodic_full_check_without_find(
        vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    warm(vault)
    monkeypatch.setattr(session_mod, "FULL_CHECK_SECONDS", 0.0)
    monkeypatch.setenv("PATH", "")  # no find: the periodic check is the walk, on the search itself
    path = file_with(vault, "星辰科技有限公司")
    path.write_text(path.read_text(encoding="utf-8").replace("北京", "成都"), encoding="utf-8")
    assert names(vault, "成都") == ["星辰科技有限公司"]


def test_new_and_deleted_files_are_seen(vault: Vault) -> None:
    warm(vault)
    file_with(vault, "Northwind").unlink()
    assert names(vault, "Northwind") == []
    draft = actions.NewCustomer(name="杭州连锁药房", industry="internet", contact="周先生",
                                email="zhou@example.com", owner="tester")
    actions.add_customer(vault, draft)
    assert names(vault, "连锁药房") == ["杭州连锁药房"]


def test_index_rebuilt_by_another_process_is_reopened(vault: Vault) -> None:
    found = warm(vault)
    generation = found.generation
    search.refresh(vault, rebuild=True)  # swaps the index folder, as `crm index --rebuild` elsewhere would
    assert "星辰科技有限公司" in names(vault, "北京")
    assert found.generation > generation


def test_repeated_query_is_answered_again_after_a_change(vault: Vault) -> None:
    warm(vault)
    assert names(vault, "广州") == []
    path = file_with(vault, "星辰科技有限公司")
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(path.read_text(encoding="utf-8").replace("北京", "广州"), encoding="utf-8")
    os.replace(temp, path)
    assert names(vault, "广州") == ["星辰科技有限公司"]  # not the remembered empty answer


def test_hits_build_customer_and_snippet_only_when_asked(vault: Vault) -> None:
    hits = search.search(vault, "数据安全", limit=0)
    assert hits and all(h._customer is None and h._snippet is None for h in hits)
    assert {h.rel for h in hits} == {vault.relative(p) for p in vault.customers_dir.rglob("*.md")
                                     if "数据安全" in p.read_text(encoding="utf-8")}
    first = hits[0]
    assert first.customer.path == vault.root / first.rel
    assert all(first.snippet.text[s:e] == "数据安全" for s, e in first.snippet.spans)


def test_hit_outliving_its_searcher_reads_the_file(vault: Vault) -> None:
    hit = search.search(vault, "星辰")[0]
    session_mod.close_all()
    assert hit.customer.name == "星辰科技有限公司"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_body_of_equals_the_parser(vault: Vault, newline: str, bom: bytes) -> None:
    for path in sorted(vault.customers_dir.rglob("*.md")):
        data = bom + path.read_text(encoding="utf-8").replace("\n", newline).encode("utf-8")
        assert body_of(data) == note.parse(data).body
    assert body_of("---\nname: 甲\n...\n正文".encode()) == note.parse("---\nname: 甲\n...\n正文".encode()).body


def test_at_most_a_few_vaults_stay_open(tmp_path: Path) -> None:
    vaults = [Vault(actions.create_vault(tmp_path / f"v{i}", example=True, today=TODAY))
              for i in range(session_mod.MAX_SESSIONS + 2)]
    try:
        for item in vaults:
            assert "星辰科技有限公司" in names(item, "北京")
        assert len(session_mod._sessions) <= session_mod.MAX_SESSIONS
        assert "星辰科技有限公司" in names(vaults[0], "北京")  # a closed one opens again
    finally:
        session_mod.close_all()


def test_a_changed_choice_list_is_used_without_a_restart(vault: Vault) -> None:
    """The session re-reads crmnotes.yaml when it changes: a new alias works in a field query
    (through the same Vault object, as in the TUI) and the rebuilt index stores its id."""
    assert names(vault, "source:展会")
    assert names(vault, "source:博览会") == []  # not an alias yet: the raw value matches nothing
    config = vault.root / "crmnotes.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("trade show, 会展]", "trade show, 会展, 博览会]"), encoding="utf-8")
    assert names(vault, "source:博览会") == names(vault, "source:展会") != []
    config.write_text(text.replace("source:", "source: [broken", 1), encoding="utf-8")
    with pytest.raises(CrmError, match=r"crmnotes\.yaml"):
        search.search(vault, "source:展会")
