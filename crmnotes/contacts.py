"""Several people at one company: the ``contacts:`` list of the front-matter.

Each item is a mapping with ``name`` and optionally ``role`` (决策人,
技术负责人...), ``phone`` and ``email``.  The customer's own ``contact`` /
``phone`` stay the main contact; these are the others.  Phones are
validated and masked like the main phone, and count for duplicate checks
and search.
"""

from __future__ import annotations

from typing import Any

from .config import VaultConfig, fold
from .model import SEVERITY_WARNING, Customer, FieldIssue

CONTACTS_KEY = "contacts"
CONTACT_KEYS = ("name", "role", "phone", "email")


def contact_list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def contact_phones(meta: dict[str, Any]) -> list[str]:
    return [str(c["phone"]) for c in contact_list(meta.get(CONTACTS_KEY)) if c.get("phone")]


def contact_issues(value: Any, config: VaultConfig) -> list[FieldIssue]:
    """What is wrong with a stored ``contacts:`` list."""
    from .rules import normalize_email, normalize_phone

    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        return [FieldIssue(CONTACTS_KEY, "contacts must be a list of mappings (name, role, phone, email)")]
    issues: list[FieldIssue] = []
    seen: dict[str, str] = {}
    for number, item in enumerate(value, start=1):
        name = str(item.get("name") or "").strip()
        if not name:
            issues.append(FieldIssue(CONTACTS_KEY, f"contact {number} has no name"))
        phone = str(item.get("phone") or "")
        if phone:
            try:
                normalized = normalize_phone(phone, config.phone_region)
            except ValueError as exc:
                issues.append(FieldIssue(CONTACTS_KEY, f"contact {name or number}: phone {exc}"))
            else:
                if normalized != phone:
                    issues.append(FieldIssue(CONTACTS_KEY, f"contact {name or number}: '{phone}' should be "
                                             f"written as '{normalized}'", SEVERITY_WARNING))
                phone = normalized
        if item.get("email"):
            try:
                normalize_email(str(item["email"]))
            except ValueError as exc:
                issues.append(FieldIssue(CONTACTS_KEY, f"contact {name or number}: {exc}"))
        for key in (fold(name), phone):
            if key and key in seen:
                issues.append(FieldIssue(CONTACTS_KEY, f"contact {name or number} repeats {seen[key]}",
                                         SEVERITY_WARNING))
            elif key:
                seen[key] = name or str(number)
    return issues


def masked(value: Any, region: str) -> list[dict[str, Any]]:
    """The contacts as shown and exported: phones with the middle digits hidden."""
    from .rules import mask_phone

    return [{**item, **({"phone": mask_phone(str(item["phone"]), region)} if item.get("phone") else {})}
            for item in contact_list(value)]


def prepared_contact(name: str, role: str, phone: str, email: str, config: VaultConfig
                     ) -> tuple[dict[str, Any], list[FieldIssue]]:
    """A contact as typed -> the mapping to store, and what is wrong with it."""
    from .note import clean_text
    from .rules import find_sensitive

    item = {key: clean_text(value).strip() for key, value in zip(CONTACT_KEYS, (name, role, phone, email),
                                                                     strict=True) if value.strip()}
    issues = [i for i in contact_issues([item], config) if i.severity != SEVERITY_WARNING]
    if "phone" in item and not issues:
        from .rules import normalize_phone

        item["phone"] = normalize_phone(item["phone"], config.phone_region)
    for kind, shown, _ in find_sensitive("\n".join(item.values())):
        issues.append(FieldIssue(CONTACTS_KEY, f"a {kind} ({shown}) must not be stored in the vault"))
    return item, issues


def with_contact(customer: Customer, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The customer's contacts with ``item`` added, or replacing the one of the same name."""
    current = [dict(c) for c in contact_list(customer.meta.get(CONTACTS_KEY))]
    for index, existing in enumerate(current):
        if fold(str(existing.get("name") or "")) == fold(item["name"]):
            current[index] = {**existing, **item}
            return current
    return [*current, item]
