"""Dates the way people say them: every accepted form against a fixed today, in files and the CLI."""

from __future__ import annotations

from datetime import date, time

import pytest

from crmnotes import note
from crmnotes.when import DateTextError, When, leading_when, parse_step, parse_when_text

TODAY = date(2026, 12, 2)  # a Wednesday

FORMS = [
    ("today", When(date(2026, 12, 2))),
    ("tomorrow", When(date(2026, 12, 3))),
    ("Tomorrow 15:00", When(date(2026, 12, 3), time(15, 0))),
    ("day after tomorrow", When(date(2026, 12, 4))),
    ("+3d", When(date(2026, 12, 5))),
    ("+2w", When(date(2026, 12, 16))),
    ("in 3 days", When(date(2026, 12, 5))),
    ("next monday", When(date(2026, 12, 7))),
    ("next wednesday", When(date(2026, 12, 9))),
    ("friday 9:30", When(date(2026, 12, 4), time(9, 30))),
    ("Dec 5", When(date(2026, 12, 5))),
    ("5 December 2027 3pm", When(date(2027, 12, 5), time(15, 0))),
    ("Sept. 3, 2027", When(date(2027, 9, 3))),
    ("december 1st", When(date(2027, 12, 1))),  # a month and day already past: next year's
    ("Feb 29", When(date(2028, 2, 29))),  # as 2月29日: the next leap year's
    ("Dec 2027", When(date(2027, 12, 1))),
    ("end of month", When(date(2026, 12, 31))),
    ("明天", When(date(2026, 12, 3))),
    ("后天", When(date(2026, 12, 4))),
    ("大后天", When(date(2026, 12, 5))),
    ("下周一", When(date(2026, 12, 7))),
    ("下星期五", When(date(2026, 12, 11))),
    ("周五", When(date(2026, 12, 4))),
    ("本周一", When(date(2026, 11, 30))),
    ("3天后", When(date(2026, 12, 5))),
    ("三天后", When(date(2026, 12, 5))),
    ("2周后", When(date(2026, 12, 16))),
    ("月底", When(date(2026, 12, 31))),
    ("下月底", When(date(2027, 1, 31))),
    ("12月5日", When(date(2026, 12, 5))),
    ("1月5日", When(date(2027, 1, 5))),  # a month and day already past: next year's
    ("2026/12/05", When(date(2026, 12, 5))),
    ("2026年12月5日", When(date(2026, 12, 5))),
    ("2026-12-05 15:00", When(date(2026, 12, 5), time(15, 0))),
    ("12-05 15:00", When(date(2026, 12, 5), time(15, 0))),
    ("下午3点", When(date(2026, 12, 2), time(15, 0))),
    ("明天下午3点半", When(date(2026, 12, 3), time(15, 30))),
    ("后天上午9点15分", When(date(2026, 12, 4), time(9, 15))),
    ("12月5日 晚上8点", When(date(2026, 12, 5), time(20, 0))),
]


@pytest.mark.parametrize(("text", "expected"), FORMS, ids=[f[0] for f in FORMS])
def test_every_accepted_form_against_a_fixed_today(text: str, expected: When) -> None:
    assert parse_when_text(text, TODAY) == expected


@pytest.mark.parametrize("text", ["", "下辈子", "2026-13-01", "3099-01-01", "1899-12-31", "2月30日", "25:00",
                                  "tomorrow and more", "Feb 30", "Marc 5", "jan 32", "Jun 1, 1899"])
def test_unreadable_dates_fail_listing_the_accepted_forms(text: str) -> None:
    with pytest.raises(DateTextError) as raised:
        parse_when_text(text, TODAY)
    assert "明天" in raised.value.hint and "next monday" in raised.value.hint and "下午3点" in raised.value.hint


def test_a_next_step_splits_into_when_who_and_what() -> None:
    step = parse_step("12月5日 下午3点 @李娜 发送报价", TODAY)
    assert step is not None
    assert (step.when, step.who, step.what) == (When(date(2026, 12, 5), time(15, 0)), "李娜", "发送报价")
    step = parse_step("tomorrow 15:00 call back about the quote", TODAY)
    assert step and step.when == When(date(2026, 12, 3), time(15)) and step.who == "" and step.what.startswith("call")
    # a plain leading number is not a time, an e-mail is not an assignee
    assert leading_when("3 个方案", TODAY) is None
    step = parse_step("明天 发邮件给 li@example.com", TODAY)
    assert step and step.who == "" and step.what == "发邮件给 li@example.com"


def test_files_read_next_steps_relative_to_the_entrys_own_day() -> None:
    text = ("---\nname: 星辰科技\n---\n\n### 2026-11-20 14:30 · 电话 · 张伟\n沟通报价。\n"
            "下一步：12月5日 下午3点 @李娜 发送报价\n\n"
            "### 2026-11-27 10:00 · 微信 · 李娜\n已发资料。\nnext: tomorrow 15:00 回访确认\n")
    first, second = note.parse(text).followups
    assert (first.next_date, first.next_at, first.next_who, first.next_what) == (
        date(2026, 12, 5), time(15, 0), "李娜", "发送报价")
    assert (second.next_date, second.next_at, second.next_what) == (date(2026, 11, 28), time(15, 0), "回访确认")
    assert first.next_text == "2026-12-05 15:00 @李娜 发送报价"
    assert first.to_json()["next_who"] == "李娜" and first.to_json()["next_time"] == "15:00"


def test_cli_next_step_with_time_and_assignee_is_written_canonically(crm_empty) -> None:
    crm_empty("add", "星辰科技", "--industry", "internet", "--contact", "王经理", "--phone", "13800138000")
    crm_empty("log", "星辰", "--note", "电话沟通报价", "--next", "2026-12-05 15:00 @李娜 发送报价")
    shown = crm_empty("show", "星辰", "--json").json()
    entry = shown["followups"][-1]
    assert (entry["next_date"], entry["next_time"], entry["next_who"]) == ("2026-12-05", "15:00", "李娜")
    assert entry["next"] == "2026-12-05 15:00 @李娜 发送报价"
    failed = crm_empty("log", "星辰", "--note", "x", "--next", "改天再说", ok=False)
    assert "明天" in failed.stderr and "Traceback" not in failed.stderr


def test_words_that_only_start_like_a_date_are_not_dates() -> None:
    assert leading_when("sat down with the CFO", TODAY) is None
    assert leading_when("Today's recap", TODAY) is None
    assert leading_when("todo: call", TODAY) is None
    step = parse_step("monday call back", TODAY)
    assert step and step.when.day == date(2026, 12, 7) and step.what == "call back"
