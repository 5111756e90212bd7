"""Who is using the vault: the name written as follow-up author and owner,
and what "mine" means.

``$CRMNOTES_USER``, else ``user:`` in crmnotes.yaml, else git's
``user.name`` (read with the git command, no GitPython import), else the
login name.
"""

from __future__ import annotations

import getpass
import os
import subprocess
from functools import lru_cache
from pathlib import Path

ENV_USER = "CRMNOTES_USER"


def vault_user(root: Path, configured: str = "") -> str:
    return os.environ.get(ENV_USER) or configured or _git_user(str(root)) or _login()


@lru_cache(maxsize=8)
def _git_user(root: str) -> str:
    try:
        done = subprocess.run(["git", "config", "user.name"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"
