"""One customer file -> what the index keeps of it (no Whoosh here).

``prepare`` reads, hashes and parses a file and returns the document fields
for Whoosh plus a compact *record* (front-matter and follow-ups) stored with
it, so list views, sorting and filtering never open the files again.  It is
a plain function of (vault root, relative path) so the rebuild can run it in
worker processes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import note
from ..config import VaultConfig, fold
from ..errors import FileFormatError
from ..model import Customer, FollowUp, Problem
from ..vault import Vault, read_customer_bytes
from . import text as textmod

RECORD_VERSION = 1


@dataclass(frozen=True)
class FileState:
    """What freshness is judged by: size and mtime first, the content hash when they differ."""

    size: int
    mtime_ns: int
    sha1: str = ""

    def to_json(self) -> list[Any]:
        return [self.size, self.mtime_ns, self.sha1]

    @classmethod
    def from_json(cls, data: list[Any]) -> FileState:
        return cls(int(data[0]), int(data[1]), str(data[2]))


@dataclass
class Prepared:
    """A file made ready for the index: its fields, or why it cannot be read."""

    rel: str
    state: FileState
    fields: dict[str, Any] | None = None
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def file_hash(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def prepare(vault: Vault, rel: str) -> Prepared:
    path = vault.root / rel
    try:
        data, stat = read_customer_bytes(path)  # the vault's one way in: no FIFO, nothing over the limit
    except FileFormatError as exc:
        try:
            stat = path.stat()
        except OSError:
            return Prepared(rel, FileState(-1, -1), error=exc.message)
        return Prepared(rel, FileState(stat.st_size, stat.st_mtime_ns), error=f"{exc.message} {exc.hint}".strip())
    except OSError as exc:
        return Prepared(rel, FileState(-1, -1), error=f"cannot be read ({exc.strerror})")
    state = FileState(stat.st_size, stat.st_mtime_ns, file_hash(data))
    try:
        doc = note.parse(data)
    except FileFormatError as exc:
        return Prepared(rel, state, error=f"{exc.message} {exc.hint}".strip())
    customer = vault.customer_from(path, doc)
    return Prepared(rel, state, fields=document_fields(vault, rel, customer))


def document_fields(vault: Vault, rel: str, customer: Customer) -> dict[str, Any]:
    """The Whoosh document of one customer (see ``schema.build_schema``)."""
    from ..contacts import contact_list, contact_phones

    people = contact_list(customer.meta.get("contacts"))
    name = customer.name
    contact = " ".join([customer.text("contact"), *(str(c.get("name") or "") for c in people)]).strip()
    body = "\n".join([customer.body, customer.text("email"), *_nested_text(customer),
                      *(f"{c.get('role') or ''} {c.get('email') or ''}" for c in people)])
    phones = _phones(customer.meta.get("phone")) + contact_phones(customer.meta)
    fields: dict[str, Any] = {
        "path": rel, "id": customer.id.lower(), "name": name, "contact": contact, "body": body,
        "pinyin": " ".join(textmod.pinyin_keys(f"{name} {contact}")),
        "phone": " ".join(textmod.phone_keys(phones)),
        "industry": customer.text("industry").lower(), "source": customer.text("source").lower(),
        "stage": customer.stage.lower(), "grade": customer.grade.lower(), "owner": fold(customer.owner),
        "tags": ",".join(t.lower() for t in customer.tags),
        "labels": labels_text(vault.config, customer.meta),
        "channel": " ".join(sorted({f.channel.lower() for f in customer.followups if f.channel})),
        "record": record_of(customer),
    }
    last = customer.last_contact
    dates = {"created": customer.created, "last": last, "activity": last or customer.created,
             "next": _as_datetime(customer.next_followup)}
    fields.update({k: v for k, v in dates.items() if v is not None})
    return {k: v for k, v in fields.items() if v != ""}


LABELLED = {"industry": "industries", "source": "sources", "stage": "stages", "grade": "grades"}


def labels_text(config: VaultConfig, meta: dict[str, Any]) -> str:
    """What bare words match besides the text: the tags (``needs/数据安全``) and the labels of the
    choices the customer has (互联网 for industry ``internet``), one per line."""
    tags = meta.get("tags")
    lines = [str(t) for t in tags if t is not None] if isinstance(tags, list) else [str(tags)] if tags else []
    for key, list_name in LABELLED.items():
        value, choices = meta.get(key), config.choices.get(list_name)
        found = choices.find(str(value)) if choices is not None and value not in (None, "") else None
        if found is not None and found.label:
            lines.append(found.label)
    return "\n".join(lines)


def _as_datetime(value: Any) -> datetime | None:
    return datetime(value.year, value.month, value.day) if value is not None else None


def _phones(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)] if value not in (None, "") else []


def _nested_text(customer: Customer) -> list[str]:
    """Words of deals and tickets (their names, notes, resolutions) so they are searchable too."""
    out: list[str] = []
    for item in customer.deals + customer.tickets:
        out.extend(str(v) for v in item.values() if isinstance(v, str))
    return out


# ------------------------------------------------------------------ records


def record_of(customer: Customer) -> dict[str, Any]:
    """What rebuilds a ``Customer`` for listing without its file (body text excluded)."""
    return {
        "v": RECORD_VERSION,
        "meta": customer.meta,
        "followups": [dict(vars(f)) for f in customer.followups],
        "problems": [(p.line, p.message, p.severity, p.code) for p in customer.problems],
    }


def customer_of(root: Path, rel: str, record: dict[str, Any]) -> Customer:
    path = root / rel
    followups = [FollowUp(**item) for item in record["followups"]]
    problems = [Problem(path, line, message, severity, code) for line, message, severity, code in record["problems"]]
    return Customer(path=path, meta=record["meta"], followups=followups, body="", problems=problems)
