"""The one error family of crmnotes.

The library raises these; the CLI prints ``message`` (and ``hint``) as one
line on stderr and exits non-zero; the TUI shows them as notifications.
Every message is masked on creation: a PRC ID or bank card number the user
typed (``--at <card>``, a REF) is never echoed back in full.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import SEVERITY_ERROR
from .sensitive import redact

if TYPE_CHECKING:
    from .model import FieldIssue


class CrmError(Exception):
    """A problem the user can act on: what is wrong, and how to fix it."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        message, hint = redact(message), redact(hint)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class VaultNotFound(CrmError):
    """No vault at the given path or any parent folder."""


class ConfigError(CrmError):
    """crmnotes.yaml is missing, malformed or inconsistent."""


class FileFormatError(CrmError):
    """A customer file cannot be read safely (bad YAML, binary, too large, ...);
    ``line`` (1-based, in the file) says where, when known."""

    def __init__(self, message: str, hint: str = "", *, line: int | None = None) -> None:
        super().__init__(message, hint)
        self.line = line


class ValidationError(CrmError):
    """Field values break the vault's rules; ``issues`` says which field and why."""

    def __init__(self, issues: list[FieldIssue], hint: str = "") -> None:
        first = issues[0]
        more = f" (and {len(issues) - 1} more problem{'s' if len(issues) > 2 else ''})" if len(issues) > 1 else ""
        super().__init__(f"{first.field}: {first.message}{more}.", hint)
        self.issues = issues


def refuse_errors(issues: list[FieldIssue]) -> None:
    """Raise ValidationError if any issue is an error; warnings alone let a write go ahead."""
    errors = [i for i in issues if i.severity == SEVERITY_ERROR]
    if errors:
        raise ValidationError(errors, hint="Nothing was written.")


class DuplicateError(CrmError):
    """A new customer looks like one already in the vault."""

    def __init__(self, message: str, matches: list[str], hint: str = "") -> None:
        super().__init__(message, hint)
        self.matches = matches


class RefError(CrmError):
    """A customer reference matches nothing, or more than one customer."""

    def __init__(self, message: str, candidates: list[str] | None = None, hint: str = "") -> None:
        super().__init__(message, hint)
        self.candidates = candidates or []


class ConcurrentEditError(CrmError):
    """The file changed on disk while we were editing it."""
