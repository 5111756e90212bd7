"""Search: a Whoosh index of the vault with Chinese segmentation, field queries and pinyin.

An adapter, not part of the domain core: the core never imports it, and
nothing here imports Whoosh until an index is really opened.

* ``text`` - CJK runs and bigrams, pinyin and phone keys (no Whoosh)
* ``records`` - one file -> index document + stored record (no Whoosh)
* ``store`` - the manifest that makes freshness checks cheap (no Whoosh)
* ``schema`` - fields and the CJK/English analyzer
* ``index`` - refresh / rebuild under one writer lock
* ``query`` - the query language -> Whoosh queries
* ``session`` - the open searcher per vault and its freshness checks
* ``evaluate`` - compiled queries answered from decoded posting blocks, Whoosh's scores exactly
* ``engine`` - ranked hits with snippets; customers from stored fields
* ``quickimport`` - Whoosh imported without the two modules it never uses
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import quickimport

quickimport.install()

if TYPE_CHECKING:
    from datetime import date

    from ..vault import ScanResult, Vault
    from .engine import Hit
    from .index import Progress, RefreshStats

__all__ = ["invalidate", "load_customers", "refresh", "search", "search_many"]


def search(vault: Vault, query: str, limit: int = 20, today: date | None = None) -> list[Hit]:
    from .engine import search as run

    return run(vault, query, limit, today)


def search_many(vaults: list[Vault], query: str, limit: int = 20, today: date | None = None) -> list[Hit]:
    """``search`` over the mounts of a workspace, best first (each hit knows its vault).  Each
    mount keeps its own index, so a score weighs a word by its rarity in that mount: the
    order is the one a single index would give up to that difference."""
    if len(vaults) == 1:
        return search(vaults[0], query, limit, today)
    hits = [hit for vault in vaults for hit in search(vault, query, limit, today)]
    hits.sort(key=lambda hit: -hit.score)  # stable: equal scores keep the mounts' order
    return hits[:limit] if limit > 0 else hits


def refresh(vault: Vault, *, rebuild: bool = False, progress: Progress | None = None, **options: Any) -> RefreshStats:
    from .index import refresh as run

    return run(vault, rebuild=rebuild, progress=progress, **options)


def load_customers(vault: Vault) -> ScanResult:
    from .engine import load_customers as run

    return run(vault)


def invalidate(vault: Vault) -> None:
    """Files of this vault changed (a watcher saw it): the next search in this process re-checks every file."""
    from .session import invalidate as run

    run(vault)
