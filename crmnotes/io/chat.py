"""WeChat / WeCom chat records -> dated ``wechat`` follow-ups, one per conversation day.

Three shapes are read:

* the plain text of a forwarded 聊天记录 (copied out of WeChat): a title
  line ``王磊和张伟的聊天记录``, date lines, then ``sender HH:MM`` (or
  ``sender YYYY-MM-DD HH:MM``) lines each followed by the message;
* the TXT of the common export tools: ``YYYY-MM-DD HH:MM:SS sender`` then
  the message;
* their CSV: a time column (StrTime / CreateTime / 时间), a sender column
  (NickName / Sender / 发送人), a text column (StrContent / 内容), and
  optionally the chat partner (Remark / TalkerId / 备注 / 联系人) and
  IsSender.

Messages keep their placeholders ([图片], [语音]) and line breaks.  The chat
partner is matched to one customer by remark name, contact, a contacts:
person, the customer name or a phone number; a partner that matches none or
several is reported, never guessed.  An entry already in the file (same
first minute, channel wechat) is left alone, so importing twice adds nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .. import note, rules
from ..config import fold
from ..errors import CrmError
from ..model import Customer, FollowUp
from ..vault import Vault

ME_WORDS = {"我", "me", "自己"}
WECHAT = "wechat"
_TITLE = re.compile(r"^(?:与)?(?P<a>.+?)(?:和(?P<b>.+?))?的聊天记录\s*$")
_DAY = re.compile(r"^[—\-=\s]*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?[—\-=\s]*$")
_SENDER_TIME = re.compile(r"^(?P<who>[^\s].*?)\s+(?:(?P<day>\d{4}[-/]\d{1,2}[-/]\d{1,2})\s+)?"
                          r"(?P<hm>\d{1,2}:\d{2})(?::\d{2})?$")
_TIME_SENDER = re.compile(r"^(?P<day>\d{4}[-/]\d{1,2}[-/]\d{1,2})\s+(?P<hm>\d{1,2}:\d{2})(?::\d{2})?\s+(?P<who>.+)$")
_CSV_TIME = ("strtime", "createtime", "时间", "发送时间", "消息时间", "time", "date")
_CSV_SENDER = ("sender", "发送人", "发送者", "发言人", "talker", "nickname")  # the remark name before the nickname
_CSV_TEXT = ("strcontent", "content", "内容", "消息内容", "message", "msg")
_CSV_PARTNER = ("remark", "talkerid", "备注", "备注名", "联系人", "会话", "chat", "conversation")
_CSV_IS_SENDER = ("issender", "是否发送者", "我发送")


@dataclass
class Message:
    at: datetime
    sender: str
    text: str
    partner: str = ""
    mine: bool = False


@dataclass
class ChatReport:
    entries: list[tuple[Customer, FollowUp]] = field(default_factory=list)
    present: int = 0  # conversation days already in the vault
    unmatched: dict[str, int] = field(default_factory=dict)  # partner -> messages
    refused: list[str] = field(default_factory=list)
    written: bool = False


def read_messages(path: Path) -> list[Message]:
    from .tables import decode

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CrmError(f"cannot read {path}: {exc.strerror}.", "Check the path.") from None
    text, _ = decode(data, path.name)
    if path.suffix.lower() == ".csv":
        return _csv_messages(text, path.name)
    return _text_messages(text)


def _text_messages(text: str) -> list[Message]:
    messages: list[Message] = []
    partner, day = "", None
    for raw in text.splitlines():
        line = note.clean_text(raw).rstrip()
        stripped = line.strip()
        title = _TITLE.match(stripped) if not messages and not partner else None
        if title:
            partner = title.group("a") if title.group("b") is None else ""  # "A和B": the sender who is not me
            continue
        found_day = _DAY.match(stripped)
        if found_day:
            day = date(*(int(g) for g in found_day.groups()))
            continue
        head = _TIME_SENDER.match(stripped) or _SENDER_TIME.match(stripped)
        when = _when(head, day) if head else None
        if head and when is not None:
            messages.append(Message(when, head.group("who").strip().rstrip(":："), "", partner))
            continue
        if messages and (stripped or messages[-1].text):
            messages[-1].text = f"{messages[-1].text}\n{stripped}" if messages[-1].text else stripped
    for message in messages:
        message.text = message.text.strip()
    return [m for m in messages if m.text]


def _when(head: re.Match[str], day: date | None) -> datetime | None:
    hour, minute = (int(x) for x in head.group("hm").split(":"))
    if head.group("day"):
        y, m, d = (int(x) for x in re.split(r"[-/]", head.group("day")))
        day = date(y, m, d)
    if day is None or hour > 23 or minute > 59:
        return None
    return datetime(day.year, day.month, day.day, hour, minute)


def _csv_messages(text: str, name: str) -> list[Message]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise CrmError(f"{name} is empty.", "Export the chat again.")
    headers = [fold(h) for h in rows[0]]

    def column(names: tuple[str, ...]) -> int | None:
        return next((headers.index(n) for n in names if n in headers), None)

    when_at, sender_at, text_at = column(_CSV_TIME), column(_CSV_SENDER), column(_CSV_TEXT)
    partner_at, mine_at = column(_CSV_PARTNER), column(_CSV_IS_SENDER)
    if when_at is None or text_at is None:
        raise CrmError(f"{name} has no time and message columns (columns: {', '.join(rows[0])}).",
                       "Export the chat as CSV with StrTime/时间 and StrContent/内容 columns.")
    from .importer import parse_date_text

    messages = []
    for cells in rows[1:]:
        def cell(index: int | None, cells: list[str] = cells) -> str:
            return note.clean_text(cells[index]).strip() if index is not None and index < len(cells) else ""

        when = parse_date_text(cell(when_at))
        if when is None or not cell(text_at):
            continue
        mine = cell(mine_at) in ("1", "true", "True", "是")
        messages.append(Message(when, cell(sender_at), cell(text_at), cell(partner_at), mine))
    return messages


def plan_chat(vault: Vault, messages: list[Message], *, me: str, customer: Customer | None = None) -> ChatReport:
    """One entry per customer and conversation day; nothing is written."""
    report = ChatReport()
    customers = vault.scan().customers
    groups: dict[tuple[str, date], list[Message]] = {}
    mine_names = {fold(w) for w in ME_WORDS} | ({fold(me)} if me else set())
    for message in messages:
        message.mine = message.mine or fold(message.sender) in mine_names
    # in a text export my messages name no partner: they belong to the person I talk with
    other = next((m.partner or m.sender for m in messages if not m.mine), "")
    for message in messages:
        partner = message.partner or (other if message.mine else message.sender)
        groups.setdefault((partner, message.at.date()), []).append(message)
    resolved: dict[str, Customer | None] = {}
    for (partner, _), day_messages in sorted(groups.items(), key=lambda item: item[1][0].at):
        target = customer
        if target is None:
            if partner not in resolved:
                resolved[partner] = match_partner(partner, customers)
            target = resolved[partner]
        if target is None:
            report.unmatched[partner or "(no name)"] = report.unmatched.get(partner or "(no name)", 0) + \
                len(day_messages)
            continue
        followup = day_entry(day_messages, me or target.owner)
        if rules.find_sensitive(followup.note):
            report.refused.append(f"{target.name} {followup.at.date().isoformat()}: an ID or bank card number "
                                  "in the chat (not imported; remove it from the export)")
        elif any(e.channel == WECHAT and e.at == followup.at for e in target.followups):
            report.present += 1
        else:
            report.entries.append((target, followup))
    return report


def match_partner(partner: str, customers: list[Customer]) -> Customer | None:
    """The one customer a chat partner's remark name points to (contact, contacts: person, name, phone)."""
    from ..contacts import contact_list

    key = fold(partner)
    if not key:
        return None
    digits = re.sub(r"\D", "", partner)

    def tests(c: Customer) -> list[bool]:
        people = [fold(str(p.get("name") or "")) for p in contact_list(c.meta.get("contacts"))]
        phones = [re.sub(r"\D", "", str(p)) for p in [c.text("phone"), *(q.get("phone") for q in
                                                                          contact_list(c.meta.get("contacts")))]]
        return [
            key == fold(c.text("contact")) or key in people or key == fold(c.name),
            len(digits) >= 7 and any(p.endswith(digits[-11:]) for p in phones if p),
            (bool(c.name) and fold(c.name) in key)
            or any(n in key for n in [fold(c.text("contact")), *people] if len(n) >= 2),
        ]

    for rule in range(3):  # the strongest rule that picks exactly one customer
        found = [c for c in customers if tests(c)[rule]]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            return None
    return None


def day_entry(messages: list[Message], me: str) -> FollowUp:
    """The messages of one day as one follow-up: each line 'HH:MM sender: text'."""
    lines = []
    for message in messages:
        who = me or "我" if message.mine else message.sender or "对方"
        text = message.text.replace("\n", "\n  ")
        lines.append(f"{message.at:%H:%M} {who}：{text}")
    return FollowUp(at=messages[0].at, channel=WECHAT, by=me, note="\n".join(lines))


def write_chat(vault: Vault, report: ChatReport) -> None:
    channels = vault.config.channels

    def add(doc: note.Document, followup: FollowUp) -> str:
        if any(channels.canonical(e.channel) == WECHAT and e.at == followup.at for e in doc.followups):
            return doc.text  # written by another process meanwhile
        return note.insert_followup(doc, followup)

    for customer, followup in report.entries:
        vault.update(customer.path, lambda doc, f=followup: add(doc, f))  # type: ignore[misc]  # mypy cannot type a lambda whose default binds the loop's value
    report.written = True
