"""``python -m crmnotes.search.merging VAULT``: merge the index's segments, in a process of its own.

Started detached by ``index.merge_later`` (``crm index`` after a rebuild), so the
command that rebuilt returns at once; searches and watched updates go on while
it runs, and a merge that fails or is killed leaves the index as it was."""

from __future__ import annotations

import sys
from pathlib import Path

from ..vault import Vault
from .index import merge_segments


def main(argv: list[str]) -> int:
    merge_segments(Vault(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
