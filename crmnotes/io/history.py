"""A follow-up sheet (跟进记录表) imported as dated entries on its customers.

Each row is matched to a customer of the same import or of the vault by an
id column (the 客户编号 the customer sheet also had), else by name and
phone with the import's duplicate rules.  A row that matches nobody is
refused, never attached to a guess.  Entries already in a file (same minute,
same text) are left out, so importing twice adds nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import note, rules
from ..config import fold
from ..dedupe import Candidate
from ..model import Customer
from .mapping import fold_header
from .tables import Table, cell_text

if TYPE_CHECKING:
    from ..vault import Vault
    from .dupindex import DuplicateIndex
    from .importer import ImportReport, Planned

SHEET_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ref": ("客户编号", "客户id", "客户ID", "编号", "customer id", "account id", "record id", "id", "source_id"),
    "name": ("客户名称", "客户", "客户名", "公司名称", "公司", "企业名称", "company", "account name", "account"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "phone", "mobile"),
    "followup_at": ("跟进时间", "跟进日期", "日期", "时间", "沟通时间", "联系时间", "date", "activity date"),
    "followup_by": ("跟进人", "跟进人员", "销售", "负责人", "业务员", "owner", "assigned to"),
    "followup_channel": ("跟进方式", "方式", "沟通方式", "联系方式", "渠道", "channel", "activity type", "type"),
    "followup_note": ("跟进内容", "跟进记录", "内容", "沟通内容", "记录", "详情", "notes", "note", "description",
                      "subject"),
    "followup_feedback": ("客户反馈", "反馈", "feedback"),
    "followup_next": ("下一步计划", "下一步", "下一步行动", "next step", "next steps"),
    "next_followup": ("提醒时间", "下次跟进时间", "下次跟进", "下次联系时间", "next follow-up", "reminder"),
}
_LOOKUP = {fold_header(s): target for target, spellings in SHEET_SYNONYMS.items() for s in spellings}


def looks_like_followup_sheet(table: Table) -> bool:
    targets = {_LOOKUP.get(fold_header(h)) for h in table.headers}
    return {"followup_at", "followup_note"} <= targets and bool(targets & {"ref", "name", "phone"})


def attach_history(vault: Vault, report: ImportReport, table: Table, index: DuplicateIndex, *,
                   partial: bool = False) -> None:
    """Add each row of the follow-up sheet to its customer in ``report`` (refusals go to ``report.rejects``).

    ``partial`` (an import of the first N rows): a row whose customer is not among them waits for the
    full import instead of being refused."""
    from .importer import Reject, _row_followup

    targets = [_LOOKUP.get(fold_header(h), "") for h in table.headers]
    if "followup_note" not in targets and "followup_at" not in targets:
        report.rejects.append(Reject(0, "the follow-up sheet has no 跟进时间 / 跟进内容 column", {}))
        return
    by_ref = _by_ref(report, index)
    for number, cells in table.rows:
        values: dict[str, str] = {}
        shown: dict[str, str] = {}
        for column, header in enumerate(table.headers):
            text = note.clean_text(cell_text(cells[column] if column < len(cells) else None)).strip()
            shown[header or f"column {column + 1}"] = text
            if text and targets[column] and targets[column] not in values:
                values[targets[column]] = text
        refusal = _sensitive(shown)
        target = _target(vault, values, by_ref, index)
        followup, errors = _row_followup(vault, values, "")
        if partial and target is None and not refusal:
            report.followups_waiting += 1
            continue
        if refusal or errors or followup is None or target is None:
            reason = refusal or "; ".join(errors) or (
                "no date or text to record" if followup is None else
                f"matches no customer (客户编号 '{values.get('ref', '')}', 客户名称 '{values.get('name', '')}')")
            report.rejects.append(Reject(number, f"follow-up sheet: {reason}", shown))
            continue
        if not followup.by:
            followup.by = str(target.meta.get("owner") or "") if not isinstance(target, Customer) else target.owner
        _attach(report, target, followup)


def _sensitive(cells: dict[str, str]) -> str:
    for column, text in cells.items():
        for kind, masked, _ in rules.find_sensitive(text):
            return f"{column}: a {kind} ({masked}) must not be stored in the vault"
    return ""


def _by_ref(report: ImportReport, index: DuplicateIndex) -> dict[str, Any]:
    refs: dict[str, Any] = {}
    for ref in index.refs:
        meta = ref.meta
        for key in ("source_id", "id"):
            value = str(meta.get(key) or "").strip()
            if value:
                refs.setdefault(fold(value), ref)
    return refs


def _target(vault: Vault, values: dict[str, str], by_ref: dict[str, Any], index: DuplicateIndex) -> Any:
    ref = values.get("ref", "").strip()
    if ref:
        return by_ref.get(fold(ref))
    phone = values.get("phone", "")
    try:
        phones = (rules.normalize_phone(phone, vault.config.phone_region),) if phone else ()
    except ValueError:
        phones = ()
    if not values.get("name") and not phones:
        return None
    hit = index.find(Candidate("", values.get("name", ""), phones, ""))
    if hit is None or not hit.reason.startswith(("same name", "same phone")):
        return None  # a fuzzy name match is a guess: refused
    return hit.ref


def _attach(report: ImportReport, target: Any, followup: Any) -> None:
    from .importer import _has_entry, add_history

    if isinstance(target, Customer):
        add_history(report, target, [followup])
        return
    planned: Planned = target
    if not _has_entry(planned.followups, followup):
        planned.followups.append(followup)
        _keep_next_step(planned, followup)


def _keep_next_step(planned: Planned, followup: Any) -> None:
    """The newest entry's reminder is the customer's next follow-up."""
    newest = max(planned.followups, key=lambda f: f.at)
    if newest is followup and followup.next_date is not None:
        planned.meta["next_followup"] = followup.next_date
