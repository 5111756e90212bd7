"""Run ``python -m crmnotes`` and SIGKILL it at an exact moment of its writes.

``CRM_KILLPOINT=op:n`` kills the process just before its n-th call of
``os.op`` (fsync, replace, rename, link, unlink, mkdir): a crash at every
step of an atomic write, an index commit or an import, reproducibly.
``CRM_KILLPOINT=count:FILE`` runs normally and writes how many calls of each
op happened to FILE, so a test can pick kill points that exist.
``CRM_KILLPOINT=pause:op:n:DIR`` instead stops just before that call,
creates DIR/paused and waits for DIR/go: a test can then change the file
(an editor's save) at exactly that moment.  The program
itself is the real one: nothing of crmnotes is replaced.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

OPS = ("fsync", "replace", "rename", "link", "unlink", "mkdir")


def _install(spec: str) -> None:
    counts: Counter[str] = Counter()
    target: tuple[str, int] | None = None
    stop = lambda: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731
    if spec.startswith("count:"):
        out = spec.removeprefix("count:")
        atexit.register(lambda: Path(out).write_text(json.dumps(counts), encoding="utf-8"))
    elif spec.startswith("pause:"):
        _, op, nth, folder = spec.split(":", 3)
        target = (op, int(nth))
        stop = lambda: _pause(folder)  # noqa: E731
    else:
        op, _, nth = spec.partition(":")
        target = (op, int(nth))
    for op in OPS:
        original = getattr(os, op)

        def watched(*args: Any, _op: str = op, _original: Any = original, **kwargs: Any) -> Any:
            counts[_op] += 1
            if target == (_op, counts[_op]):
                stop()
            return _original(*args, **kwargs)

        setattr(os, op, watched)


def _pause(folder: str) -> None:
    import time

    Path(folder, "paused").touch()
    deadline = time.monotonic() + 120
    while not Path(folder, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    _install(os.environ.get("CRM_KILLPOINT", "count:/dev/null"))
    sys.argv = ["crmnotes", *sys.argv[1:]]
    runpy.run_module("crmnotes", run_name="__main__", alter_sys=True)
