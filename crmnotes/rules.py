"""Field rules from crmnotes.yaml: normalize what people type, validate what
files hold, and find the numbers that must never be stored.

Everything here is pure: values in, values or ``FieldIssue``s out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from .config import ChoiceSet, VaultConfig
from .model import SEVERITY_ERROR, SEVERITY_WARNING, FieldIssue, date_issue, parse_when
from .naming import looks_like_id
from .note import clean_text
from .secret import is_sealed
from .sensitive import (  # noqa: F401 (re-exported: the masks live beside the numbers they hide)
    COMMON_CALLING_CODES,
    is_bank_card,
    is_prc_id,
    luhn_valid,
    mask_phone,
    redact,
)
from .sensitive import find as find_sensitive
from .team import PEOPLE_FIELDS, team_of

TAG_SPLIT = re.compile(r"\s*[,，;；、]\s*")
SYSTEM_FIELDS = {"id", "created"}
STRUCTURED_FIELDS = {"deals", "tickets", "conflicts", "extra"}


# ------------------------------------------------------------------ phones


@lru_cache(maxsize=4096)
def normalize_phone(raw: str, region: str = "CN") -> str:
    """Any way people write a phone number -> E.164 (``+8613800138000``).

    Raises ``ValueError`` with a message fit for the user.
    """
    import phonenumbers  # deferred: ~40 ms, only validation needs it

    text = clean_text(str(raw)).strip()
    if not text:
        raise ValueError("is empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"'{text}' is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"'{text}' is not a valid phone number for region {region} "
                         "(add the +country code for foreign numbers)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# ------------------------------------------------------------------ emails


# The addresses people write: a dot-atom local part (RFC 5322, UTF-8 allowed as in RFC 6531) and a domain name
# of two or more labels, Chinese ones included.  Quoted local parts, IP-address domains and comments are refused:
# no mail program a salesperson uses writes them.  Nothing looks the domain up (email-validator's only other work,
# which needs dnspython).
_EMAIL_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_EMAIL_LOCAL = re.compile(rf"{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*")
_DOMAIN_DOTS = re.compile("[.\u3002\uff0e\uff61]")  # the full stops IDNA reads as dots (。 in Chinese text)
_ASCII_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")  # RFC 6761: never deliverable
MAX_EMAIL_LOCAL = 64
MAX_EMAIL = 254


def normalize_email(raw: str) -> str:
    """``someone@例子.中国`` as written (NFC), its domain lower-cased and in Unicode (punycode labels decoded).

    Raises ``ValueError`` with a message fit for the user."""
    text = unicodedata.normalize("NFC", clean_text(str(raw)).strip())
    local, at, domain = text.rpartition("@")
    try:
        if not at:
            raise ValueError("it has no @")
        if not local or not domain:
            raise ValueError("there is nothing before the @" if not local else "there is nothing after the @")
        if not _EMAIL_LOCAL.fullmatch(local):
            raise ValueError(f"'{local}' has a space, a second @ or a character mail addresses cannot hold")
        if len(local.encode()) > MAX_EMAIL_LOCAL:
            raise ValueError(f"the part before the @ is longer than {MAX_EMAIL_LOCAL} bytes")
        labels = [_domain_label(label, domain) for label in _DOMAIN_DOTS.split(domain)]
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a valid email address ({exc})") from None
    if len(labels) < 2 or labels[-1][1].isdigit() or labels[-1][1] in SPECIAL_USE_DOMAINS:
        raise ValueError(f"'{text}' is not a valid email address ('{domain}' is not a domain name mail can reach, "
                         "like example.com or 例子.中国)")
    if len(local.encode()) + len(labels) + sum(len(ascii_) for _, ascii_ in labels) > MAX_EMAIL:
        raise ValueError(f"'{text}' is not a valid email address (it is longer than {MAX_EMAIL} characters)")
    return local + "@" + ".".join(unicode for unicode, _ in labels)


def _domain_label(label: str, domain: str) -> tuple[str, str]:
    """One label of a domain name as (Unicode, ASCII): 中国 -> (中国, xn--fiqs8s), XN--FIQS8S too."""
    readable = unicodedata.normalize("NFKC", label).lower()  # full-width letters as ASCII, as IDNA maps them
    try:
        if readable.isascii():
            unicode, ascii_ = (readable.encode().decode("idna") if readable.startswith("xn--") else readable), readable
        elif all(ch.isalnum() or ch == "-" or unicodedata.category(ch).startswith("M") for ch in readable):
            unicode, ascii_ = readable, readable.encode("idna").decode()
        else:
            raise UnicodeError
    except UnicodeError:
        raise ValueError(f"'{domain}' is not a domain name") from None
    if not _ASCII_LABEL.fullmatch(ascii_):
        raise ValueError(f"'{domain}' is not a domain name")
    return unicode, ascii_


# ------------------------------------------------------------------ company keys

_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalize_credit_code(raw: str) -> str:
    """A 统一社会信用代码 (GB 32100-2015: 18 characters, the last a checksum), upper case; ValueError if wrong."""
    code = re.sub(r"[\s-]", "", clean_text(raw)).upper()
    if len(code) != 18 or any(c not in _CREDIT_CHARS for c in code):
        raise ValueError(f"'{code}' is not a unified social credit code (18 digits and capital letters)")
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(code[:17], _CREDIT_WEIGHTS, strict=True))
    if _CREDIT_CHARS[(31 - total % 31) % 31] != code[17]:
        raise ValueError(f"'{code}' is not a valid unified social credit code (its check character is wrong)")
    return code


# ------------------------------------------------------------------ tags


def split_tags(raw: str | Iterable[str]) -> list[str]:
    """Tags typed as one string (``a, b，c、d``) or given as a list."""
    items = TAG_SPLIT.split(raw) if isinstance(raw, str) else [str(t) for t in raw]
    seen: list[str] = []
    for item in items:
        tag = clean_text(item).strip().lstrip("#").strip()
        if tag and tag not in seen:
            seen.append(tag)
    return seen


def tag_issues(tags: list[str], config: VaultConfig) -> list[FieldIssue]:
    rules = config.tags
    issues = []
    for tag in tags:
        namespace, _, value = tag.partition("/")
        if " " in tag:
            issues.append(FieldIssue("tags", f"tag '{tag}' contains a space (use '-' instead)"))
        elif namespace in rules.namespaces:
            allowed = rules.namespaces[namespace]
            if not value:
                issues.append(FieldIssue("tags", f"tag '{tag}' needs a value after '{namespace}/'"))
            elif allowed is not None and value not in allowed:
                issues.append(FieldIssue("tags", f"'{value}' is not an allowed value of tag namespace "
                                         f"'{namespace}' (allowed: {', '.join(allowed)})"))
        elif rules.adhoc != "allow":
            severity = SEVERITY_ERROR if rules.adhoc == "error" else SEVERITY_WARNING
            known = ", ".join(f"{ns}/" for ns in rules.namespaces)
            issues.append(FieldIssue("tags", f"tag '{tag}' is ad hoc (not in a known namespace: {known})", severity))
    return issues


# ------------------------------------------------------------------ sensitive numbers

# Detection lives in ``sensitive`` (stdlib only, so errors.py can mask every message with it);
# find_sensitive, redact, is_prc_id, is_bank_card and luhn_valid are re-exported from here.


def _redacted(issues: list[FieldIssue]) -> list[FieldIssue]:
    return [FieldIssue(i.field, redact(i.message), i.severity) for i in issues]


def sensitive_issues(values: dict[str, Any]) -> list[FieldIssue]:
    """One issue per field whose value holds an ID or bank card number (tags and lists included)."""
    return [FieldIssue(name, f"a {kind} ({masked}) must not be stored in the vault")
            for name, value in values.items() for kind, masked, _ in find_sensitive(_flatten(value))]


# ------------------------------------------------------------------ fields


def prepare_fields(raw: dict[str, Any], config: VaultConfig) -> tuple[dict[str, Any], list[FieldIssue]]:
    """Typed input (strings from a CLI or a form) -> values to store.

    Returns the normalized values and every problem found; callers refuse to
    write while any problem has severity error.  An empty string means
    "remove this field".
    """
    values: dict[str, Any] = {}
    issues: list[FieldIssue] = []
    for name, value in raw.items():
        if name in SYSTEM_FIELDS:
            issues.append(FieldIssue(name, f"'{name}' is set by crmnotes and cannot be changed"))
            continue
        if name in STRUCTURED_FIELDS:
            issues.append(FieldIssue(name, f"'{name}' is managed with 'crm deal' / 'crm ticket', not set directly"))
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            issues.append(FieldIssue(name, "field names must be plain English identifiers (letters, digits, _ or -)"))
            continue
        if isinstance(value, str):
            value = clean_text(value).strip()
        if value in ("", None, []):
            values[name] = None
            continue
        try:
            values[name] = _prepare_value(name, value, config)
        except ValueError as exc:
            issues.append(FieldIssue(name, str(exc)))
    issues += sensitive_issues({k: v for k, v in values.items() if k not in {i.field for i in issues}})
    return values, _redacted(issues)


def _prepare_value(name: str, value: Any, config: VaultConfig) -> Any:
    if name in PEOPLE_FIELDS and (team := team_of(config)):
        return team.resolve(str(value), name)
    definition = config.fields.get(name)
    kind = definition.type if definition else "text"
    if kind == "choice":
        choices = config.choices_for(name)
        assert choices is not None  # config parsing guarantees it
        return _prepare_choice(name, str(value), choices, config)
    if kind == "phone":
        return normalize_phone(str(value), config.phone_region)
    if kind == "email":
        return normalize_email(str(value))
    if kind == "contacts":
        raise ValueError("contacts are added with 'crm contact REF NAME --role ... --phone ...'")
    if kind == "credit_code":
        return normalize_credit_code(str(value))
    if kind == "tags" or kind == "list":
        return split_tags(value)
    if kind in ("date", "datetime"):
        when = parse_when(value)
        if when is None:
            raise ValueError(date_issue(value))
        if kind == "date" or (when.hour == 0 and when.minute == 0 and len(str(value).strip()) <= 10):
            return when.date()
        return when.strftime("%Y-%m-%dT%H:%M")
    if kind == "number":
        try:
            return float(value) if "." in str(value) else int(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a number") from None
    return str(value)


def _prepare_choice(name: str, value: str, choices: ChoiceSet, config: VaultConfig) -> str:
    found = choices.find(value)
    if found is None:
        if choices.strict:
            options = ", ".join(f"{c.id} ({c.label})" if c.label else c.id for c in choices.items if not c.computed)
            raise ValueError(f"'{value}' is not a known {name} (choose one of: {options})")
        return value
    if found.computed:
        raise ValueError(f"'{found.id}' is computed from the follow-ups and cannot be set by hand")
    return found.id


def validate_meta(meta: dict[str, Any], config: VaultConfig) -> list[FieldIssue]:
    """Every rule the stored front-matter breaks."""
    issues: list[FieldIssue] = []
    for name, definition in config.fields.items():
        if definition.required and _is_empty(meta.get(name)):
            if name in SYSTEM_FIELDS:  # set by crmnotes: a file written by hand lacks it, 'check --fix' sets it
                issues.append(FieldIssue(name, f"has no '{name}' yet ('crm check --fix' sets it)", SEVERITY_WARNING))
            else:
                issues.append(FieldIssue(name, f"required field '{name}' is missing"))
    for group in config.require_one_of:
        if all(_is_empty(meta.get(name)) for name in group):
            issues.append(FieldIssue(group[0], f"one of {' / '.join(group)} is required"))
    if _is_empty(meta.get("id")):  # a file written in an editor: adopted, 'crm check --fix' gives it an id
        issues.append(FieldIssue("id", "has no id yet ('crm check --fix' assigns one)", SEVERITY_WARNING))
    elif not looks_like_id(str(meta.get("id"))):
        issues.append(FieldIssue("id", f"id '{meta.get('id')}' is not a crmnotes id"))
    for name, value in meta.items():
        if _is_empty(value) or name not in config.fields or is_sealed(value):  # ciphertext: nothing to check
            continue
        issues.extend(_stored_value_issues(name, value, config))
    issues += team_issues(meta, config)
    for kind, masked, _ in find_sensitive(_flatten(meta)):
        issues.append(FieldIssue("sensitive", f"a {kind} ({masked}) must not be stored in the vault"))
    return _redacted(issues)


def team_issues(meta: dict[str, Any], config: VaultConfig) -> list[FieldIssue]:
    """Owners that are not (or not spelled as) members of the team crmnotes.yaml lists; none without a team.
    Warnings: files written before the team was listed stay readable and editable."""
    team = team_of(config)
    issues = []
    for name in PEOPLE_FIELDS if team else ():
        value = str(meta.get(name) or "")
        if not value:
            continue
        try:
            member_name = team.resolve(value, name)
        except ValueError as exc:
            issues.append(FieldIssue(name, str(exc), SEVERITY_WARNING))
            continue
        if member_name != value:
            issues.append(FieldIssue(name, f"'{value}' should be written as '{member_name}'", SEVERITY_WARNING))
    return issues


def _stored_value_issues(name: str, value: Any, config: VaultConfig) -> list[FieldIssue]:
    kind = config.fields[name].type
    if kind == "choice":
        choices = config.choices_for(name)
        assert choices is not None
        found = choices.find(str(value))
        if found is None:
            severity = SEVERITY_ERROR if choices.strict else SEVERITY_WARNING
            return [FieldIssue(name, f"'{value}' is not a known {name} ({', '.join(choices.ids)})", severity)]
        return []  # an id, a label or an alias: all valid in a file written by hand
    if kind == "phone":
        phones = value if isinstance(value, list) else [value]
        issues = []
        for phone in phones:
            try:
                normalized = normalize_phone(str(phone), config.phone_region)
            except ValueError as exc:
                issues.append(FieldIssue(name, str(exc)))
                continue
            if normalized != str(phone):
                issues.append(FieldIssue(name, f"'{phone}' should be written as '{normalized}'", SEVERITY_WARNING))
        return issues
    if kind == "email":
        try:
            normalize_email(str(value))
        except ValueError as exc:
            return [FieldIssue(name, str(exc))]
        return []
    if kind == "contacts":
        from .contacts import contact_issues

        return contact_issues(value, config)
    if kind == "credit_code":
        try:
            normalize_credit_code(str(value))
        except ValueError as exc:
            return [FieldIssue(name, str(exc))]
        return []
    if kind == "tags":
        if not isinstance(value, list):
            return [FieldIssue(name, "tags must be a YAML list")]
        if not all(isinstance(t, (str, int, float)) and not isinstance(t, bool) for t in value):
            return [FieldIssue(name, "tags must be a list of plain words (a nested list or mapping is ignored)")]
        return tag_issues([str(t) for t in value], config)
    if kind in ("date", "datetime") and parse_when(value) is None:
        return [FieldIssue(name, date_issue(value, "YYYY-MM-DD or YYYY-MM-DDTHH:MM"))]
    if kind == "number" and not isinstance(value, (int, float)):
        return [FieldIssue(name, f"'{value}' is not a number")]
    return []


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _flatten(value: Any) -> str:
    """All scalar text of a nested value, items a blank line apart (for scanning: a number
    may be split across two lines of one value, never across two values)."""
    if isinstance(value, dict):
        return "\n\n".join(_flatten(v) for v in value.values())
    if isinstance(value, list):
        return "\n\n".join(_flatten(v) for v in value)
    if isinstance(value, (date, datetime)):
        return ""
    return str(value)
