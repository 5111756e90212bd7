"""What the customer table shows: quick filters, the search box, sorting.

``catalog.rows`` (the storage seam) applies the structured filters and the
sort; ``search_rows`` narrows them by what is typed in the search box with
the search index's query language (the same as ``crm search``), best match
first.  While a query is unfinished (an open quote or parenthesis) or the
index is not available, ``match_rows`` stands in: words, "quoted phrases" and
``field:value`` as case-insensitive substring matches over the row.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from ..actions import Filters
from ..catalog import Row
from ..config import VaultConfig, fold
from ..errors import CrmError
from ..vault import Vault

DUE_TODAY = "today"
OVERDUE = "overdue"
SORTS = ("name", "last", "next", "stage", "grade", "owner", "created")
OPERATORS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class QuickFilters:
    """The filters chosen with keys or the filter form (not the search box)."""

    stage: str = ""
    tag: str = ""
    owner: str = ""
    grade: str = ""
    mine: bool = False
    due: str = ""  # "", DUE_TODAY (due on or before today) or OVERDUE (before today)
    sort: str = "name"

    def to_filters(self, user: str) -> Filters:
        return Filters(stage=self.stage, tag=self.tag, owner=self.owner, grade=self.grade,
                       mine_user=user if self.mine else "")

    def with_(self, **changes: object) -> QuickFilters:
        return replace(self, **changes)  # type: ignore[arg-type]  # changes name fields of this dataclass: replace() checks the names

    def describe(self) -> str:
        parts = [f"{k}:{v}" for k, v in (("stage", self.stage), ("tag", self.tag), ("owner", self.owner),
                                         ("grade", self.grade)) if v]
        if self.mine:
            parts.append("mine")
        if self.due:
            parts.append("due today" if self.due == DUE_TODAY else "overdue")
        return " ".join(parts)


def by_due(rows: list[Row], due: str, today: date) -> list[Row]:
    if due == DUE_TODAY:
        return [r for r in rows if r.due is not None and r.due <= today]
    if due == OVERDUE:
        return [r for r in rows if r.due is not None and r.due < today]
    return rows


def search_rows(vault: Vault, rows: list[Row], text: str, today: date, mounts: list[Vault] | None = None
                ) -> tuple[list[Row], bool]:
    """Rows matching the search box, and whether they are ranked (``mounts``: a workspace's, whose rows
    carry absolute paths).

    With a query the index answers, the best match comes first (ties keep
    the table's order); while the query is unfinished the substring
    stand-in keeps the table's order.
    """
    if not text.strip():
        return rows, False
    try:
        from ..search import search_many  # deferred: Whoosh loads on the first query

        hits = search_many(mounts or [vault], text, limit=0, today=today)
    except (CrmError, ImportError, OSError):
        return match_rows(rows, text, vault.config), False  # an unfinished query while typing
    # a workspace's rows carry absolute paths (several roots); a vault's, paths relative to it
    score = {str(hit.vault.root / hit.rel) if mounts else hit.rel: hit.score for hit in hits}
    found = [(index, row) for index, row in enumerate(rows) if row.path in score]
    found.sort(key=lambda item: (-score[item[1].path], item[0]))
    return [row for _, row in found], True


def match_rows(rows: list[Row], text: str, config: VaultConfig) -> list[Row]:
    """Rows matching every term typed in the search box."""
    terms = _terms(text)
    if not terms:
        return rows
    tests = [_term_test(field, value, config) for field, value in terms]
    return [row for row in rows if all(test(row) for test in tests)]


def _terms(text: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(text)
    except ValueError:  # an unfinished "quote while typing: take the words as they are
        words = text.replace('"', " ").split()
    terms = []
    for word in words:
        if word in OPERATORS:
            continue
        field, sep, value = word.partition(":")
        if sep and re.fullmatch(r"[a-z_]+", field) and value:
            terms.append((field, fold(value)))
        else:
            terms.append(("", fold(word)))
    return terms


def _term_test(field: str, value: str, config: VaultConfig) -> Callable[[Row], bool]:
    if field == "tag":
        return lambda r: any(fold(t) == value or fold(t).startswith(value.rstrip("/") + "/") for t in r.tags)
    if field in ("stage", "grade", "source", "industry"):
        list_name = {"stage": "stages", "grade": "grades", "source": "sources", "industry": "industries"}[field]
        found = config.choices.get(list_name)
        wanted = fold(found.canonical(value)) if found else value  # 意向 finds intent
        return lambda r: fold(getattr(r, field)) == wanted or value in fold(getattr(r, field))
    if field in ("owner", "name", "contact", "email", "id"):
        return lambda r: value in fold(getattr(r, field))
    return lambda r: value in _haystack(r, config)


def _haystack(row: Row, config: VaultConfig) -> str:
    labels = [config.choices[n].display(v) for n, v in (("industries", row.industry), ("sources", row.source))
              if n in config.choices and v]
    return fold(" ".join([row.name, row.contact, row.id, row.owner, row.industry, row.source, row.email,
                          *labels, *row.tags]))
