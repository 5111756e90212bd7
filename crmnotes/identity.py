"""Who is using the vault: the name written as follow-up author and owner,
and what "mine" means.

``$CRMNOTES_USER``, else ``user:`` in crmnotes.yaml, else git's
``user.name``, else the login name.
"""

from __future__ import annotations

import getpass
import os
from functools import lru_cache
from pathlib import Path

ENV_USER = "CRMNOTES_USER"


def vault_user(root: Path, configured: str = "") -> str:
    return os.environ.get(ENV_USER) or configured or _git_user(str(root)) or _login()


@lru_cache(maxsize=8)
def _git_user(root: str) -> str:
    from .errors import CrmError
    from .sync.gitcmd import Git

    try:
        code, out, _ = Git(Path(root)).call("config", "user.name", check=False)
    except CrmError:  # no git: the login name will do
        return ""
    return out.decode("utf-8", errors="replace").strip() if code == 0 else ""


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"
