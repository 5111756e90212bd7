"""JSON that keeps YAML's Python types: what the caches store comes back as it went in (dates stay
dates, a one-key mapping whose key starts with "$" stays a mapping)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

DATE, DATETIME, DICT = "$date", "$datetime", "$dict"  # the tags


def compact(value: Any) -> str:
    """JSON without spaces or ASCII escapes (what the caches store)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def tagged(value: Any) -> Any:
    """``value`` as JSON-able data that ``untagged`` turns back into the same Python types."""
    if isinstance(value, dict):
        out = {str(k): tagged(v) for k, v in value.items()}
        if len(out) == 1 and next(iter(out)).startswith("$"):  # would read as a tag: keep it as pairs
            return {DICT: [[k, v] for k, v in out.items()]}
        return out
    if isinstance(value, (list, tuple)):
        return [tagged(v) for v in value]
    if isinstance(value, datetime):
        return {DATETIME: value.isoformat()}
    if isinstance(value, date):
        return {DATE: value.isoformat()}
    return value


def untagged(value: dict[str, Any]) -> Any:
    """``json.loads`` object hook: the C decoder calls it for every object, innermost first."""
    if len(value) == 1:
        key, inner = next(iter(value.items()))
        if key == DATETIME:
            return datetime.fromisoformat(inner)
        if key == DATE:
            return date.fromisoformat(inner)
        if key == DICT:
            return {str(k): v for k, v in inner}
    return value


DECODER = json.JSONDecoder(object_hook=untagged)
