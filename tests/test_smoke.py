"""Smoke test: the example vault lists through the real CLI."""

from __future__ import annotations

from .conftest import Crm


def test_example_vault_lists_seven_customers(crm: Crm) -> None:
    data = crm("ls", "--json").json()
    assert len(data) == 7
    assert "星辰科技有限公司" in {c["name"] for c in data}
