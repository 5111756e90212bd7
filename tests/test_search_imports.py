"""Whoosh is imported through crmnotes.search without urllib.request and asyncio
(quickimport's stand-ins), and everything else still gets the real modules.
Each case runs in a fresh interpreter: imports are process-wide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from crmnotes import actions, search
from crmnotes.vault import Vault


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_whoosh_loads_without_http_or_asyncio_and_the_real_modules_follow() -> None:
    out = run_python(
        "import sys, crmnotes.search, whoosh.query, whoosh.index, whoosh.reading, whoosh.compat\n"
        "print(sorted(m for m in ('urllib.request', 'asyncio', 'cached_property') if m in sys.modules))\n"
        "import urllib.request, cached_property\n"
        "print(urllib.request.urlopen.__module__, cached_property.cached_property.__module__)\n"
        "print(whoosh.reading.cached_property.__module__, whoosh.compat.urlretrieve.__module__)\n")
    assert out.splitlines() == ["[]", "urllib.request cached_property",
                                "functools crmnotes.search.quickimport"]


def test_modules_already_loaded_are_used_as_they_are() -> None:
    out = run_python(
        "import urllib.request, cached_property, crmnotes.search, whoosh.reading, whoosh.compat\n"
        "print(whoosh.compat.urlretrieve is urllib.request.urlretrieve,"
        " whoosh.reading.cached_property is cached_property.cached_property)\n")
    assert out == "True True"


def test_a_search_with_deleted_documents_works_in_a_fresh_process(empty_vault: Vault, tmp_path: Path) -> None:
    # deleted_docs_set is the property Whoosh builds with the stand-in cached_property
    for name in ("星辰科技", "北辰数据", "Northwind"):
        draft = actions.NewCustomer(name=name, industry="软件", contact="王芳", phone="13800138000", owner="王芳")
        actions.add_customer(empty_vault, draft, force=True)
    search.search(empty_vault, "星辰")
    doomed = next(p for p in (empty_vault.root / "customers").rglob("*.md") if "北辰" in p.read_text("utf-8"))
    doomed.unlink()
    out = run_python(
        "import sys\nfrom pathlib import Path\nfrom crmnotes import search\nfrom crmnotes.vault import Vault\n"
        f"hits = search.search(Vault(Path({str(empty_vault.root)!r})), '辰')\n"
        "print(sorted(h.customer.name for h in hits), 'asyncio' in sys.modules)\n")
    assert out == "['星辰科技'] False"
