"""The calendar feed: VEVENTs at the task's time (all-day without one), VALARMs, stable UIDs, masked phones;
parsed back with icalendar and imported into khal."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from crmnotes import actions, tasks
from crmnotes.io import exporter
from crmnotes.vault import Vault

TODAY = date(2026, 12, 2)
NOW = datetime(2026, 12, 2, 9, 0)
KHAL = Path(sys.executable).parent / "khal"


def planned_vault(tmp_path: Path) -> Vault:
    vault = Vault(actions.create_vault(tmp_path / "vault", example=True, today=TODAY))
    for ref, step in (("星辰", "12月5日 下午3点 @李娜 发送报价"), ("绿洲", "2026-12-04 @王五 回访确认")):
        entry = actions.LogEntry(note="电话沟通", at=NOW, by="张伟", next=step)
        actions.log_followup(vault, vault.resolve(ref), entry, now=NOW)
    return vault


def feed(vault: Vault) -> bytes:
    return exporter.to_icalendar(vault, vault.scan().customers, TODAY, TODAY + timedelta(days=13))


def test_events_at_the_tasks_time_with_alarms_and_masked_phones(tmp_path: Path) -> None:
    import icalendar

    vault = planned_vault(tmp_path)
    data = feed(vault)
    events = list(icalendar.Calendar.from_ical(data).walk("VEVENT"))
    quote = next(e for e in events if "发送报价" in str(e["SUMMARY"]))
    assert quote["DTSTART"].dt == datetime(2026, 12, 5, 15, 0) and quote["DTEND"].dt == datetime(2026, 12, 5, 15, 30)
    assert str(quote["SUMMARY"]) == "@李娜 发送报价 · 星辰科技有限公司" and "138****8000" in str(quote["DESCRIPTION"])
    (alarm,) = quote.walk("VALARM")
    assert alarm["ACTION"] == "DISPLAY" and alarm["TRIGGER"].dt == -timedelta(minutes=15)
    visit = next(e for e in events if "回访确认" in str(e["SUMMARY"]))
    assert visit["DTSTART"].dt == date(2026, 12, 4) and visit["DTEND"].dt == date(2026, 12, 5)  # all-day
    assert next(iter(visit.walk("VALARM")))["TRIGGER"].dt == timedelta(hours=9)
    assert b"13800138000" not in data
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_uids_stay_when_a_step_is_snoozed_or_reassigned(tmp_path: Path) -> None:
    import icalendar

    vault = planned_vault(tmp_path)
    before = {str(e["SUMMARY"]).split(" · ")[0]: str(e["UID"])
              for e in icalendar.Calendar.from_ical(feed(vault)).walk("VEVENT")}
    star = vault.resolve("星辰")
    tasks.replan_task(vault, star, when=datetime(2026, 12, 8, 10, 0), has_time=True, assignee="赵六", by="张伟",
                      now=NOW)
    after = {str(e["SUMMARY"]).split(" · ")[0]: (str(e["UID"]), e["DTSTART"].dt)
             for e in icalendar.Calendar.from_ical(feed(vault)).walk("VEVENT")}
    assert after["@赵六 发送报价"] == (before["@李娜 发送报价"], datetime(2026, 12, 8, 10, 0))


def test_crm_calendar_writes_the_feed(crm, tmp_path: Path) -> None:
    out = tmp_path / "feed.ics"
    result = crm("calendar", "-o", str(out), "--days", "30")
    assert out.read_bytes().startswith(b"BEGIN:VCALENDAR\r\n") and "event(s)" in result.stdout
    assert crm("calendar").exit_code == 0 and (crm.root / ".crmnotes" / "calendar.ics").is_file()


@pytest.mark.skipif(not KHAL.exists(), reason="khal is in the dev extras; not installed here")
def test_khal_imports_the_feed_and_a_reimport_updates(tmp_path: Path) -> None:
    vault = planned_vault(tmp_path)
    ics = tmp_path / "crm.ics"
    ics.write_bytes(feed(vault))
    calendar_dir = tmp_path / "khal" / "crm"
    calendar_dir.mkdir(parents=True)
    config = tmp_path / "khal" / "config"
    config.write_text(f"""[calendars]
[[crm]]
path = {calendar_dir}
type = calendar
[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
default_timezone = Asia/Shanghai
local_timezone = Asia/Shanghai
[sqlite]
path = {tmp_path / 'khal' / 'khal.db'}
""", encoding="utf-8")

    def khal(*args: str) -> str:
        done = subprocess.run([str(KHAL), "-c", str(config), *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    khal("import", "--batch", "-a", "crm", str(ics))
    listed = khal("list", "2026-11-01", "60d")
    assert "15:00-15:30 @李娜 发送报价 · 星辰科技有限公司" in listed and "@王五 回访确认" in listed
    assert "138****8000" in listed
    khal("import", "--batch", "-a", "crm", str(ics))  # the same UIDs: updated, not doubled
    assert khal("list", "2026-11-01", "60d").count("发送报价 · 星辰") == 1
    assert len(list(calendar_dir.glob("*.ics"))) == ics.read_bytes().count(b"BEGIN:VEVENT")


def test_the_feed_is_refreshed_only_once_made(tmp_path: Path) -> None:
    import icalendar

    vault = planned_vault(tmp_path)
    assert exporter.refresh_feed(vault, TODAY) is None and not (vault.cache_dir / exporter.FEED_NAME).exists()
    target, count = exporter.write_feed(vault, vault.scan().customers, TODAY)
    assert count > 0
    entry = actions.LogEntry(note="电话沟通", at=NOW, by="张伟", next="12月9日 上午10点 @李娜 签合同")
    actions.log_followup(vault, vault.resolve("星辰"), entry, now=NOW)
    assert exporter.refresh_feed(vault, TODAY) == target
    summaries = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(target.read_bytes()).walk("VEVENT")]
    assert "@李娜 签合同 · 星辰科技有限公司" in summaries
