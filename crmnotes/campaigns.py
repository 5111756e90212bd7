"""Marketing campaigns (市场活动): one markdown file each under ``campaigns/``.

A campaign file is front-matter and free notes::

    ---
    id: 2026-spring-expo
    name: 2026春季工业展
    channel: trade-show        # a source id of crmnotes.yaml
    start: 2026-03-10
    end: 2026-03-12
    budget: 50000
    cost: 42000
    goal_leads: 30
    goal_won: 5
    goal_revenue: 500000
    owner: 张伟
    ---

    # 2026春季工业展

Customers name the campaign that brought them with ``campaign: <id>``.  Writes
follow the customer files' rules: a new file is written atomically and never
over another, a change replaces only the changed keys (``note.set_fields``)
and refuses what it cannot splice.  The evaluation (leads, conversions, won
value, cost per lead and per won customer, ROI, progress against the goal)
uses the same win dates as the reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from . import deals, note, rules
from .config import VaultConfig, fold
from .errors import CrmError, FileFormatError, refuse_errors
from .fsutil import atomic_write
from .model import Customer, FieldIssue, Problem, parse_when
from .vault import Vault

CAMPAIGNS_DIR = "campaigns"
FIELD_ORDER = ("id", "name", "channel", "start", "end", "budget", "cost", "goal_leads", "goal_won", "goal_revenue",
               "owner")
NUMBERS = ("budget", "cost", "goal_leads", "goal_won", "goal_revenue")
DATES = ("start", "end")


@dataclass
class CampaignInput:
    """A campaign as typed; empty strings mean "not given"."""

    name: str = ""
    id: str = ""
    channel: str = ""
    start: str = ""
    end: str = ""
    budget: str = ""
    cost: str = ""
    goal_leads: str = ""
    goal_won: str = ""
    goal_revenue: str = ""
    owner: str = ""


@dataclass
class Campaign:
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.meta.get("id") or self.path.stem)

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.id)

    def number(self, key: str) -> float | None:
        value = self.meta.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def spent(self) -> float | None:
        """The actual cost, else the budget."""
        return self.number("cost") if self.number("cost") is not None else self.number("budget")


def folder(vault: Vault) -> Path:
    return vault.root / CAMPAIGNS_DIR


def load(vault: Vault) -> tuple[list[Campaign], list[Problem]]:
    """Every campaign file, by start date then name; unreadable files as problems."""
    found: list[Campaign] = []
    problems: list[Problem] = []
    base = folder(vault)
    for path in sorted(base.glob("*.md")) if base.is_dir() else []:
        try:
            found.append(Campaign(path, vault.read_document(path).meta))
        except FileFormatError as exc:
            problems.append(Problem(path, None, exc.message, code="unreadable"))
    found.sort(key=lambda c: (str(c.meta.get("start") or ""), c.name))
    return found, problems


def find(vault: Vault, ref: str) -> Campaign:
    """The campaign an id, a name or a unique name prefix refers to."""
    campaigns, _ = load(vault)
    wanted = fold(ref)
    for match in (lambda c: fold(c.id) == wanted or fold(c.name) == wanted,
                  lambda c: fold(c.name).startswith(wanted) or fold(c.id).startswith(wanted)):
        chosen = [c for c in campaigns if match(c)]
        if len(chosen) == 1:
            return chosen[0]
        if len(chosen) > 1:
            raise CrmError(f"'{ref}' matches {len(chosen)} campaigns: {', '.join(c.id for c in chosen)}.",
                           "Use the campaign id.")
    shown = ", ".join(c.id for c in campaigns) or "none yet"
    raise CrmError(f"no campaign matches '{ref}' (campaigns: {shown}).", "See 'crm campaign ls'.")


def prepare(config: VaultConfig, draft: CampaignInput, base: dict[str, Any] | None = None
            ) -> tuple[dict[str, Any], list[FieldIssue]]:
    """The stored front-matter of a new campaign (``base`` None) or a changed one."""
    meta = dict(base or {})
    issues: list[FieldIssue] = []
    name = " ".join(note.clean_text(draft.name).split())
    if name:
        meta["name"] = name
    elif base is None:
        issues.append(FieldIssue("name", "a campaign needs a name"))
    if base is None:
        ident = draft.id.strip() or _slug(name)
        if not re.fullmatch(r"[\w\-]+", ident):
            issues.append(FieldIssue("id", f"'{ident}' is not a campaign id (letters, digits, - and _)"))
        meta["id"] = ident
    if draft.channel.strip():
        sources = config.choice_set("sources")
        found = sources.find(draft.channel)
        if found is None:
            issues.append(FieldIssue("channel", f"'{draft.channel}' is not a source (choose one of: "
                                                f"{', '.join(c.display for c in sources.items)})"))
        else:
            meta["channel"] = found.id
    for key in DATES:
        raw = str(getattr(draft, key)).strip()
        if raw:
            when = parse_when(raw)
            if when is None:
                issues.append(FieldIssue(key, f"'{raw}' is not a date (use YYYY-MM-DD)"))
            else:
                meta[key] = when.date()
    if isinstance(meta.get("start"), date) and isinstance(meta.get("end"), date) and meta["end"] < meta["start"]:
        issues.append(FieldIssue("end", "the campaign ends before it starts"))
    for key in NUMBERS:
        raw = str(getattr(draft, key)).strip()
        if raw:
            try:
                meta[key] = deals.parse_amount(raw)
            except ValueError as exc:
                issues.append(FieldIssue(key, str(exc)))
    if draft.owner.strip():
        meta["owner"] = note.clean_text(draft.owner).strip()
    for kind, masked, _ in rules.find_sensitive(" ".join(str(v) for v in meta.values())):
        issues.append(FieldIssue("campaign", f"a {kind} ({masked}) must not be stored in the vault"))
    ordered = {k: meta[k] for k in FIELD_ORDER if meta.get(k) is not None}
    ordered.update({k: v for k, v in meta.items() if k not in ordered and v is not None})
    return ordered, issues


def _slug(name: str) -> str:
    from .naming import slugify

    return slugify(name) if name else ""


def add(vault: Vault, draft: CampaignInput) -> Campaign:
    """Write a new campaign file; never over an existing one."""
    meta, issues = prepare(vault.config, draft)
    refuse_errors(issues)
    path = folder(vault) / f"{meta['id']}.md"
    from . import yamlsafe

    text = f"---\n{yamlsafe.dump(meta)}---\n\n# {meta['name']}\n"
    try:
        atomic_write(path, text.encode("utf-8"), exclusive=True)
    except FileExistsError:
        raise CrmError(f"{CAMPAIGNS_DIR}/{path.name} already exists.", "Choose another --id.") from None
    return Campaign(path, meta)


def update(vault: Vault, campaign: Campaign, draft: CampaignInput) -> Campaign:
    """Change the given fields only; the rest of the file stays byte for byte."""
    _, issues = prepare(vault.config, draft, campaign.meta)
    refuse_errors(issues)

    def edit(doc: note.Document) -> str:
        changed, _ = prepare(vault.config, draft, doc.meta)
        return note.set_fields(doc, {k: v for k, v in changed.items() if doc.meta.get(k) != v})

    vault.update(campaign.path, edit)
    return Campaign(campaign.path, vault.read_document(campaign.path).meta)


# ------------------------------------------------------------------ evaluation


def leads_of(campaign: Campaign, customers: list[Customer]) -> list[Customer]:
    return [c for c in customers if fold(c.text("campaign")) in (fold(campaign.id), fold(campaign.name))]


def evaluate(campaign: Campaign, customers: list[Customer], config: VaultConfig) -> dict[str, Any]:
    """Leads, conversions, won value (in the vault's currency), cost per lead and per won customer,
    ROI and progress against the goal."""
    from .reports import _pct, as_facts, deal_won_on, won_on

    leads = as_facts(leads_of(campaign, customers), config)  # the reports' facts: won_on reads them
    won = [c for c in leads if won_on(c) is not None]
    value = sum(deals.amount_of(d) for c in leads for d in c.deals
                if deal_won_on(d, c) is not None and str(d.get("currency") or config.currency) == config.currency)
    cost = campaign.spent
    goals = {key: campaign.number(f"goal_{key}") for key in ("leads", "won", "revenue")}
    return {
        "id": campaign.id, "name": campaign.name, "channel": str(campaign.meta.get("channel") or ""),
        "start": _iso(campaign.meta.get("start")), "end": _iso(campaign.meta.get("end")),
        "budget": campaign.number("budget"), "cost": cost, "leads": len(leads), "won": len(won),
        "conversion": _pct(len(won), len(leads)), "won_value": round(value, 2),
        "cost_per_lead": round(cost / len(leads), 2) if cost is not None and leads else None,
        "cost_per_won": round(cost / len(won), 2) if cost is not None and won else None,
        "roi": _pct(value - cost, cost) if cost else None,
        "goal_leads": _pct(len(leads), goals["leads"] or 0), "goal_won": _pct(len(won), goals["won"] or 0),
        "goal_revenue": _pct(value, goals["revenue"] or 0),
    }


PERCENT = ("conversion", "roi", "goal_leads", "goal_won", "goal_revenue")


def _iso(value: Any) -> str | None:
    when = parse_when(value)
    return when.date().isoformat() if when else None
