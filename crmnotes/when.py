"""Dates the way people say them: one parser for the CLI, the forms and the files.

``parse_when_text("明天 下午3点", today)`` gives a ``When`` (a day and maybe a
time); ``leading_when("12月5日 下午3点 @李娜 发送报价", today)`` reads the date
at the start of a next step and hands back the rest.  Relative forms count from
``today`` (in a file: the entry's own day).  A month and day without a year is
the next such day on or after ``today``.  Month names ("Dec 5", "5 December
2026") are English whatever the locale.  The forms files hold (``2026-12-05 15:00``, ``2026/12/05``) are read
by ``model.parse_when``, the files' own parser, so a typed date and a stored one
agree; dates outside ``model``'s one range are refused with its sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .errors import CrmError
from .model import MAX_YEAR, MIN_YEAR, date_issue, parse_when

ACCEPTED_FORMS = ("2026-12-05, 2026/12/05, 2026.12.5, 2026年12月5日, 12月5日, 12-05, Dec 5, today, tomorrow, "
                  "+3d, +2w, in 3 days, next monday, friday, end of month, 今天, 明天, 后天, 3天后, 2周后, "
                  "下周一, 周五, 月底; optionally followed by a time: 15:00, 3pm, 下午3点, 上午9点半")


class DateTextError(CrmError):
    """A date the parser could not read: ``model.date_issue``'s sentence, and the accepted forms."""

    def __init__(self, text: str) -> None:
        super().__init__(f"{date_issue(text, 'a form listed next')}.", f"Write one of: {ACCEPTED_FORMS}.")


@dataclass(frozen=True)
class When:
    """A day and, when one was said, a time of day."""

    day: date
    at: time | None = None

    def text(self) -> str:
        """The canonical form written back to files: ``2026-12-05`` or ``2026-12-05 15:00``."""
        return f"{self.day.isoformat()} {self.at.strftime('%H:%M')}" if self.at else self.day.isoformat()

    def moment(self) -> datetime:
        return datetime.combine(self.day, self.at or time())


# full names only: "sat down with the CFO" or "mon..." must not read as a day
_WEEKDAYS_EN = {name: i for i, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10}
_OFFSET_WORDS = {"today": 0, "tomorrow": 1, "yesterday": -1, "day after tomorrow": 2, "今天": 0, "今日": 0,
                 "明天": 1, "明日": 1, "后天": 2, "大后天": 3, "昨天": -1, "前天": -2}
_END = r"(?=$|[\s,，:：;；@(（]|[上下中早晚]|\d)"  # "+3d" ends at a separator or where a time starts


def _number(text: str) -> int:
    """An Arabic or small Chinese number (一..九十九)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_ZH_DIGITS[tens] if tens else 1) * 10 + (_ZH_DIGITS[ones] if ones else 0)
    return _ZH_DIGITS[text]


def _bounded(year: int, month: int, day: int) -> date | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_month_day(month: int, day: int, today: date) -> date | None:
    """The next ``month``/``day`` on or after ``today`` (29 Feb: the next leap year's)."""
    for year in range(today.year, today.year + 9):
        found = _bounded(year, month, day)
        if found is not None and found >= today:
            return found
    return None


def _weekday_on_or_after(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def _month_end(day: date, months_ahead: int = 0) -> date:
    month0 = day.month - 1 + months_ahead
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)  # the day before the next month's 1st


_Reader = Callable[[re.Match[str], date], "date | None"]
_NUM = r"(\d{1,3}|[一二两三四五六七八九十]{1,3})"
# (pattern, flags, reader), tried in order with ``re.match``, which compiles a pattern when it is first
# tried and keeps it: a file's dates are ISO days and match the first, the spoken forms are for typing.
_DAY_READERS: list[tuple[str, int, _Reader]] = [
    (r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?", 0,
     lambda m, t: _bounded(int(m[1]), int(m[2]), int(m[3]))),
    (r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", 0, lambda m, t: _next_month_day(int(m[1]), int(m[2]), t)),
    (r"(\d{1,2})[-/](\d{1,2})(?![-/\d])", 0, lambda m, t: _next_month_day(int(m[1]), int(m[2]), t)),
    (r"(day after tomorrow|today|tomorrow|yesterday|大后天|今天|今日|明天|明日|后天|昨天|前天)(?![A-Za-z'’])", re.I,
     lambda m, t: t + timedelta(days=_OFFSET_WORDS[m[1].lower()])),
    (r"\+\s*(\d{1,4})\s*([dw])" + _END, re.I,
     lambda m, t: t + timedelta(days=int(m[1]) * (7 if m[2].lower() == "w" else 1))),
    (r"in\s+(\d{1,4})\s+(day|week)s?\b", re.I,
     lambda m, t: t + timedelta(days=int(m[1]) * (7 if m[2].lower() == "week" else 1))),
    (_NUM + r"\s*(天|日|周|星期|个?礼拜)[以之]?后", 0,
     lambda m, t: t + timedelta(days=_number(m[1]) * (1 if m[2] in "天日" else 7))),
    (r"next\s+(" + "|".join(sorted(_WEEKDAYS_EN, key=len, reverse=True)) + r")\b", re.I,
     lambda m, t: _weekday_on_or_after(t + timedelta(days=7 - t.weekday()), _WEEKDAYS_EN[m[1].lower()])),
    (r"(?:this\s+)?(" + "|".join(sorted(_WEEKDAYS_EN, key=len, reverse=True)) + r")\b", re.I,
     lambda m, t: _weekday_on_or_after(t, _WEEKDAYS_EN[m[1].lower()])),
    (r"(下下|下个?|本|这个?)?(?:周|星期|礼拜)([一二三四五六日天七])", 0, lambda m, t: _zh_weekday(m, t)),
    (r"(?:end of (?:the )?month|eom|本?月底|月末)", re.I, lambda m, t: _month_end(t)),
    (r"下个?月(?:底|末)", 0, lambda m, t: _month_end(t, 1)),
]


def _zh_weekday(found: re.Match[str], today: date) -> date:
    weekday = _WEEKDAYS_ZH[found[2]]
    which = found[1] or ""
    if which.startswith("下下"):
        return today - timedelta(days=today.weekday()) + timedelta(days=14 + weekday)
    if which.startswith("下"):
        return today - timedelta(days=today.weekday()) + timedelta(days=7 + weekday)
    if which:  # 本周五 / 这周五: this calendar week's
        return today - timedelta(days=today.weekday()) + timedelta(days=weekday)
    return _weekday_on_or_after(today, weekday)


_CLOCK = re.compile(r"(?:T|\s*)(\d{1,2})\s*[:：]\s*(\d{2})(?::\d{2})?\s*(am|pm)?", re.I)
_AMPM = re.compile(r"\s*(\d{1,2})\s*(am|pm)\b", re.I)
_ZH_TIME = re.compile(r"\s*(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上)?\s*(\d{1,2}|[一二两三四五六七八九十]{1,3})"
                      r"\s*[点點时]\s*(半|一刻|三刻|(\d{1,2})\s*分?)?")
_AFTERNOON = ("下午", "傍晚", "晚上")


def _read_time(text: str) -> tuple[time, int] | None:
    """A time of day at the start of ``text`` and how many characters it took."""
    for pattern in (_CLOCK, _AMPM, _ZH_TIME):
        found = pattern.match(text)
        if found is None:
            continue
        if pattern is _ZH_TIME:
            hour = _number(found[2])
            extra = found[3] or ""
            minute = 30 if extra == "半" else 15 if extra == "一刻" else 45 if extra == "三刻" else int(found[4] or 0)
            if (found[1] in _AFTERNOON and hour < 12) or (found[1] == "中午" and hour < 6):
                hour += 12
        else:
            hour, minute = int(found[1]), int(found[2]) if pattern is _CLOCK else 0
            suffix = (found[3] if pattern is _CLOCK else found[2]) or ""
            if suffix.lower() == "pm" and hour < 12:
                hour += 12
            elif suffix.lower() == "am" and hour == 12:
                hour = 0
        if hour < 24 and minute < 60:
            return time(hour, minute), found.end()
    return None


def _read_day(text: str, today: date) -> tuple[date, int] | None:
    for pattern, flags, reader in _DAY_READERS:
        found = re.match(pattern, text, flags)
        if found is not None:
            day = reader(found, today)
            return (day, found.end()) if day is not None else None
    return _read_month_name(text, today)


_MONTHS = {word: number for number, words in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for word in words}  # English whatever the locale (not calendar.month_name)
_MONTH_NAME = r"(?:(\d{1,2})\s+)?([a-z]+)\.?(?:\s+(\d{1,2})(?:st|nd|rd|th)?\b)?(?:,?\s+(\d{4})\b)?"  # as a day reader


def _read_month_name(text: str, today: date) -> tuple[date, int] | None:
    """``Dec 5``, ``5 December 2026``, ``December 5, 2026``, ``Dec 2026`` (its 1st).  Without a year: the
    next such day on or after ``today``, as ``12月5日``."""
    found = re.match(_MONTH_NAME, text, re.I)
    if found is None or found[2].lower() not in _MONTHS or not (found[1] or found[3] or found[4]):
        return None
    month, day = _MONTHS[found[2].lower()], int(found[1] or found[3] or 1)
    parsed = _bounded(int(found[4]), month, day) if found[4] else _next_month_day(month, day, today)
    return (parsed, found.end()) if parsed is not None else None


def leading_when(text: str, today: date) -> tuple[When, str] | None:
    """The date (and time) at the start of ``text``, and the rest; None when it does not start with one.

    A time alone (``下午3点``, ``15:00``) is today's."""
    stripped = text.lstrip()
    found = _read_day(stripped, today)
    day, used = found if found else (today, 0)
    rest = stripped[used:]
    clock = _read_time(rest)
    if clock is not None and found is None and not _looks_like_time_alone(rest[:clock[1]]):
        clock = None
    if found is None and clock is None:
        return None
    at = None
    if clock is not None:
        at, taken = clock
        rest = rest[taken:]
    return When(day, at), rest.lstrip(" \t:：,，;；-—")


def _looks_like_time_alone(text: str) -> bool:
    """A leading bare number is not a time; ``15:00``, ``3pm`` and ``下午3点`` are."""
    return bool(re.search(r"[:：点點时]|am|pm", text, re.I))


def parse_when_text(text: str, today: date) -> When:
    """The whole of ``text`` as a date (and time), or ``DateTextError`` listing the accepted forms.

    The front door for dates people type (CLI options, forms): what a file accepts, then the spoken forms."""
    typed = parse_when(text)
    if typed is not None:  # a file's form: its time always has a colon
        return When(typed.date(), typed.time() if any(c in text for c in ":：") else None)
    found = leading_when(text, today)
    if found is None or found[1].strip():
        raise DateTextError(text.strip())
    return found[0]


def parse_day_text(text: str, today: date) -> date:
    """Like ``parse_when_text`` for fields that hold a day only."""
    return parse_when_text(text, today).day


_ASSIGNEE = re.compile(r"(?:^|(?<=\s))@([^\s@,，;；:：]+)")


@dataclass(frozen=True)
class StepText:
    """A next step as written: ``<when> [@who] what``."""

    when: When
    who: str
    what: str


def parse_step(text: str, today: date) -> StepText | None:
    """``12月5日 下午3点 @李娜 发送报价`` read against ``today``; None when it does not start with a date."""
    found = leading_when(text, today)
    if found is None:
        return None
    when, rest = found
    who = ""
    assignee = _ASSIGNEE.search(rest)
    if assignee is not None:
        who = assignee[1]
        rest = (rest[: assignee.start()] + rest[assignee.end():]).strip()
    return StepText(when, who, re.sub(r"\s{2,}", " ", rest).strip())
