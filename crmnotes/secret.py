"""Encrypted fields in a shared repository, with age keys (the ``pyrage`` binding; no home-made cipher).

    encrypt:
      fields: [phone, email]        # stored sealed in every customer file
    members:
      - {id: zhangwei, name: 张伟, role: rep, age: age1...}   # public keys

A value of an encrypted field is written as ``age:`` + the base64 of an age
file sealed to the customer's owner and every manager and admin that has an
``age:`` key, so the repository (and everyone who clones it) holds only
ciphertext.  Reading it needs one of those private keys: ``$CRMNOTES_AGE_KEY``
(a path), else ``~/.config/crmnotes/age.key`` (``crm key new`` writes one).
Anyone else, or a reader without a key, sees ``encrypted``.  A lost key
cannot be recovered: the value stays readable by the other recipients (a
manager can set it again, which seals it to the current recipients).
"""

from __future__ import annotations

import base64
import dataclasses
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from .config import VaultConfig
from .errors import CrmError
from .model import Customer

PREFIX = "age:"
HIDDEN = "encrypted"
ENV_KEY = "CRMNOTES_AGE_KEY"


def encrypted_fields(config: VaultConfig) -> set[str]:
    spec = config.raw.get("encrypt") or {}
    fields = spec.get("fields") if isinstance(spec, dict) else None
    return {str(f) for f in fields} if isinstance(fields, list) else set()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_path() -> Path:
    return Path(os.environ.get(ENV_KEY) or Path.home() / ".config" / "crmnotes" / "age.key")


def new_key(path: Path) -> str:
    """Write a new private key to ``path`` (readable by its owner only); its public key."""
    from pyrage import x25519

    if path.exists():
        raise CrmError(f"{path} already exists.", "Keep it (it opens what was sealed to it) or move it away first.")
    identity = x25519.Identity.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(f"# crmnotes age key; public key: {identity.to_public()}\n{identity}\n")
    return str(identity.to_public())


@lru_cache(maxsize=4)
def _identities(path: str) -> tuple[Any, ...]:
    from pyrage import x25519

    try:
        lines = Path(path).read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return ()
    try:
        return tuple(x25519.Identity.from_str(line.strip()) for line in lines if line.startswith("AGE-SECRET-KEY-"))
    except Exception:  # a damaged key file opens nothing; 'crm key show' says so
        return ()


def recipients(config: VaultConfig, owner: str) -> list[str]:
    """The public keys a value of ``owner``'s customer is sealed to: the owner's, every manager's and admin's."""
    from .team import team_of  # only sealing asks the team: ``opened`` runs for every customer listed

    team = team_of(config)
    member = team.find(owner) if owner else None
    keys = [m.age_key for m in team.members if m.age_key and (m.sees_all or m == member)]
    return sorted(set(keys))


def seal(text: str, keys: list[str]) -> str:
    import pyrage
    from pyrage import x25519

    if not keys:
        raise CrmError("no one could read this value: neither the owner nor any manager has an 'age:' key.",
                       "Add the members' public keys ('crm key new' prints one) under 'members:' in crmnotes.yaml.")
    try:
        sealed = pyrage.encrypt(text.encode("utf-8"), [x25519.Recipient.from_str(k) for k in keys])
    except Exception as exc:
        raise CrmError(f"an 'age:' key in crmnotes.yaml is not a valid public key ({exc}).",
                       "Public keys start with 'age1'; fix 'members:' in crmnotes.yaml.") from None
    return PREFIX + base64.b64encode(sealed).decode("ascii")


def unseal(value: str) -> str | None:
    """The plain text, or None when no key of this user opens it."""
    import pyrage

    identities = _identities(str(key_path()))
    if not identities:
        return None
    try:
        return pyrage.decrypt(base64.b64decode(value[len(PREFIX):]), list(identities)).decode("utf-8")
    except Exception:  # not sealed to this key, or damaged: shown as encrypted
        return None


def seal_values(config: VaultConfig, values: dict[str, Any], owner: str) -> dict[str, Any]:
    """``values`` with the encrypted fields sealed for ``owner``'s customer (others unchanged)."""
    chosen = encrypted_fields(config)
    if not chosen:
        return values
    keys = recipients(config, owner)
    return {k: seal(str(v), keys) if k in chosen and v is not None and not is_sealed(v) else v
            for k, v in values.items()}


def opened(customer: Customer) -> Customer:
    """The customer as this user may read it: sealed values opened, or ``encrypted``."""
    if not any(is_sealed(v) for v in customer.meta.values()):
        return customer
    meta = {k: (unseal(v) or HIDDEN) if is_sealed(v) else v for k, v in customer.meta.items()}
    return dataclasses.replace(customer, meta=meta)
