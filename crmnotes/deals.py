"""Deals (opportunities) of a customer, kept in its front-matter ``deals:`` list.

A deal is a small mapping::

    deals:
      - id: D1
        name: 数据安全平台一期
        stage: proposal
        amount: 180000
        currency: CNY
        probability: 50
        close: 2026-12-20
        owner: 张伟

Stages come from the ``deal_stages`` choice list of crmnotes.yaml, each with
a default ``probability`` and what a deal at that stage must carry
(``deal_rules: {negotiation: [amount, probability, proposal]}``: from 商务谈判
on in the template).  A deal is dated ``opened:`` when added and ``won_on:`` when won,
and a won deal records its contract (``contract_number``, ``contract_date``,
``contract_value``, ``contract_file``); after
the win it may move on to the after-sales stage (售后), still counted as won.
``proposal`` and the contract ``file`` are a web link or a file kept in the
vault under ``attachments/`` (checked to stay inside the vault).  Every write replaces only the ``deals:`` block
(``note.set_fields``); a stage move is also recorded as a follow-up entry in
the same edit, so the customer's timeline shows how the deal progressed.
Deals written by hand without an ``id`` are referred to by name or by their
position (1, 2, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any, TypeGuard

from . import note
from .config import ChoiceSet, VaultConfig, fold
from .errors import CrmError, refuse_errors
from .model import Customer, FieldIssue, FollowUp, date_issue, parse_when
from .sensitive import find as find_sensitive
from .vault import Vault

DEAL_STAGES = "deal_stages"
WON, LOST, AFTER_SALES = "won", "lost", "after-sales"
WON_STAGES = (WON, AFTER_SALES)  # a deal in after-sales was won
CLOSED = (WON, LOST, AFTER_SALES)
FIELD_ORDER = ("id", "name", "stage", "amount", "currency", "probability", "close", "owner", "opened", "won_on",
               "proposal", "contract_number", "contract_date", "contract_value", "contract_file")
ATTACHMENTS = "attachments"
RULES_KEY = "deal_rules"
REQUIRABLE = ("amount", "probability", "close", "owner", "proposal", "contract_number", "contract_file")
_AMOUNT = re.compile(r"^(?P<num>[+-]?\d+(?:\.\d+)?)\s*(?P<unit>万|w|k|千|m|百万|亿)?$", re.I)
MAX_AMOUNT = 10**15  # a thousand trillion: more than any deal, and exact as a float
_UNITS = {"万": 10_000, "w": 10_000, "k": 1_000, "千": 1_000, "m": 1_000_000, "百万": 1_000_000, "亿": 100_000_000}


@dataclass
class DealInput:
    """A deal as typed (strings, as from the CLI or a form); empty means "not given"."""

    name: str = ""
    stage: str = ""
    amount: str = ""
    currency: str = ""
    probability: str = ""
    close: str = ""
    owner: str = ""
    proposal: str = ""  # a web link or attachments/... in the vault
    contract_number: str = ""
    contract_date: str = ""  # default: the day it is won
    contract_value: str = ""  # default: the amount
    contract_file: str = ""
    note: str = ""  # why it moved (goes into the follow-up, not the deal)


def stages(config: VaultConfig) -> ChoiceSet:
    return config.choice_set(DEAL_STAGES)


def default_probability(config: VaultConfig, stage: str) -> int | None:
    found = stages(config).find(stage)
    value = found.extra.get("probability") if found else None
    return int(value) if isinstance(value, (int, float)) else None


def is_open(deal: dict[str, Any]) -> bool:
    return str(deal.get("stage", "")) not in (*WON_STAGES, LOST)


def is_won(deal: dict[str, Any]) -> bool:
    return str(deal.get("stage", "")) in WON_STAGES


def required_fields(config: VaultConfig, stage: str) -> list[str]:
    """What a deal at ``stage`` must carry: ``deal_rules: {stage: [fields]}`` in crmnotes.yaml."""
    rules_ = config.raw.get(RULES_KEY) or {}
    if not isinstance(rules_, dict):
        raise CrmError(f"crmnotes.yaml: {RULES_KEY} must map deal stages to lists of fields.",
                       f"Example: {RULES_KEY}: {{negotiation: [amount, probability, proposal]}}")
    value = rules_.get(stage, [])
    wanted = [value] if isinstance(value, str) else value if isinstance(value, list) else None
    unknown = [str(v) for v in wanted or [] if str(v) not in REQUIRABLE]
    if wanted is None or unknown:
        raise CrmError(f"crmnotes.yaml: {RULES_KEY}.{stage} must be a list of: {', '.join(REQUIRABLE)}.",
                       "Fix the entry.")
    return [str(v) for v in wanted]


def check_link(root: Path | None, link: str) -> str | None:
    """Why ``link`` cannot be a deal's proposal or contract file, or None: a web link, or a file
    under ``attachments/`` that exists inside the vault (no absolute path, no way out with ``..``)."""
    if re.match(r"^https?://\S+$", link):
        return None
    relative = PurePosixPath(link.replace("\\", "/"))
    if relative.is_absolute() or re.match(r"^[A-Za-z]:", link) or ".." in relative.parts:
        return f"'{link}' must be a web link or a path inside the vault (attachments/...)"
    if not relative.parts or relative.parts[0] != ATTACHMENTS:
        return f"'{link}' must be kept under {ATTACHMENTS}/ in the vault (or be a web link)"
    if root is not None:
        path = (root / relative).resolve()
        if not path.is_relative_to(root.resolve()):
            return f"'{link}' leads out of the vault"
        if not path.is_file():
            return f"'{link}' does not exist in the vault"
    return None


def parse_amount(raw: str) -> int | float:
    """'180000', '180,000', '18万', '1.5w', '36k' -> a number (ValueError otherwise)."""
    text = note.clean_text(str(raw)).strip().replace(",", "").replace("，", "").replace("_", "")
    text = text.lstrip("¥$€£￥").strip()
    found = _AMOUNT.match(text)
    if not found:
        raise ValueError(f"'{_shown(raw)}' is not an amount (write 180000, 18万 or 36k)")
    digits = len(found.group("num").lstrip("+-").split(".")[0].lstrip("0"))
    value = float(found.group("num")) * _UNITS.get((found.group("unit") or "").lower(), 1) if digits <= 20 else 0.0
    if digits > 20 or abs(value) > MAX_AMOUNT:
        raise ValueError(f"'{_shown(raw)}' is larger than any amount crmnotes accepts (up to {MAX_AMOUNT:,})")
    if value < 0:
        raise ValueError(f"'{raw}' is negative; an amount must be 0 or more")
    return int(value) if value == int(value) else round(value, 2)


def _shown(raw: str) -> str:
    text = str(raw)
    return text if len(text) <= 30 else f"{text[:12]}…({len(text)} characters)"


def _usable_number(value: Any, low: float, high: float) -> TypeGuard[float]:
    """A number (not a bool) that sums and prints sensibly: finite and within [low, high]."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def amount_of(deal: dict[str, Any]) -> float:
    """The deal's amount; one that cannot be used (.inf, .nan, beyond MAX_AMOUNT) counts as 0 (check reports it)."""
    value = deal.get("amount")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if _usable_number(value, -MAX_AMOUNT, MAX_AMOUNT) else 0.0
    try:
        return float(parse_amount(str(value))) if value not in (None, "") else 0.0
    except ValueError:
        return 0.0


def probability_of(deal: dict[str, Any], config: VaultConfig) -> float:
    value = deal.get("probability")
    if _usable_number(value, 0, 100):
        return float(value)
    return float(default_probability(config, str(deal.get("stage", ""))) or 0)


def deal_issues(customer: Customer) -> list[FieldIssue]:
    """Deal values a hand edit left that the pipeline cannot use (it reads them as 0 / the stage's default)."""
    issues = []
    for index, deal in enumerate(customer.deals):
        amount, probability = deal.get("amount"), deal.get("probability")
        if isinstance(amount, (int, float)) and not _usable_number(amount, 0, MAX_AMOUNT):
            issues.append(FieldIssue("deals", f"deal {deal_label(deal, index)} has an amount crmnotes cannot use "
                                     f"({_shown(str(amount))}); it counts as 0"))
        if probability is not None and not _usable_number(probability, 0, 100):
            issues.append(FieldIssue("deals", f"deal {deal_label(deal, index)} has a probability that is not 0 to 100 "
                                     f"({_shown(str(probability))}); the stage's default is used"))
    return issues


def close_of(deal: dict[str, Any]) -> date | None:
    when = parse_when(deal.get("close"))
    return when.date() if when else None


# ------------------------------------------------------------------ validation


def prepare_deal(config: VaultConfig, draft: DealInput, base: dict[str, Any] | None = None, *,
                 root: Path | None = None, today: date | None = None) -> tuple[dict[str, Any], list[FieldIssue]]:
    """The stored mapping for a new deal (``base`` None) or an updated one.  ``root`` (the vault)
    lets links to attachments be checked; ``today`` dates a new or won deal."""
    today = today or date.today()
    deal: dict[str, Any] = dict(base or {})
    issues: list[FieldIssue] = []
    creating = base is None
    name = note.clean_text(draft.name).strip()
    if name:
        deal["name"] = name
    elif creating:
        issues.append(FieldIssue("name", "a deal needs a name"))
    stage_given = draft.stage.strip()
    if stage_given or creating:
        found = stages(config).find(stage_given or stages(config).ids[0])
        if found is None:
            options = ", ".join(f"{c.id} ({c.label})" if c.label else c.id for c in stages(config).items)
            issues.append(FieldIssue("stage", f"'{draft.stage}' is not a deal stage (choose one of: {options})"))
        else:
            deal["stage"] = found.id
            if not draft.probability.strip() and (creating or found.id != (base or {}).get("stage")):
                deal["probability"] = default_probability(config, found.id)
    _set_number(deal, issues, "amount", draft.amount, parse_amount)
    _set_number(deal, issues, "probability", draft.probability, _parse_probability)
    if draft.currency.strip():
        currency = note.clean_text(draft.currency).strip().upper()
        if re.fullmatch(r"[A-Z]{3}", currency):
            deal["currency"] = currency
        else:  # an amount typed one field too far, say: it would have been summed as a currency of its own
            issues.append(FieldIssue("currency", f"'{_shown(draft.currency)}' is not a currency code "
                                     f"(three letters such as {config.currency}, USD, EUR)"))
    elif creating:
        deal["currency"] = config.currency
    if draft.close.strip():
        when = parse_when(draft.close)
        if when is None:
            issues.append(FieldIssue("close", date_issue(draft.close)))
        else:
            deal["close"] = when.date()
    if draft.owner.strip():
        from .team import person_value  # the team is read to write a deal, not to list one (``due``'s deal-close)

        deal["owner"] = person_value(config, note.clean_text(draft.owner).strip(), "owner", issues)
    if creating:
        deal["opened"] = today
    _set_links(deal, draft, root, issues)
    moved = creating or deal.get("stage") != (base or {}).get("stage")
    if moved and is_won(deal) and not is_won(base or {}):
        deal.setdefault("won_on", today)
    _set_contract(deal, draft, issues, today, root)
    if moved or creating:
        _check_required(config, deal, issues)
    for kind, masked, _ in find_sensitive(" ".join(str(v) for v in deal.values())):
        issues.append(FieldIssue("deal", f"a {kind} ({masked}) must not be stored in the vault"))
    ordered = {k: deal[k] for k in FIELD_ORDER if deal.get(k) is not None}
    ordered.update({k: v for k, v in deal.items() if k not in ordered and v is not None})
    return ordered, issues


def _set_links(deal: dict[str, Any], draft: DealInput, root: Path | None, issues: list[FieldIssue]) -> None:
    link = draft.proposal.strip()
    if link:
        problem = check_link(root, link)
        if problem:
            issues.append(FieldIssue("proposal", problem))
        else:
            deal["proposal"] = link


CONTRACT_KEYS = ("contract_number", "contract_date", "contract_value", "contract_file")


def _set_contract(deal: dict[str, Any], draft: DealInput, issues: list[FieldIssue], today: date,
                  root: Path | None) -> None:
    """The won deal's contract: number, date (default the win), value (default the amount), file."""
    given = {key: str(getattr(draft, key)).strip() for key in CONTRACT_KEYS}
    if not any(given.values()):
        return
    if not is_won(deal):
        issues.append(FieldIssue("contract", "a contract is recorded when the deal is won (use --stage won)"))
        return
    if given["contract_number"]:
        deal["contract_number"] = note.clean_text(given["contract_number"])
    if given["contract_date"]:
        when = parse_when(given["contract_date"])
        if when is None:
            issues.append(FieldIssue("contract_date", f"'{given['contract_date']}' is not a date (use YYYY-MM-DD)"))
        else:
            deal["contract_date"] = when.date()
    deal.setdefault("contract_date", deal.get("won_on") or today)
    _set_number(deal, issues, "contract_value", given["contract_value"], parse_amount)
    if "contract_value" not in deal and deal.get("amount") is not None:
        deal["contract_value"] = deal["amount"]
    if given["contract_file"]:
        problem = check_link(root, given["contract_file"])
        if problem:
            issues.append(FieldIssue("contract_file", problem))
        else:
            deal["contract_file"] = given["contract_file"]


def _check_required(config: VaultConfig, deal: dict[str, Any], issues: list[FieldIssue]) -> None:
    stage = str(deal.get("stage", ""))
    missing = [name for name in required_fields(config, stage) if deal.get(name) in (None, "")]
    if missing:
        wanted = ", ".join(f"{name.replace('_', ' ')} (--{name.replace('_', '-')})" for name in missing)
        issues.append(FieldIssue(missing[0], f"a deal at {stages(config).display(stage)} needs its {wanted}"))


def _set_number(deal: dict[str, Any], issues: list[FieldIssue], key: str, raw: str, parse: Any) -> None:
    if not raw.strip():
        return
    try:
        deal[key] = parse(raw)
    except ValueError as exc:
        issues.append(FieldIssue(key, str(exc)))


def _parse_probability(raw: str) -> int | float:
    try:
        value = parse_amount(raw.strip().rstrip("%"))
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        raise ValueError(f"'{_shown(raw)}' is not a probability (0 to 100)")
    return value


# ------------------------------------------------------------------ finding


def find_deal(deals: list[dict[str, Any]], ref: str) -> int:
    """Index of the deal an id (D2), a position (2) or a name / unique prefix refers to."""
    ref = ref.strip()
    by_id = [i for i, d in enumerate(deals) if fold(str(d.get("id", ""))) == fold(ref)]
    if by_id:
        return by_id[0]
    position = re.fullmatch(r"[Dd]?(\d+)", ref)  # deals written by hand have no id: D2 / 2 = the second
    if position and 1 <= int(position.group(1)) <= len(deals):
        return int(position.group(1)) - 1
    for match in (lambda d: fold(str(d.get("name", ""))) == fold(ref),
                  lambda d: fold(str(d.get("name", ""))).startswith(fold(ref))):
        found = [i for i, d in enumerate(deals) if match(d)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = "; ".join(f"{deal_label(deals[i], i)}" for i in found)
            raise CrmError(f"'{ref}' matches {len(found)} deals: {names}.", "Use the deal id (D1, D2, ...).")
    shown = "; ".join(deal_label(d, i) for i, d in enumerate(deals)) or "none"
    raise CrmError(f"no deal matches '{ref}' (deals: {shown}).", "Use the deal id, position or name.")


def deal_label(deal: dict[str, Any], index: int) -> str:
    return f"{deal.get('id') or index + 1} {deal.get('name', '')}".strip()


def next_deal_id(deals: list[dict[str, Any]]) -> str:
    """D<n> past every id and position in use, so D<n> also names the n-th deal when ids are missing."""
    numbers = [int(m.group(1)) for d in deals if (m := re.fullmatch(r"D(\d+)", str(d.get("id", ""))))]
    return f"D{max([*numbers, len(deals)]) + 1}"


# ------------------------------------------------------------------ writing


def add_deal(vault: Vault, customer: Customer, draft: DealInput, *, by: str = "", today: date | None = None,
             now: datetime | None = None) -> Customer:
    """Append a deal to the customer's ``deals:`` list (owner: the customer's, else ``by``).  A deal
    entered as won is logged like a win and moves the customer to won, as ``set_deal`` does."""
    now = (now or datetime.now()).replace(second=0, microsecond=0)
    if not draft.owner.strip():
        draft.owner = customer.owner or by
    deal, issues = prepare_deal(vault.config, draft, root=vault.root, today=today or now.date())
    refuse_errors(issues)

    def edit(doc: note.Document) -> str:
        current = _deals_in(doc)
        new = {"id": next_deal_id(current), **deal}
        with_deals = note.set_fields(doc, {"deals": [*current, new]})
        if not is_won(new):
            return with_deals
        return _log_move(doc, with_deals, _move_followup(vault.config, doc.meta, {}, new, draft.note, by, now))

    return vault.update(customer.path, edit)


def set_deal(vault: Vault, customer: Customer, ref: str, draft: DealInput, *, by: str = "",
             now: datetime | None = None) -> Customer:
    """Change a deal; a stage move is also logged as a follow-up (and a won
    deal moves the customer to the won stage when it is not there yet)."""
    now = (now or datetime.now()).replace(second=0, microsecond=0)
    index = find_deal(customer.deals, ref)
    _, issues = prepare_deal(vault.config, draft, customer.deals[index], root=vault.root, today=now.date())
    refuse_errors(issues)

    def edit(doc: note.Document) -> str:
        current = _deals_in(doc)
        position = find_deal(current, ref)  # the fresh file may differ from what was read
        updated, _ = prepare_deal(vault.config, draft, current[position], root=vault.root, today=now.date())
        if updated == current[position]:
            return doc.text
        with_deals = note.set_fields(doc, {"deals": [*current[:position], updated, *current[position + 1:]]})
        followup = _move_followup(vault.config, doc.meta, current[position], updated, draft.note, by, now)
        return _log_move(doc, with_deals, followup)

    return vault.update(customer.path, edit)


def _log_move(doc: note.Document, with_deals: str, followup: FollowUp | None) -> str:
    """The deals' new text plus the follow-up recording the move (and the customer's move to won)."""
    if followup is None:
        return with_deals
    fresh = note.parse(doc.encode(with_deals))
    if followup.stage_to:
        fresh = note.parse(doc.encode(note.set_fields(fresh, {"stage": followup.stage_to})))
    return note.insert_followup(fresh, followup)


def _deals_in(doc: note.Document) -> list[dict[str, Any]]:
    value = doc.meta.get("deals")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(d, dict) for d in value):
        raise CrmError("the customer's 'deals:' field is not a list of deals.", "Fix it with 'crm edit'.")
    return [dict(d) for d in value]


def _move_followup(config: VaultConfig, meta: dict[str, Any], old: dict[str, Any], new: dict[str, Any],
                   why: str, by: str, now: datetime) -> FollowUp | None:
    """The follow-up recording a deal's stage move, or None when it did not move."""
    before, after = str(old.get("stage", "")), str(new.get("stage", ""))
    if before == after:
        return None
    labels = stages(config)
    text = f"商机「{new.get('name', '')}」阶段：{labels.display(before) or '?'} → {labels.display(after)}"
    if new.get("amount") is not None:
        text += f"（{new.get('currency', '')} {new['amount']}）"
    if why.strip():
        text += "\n" + note.clean_text(why).strip()
    followup = FollowUp(at=now, channel="other", by=by, note=text)
    customer_stage = str(meta.get("stage", ""))
    won = config.stages.find(WON)
    if after == WON and won is not None and customer_stage != won.id:
        followup.stage_from, followup.stage_to = customer_stage, won.id
    return followup


def deal_rows(customers: list[Customer], *, owner: str = "", stage: str = "", open_only: bool = False
              ) -> list[tuple[Customer, int, dict[str, Any]]]:
    """Every deal of these customers as (customer, index, deal), filtered."""
    rows = []
    for customer in customers:
        for index, deal in enumerate(customer.deals):
            if owner and fold(str(deal.get("owner") or customer.owner)) != fold(owner):
                continue
            if stage and str(deal.get("stage", "")) != stage:
                continue
            if open_only and not is_open(deal):
                continue
            rows.append((customer, index, deal))
    return rows


# ------------------------------------------------------------------ pipeline


def weighted_of(deal: dict[str, Any], config: VaultConfig) -> float:
    """The deal's amount times its win probability (the stage default when it has none)."""
    return round(amount_of(deal) * probability_of(deal, config) / 100, 2)


def currency_of(deal: dict[str, Any], config: VaultConfig) -> str:
    return str(deal.get("currency") or config.currency)


@dataclass
class StageColumn:
    """One deal stage of the pipeline board: its deals and their sums per currency."""

    stage: str
    label: str
    deals: list[tuple[Customer, int, dict[str, Any]]]
    amounts: dict[str, float]  # currency -> sum of amounts
    weighted: dict[str, float]  # currency -> sum of probability-weighted amounts

    @property
    def open(self) -> bool:
        return self.stage not in (*WON_STAGES, LOST)


def pipeline(customers: list[Customer], config: VaultConfig, *, owner: str = "") -> list[StageColumn]:
    """Every deal grouped by deal stage, in the order of ``deal_stages`` (a stage
    not in the list gets its own column at the end), soonest close first."""
    order = stages(config).ids
    groups: dict[str, list[tuple[Customer, int, dict[str, Any]]]] = {s: [] for s in order}
    for row in deal_rows(customers, owner=owner):
        groups.setdefault(str(row[2].get("stage", "")), []).append(row)
    columns = []
    for stage, rows in groups.items():
        rows.sort(key=lambda r: (close_of(r[2]) or date.max, r[0].name))
        amounts: dict[str, float] = {}
        weighted: dict[str, float] = {}
        for _, _, deal in rows:
            currency = currency_of(deal, config)
            amounts[currency] = amounts.get(currency, 0.0) + amount_of(deal)
            weighted[currency] = round(weighted.get(currency, 0.0) + weighted_of(deal, config), 2)
        columns.append(StageColumn(stage, stages(config).display(stage) or stage or "?", rows, amounts, weighted))
    return columns


def open_forecast(columns: list[StageColumn]) -> tuple[dict[str, float], dict[str, float]]:
    """(amount, weighted amount) per currency of the open deals on the board."""
    amounts: dict[str, float] = {}
    weighted: dict[str, float] = {}
    for column in columns:
        if not column.open:
            continue
        for currency, value in column.amounts.items():
            amounts[currency] = amounts.get(currency, 0.0) + value
        for currency, value in column.weighted.items():
            weighted[currency] = round(weighted.get(currency, 0.0) + value, 2)
    return amounts, weighted
