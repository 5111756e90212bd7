"""Print a pip constraints file pinning every direct dependency of pyproject.toml to its lower bound.

``make test-lowest`` installs with it (``pip install -c``), the equivalent of
``uv pip install --resolution lowest-direct``: every runtime and dev dependency
at the oldest version pyproject.toml claims to work with, everything else as
pip resolves it.  A dependency without a lower bound is refused: an
unbounded claim cannot be tested.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

BOUND = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:>=|==)\s*([^,;\s]+)")


def lower_bounds(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    pins = []
    for requirement in requirements:
        found = BOUND.match(requirement)
        if found is None:
            raise SystemExit(f"{requirement!r} in {pyproject} has no lower bound (>= or ==): add one.")
        pins.append(f"{found.group(1)}=={found.group(2)}")
    return pins


if __name__ == "__main__":
    print("\n".join(lower_bounds(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml"))))
