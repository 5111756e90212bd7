"""Reminders pushed to where the team already is: chat robots and e-mail through apprise.

``crmnotes.yaml`` says who gets what::

    reminders:
      people:                       # each person's own overdue and today's items
        张伟: [wecombot://BOTKEY]
        李娜: ["mailto://user:pass@example.com?to=lina@example.com"]
      teams:                        # the members' items together
        销售一组: {members: [张伟, 李娜], urls: ["dingtalk://TOKEN", "feishu://TOKEN"]}
      everyone: ["slack://T/B/C"]   # every item
      desktop: ["dbus://"]          # while `crm watch` runs: each task at its time (macosx://, windows://, ...)
      retries: 2                    # further attempts after a failure
      retry_delay: 5                # seconds between attempts

A message lists what is overdue and what falls due today (tasks at their time,
due customers with their rule), with each contact's phone masked.  Every
message passes through ``rules.redact`` and is refused if an ID or bank card
number could still be found in it.  A delivery that still fails after its
retries is reported, and its message is kept under ``.crmnotes/unsent/`` so
the list is never lost.
"""

from __future__ import annotations

import re
import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import catalog, rules
from .agenda import AgendaItem, agenda
from .config import VaultConfig, fold
from .errors import ConfigError, CrmError
from .fsutil import atomic_write
from .model import Customer
from .vault import Vault

UNSENT_DIR = "unsent"
_PHONE_IN_TEXT = re.compile(r"(?<![\d*])(?:\+\d[\d -]{7,16}\d|1[3-9]\d{9})(?![\d*])")


@dataclass(frozen=True)
class Route:
    """Who a message is for (a person, a team, everyone) and the apprise URLs it goes to."""

    name: str
    members: tuple[str, ...]  # empty: everyone
    urls: tuple[str, ...]


@dataclass
class Delivery:
    route: str
    url: str  # with secrets hidden
    ok: bool
    attempts: int
    error: str = ""
    kept: Path | None = None  # where the unsent message was saved

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "url": self.url, "ok": self.ok, "attempts": self.attempts,
                "error": self.error or None, "kept": str(self.kept) if self.kept else None}


@dataclass
class Settings:
    routes: list[Route] = field(default_factory=list)
    retries: int = 2
    retry_delay: float = 5.0
    desktop: tuple[str, ...] = ()


def settings(config: VaultConfig) -> Settings:
    """The ``reminders:`` section of crmnotes.yaml; a malformed one is a ConfigError naming the key."""
    raw = config.raw.get("reminders") or {}
    if not isinstance(raw, dict):
        raise ConfigError("'reminders' in crmnotes.yaml must be a mapping.", "See the README's Reminders section.")
    routes = [Route(str(person), (str(person),), _urls(urls, f"reminders.people.{person}"))
              for person, urls in _mapping(raw, "people").items()]
    for team, spec in _mapping(raw, "teams").items():
        if not isinstance(spec, dict) or not isinstance(spec.get("members"), list):
            raise ConfigError(f"reminders.teams.{team} in crmnotes.yaml needs members: [...] and urls: [...].")
        routes.append(Route(str(team), tuple(str(m) for m in spec["members"]),
                            _urls(spec.get("urls"), f"reminders.teams.{team}.urls")))
    if raw.get("everyone"):
        routes.append(Route("everyone", (), _urls(raw["everyone"], "reminders.everyone")))
    retries, delay = raw.get("retries", 2), raw.get("retry_delay", 5)
    if not isinstance(retries, int) or retries < 0 or not isinstance(delay, (int, float)) or delay < 0:
        raise ConfigError("reminders.retries and retry_delay in crmnotes.yaml must be numbers of 0 or more.")
    desktop = _urls(raw["desktop"], "reminders.desktop") if raw.get("desktop") else ()
    return Settings(routes, retries, float(delay), desktop)


def _mapping(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"reminders.{key} in crmnotes.yaml must be a mapping of names to URLs.")
    return value


def _urls(value: Any, where: str) -> tuple[str, ...]:
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and "://" in u for u in urls):
        raise ConfigError(f"{where} in crmnotes.yaml must be a list of apprise URLs (e.g. wecombot://KEY).")
    return tuple(urls)


# ------------------------------------------------------------------ the message


def items_for(route: Route, items: list[AgendaItem]) -> list[AgendaItem]:
    if not route.members:
        return items
    members = {fold(m) for m in route.members}
    return [i for i in items if fold(i.who) in members]


def mask_phones(text: str, region: str) -> str:
    return _PHONE_IN_TEXT.sub(lambda m: rules.mask_phone(m.group(0), region), text)


def message(route: Route, items: list[AgendaItem], today: date, config: VaultConfig) -> tuple[str, str]:
    """(title, body) of one route's reminder; phones masked, ID and card numbers redacted."""
    title = f"crmnotes 提醒 {today.isoformat()} · {route.name}"
    lines = []
    for section, heading in (("overdue", "逾期"), ("today", "今天")):
        part = [i for i in items if i.section(today) == section]
        if part:
            lines.append(f"{heading} ({len(part)})")
            lines += [f"- {_line(i, today, config)}" for i in part]
    body = "\n".join(lines) if lines else "今天没有到期的跟进。"
    body = mask_phones(rules.redact(body), config.phone_region)
    if rules.find_sensitive(title + "\n" + body):  # redact missed something: send nothing rather than that
        raise ConfigError("a reminder still held an ID or card number after redaction; it was not sent.")
    return title, body


def _line(item: AgendaItem, today: date, config: VaultConfig) -> str:
    when = item.at.strftime("%H:%M") if item.at and item.day == today else item.when_text()
    what = item.what if item.task else f"[{item.rule}] {item.what}"
    contact = _contact(item.customer, config)
    who = f"@{item.who} " if item.who else ""
    return f"{when} {item.customer.name} {who}{what}{contact}"


def _contact(customer: Customer, config: VaultConfig) -> str:
    person, phone = customer.text("contact"), customer.text("phone")
    shown = rules.mask_phone(phone, config.phone_region) if phone else ""
    joined = " ".join(p for p in (person, shown) if p)
    return f"（{joined}）" if joined else ""


# ------------------------------------------------------------------ sending


def send(url: str, title: str, body: str, retries: int, delay: float) -> tuple[bool, int, str, str]:
    """(ok, attempts, last error, the URL with secrets hidden); never raises."""
    import apprise

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return False, 0, "apprise does not understand this URL", _hidden(url)
    shown = plugin.url(privacy=True)
    error = ""
    for attempt in range(1, retries + 2):
        with apprise.LogCapture(level=apprise.logging.WARNING) as log:
            try:
                ok = bool(plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))
            except Exception as exc:  # a plugin bug must not cost the other routes their reminders
                ok, error = False, f"{type(exc).__name__}: {exc}"
            captured = log.getvalue().strip()
        if ok:
            return True, attempt, "", shown
        error = _last_line(captured) or error or "the service refused the message"
        if attempt <= retries and delay:
            clock.sleep(delay)
    return False, retries + 1, error, shown


def _last_line(log_text: str) -> str:
    lines = [line.split(" - ", 2)[-1] for line in log_text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _hidden(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{'*' * min(len(rest), 8)}"


def remind(vault: Vault, today: date, *, dry_run: bool = False) -> list[tuple[Route, str, str, list[Delivery]]]:
    """Build each route's message and (unless ``dry_run``) send it to each of its URLs."""
    config = vault.config
    setup = settings(config)
    if not setup.routes:
        raise ConfigError("no reminder routes in crmnotes.yaml.",
                          "Add a reminders: section with people, teams or everyone (see the README).")
    if not dry_run:
        _need_apprise()
    items = agenda(catalog.report_customers(vault).customers, config, today, 1)
    results = []
    for route in setup.routes:
        title, body = message(route, items_for(route, items), today, config)
        deliveries = []
        for url in route.urls if not dry_run else ():
            ok, attempts, error, shown = send(url, title, body, setup.retries, setup.retry_delay)
            delivery = Delivery(route.name, shown, ok, attempts, error)
            if not ok:
                delivery.kept = _keep(vault, route, today, title, body)
            deliveries.append(delivery)
        results.append((route, title, body, deliveries))
    return results


def falling_due(customers: list[Customer], config: VaultConfig, after: datetime, until: datetime) -> list[AgendaItem]:
    """Timed tasks whose moment is in (``after``, ``until``]: what a running ``crm watch`` announces."""
    items = agenda(customers, config, until.date(), 1)
    return [i for i in items if i.task is not None and i.at is not None and after < i.moment() <= until]


def announce(vault: Vault, items: list[AgendaItem]) -> list[Delivery]:
    """Each item as a desktop notification to ``reminders.desktop`` (no retries: the moment has passed)."""
    config = vault.config
    urls = settings(config).desktop
    if not urls or not items:
        return []
    _need_apprise()
    found = []
    for item in items:
        title = f"{item.at.strftime('%H:%M') if item.at else ''} {item.customer.name}".strip()
        body = mask_phones(rules.redact(_line(item, item.day, config)), config.phone_region)
        for url in urls:
            ok, attempts, error, shown = send(url, title, body, 0, 0)
            found.append(Delivery("desktop", shown, ok, attempts, error))
    return found


def _need_apprise() -> None:
    try:
        import apprise  # noqa: F401
    except ImportError:
        raise CrmError("sending reminders needs the apprise package.",
                       "Install it with: pip install 'crmnotes[remind]' (or use --dry-run).") from None


def _keep(vault: Vault, route: Route, today: date, title: str, body: str) -> Path:
    """Save an undelivered message so the list is never lost."""
    safe = re.sub(r"[^\w-]+", "_", route.name)
    path = vault.cache_dir / UNSENT_DIR / f"{today.isoformat()}-{safe}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, f"{title}\n\n{body}\n".encode())
    return path
