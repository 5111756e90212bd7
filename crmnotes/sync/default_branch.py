"""The remote's default branch after the vault's first push.

``git init --bare`` points a new repository's HEAD at ``master`` (or whatever
``init.defaultBranch`` says) while a vault works on ``main``: a clone of it then
checks out nothing.  A local bare remote is fixed in place; for any other URL
the user gets the one command (or setting) that fixes it.
"""

from __future__ import annotations

from pathlib import Path

from .gitcmd import Git
from .repo import git_run


def point_remote_head(git: Git, remote: str, branch: str) -> str:
    """A note for the sync report: the remote's HEAD set to ``branch`` where it pointed at no branch, a hint
    where it cannot be set from here, "" when it already names an existing branch."""
    url = git.text("remote", "get-url", remote, check=False)
    local = _local_path(url, git.root)
    if local is not None:
        head = git_run(local, "symbolic-ref", "-q", "HEAD", check=False).decode().strip()
        if not head or _has_branch(local, head):
            return ""
        git_run(local, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
        return f"set the default branch of {remote} to '{branch}' (what 'git clone' checks out)."
    listed = git.text("ls-remote", "--symref", remote, "HEAD", check=False)
    if listed.strip():
        return ""  # HEAD names a branch that exists there
    return (f"the remote {remote} has no default branch yet, so 'git clone' would check out nothing: on the server "
            f"run 'git --git-dir=PATH/TO/REPO.git symbolic-ref HEAD refs/heads/{branch}', or choose '{branch}' "
            "as the default branch in the hosting site's settings.")


def _local_path(url: str, root: Path) -> Path | None:
    """The remote's folder when it is on this machine (a path or a file:// URL), else None."""
    if url.startswith("file://"):
        url = url.removeprefix("file://")
    elif "://" in url or (":" in url.split("/")[0] and not Path(url).exists()):
        return None  # https://, ssh://, or scp-like host:path
    path = (root / url).resolve()
    return path if path.is_dir() else None


def _has_branch(git_dir: Path, ref: str) -> bool:
    return bool(git_run(git_dir, "rev-parse", "--verify", "-q", ref, check=False).strip())
