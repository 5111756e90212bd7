"""Work the TUI starts before Textual runs: the first view's rows.

Importing Textual, starting the app and painting the first frame take a
few hundred milliseconds; reading the catalog for the customer table does
not need any of it.  ``FirstRows`` starts ``table_rows`` for the main
screen's first view in a thread as soon as the app object exists, and the
main screen takes the result instead of asking again.  When polling for
external changes is on, the thread first takes the poll's baseline
signature, so a file changed while the rows are read is still noticed.

A big vault's rows take longer than starting Textual (every file is
looked at, a row made for each customer).  There the thread first reads
the first page of the list from the listing cache (``catalog.first_rows``),
which the first frame shows; the whole list is read once the screen lets
it go (``release``, after that frame: the two would only slow each other).

No Textual import here: this runs while Textual is still being imported.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import TYPE_CHECKING

from . import live

PAGE = 200  # customers in the first page (the table's window)
PAGE_FROM = 5000  # customers from which the first frame shows the first page rather than wait for them all

if TYPE_CHECKING:
    from ..actions import Filters
    from ..catalog import Row
    from ..vault import Vault
    from ..workspace import Workspace


class FirstRows:
    """``table_rows(vault, workspace, filters, sort, today)``, computed in a thread started now (in a big
    vault: its first ``page`` first, the rest once ``release``d)."""

    def __init__(self, vault: Vault, filters: Filters, sort: str, today: date, *, baseline: bool = False,
                 workspace: Workspace | None = None) -> None:
        self.key = (filters, sort, today)
        self.baseline: live.Signature | None = None
        self._rows: list[Row] | None = None
        self.page: list[Row] | None = None  # the first page, when the vault is big enough to ask for one
        self._paged = threading.Event()
        self._released = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(vault, workspace, baseline), name="crmnotes-first-rows",
                                        daemon=True)
        self._thread.start()

    def _run(self, vault: Vault, workspace: Workspace | None, baseline: bool) -> None:
        try:
            self._first_page(vault, workspace)
            if self.page is not None:
                self._released.wait()
            if baseline:
                self.baseline = signature(vault, workspace)
            self._rows = table_rows(vault, workspace, *self.key)
        except Exception:  # the screen asks again and reports the error the usual way
            self._rows = None
        finally:
            self._done.set()
        if self.page is not None:
            from .. import catalog

            catalog.index_first_rows(vault)  # the next start's page without a pass over every row

    def _first_page(self, vault: Vault, workspace: Workspace | None) -> None:
        """``page``: the first view's first rows from the cache, in a vault of ``PAGE_FROM`` customers or more."""
        from ..filters import Filters

        try:
            if workspace is None and self.key[:2] == (Filters(), "name"):
                from .. import catalog

                self.page = catalog.first_rows(vault, self.key[2], PAGE, at_least=PAGE_FROM)
        except Exception:  # the whole list follows anyway
            self.page = None
        finally:
            self._paged.set()

    def wait_page(self, timeout: float) -> list[Row] | None:
        """Wait up to ``timeout`` seconds for the first page; it, or None (a small vault: wait for the rows)."""
        self._paged.wait(timeout)
        return self.page

    def release(self) -> None:
        """Let the thread read the whole list (once the first page is painted)."""
        self._released.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread; whether it is done."""
        if self._paged.wait(timeout) and self.page is None:
            return self._done.wait(timeout)
        return self._done.is_set()

    def wait_baseline(self) -> live.Signature | None:
        """The poll's baseline (None when it was not asked for); waits for the thread (the screen
        releases it)."""
        self._done.wait()
        return self.baseline

    def rows(self, filters: Filters, sort: str, today: date) -> list[Row] | None:
        """The rows when they answer this question (waits for the thread); else None."""
        if (filters, sort, today) != self.key:
            return None
        self.release()
        self._done.wait()
        return self._rows


def table_rows(vault: Vault, workspace: Workspace | None, filters: Filters, sort: str, today: date) -> list[Row]:
    """The customer table's rows: ``catalog.rows``, or in a workspace every mount's (paths absolute)."""
    if workspace is not None:
        from ..workspace import rows

        return rows(workspace, filters, sort, today)
    from .. import catalog

    return catalog.rows(vault, filters, sort, today)


def signature(vault: Vault, workspace: Workspace | None) -> live.Signature:
    """What the poll for external changes compares: the vault's files, or every mount's."""
    return live.signature(vault) if workspace is None else live.signature_of(workspace.vaults)
