"""``filters.fields_read`` names every field ``choose`` reads: a store that loads only those lists the same."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from crmnotes import filters
from crmnotes.due import answer, effective_stage
from crmnotes.filters import Filters, choose, fields_read
from crmnotes.model import Customer
from crmnotes.vault import Vault


class OnlyFields:
    """A customer that answers only the fields it was given (anything else is an AttributeError)."""

    def __init__(self, customer: Customer, names: tuple[str, ...]) -> None:
        self.customer = customer
        self.values = {name: getattr(customer, name) for name in names}

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


@pytest.mark.parametrize("sort", [*filters.SORT_KEYS, "-name", "-last", "-next"])
def test_choose_reads_only_the_fields_read(example_vault: Vault, sort: str) -> None:
    config, day = example_vault.config, date.today()
    customers = example_vault.scan().customers
    assert any("\u4e00" <= c.name[0] <= "\u9fff" for c in customers)  # Chinese names sort by pinyin
    for chosen in (Filters(), Filters(stage="意向"), Filters(tag="needs/"), Filters(grade="A"),
                   Filters(owner="王芳"), Filters(mine_user="王芳", tag="needs")):
        def stage(customer: Any) -> str:
            return effective_stage(customer.customer if isinstance(customer, OnlyFields) else customer, config, day)

        def due(customer: Any) -> date | None:
            whole = customer.customer if isinstance(customer, OnlyFields) else customer
            return answer(whole, config, day).due_on(day)

        expected = choose(customers, chosen, sort, config, stage, due)
        only = [OnlyFields(c, fields_read(chosen, sort)) for c in customers]
        assert [o.customer for o in choose(only, chosen, sort, config, stage, due)] == expected, (sort, chosen)
