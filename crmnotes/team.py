"""The team listed in crmnotes.yaml under ``members:``: who may be an owner or an author.

    members:
      - id: zhangwei
        name: 张伟
        aliases: [老张, Wei]
        emails: [zhangwei@example.com]
        role: rep          # rep, manager or admin
        team: 华东

With no ``members:`` the vault works as before: owners and authors are free
text.  With a team, what people type (id, name, alias, email, the pinyin of
the name: ``zhangwei``, ``zw``) is stored as the member's name, and anything
else is refused with the closest member as a suggestion.  The members are
read from the parsed config's raw data, so config parsing stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import VaultConfig, fold
from .errors import ConfigError
from .model import FieldIssue

ROLES = ("rep", "manager", "admin")
PEOPLE_FIELDS = ("owner",)  # front-matter fields that name a member


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    role: str = "rep"
    team: str = ""
    age_key: str = ""  # public age key, for fields crmnotes.yaml encrypts (crmnotes/secret.py)

    @property
    def sees_all(self) -> bool:
        """Managers and admins may read and change every customer."""
        return self.role in ("manager", "admin")

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.id, self.name, *self.aliases, *self.emails)


@dataclass
class Team:
    members: list[Member]
    _lookup: dict[str, Member] = field(default_factory=dict, repr=False)
    _pinyin: dict[str, Member] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for member in self.members:
            for spelling in member.spellings:
                self._lookup.setdefault(fold(spelling), member)

    def __bool__(self) -> bool:
        return bool(self.members)

    def find(self, text: str) -> Member | None:
        """The member meant by ``text``: id, name, alias, email, or the pinyin (full or initials) of the name."""
        key = fold(text)
        if not key:
            return None
        found = self._lookup.get(key)
        if found is None and key.isascii() and key.isalpha():
            found = self._by_pinyin().get(key.replace(" ", ""))
        return found

    def name_of(self, text: str) -> str:
        """The member's name for any of their spellings; other text as it is (reports group by this)."""
        found = self.find(text) if self.members else None
        return found.name if found else text

    def by_email(self, email: str) -> Member | None:
        key = fold(email)
        return next((m for m in self.members if key and key in {fold(e) for e in m.emails}), None)

    def suggestion(self, text: str) -> Member | None:
        """The closest member to a mistyped name (张玮 -> 张伟), if any is close."""
        from rapidfuzz import fuzz, process

        choices = {fold(s): m for m in self.members for s in (m.id, m.name, *m.aliases)}
        best = process.extractOne(fold(text), list(choices), scorer=fuzz.ratio, score_cutoff=40)
        return choices[best[0]] if best else None

    def resolve(self, text: str, what: str = "owner") -> str:
        """The member's name for what was typed; ValueError naming the closest member otherwise."""
        found = self.find(text)
        if found is not None:
            return found.name
        close = self.suggestion(text)
        hint = f" (did you mean {close.name}?)" if close else ""
        names = ", ".join(m.name for m in self.members)
        raise ValueError(f"'{text}' is not a member of the team{hint}; {what} must be one of: {names}")

    def _by_pinyin(self) -> dict[str, Member]:
        if self._pinyin is None:
            self._pinyin = self._pinyin_keys()
        return self._pinyin

    def _pinyin_keys(self) -> dict[str, Member]:
        from pypinyin import Style, lazy_pinyin  # deferred: only when a name was not found as typed

        from .naming import slugify

        keys: dict[str, Member] = {}
        for member in self.members:
            for spelling in (member.name, *member.aliases):
                if spelling.isascii():
                    continue
                initials = "".join(lazy_pinyin(spelling, style=Style.FIRST_LETTER, errors="ignore")).lower()
                for key in (slugify(spelling).replace("-", ""), initials):
                    keys.setdefault(key, member)
        return keys


EMPTY = Team([])


def team_of(config: VaultConfig) -> Team:
    """The vault's team (an empty, falsy Team when crmnotes.yaml lists none).  Parsed once per
    config: rules ask for it for every customer a check reads."""
    raw = config.raw.get("members")
    if not raw:
        return EMPTY
    if _last[0] is not raw:
        _last[:] = [raw, parse_members(raw)]
    return _last[1]


_last: list[Any] = [None, EMPTY]  # (the members list last parsed, its Team)


def parse_members(raw: Any, where: str = "crmnotes.yaml") -> Team:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"{where}: {message}.", "Fix 'members:' in crmnotes.yaml and try again.")

    if not raw:
        return EMPTY
    if not isinstance(raw, list):
        raise fail("'members' must be a list of people (id, name, aliases, emails, role, team)")
    members, seen = [], set()
    for item in raw:
        if not isinstance(item, dict) or not str(item.get("id") or "").strip():
            raise fail("every member needs an id")
        member_id = str(item["id"]).strip()
        role = str(item.get("role") or "rep").strip()
        if role not in ROLES:
            raise fail(f"member '{member_id}' has role '{role}' (use one of {', '.join(ROLES)})")
        if fold(member_id) in seen:
            raise fail(f"member id '{member_id}' is listed twice")
        seen.add(fold(member_id))
        members.append(Member(
            id=member_id,
            name=str(item.get("name") or member_id).strip(),
            aliases=_strings(item.get("aliases"), member_id, "aliases", fail),
            emails=_strings(item.get("emails", item.get("email")), member_id, "emails", fail),
            role=role,
            team=str(item.get("team") or "").strip(),
            age_key=str(item.get("age") or "").strip(),
        ))
    return Team(members)


def _strings(value: Any, member_id: str, key: str, fail: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise fail(f"member '{member_id}': '{key}' must be a list")
    return tuple(str(v).strip() for v in value if str(v).strip())


def person_value(config: VaultConfig, text: str, what: str, issues: list[FieldIssue]) -> str:
    """What to store for a person typed as ``text`` (an owner, an author): the member's name when
    crmnotes.yaml lists a team (an issue when nobody matches), the text as typed otherwise."""
    team = team_of(config)
    if not team or not text:
        return text
    try:
        return team.resolve(text, what)
    except ValueError as exc:
        issues.append(FieldIssue(what, str(exc)))
        return text
