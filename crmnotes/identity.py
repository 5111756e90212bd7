"""Who is using the vault: the name written as follow-up author and owner,
and what "mine" means.

The first of: ``$CRMNOTES_USER``; ``crmnotes.user`` in this clone's git
config (what ``crm init --user`` and ``crm whoami --set`` write: it belongs
to one person's copy, so it is never committed); ``user:`` in crmnotes.yaml;
the team member whose git email is git's ``user.email``; git's
``user.name``; the login name.  With a team listed in crmnotes.yaml the
answer is mapped to a member (id, alias or pinyin become the member's name).
Git is read through crmnotes.sync.gitcmd, the one way crmnotes runs git.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import VaultConfig
    from .team import Member

ENV_USER = "CRMNOTES_USER"
GIT_KEY = "crmnotes.user"


@dataclass(frozen=True)
class Identity:
    user: str  # the name written as author and owner
    source: str  # how it was decided, in words
    member: Member | None = None  # None: no team, or not one of its members
    has_team: bool = False

    @property
    def notice(self) -> str:
        """How to set an identity, when a team is listed and this user is not in it ('' otherwise)."""
        if not self.has_team or self.member is not None:
            return ""
        return (f"you are '{self.user}' ({self.source}), who is not a member of this vault's team. "
                f"Run 'crm whoami --set ID' with your id from 'members:' in crmnotes.yaml.")


def whoami(root: Path, config: VaultConfig) -> Identity:
    """The user and how that was decided, mapped to a team member when crmnotes.yaml lists a team."""
    from .team import team_of

    team = team_of(config)
    user, source = _first_answer(root, config)
    if not team:
        return Identity(user, source)
    member = team.find(user)
    if member is None and source != f"git config {GIT_KEY}":
        by_email = team.by_email(_git_config(str(root), "user.email"))
        if by_email is not None and source in ("git user.name", "the login name"):
            return Identity(by_email.name, "git user.email, listed for this member in crmnotes.yaml", by_email, True)
    return Identity(member.name if member else user, source, member, True)


def current_user(root: Path, config: VaultConfig) -> str:
    return whoami(root, config).user


def set_user(root: Path, user: str) -> None:
    """Remember ``user`` as this clone's identity (git config, not committed)."""
    from .sync.gitcmd import Git

    Git(root).run("config", GIT_KEY, user)
    _git_config.cache_clear()


def _first_answer(root: Path, config: VaultConfig) -> tuple[str, str]:
    if os.environ.get(ENV_USER):
        return os.environ[ENV_USER], f"the {ENV_USER} environment variable"
    if _git_config(str(root), GIT_KEY):
        return _git_config(str(root), GIT_KEY), f"git config {GIT_KEY}"
    if config.user:
        return config.user, "user: in crmnotes.yaml"
    if _git_config(str(root), "user.name"):
        return _git_config(str(root), "user.name"), "git user.name"
    return _login(), "the login name"


@lru_cache(maxsize=32)
def _git_config(root: str, key: str) -> str:
    from .errors import CrmError
    from .sync.gitcmd import Git

    try:
        code, out, _ = Git(Path(root)).call("config", key, check=False)
    except CrmError:  # no git: the next answer will do
        return ""
    return out.decode("utf-8", errors="replace").strip() if code == 0 else ""


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"
