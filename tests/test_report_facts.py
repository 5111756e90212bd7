"""Reports from the facts the listing cache keeps equal reports of every file parsed.

``crm report NAME --json`` reads ``catalog.report_facts`` (stored when a file is listed); the
plain path parses every file (``Vault.scan``) and hands the customers to ``reports.build``.
Both are checked on a generated vault (half Chinese, with deals, tickets, stage moves and
follow-ups) and on the example vault, for every report name, with and without a period,
grouped by owner and by source, and for one owner."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crmnotes import actions, reports
from crmnotes.config import fold
from crmnotes.vault import Vault
from tests.conftest import TODAY, Crm

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import gen_vault  # noqa: E402

GENERATED_ON = date(2026, 3, 1)
SINCE, UNTIL = "2025-10-01", "2026-02-28"


@pytest.fixture(scope="module", params=["generated", "example"])
def vault(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Vault:
    root = tmp_path_factory.mktemp(request.param) / "vault"
    if request.param == "generated":
        gen_vault.generate(root, 160, seed=11, today=GENERATED_ON, workers=1)
    else:
        actions.create_vault(root, example=True, today=TODAY)
    return Vault(root)


def plain(vault: Vault, name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The report of every file parsed, as ``--json`` prints it."""
    config = vault.config
    customers = [c for c in vault.scan().customers
                 if not options.get("owner") or fold(c.owner) == fold(options["owner"])]
    since = date.fromisoformat(options["since"]) if options.get("since") else None
    until = date.fromisoformat(options["until"]) if options.get("until") else date.today()
    if options.get("by"):
        made = reports.build_by(name, options["by"], customers, config, since=since, until=until, today=until)
    else:
        made = reports.build(name, customers, config, since=since, until=until, today=until)
    return json.loads(json.dumps(made.to_json(), ensure_ascii=False, default=str))


def an_owner(vault: Vault) -> str:
    owners = sorted({c.owner for c in vault.scan().customers if c.owner})
    return next((o for o in owners if not o.isascii()), owners[0])  # a Chinese name where there is one


@pytest.mark.parametrize("name", reports.REPORTS)
def test_every_report_from_the_cache_equals_the_report_of_every_file(vault: Vault, name: str) -> None:
    crm = Crm(vault.root)
    cases: list[dict[str, Any]] = [{}, {"until": UNTIL}, {"since": SINCE, "until": UNTIL},
                                   {"by": "owner", "until": UNTIL}, {"by": "source", "since": SINCE, "until": UNTIL},
                                   {"owner": an_owner(vault), "since": SINCE, "until": UNTIL}]
    for options in cases:
        args = [arg for key, value in options.items() for arg in (f"--{key}", value)]
        for _ in range(2):  # the cache written, then the cache read
            fast = crm("report", name, "--json", *args).json()
            assert fast == plain(vault, name, options), (name, options)


def test_an_edited_file_changes_the_facts_the_reports_read(tmp_path: Path) -> None:
    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=TODAY))
    crm = Crm(vault.root)
    before = crm("report", "conversion", "--json").json()
    customer = next(c for c in vault.scan().customers if c.stage != "won")
    text = customer.path.read_text(encoding="utf-8")
    text = text.replace(f"\nstage: {customer.stage}\n", "\nstage: won\n", 1)
    customer.path.write_text(text.rstrip("\n") + f"\n\n### {TODAY.isoformat()} 10:00 · phone · 王芳\n签约了。\n"
                             f"stage: {customer.stage} -> won\n", encoding="utf-8")
    edited = vault.read(customer.path)
    assert edited.stage == "won" and edited.followups[-1].stage_to == "won"
    for name in ("conversion", "sources", "trend", "funnel"):
        assert crm("report", name, "--json").json() == plain(vault, name, {}), name
    assert crm("report", "conversion", "--json").json() != before


def test_the_day_a_report_asks_is_answered_from_the_kept_step_or_the_timeline(vault: Vault) -> None:
    """With the report's day, a row whose kept step (of the day it was written) holds then answers from it;
    the others read their timeline: both give what the file gives, and the kept step refuses another day."""
    from crmnotes import catalog
    from crmnotes.report_facts import OneDay

    catalog.report_facts(vault)  # the cache written today
    whole = {c.id: c for c in vault.scan().customers}
    for day in (date.today(), date.fromisoformat(UNTIL), date(2020, 1, 1)):
        facts, problems = catalog.report_facts(vault, parts=("timeline",), day=day)
        assert not problems and len(facts) == len(whole)
        for found in facts:
            expected = reports.facts_of(whole[found.id], vault.config).timeline.at(day)
            assert found.timeline.at(day) == expected, (found.name, day)
        kept = [f for f in facts if isinstance(f.timeline, OneDay)]
        if day == date.today():
            assert len(kept) == len(facts)
            with pytest.raises(ValueError):
                kept[0].timeline.at(date(2020, 1, 1))
        if day == date(2020, 1, 1):
            assert len(kept) < len(facts)  # some rows read their timeline
    assert any("\u4e00" <= ch <= "\u9fff" for ch in "".join(whole[f].name for f in whole))
