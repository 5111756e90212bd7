"""crmnotes: a local-first CRM whose database is a folder of markdown files.

The public library API; the CLI (``crmnotes.cli``) and the TUI are faces
over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import CrmError
    from .model import Customer, FollowUp, Problem
    from .vault import Vault

__all__ = ["CrmError", "Customer", "FollowUp", "Problem", "Vault"]
__version__ = "0.1.0"

_EXPORTS = {"CrmError": "errors", "Customer": "model", "FollowUp": "model", "Problem": "model", "Vault": "vault"}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use: ``crm --help`` and every
    submodule import (``crmnotes.errors``) no longer load the vault, the note
    parser and YAML through this package's ``__init__``."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
