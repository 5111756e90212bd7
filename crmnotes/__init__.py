"""crmnotes: a local-first CRM whose database is a folder of markdown files.

The public library API; the CLI (``crmnotes.cli``) and the TUI are faces
over it.
"""

from .errors import CrmError
from .model import Customer, FollowUp, Problem
from .vault import Vault

__all__ = ["CrmError", "Customer", "FollowUp", "Problem", "Vault"]
__version__ = "0.1.0"
