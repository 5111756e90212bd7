"""Import Whoosh without two imports it never uses, which would be most of a one-shot ``crm search``'s import time.

``whoosh.compat`` imports ``urllib.request`` (HTTP, SSL, email parsing) for
a download helper no code path calls, and ``whoosh.reading`` imports the
``cached_property`` package, which imports ``asyncio``, for one property.
While exactly those two Whoosh modules execute, a finder puts small
stand-ins in ``sys.modules`` (a ``urlretrieve`` that loads the real one
when called; ``functools.cached_property``, which behaves the same for a
plain class) and takes them out again afterwards, so any other importer
still gets the real modules.  If either module is already loaded, the real
one is used.
"""

from __future__ import annotations

import functools
import importlib.machinery
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any


def _urlretrieve(*args: Any, **kwargs: Any) -> Any:
    from urllib.request import urlretrieve

    return urlretrieve(*args, **kwargs)


def _stand_in(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name, "crmnotes stand-in used while Whoosh is imported")
    module.__dict__.update(attributes)
    return module


# Whoosh module -> the imports it gets a stand-in for
STAND_INS: dict[str, Callable[[], dict[str, types.ModuleType]]] = {
    "whoosh.compat": lambda: {"urllib.request": _stand_in("urllib.request", urlretrieve=_urlretrieve)},
    "whoosh.reading": lambda: {"cached_property": _stand_in("cached_property",
                                                            cached_property=functools.cached_property)},
}


class _WithStandIns:  # a loader (importlib.abc costs 20 ms to import, so no base class)
    """Runs the real loader with the stand-ins in ``sys.modules`` (only where nothing real is loaded)."""

    def __init__(self, real: Any, stand_ins: dict[str, types.ModuleType]) -> None:
        self.real = real
        self.stand_ins = stand_ins

    def __getattr__(self, name: str) -> Any:  # get_source, get_data ... as the real loader answers them
        return getattr(self.real, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self.real.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        placed = {name: stub for name, stub in self.stand_ins.items() if name not in sys.modules}
        sys.modules.update(placed)
        try:
            self.real.exec_module(module)
        finally:
            for name, stub in placed.items():
                if sys.modules.get(name) is stub:
                    del sys.modules[name]


class _Finder:  # a meta path finder
    def find_spec(self, name: str, path: Sequence[str] | None, target: types.ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        make = STAND_INS.get(name)
        if make is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithStandIns(spec.loader, make())  # type: ignore[assignment]  # a duck-typed loader: the real one's methods, stand-ins around exec_module
        return spec


def install() -> None:
    """Once per process, before Whoosh is first imported (a no-op after that)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
