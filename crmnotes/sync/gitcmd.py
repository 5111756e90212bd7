"""The one way crmnotes runs git: the ``git`` command in a subprocess.

Every git call of the package goes through ``Git`` (sync, history, the merge
driver, the hook, identity).  GitPython's ``repo.git.<cmd>`` is the same
subprocess behind a heavy import (GitPython and gitdb), which the merge driver would pay
once per merged file and every ``crm`` command would pay for reading
``user.name``; this module imports nothing but the standard library.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import CrmError
from ..fsutil import sync_lock_fds

GIT_TIMEOUT = 600


class GitError(CrmError):
    """A git command exited non-zero; ``stderr`` holds what git said."""

    exit_code = 3

    def __init__(self, args: tuple[str, ...], returncode: int, stderr: str) -> None:
        self.args_run = args
        self.returncode = returncode
        self.stderr = " ".join(stderr.split())[:400]
        super().__init__(f"git {args[0] if args else ''} failed: {self.stderr or f'exit {returncode}'}.",
                         "Check the repository with 'git status'.")

    @property
    def command(self) -> str:
        return self.args_run[0] if self.args_run else ""


class GitMissing(CrmError):
    """The git executable cannot be run."""


@dataclass(frozen=True)
class Git:
    """git in one working tree; ``env`` is added to every call (e.g. a fallback identity)."""

    root: Path
    env: Mapping[str, str] | None = None

    def run(self, *args: str, input_data: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> bytes:
        """stdout of ``git args``; raises ``GitError`` when it fails and ``check``."""
        return self.call(*args, input_data=input_data, check=check, env=env)[1]

    def call(self, *args: str, input_data: bytes | None = None, check: bool = True,
             env: Mapping[str, str] | None = None) -> tuple[int, bytes, str]:
        """(exit code, stdout, stderr) of ``git args``."""
        import os

        extra = {**(self.env or {}), **(env or {})}
        try:
            done = subprocess.run(["git", *args], cwd=self.root, input=input_data, capture_output=True,
                                  timeout=GIT_TIMEOUT, check=False, env={**os.environ, **extra} if extra else None,
                                  pass_fds=sync_lock_fds())
        except (OSError, subprocess.SubprocessError) as exc:
            raise GitMissing(f"git could not be run ({exc}).", "Install git to use sync and history.") from None
        stderr = done.stderr.decode("utf-8", errors="replace")
        if check and done.returncode != 0:
            raise GitError(args, done.returncode, stderr)
        return done.returncode, done.stdout, stderr

    def text(self, *args: str, check: bool = True) -> str:
        """stdout as text, without the trailing newline (names git printed raw keep their bytes as surrogates)."""
        return self.run(*args, check=check).decode("utf-8", "surrogateescape").rstrip("\n")

    def succeeds(self, *args: str) -> bool:
        return self.call(*args, check=False)[0] == 0

    def lines(self, *args: str) -> list[str]:
        return [line for line in self.text(*args).splitlines() if line]


def git_run(root: Path, *args: str, input_data: bytes | None = None, check: bool = True) -> bytes:
    """stdout of ``git args`` run in ``root``."""
    return Git(root).run(*args, input_data=input_data, check=check)
