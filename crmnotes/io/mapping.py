"""Which spreadsheet column holds which customer field.

Headers are matched after folding case, width, spaces and punctuation, and
dropping "required" marks (``客户名称*``, ``联系电话（必填）``).  The synonyms
cover Chinese spreadsheets and the export columns of Salesforce, HubSpot and
Zoho CRM.  ``--map COL=FIELD`` overrides them (``FIELD`` may be ``-`` to drop
a column).

Columns that map to no field are kept, never dropped silently:

* an ASCII header becomes a top-level field in snake_case
  (``Billing City`` -> ``billing_city``), so it reads as an Obsidian property
  and can be searched as ``billing_city:Shanghai``;
* any other header (``所在城市``) is kept under one ``extra:`` mapping with the
  header as written, because a pinyin key (``suozaichengshi``) would be
  unreadable to the people who wrote the sheet.
"""

from __future__ import annotations

import re
import unicodedata

from ..config import VaultConfig
from ..errors import CrmError
from ..rules import STRUCTURED_FIELDS, SYSTEM_FIELDS

EXTRA_KEY = "extra"
IGNORE = "-"
# Pseudo-fields the importer understands besides the vault's own fields.
FOLLOWUP_FIELDS = ("followup_at", "followup_note", "followup_channel", "followup_by", "followup_feedback",
                   "followup_next")
SPECIAL = {"source_id", "notes", "first_name", "last_name", "created", IGNORE, *FOLLOWUP_FIELDS}
# Columns our own export writes that are computed, not stored.
COMPUTED = {"last_contact", "due", "due_reason", "effective_stage", "path", "followups", "followup_count"}

SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("name", "客户名称", "客户名", "客户", "客户全称", "公司名称", "公司", "公司全称", "企业名称", "单位名称",
             "机构名称", "company", "company name", "account name", "account", "organization", "organisation",
             "organization name", "business name"),
    "industry": ("industry", "行业", "所属行业", "客户行业", "行业类型", "行业类别", "行业分类", "industry type",
                 "sector"),
    "contact": ("contact", "联系人", "联系人姓名", "姓名", "对接人", "客户联系人", "contact name", "contact person",
                "full name", "primary contact", "name of contact"),
    "phone": ("phone", "联系电话", "电话", "手机", "手机号", "手机号码", "联系手机", "联系方式", "座机", "mobile",
              "mobile phone", "mobile phone number", "phone number", "business phone", "work phone", "telephone",
              "tel", "cell", "cell phone", "primary phone"),
    "email": ("email", "邮箱", "联系邮箱", "客户邮箱", "电子邮箱",
              "电子邮件", "邮件", "邮件地址", "e-mail", "email address", "work email",
              "primary email", "business email"),
    "source": ("source", "客户来源", "来源", "来源渠道", "获客渠道", "渠道", "线索来源", "lead source",
               "original source", "original traffic source", "source channel", "account source", "contact source"),
    "stage": ("stage", "阶段", "客户阶段", "客户状态", "状态", "生命周期阶段", "lifecycle stage", "lead status",
              "status", "customer stage"),
    "grade": ("grade", "等级", "客户等级", "级别", "客户级别", "客户分级", "rating", "account rating", "lead rating"),
    "owner": ("owner", "负责人", "销售", "销售负责人", "所属销售", "跟进人", "业务员", "客户经理", "account owner",
              "lead owner", "contact owner", "company owner", "record owner", "owner name", "assigned to"),
    "tags": ("tags", "tag", "标签", "客户标签", "labels"),
    "next_followup": ("next_followup", "下次跟进", "下次跟进时间", "下次跟进日期", "下次联系时间", "提醒时间",
                      "next follow-up",
                      "next follow up", "next followup", "next activity date", "next step date"),
    "created": ("created", "创建时间", "创建日期", "录入时间", "录入日期", "建档时间", "建档日期",
                "created date", "create date",
                "created time", "date created", "created at", "created on"),
    "notes": ("notes", "备注", "说明", "描述", "客户简介", "简介", "description", "note", "comments", "remarks",
              "account description"),
    "source_id": ("客户编号", "客户id", "客户代码", "客户号"),  # the old system's id, kept to match follow-up sheets
    "customer_type": ("customer_type", "客户类型", "客户类别", "customer type", "account type"),
    "company_size": ("company_size", "公司规模", "企业规模", "人员规模", "员工人数", "company size", "employees",
                     "number of employees", "no. of employees", "employee count"),
    "followup_at": ("最近跟进时间", "最近跟进日期", "最后跟进时间", "上次跟进时间", "最近联系时间",
                    "跟进时间", "跟进日期",
                    "last contacted", "last activity date", "last contact date"),
    "followup_note": ("跟进记录", "跟进内容", "最近跟进记录", "最近跟进内容", "跟进情况", "沟通记录", "沟通内容",
                      "last activity note", "last note", "activity notes"),
    "followup_channel": ("跟进方式", "沟通方式", "联系渠道", "activity type"),
    "followup_feedback": ("客户反馈", "反馈", "customer feedback"),
    "followup_next": ("下一步计划", "下一步", "下一步行动", "下步计划", "next step", "next steps"),
    "first_name": ("first name", "firstname", "given name", "名"),
    "last_name": ("last name", "lastname", "surname", "family name", "姓"),
}

# Values other CRMs use for our choice lists (only used when the vault's own
# labels and aliases do not already know the value).
VALUE_SYNONYMS: dict[str, dict[str, str]] = {
    "source": {"organic search": "online-search", "organic_search": "online-search", "paid search": "ad",
               "paid_search": "ad", "paid social": "social", "paid_social": "social", "social media": "social",
               "social_media": "social", "direct traffic": "website", "direct_traffic": "website",
               "web": "website", "referrals": "referral", "employee referral": "referral",
               "external referral": "referral", "partner referral": "partner", "partner": "partner",
               "cold call": "cold-call", "advertisement": "ad", "seminar": "trade-show", "trade show": "trade-show",
               "webinar": "other", "email marketing": "other", "offline sources": "other", "offline": "other",
               "chat": "website", "web download": "website", "web research": "online-search",
               "public relations": "other", "purchased list": "other", "internal seminar": "trade-show"},
    "stage": {"subscriber": "potential", "lead": "potential", "marketingqualifiedlead": "potential",
              "marketing qualified lead": "potential", "salesqualifiedlead": "intent",
              "sales qualified lead": "intent", "opportunity": "intent", "customer": "won", "evangelist": "won",
              "open - not contacted": "potential", "working - contacted": "intent", "closed - converted": "won",
              "closed - not converted": "lost", "not contacted": "potential", "contacted": "intent",
              "attempted to contact": "potential", "contact in future": "potential", "pre-qualified": "intent",
              "not qualified": "lost", "junk lead": "lost", "lost lead": "lost", "new": "potential",
              "open": "potential", "in progress": "intent", "connected": "intent", "unqualified": "lost",
              "bad timing": "lost"},
    "grade": {"hot": "A", "warm": "B", "cold": "C", "acquired": "A", "active": "B", "market failed": "C",
              "project cancelled": "C", "shutdown": "C", "重要": "A", "一般": "B", "普通": "B", "较低": "C"},
}

_MARKS = re.compile(r"[*＊]|[(（]\s*(?:必填|选填|required|optional)\s*[)）]", re.I)


def fold_header(header: str) -> str:
    text = _MARKS.sub("", unicodedata.normalize("NFKC", header)).casefold()
    return re.sub(r"[\s_\-./:：()（）]+", "", text)


_COMPUTED = {fold_header(c) for c in COMPUTED}
_LOOKUP = {fold_header(s): field for field, spellings in SYNONYMS.items() for s in spellings}


def identifier(header: str) -> str:
    """An ASCII header as a snake_case field name ('' when it is not ASCII)."""
    text = unicodedata.normalize("NFKC", header).strip()
    if not text.isascii():
        return ""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not slug:
        return ""
    return f"f_{slug}" if slug[0].isdigit() else slug


def map_headers(headers: list[str], config: VaultConfig, overrides: dict[str, str] | None = None) -> list[str]:
    """Target of each column: a field name, ``-`` (ignored), or ``extra:<header>``."""
    overrides = {fold_header(k): v.strip() for k, v in (overrides or {}).items()}
    known = set(config.fields) | SPECIAL
    unknown_overrides = set(overrides) - {fold_header(h) for h in headers}
    if unknown_overrides:
        shown = ", ".join(sorted(unknown_overrides))
        raise CrmError(f"--map names column(s) not in the file: {shown}.", f"The columns are: {', '.join(headers)}.")
    targets = []
    for header in headers:
        key = fold_header(header)
        if key in overrides:
            targets.append(_checked_override(header, overrides[key], known))
        elif key in _LOOKUP:
            targets.append(_LOOKUP[key])
        elif key in {fold_header(f) for f in config.fields}:
            targets.append(next(f for f in config.fields if fold_header(f) == key))
        elif key in _COMPUTED or key == "id" or not key:
            targets.append(IGNORE if key != "id" else "source_id")
        else:
            targets.append(_extra_target(header, known))
    return targets


def _checked_override(header: str, target: str, known: set[str]) -> str:
    if target == IGNORE or target in known:
        return target
    if target.startswith(f"{EXTRA_KEY}:"):
        return target
    if target in SYSTEM_FIELDS | STRUCTURED_FIELDS:
        raise CrmError(f"--map {header}={target}: '{target}' cannot be imported.",
                       "Map the column to another field or to - to drop it.")
    if identifier(target) != target:
        raise CrmError(f"--map {header}={target}: field names must be plain identifiers (letters, digits, _).",
                       "Use e.g. city=..., or extra:城市 to keep it under 'extra'.")
    return target


def _extra_target(header: str, known: set[str]) -> str:
    name = identifier(header)
    if not name:
        return f"{EXTRA_KEY}:{unicodedata.normalize('NFKC', header).strip()}"
    if name in known or name in SYSTEM_FIELDS | STRUCTURED_FIELDS or name == EXTRA_KEY:
        return f"import_{name}"
    return name


def map_value(field: str, value: str) -> str:
    """Another CRM's word for one of our choices -> ours (or the value unchanged)."""
    table = VALUE_SYNONYMS.get(field)
    if not table:
        return value
    return table.get(" ".join(value.casefold().split()), value)
