"""``crm server-hook``: the team's write rules, enforced by the git server.

A local-first client cannot enforce anything, so the rules live in a
``pre-receive`` (or ``update``) hook of the shared repository.  A push is
refused when it

* rewrites or deletes the history of the main branch (non-fast-forward),
  unless an admin pushes with ``-o crmnotes-rewrite`` (a PIPL purge);
* adds a PRC resident ID or bank card number to any file (everyone);
* changes ``members:`` in crmnotes.yaml and the pusher is not an admin, or
  changes the rest of crmnotes.yaml and the pusher is a rep;
* adds, changes or deletes a customer whose owner (before or after the
  change) is not the pushing rep.  Managers and admins change anything.

The rules are the ``members:`` of crmnotes.yaml as the branch held it before
the push, so a push cannot promote its own author.  Who pushes is, first,
what the server says (it authenticated them): ``CRMNOTES_PUSHER`` (set it
per ssh key with ``environment=`` in authorized_keys), Gitea's
``GITEA_PUSHER_EMAIL`` / ``GITEA_PUSHER_NAME``, GitLab's ``GL_USERNAME``;
otherwise each new commit's committer email, mapped to a member by
``emails:`` (anyone can write any email in a commit, so a plain ssh server
without per-key identities trusts the team's honesty).
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import CONFIG_FILE
from ..sensitive import new_numbers
from ..team import EMPTY, Member, Team, parse_members
from .repo import git_run, read_blobs

ZERO = "0" * 40
MAIN_BRANCHES = ("refs/heads/main", "refs/heads/master")
REFUSED = "crmnotes: refused:"
HOOK_MARK = "# crmnotes server hook"
REWRITE_OPTION = "crmnotes-rewrite"
# (variable, how its value names the member) in the order trusted
PUSHER_VARIABLES = (("CRMNOTES_PUSHER", "member"), ("GITEA_PUSHER_EMAIL", "email"),
                    ("GITEA_PUSHER_NAME", "member"), ("GL_USERNAME", "member"))


@dataclass(frozen=True)
class Refusal:
    ref: str
    commit: str
    reason: str


def install(bare: Path) -> Path:
    """Write ``bare``/hooks/pre-receive running this interpreter's crmnotes (an existing other hook is kept)."""
    hooks = bare / "hooks"
    if not hooks.is_dir():
        from ..errors import CrmError

        raise CrmError(f"{bare} is not a git repository (it has no hooks folder).",
                       "Give the path of the server's bare repository, e.g. /srv/git/crm.git.")
    hook = hooks / "pre-receive"
    if hook.exists() and HOOK_MARK not in hook.read_text(encoding="utf-8", errors="replace"):
        from ..errors import CrmError

        raise CrmError(f"{hook} already exists and is not crmnotes'.",
                       "Call 'crm server-hook' from it (it reads the same stdin), or move it away.")
    hook.write_text(f"#!/bin/sh\n{HOOK_MARK}\nexec {shlex.quote(sys.executable)} -m crmnotes server-hook\n",
                    encoding="utf-8")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return hook


def read_updates(text: str) -> list[tuple[str, str, str]]:
    """pre-receive's stdin: one ``OLD NEW REF`` line per updated ref."""
    return [(parts[0], parts[1], parts[2]) for line in text.splitlines() if len(parts := line.split()) == 3]


def refusal_lines(refusals: list[Refusal]) -> list[str]:
    lines = [f"{REFUSED} {r.reason}" + (f" (commit {r.commit[:8]})" if r.commit else "") for r in refusals]
    if refusals:
        lines.append("crmnotes: nothing was pushed; your commits are still in your clone. "
                     "Ask the customer's owner or a manager to make this change.")
    return lines


def refusal_summary(push_output: str) -> str:
    """The server's first refusal reason in a failed push's output ('' when the hook did not say)."""
    for line in push_output.splitlines():
        _, found, reason = line.partition(REFUSED)
        if found:  # git prefixes each hook line with "remote:"; a caller may have joined the lines
            return reason.split("remote:")[0].strip()
    return ""


def check_push(git_dir: Path, updates: list[tuple[str, str, str]],
               env: Mapping[str, str] | None = None) -> list[Refusal]:
    env = os.environ if env is None else env
    refusals: list[Refusal] = []
    for old, new, ref in updates:
        refusals += _check_ref(git_dir, old, new, ref, env)
    return refusals


def _check_ref(git_dir: Path, old: str, new: str, ref: str, env: Mapping[str, str]) -> list[Refusal]:
    main = ref in MAIN_BRANCHES or ref == _head_ref(git_dir)
    if new == ZERO:
        return [Refusal(ref, "", f"deleting {ref} is not allowed")] if main else []
    base = old if old != ZERO else _resolve(git_dir, _head_ref(git_dir))
    team = _team_at(git_dir, base) if base else EMPTY  # the first push into an empty server sets the rules
    pusher, named = _pusher(team, env)
    if main and old != ZERO and not _is_ancestor(git_dir, old, new):
        pusher = _admin_rewrite(git_dir, new, team, pusher, env)  # the admin republishes every commit
        if pusher is None:
            return [Refusal(ref, "", f"the push rewrites the history of {ref.removeprefix('refs/heads/')} "
                                     "(not a fast-forward); run 'crm sync' to merge instead")]
    if team and named and pusher is None:
        return [Refusal(ref, "", f"the pushing account '{named}' is not listed in 'members:' of crmnotes.yaml")]
    refusals = []
    for commit in _new_commits(git_dir, new):
        refusals += _check_commit(git_dir, ref, commit, team, pusher)
    return refusals


def _check_commit(git_dir: Path, ref: str, commit: str, team: Team, pusher: Member | None) -> list[Refusal]:
    paths = _changed_paths(git_dir, commit)
    blobs = read_blobs(git_dir, [spec for path in paths for spec in (f"{commit}^:{path}", f"{commit}:{path}")])
    refusals = []
    for index, path in enumerate(paths):
        before, after = blobs[2 * index], blobs[2 * index + 1]
        for kind, masked in new_numbers(_text(before), _text(after)):
            refusals.append(Refusal(ref, commit, f"{path} adds a {kind} ({masked}), which must never be stored"))
    if not team:
        return refusals
    actor = pusher or team.by_email(_committer_email(git_dir, commit))
    if actor is None:
        email = _committer_email(git_dir, commit)
        return [*refusals, Refusal(ref, commit, f"the committer email '{email}' belongs to no member in "
                                                "crmnotes.yaml; set git's user.email to the one listed for you")]
    for index, path in enumerate(paths):
        reason = _forbidden(actor, team, path, blobs[2 * index], blobs[2 * index + 1])
        if reason:
            refusals.append(Refusal(ref, commit, reason))
    return refusals


def _admin_rewrite(git_dir: Path, new: str, team: Team, pusher: Member | None,
                   env: Mapping[str, str]) -> Member | None:
    """The admin making a deliberate rewrite (a PIPL purge) with ``git push --force -o crmnotes-rewrite``."""
    options = {env.get(f"GIT_PUSH_OPTION_{i}", "") for i in range(int(env.get("GIT_PUSH_OPTION_COUNT") or 0))}
    if REWRITE_OPTION not in options or not team:
        return None
    actor = pusher or team.by_email(_committer_email(git_dir, new))
    return actor if actor is not None and actor.role == "admin" else None


def _forbidden(actor: Member, team: Team, path: str, before: bytes | None, after: bytes | None) -> str:
    """Why ``actor`` may not make this change to ``path`` ('' when allowed)."""
    if actor.role == "admin":
        return ""
    if path == CONFIG_FILE:
        if _members(before) != _members(after):
            return f"{actor.name} ({actor.role}) changed 'members:' in crmnotes.yaml; only an admin may"
        return "" if actor.sees_all else f"{actor.name} (rep) changed crmnotes.yaml; only a manager or admin may"
    if actor.sees_all or not (path.startswith("customers/") and path.endswith(".md")):
        return ""
    for version in (before, after):
        owner = _owner(version)
        if version is not None and (team.find(owner) if owner else None) != actor:
            name = _customer_name(before if after is None else after, path)
            whose = f"{owner}'s" if owner else "an unowned"
            return f"{actor.name} may not change {whose} customer {name}: a rep changes only their own customers"
    return ""


# ------------------------------------------------------------------ git reads


def _git(git_dir: Path, *args: str) -> str:
    return git_run(git_dir, *args, check=False).decode("utf-8", errors="replace").strip()


def _head_ref(git_dir: Path) -> str:
    return _git(git_dir, "symbolic-ref", "-q", "HEAD")


def _resolve(git_dir: Path, ref: str) -> str:
    return _git(git_dir, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}") if ref else ""


def _is_ancestor(git_dir: Path, old: str, new: str) -> bool:
    from .gitcmd import Git

    return Git(git_dir).succeeds("merge-base", "--is-ancestor", old, new)


def _new_commits(git_dir: Path, new: str) -> list[str]:
    """Oldest first: the commits the push brings that no branch of the server holds yet."""
    return _git(git_dir, "rev-list", "--reverse", "--topo-order", new, "--not", "--all").split()


def _changed_paths(git_dir: Path, commit: str) -> list[str]:
    """Files the commit changes: against its parent, or for a merge the files that differ from every
    parent (what the merger decided), or every file of a first commit."""
    raw = git_run(git_dir, "diff-tree", "-r", "-c", "--root", "--no-commit-id", "--name-only", "-z", commit,
                  check=False)
    return sorted({p for p in raw.decode("utf-8", errors="replace").split("\0") if p})


def _committer_email(git_dir: Path, commit: str) -> str:
    return _git(git_dir, "log", "-1", "--format=%ce", commit)


def _team_at(git_dir: Path, commit: str) -> Team:
    (blob,) = read_blobs(git_dir, [f"{commit}:{CONFIG_FILE}"]) if commit else (None,)
    try:
        return parse_members(_yaml(blob).get("members"))
    except Exception:  # unreadable before the push: only the history and number rules apply
        return EMPTY


def _pusher(team: Team, env: Mapping[str, str]) -> tuple[Member | None, str]:
    """The member the server authenticated, and the name it gave ('' when it gave none)."""
    for variable, kind in PUSHER_VARIABLES:
        value = env.get(variable, "").strip()
        if value:
            return (team.by_email(value) if kind == "email" else team.find(value)), value
    return None, ""


# ------------------------------------------------------------------ file contents


def _text(blob: bytes | None) -> str:
    return blob.decode("utf-8", errors="replace") if blob else ""


def _yaml(blob: bytes | None) -> dict[str, Any]:
    if not blob:
        return {}
    from .. import yamlsafe

    data = yamlsafe.load(_text(blob))
    return data if isinstance(data, dict) else {}


def _members(blob: bytes | None) -> Any:
    try:
        return _yaml(blob).get("members")
    except Exception:  # unreadable: compare as its raw text
        return _text(blob)


def _owner(blob: bytes | None) -> str:
    from .message import _parse

    doc = _parse(blob)
    return str(doc.meta.get("owner") or "").strip() if doc else ""


def _customer_name(blob: bytes | None, path: str) -> str:
    from .message import _name, _parse

    return _name(_parse(blob), path)
