"""An index an older version merged into a big compound segment is split back into separate files."""

from __future__ import annotations

import pytest

from crmnotes import search
from crmnotes.search import index as index_module
from crmnotes.search import store
from crmnotes.vault import Vault

from .test_index_build import answers, fill


def segment_ids(vault: Vault) -> list[str]:
    from whoosh import index as windex

    ix = windex.open_dir(str(store.index_dir(vault)))
    try:
        return [segment.segment_id() for segment in ix._segments()]
    finally:
        ix.close()


def test_a_big_compound_segment_of_an_older_version_is_split_into_its_files(empty_vault: Vault,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """An index an older version merged into one compound file is rewritten as separate files when the
    watcher starts (or the next update), byte for byte the same parts: the same answers, nothing re-indexed."""
    from whoosh import index as windex

    fill(empty_vault, 40)
    monkeypatch.setattr(index_module, "SMALL_SEGMENT_DOCS", 10)
    search.refresh(empty_vault, rebuild=True, workers=1)
    folder = store.index_dir(empty_vault)
    ix = windex.open_dir(str(folder))
    ix.writer().commit(optimize=True)  # what Whoosh's default writer and merge did before: one compound file
    ix.close()
    (compound,) = folder.glob("*.seg")
    expected, ids = answers(empty_vault), segment_ids(empty_vault)
    assert expected["冷链"] and len(ids) == 1
    index_module.warm_up(empty_vault)
    assert not compound.exists() and not list(folder.glob("*.seg")) and not list(folder.glob(".*"))
    assert segment_ids(empty_vault) == ids and answers(empty_vault) == expected
    assert index_module.split_compound_segments(empty_vault) == 0  # done once
    target = next(empty_vault.customers_dir.rglob("customer-3.md"))
    target.write_text(target.read_text(encoding="utf-8").replace("编号3", "编号三百"), encoding="utf-8")
    assert search.refresh(empty_vault, paths={target.relative_to(empty_vault.root).as_posix()}).changed == 1
    assert [h.rel.rsplit("/", 1)[-1] for h in search.search(empty_vault, "编号三百")] == ["customer-3.md"]
    assert answers(empty_vault)["renewal"] == expected["renewal"]


def test_a_split_cut_short_before_its_commit_leaves_the_index_answering(empty_vault: Vault,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from whoosh import index as windex

    fill(empty_vault, 30)
    monkeypatch.setattr(index_module, "SMALL_SEGMENT_DOCS", 10)
    search.refresh(empty_vault, rebuild=True, workers=1)
    folder = store.index_dir(empty_vault)
    ix = windex.open_dir(str(folder))
    ix.writer().commit(optimize=True)
    ix.close()
    expected = answers(empty_vault)

    def crash(segment: object, split: object) -> object:
        raise OSError("disk full")  # after every part was copied out, before the new table of contents

    with monkeypatch.context() as patch:
        patch.setattr(index_module, "_separate", crash)
        with pytest.raises(OSError):
            index_module.split_compound_segments(empty_vault)
    assert list(folder.glob("*.seg")) and answers(empty_vault) == expected  # still the compound file's
    assert index_module.split_compound_segments(empty_vault) == 1
    assert not list(folder.glob("*.seg")) and not list(folder.glob(".*")) and answers(empty_vault) == expected
    # a crash after the new table of contents, before the compound file went: the next split removes it
    (segment_id,) = segment_ids(empty_vault)
    (folder / f"{segment_id}.seg").write_bytes(b"left over")
    (folder / f".{segment_id}.pst.split").write_bytes(b"cut short")
    assert index_module.split_compound_segments(empty_vault) == 0
    assert not list(folder.glob("*.seg")) and not list(folder.glob(".*")) and answers(empty_vault) == expected
