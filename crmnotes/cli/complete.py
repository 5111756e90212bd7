"""Shell completion of customer names, tags and stages (click's ``shell_complete`` callbacks).

The shell asks while the user types, so a callback reads the listing cache
(``catalog.entries``: the listing cache, re-read only for changed
files) and answers nothing rather than an error when there is no vault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from ..vault import Vault

MAX_ITEMS = 200


def _vault(ctx: click.Context) -> Vault | None:
    from ..errors import CrmError
    from ..vault import Vault

    root = ctx.find_root()
    try:
        return Vault.find(root.params.get("vault_path") or (root.obj or {}).get("vault_path"))
    except (CrmError, OSError):
        return None


def _items(values: list[tuple[str, str]], incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem

    folded = incomplete.casefold()
    found = [CompletionItem(value, help=help_text or None) for value, help_text in values
             if value.casefold().startswith(folded)]
    return found[:MAX_ITEMS]


def customer_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """A REF: the names of the vault's customers (their IDs as help)."""
    from .. import catalog

    vault = _vault(ctx)
    if vault is None:
        return []
    customers = catalog.entries(vault).entries
    return _items(sorted((c.name, c.id) for c in customers), incomplete)


def tags(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Tags in use and the values crmnotes.yaml allows (``needs/data-security``)."""
    from .. import catalog

    vault = _vault(ctx)
    if vault is None:
        return []
    known = {tag for c in catalog.entries(vault).entries for tag in c.tags}
    for namespace, values in vault.config.tags.namespaces.items():
        known.update(f"{namespace}/{value}" for value in values or [])
        known.add(f"{namespace}/")
    return _items([(tag, "") for tag in sorted(known)], incomplete)


def choice_list(list_name: str):
    """A callback completing the ids of one choice list of crmnotes.yaml (labels as help)."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        vault = _vault(ctx)
        choices = vault.config.choices.get(list_name) if vault is not None else None
        if choices is None:
            return []
        return _items([(c.id, c.label) for c in choices.items], incomplete)

    return complete


stages = choice_list("stages")
deal_stages = choice_list("deal_stages")
