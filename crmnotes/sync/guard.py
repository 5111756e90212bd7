"""The pre-commit privacy guard: refuse PRC ID and bank card numbers in
staged customer files (git runs it as ``crm pre-commit-hook``)."""

from __future__ import annotations

from pathlib import Path

from ..rules import find_sensitive
from .repo import git_run, read_blobs

CUSTOMERS_PREFIX = "customers/"


def staged_customer_paths(root: Path) -> list[str]:
    raw = git_run(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR", "--", CUSTOMERS_PREFIX)
    return [p for p in raw.decode("utf-8", errors="surrogateescape").split("\0") if p.endswith(".md")]


def sensitive_findings(root: Path) -> list[str]:
    """``path:line: what`` for every sensitive number in a staged customer file."""
    paths = staged_customer_paths(root)
    findings = []
    for path, blob in zip(paths, read_blobs(root, [f":{p}" for p in paths]), strict=True):
        if blob is None:
            continue
        text = blob.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for kind, masked, _ in find_sensitive(line):
                findings.append(f"{path}:{number}: a {kind} ({masked})")
    return findings
