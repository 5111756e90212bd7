"""Messages the TUI's parts send each other (data flows down, messages up)."""

from __future__ import annotations

from textual.message import Message


class VaultChanged(Message):
    """Customer files changed on disk (any writer: an editor, git, crm, us).

    A burst of changes is coalesced into one message: a newer one replaces a
    pending older one, so a ``git pull`` of 500 files reloads the table once.
    """

    bubble = False

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, VaultChanged)

