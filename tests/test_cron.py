"""Cron schedules mean what crontab(5) means: weekday 0 and 7 are Sunday, names mon–sun and
jan–dec, ranges, lists and steps; day-of-month and weekday both restricted means either. Every
value is range-checked when the config loads, and a schedule that can never fire is an error.
The times are those the scheduler's own triggers give (``scheduler.trigger_of``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndicator import config
from syndicator.config import Source
from syndicator.errors import ConfigError
from syndicator.scheduler import trigger_of

REPO = Path(__file__).resolve().parents[1]
START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday


def fires(cron: str, timezone: str | None = None, count: int = 4) -> list[str]:
    """The next ``count`` fire times after START, in UTC, as "MM-DD HH:MM ddd"."""
    trigger = trigger_of(
        Source(id="s", kind="rss", url="http://x/", every=None, cron=cron, timezone=timezone)
    )
    out: list[str] = []
    previous, now = None, START
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        assert nxt is not None
        at = nxt.astimezone(UTC)
        out.append(at.strftime("%Y-%m-%d %H:%M %a"))
        previous, now = nxt, at + timedelta(seconds=1)
    return out


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        # weekday 1 is Monday (APScheduler's from_crontab took it for Tuesday)
        ("0 9 * * 1", ["2026-12-07 09:00 Mon", "2026-12-14 09:00 Mon"]),
        ("0 9 * * mon", ["2026-12-07 09:00 Mon", "2026-12-14 09:00 Mon"]),
        ("0 9 * * MON", ["2026-12-07 09:00 Mon", "2026-12-14 09:00 Mon"]),
        # 0 and 7 are both Sunday
        ("0 12 * * 0", ["2026-12-06 12:00 Sun", "2026-12-13 12:00 Sun"]),
        ("0 12 * * 7", ["2026-12-06 12:00 Sun", "2026-12-13 12:00 Sun"]),
        ("0 12 * * sun", ["2026-12-06 12:00 Sun", "2026-12-13 12:00 Sun"]),
        ("* * * * 0", ["2026-12-06 00:00 Sun", "2026-12-06 00:01 Sun"]),
        # ranges, lists and steps of weekdays
        ("0 12 * * 1-5", ["2026-12-02 12:00 Wed", "2026-12-03 12:00 Thu", "2026-12-04 12:00 Fri"]),
        ("0 12 * * mon-fri", ["2026-12-02 12:00 Wed", "2026-12-03 12:00 Thu"]),
        (
            "0 8 * * sat,sun",
            ["2026-12-05 08:00 Sat", "2026-12-06 08:00 Sun", "2026-12-12 08:00 Sat"],
        ),
        ("0 8 * * 5-7", ["2026-12-04 08:00 Fri", "2026-12-05 08:00 Sat", "2026-12-06 08:00 Sun"]),
        (
            "0 8 * * 0-6/2",
            [
                "2026-12-03 08:00 Thu",
                "2026-12-05 08:00 Sat",
                "2026-12-06 08:00 Sun",
                "2026-12-08 08:00 Tue",
            ],
        ),
        ("0 8 * * */2", ["2026-12-03 08:00 Thu", "2026-12-05 08:00 Sat", "2026-12-06 08:00 Sun"]),
        # day of month and weekday both restricted: either one
        (
            "0 0 13 * fri",
            [
                "2026-12-04 00:00 Fri",
                "2026-12-11 00:00 Fri",
                "2026-12-13 00:00 Sun",
                "2026-12-18 00:00 Fri",
            ],
        ),
        (
            "0 0 1-5 * mon",
            [
                "2026-12-03 00:00 Thu",
                "2026-12-04 00:00 Fri",
                "2026-12-05 00:00 Sat",
                "2026-12-07 00:00 Mon",
                "2026-12-14 00:00 Mon",
            ],
        ),
        # a field that starts with * is not a restriction (as cron reads it): both apply
        ("0 0 */10 * mon", ["2026-12-21 00:00 Mon", "2027-01-11 00:00 Mon"]),
        ("0 0 13 * *", ["2026-12-13 00:00 Sun", "2027-01-13 00:00 Wed"]),
        # months by number and name, hours by step
        ("30 2 * jan-mar *", ["2027-01-01 02:30 Fri", "2027-01-02 02:30 Sat"]),
        ("30 2 1 2,3 *", ["2027-02-01 02:30 Mon", "2027-03-01 02:30 Mon", "2028-02-01 02:30 Tue"]),
        ("15 */6 * * *", ["2026-12-02 12:15 Wed", "2026-12-02 18:15 Wed", "2026-12-03 00:15 Thu"]),
        (
            "5-59/20 10 * * *",
            ["2026-12-02 10:05 Wed", "2026-12-02 10:25 Wed", "2026-12-02 10:45 Wed"],
        ),
        ("0 0 29 2 *", ["2028-02-29 00:00 Tue", "2032-02-29 00:00 Sun"]),
    ],
)
def test_crontab_semantics(cron: str, expected: list[str]) -> None:
    assert fires(cron, count=len(expected)) == expected


def test_cron_runs_in_the_source_timezone() -> None:
    # 09:00 in Beirut (UTC+2 in winter) on Mondays
    assert fires("0 9 * * 1", "Asia/Beirut", 2) == ["2026-12-07 07:00 Mon", "2026-12-14 07:00 Mon"]
    assert fires("0 9 * * 1", "America/New_York", 1) == ["2026-12-07 14:00 Mon"]


def test_a_day_that_clocks_skip_still_runs_once() -> None:
    """02:30 does not exist in New York on 2027-03-14: that day's run comes at 03:00 or after,
    once; the days around run at 02:30 local time."""
    trigger = trigger_of(
        Source(
            id="s",
            kind="rss",
            url="http://x/",
            every=None,
            cron="30 2 * * *",
            timezone="America/New_York",
        )
    )
    ny = ZoneInfo("America/New_York")
    runs, previous, now = [], None, datetime(2027, 3, 13, 12, tzinfo=UTC)
    for _ in range(3):
        nxt = trigger.get_next_fire_time(previous, now)
        assert nxt is not None
        runs.append(nxt.astimezone(UTC).astimezone(ny))
        previous, now = nxt, nxt.astimezone(UTC) + timedelta(seconds=1)
    assert [r.day for r in runs] == [14, 15, 16]
    assert (runs[1].hour, runs[1].minute) == (2, 30) and runs[0].hour == 3


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 25 * * *", "hour 25 is out of range: hours are 0–23"),
        ("61 * * * *", "minute 61 is out of range: minutes are 0–59"),
        ("*/0 * * * *", "step 0"),
        (
            "* * * * 8",
            "weekday 8 is out of range: weekdays are 0–7 (0 and 7 are Sunday) or sun–sat",
        ),
        ("0 0 0 * *", "day of month 0 is out of range: days of month are 1–31"),
        ("0 0 * 13 *", "month 13 is out of range: months are 1–12 or jan–dec"),
        ("0 0 * * 1-8", "weekday 8 is out of range"),
        ("5-1 * * * *", "range 5-1 runs backwards"),
        ("0 0 * * funday", "'funday' is not a weekday"),
        ("0 0 * mon *", "'mon' is not a month"),
        ("0 0 L * *", "'L' is not a day of month"),
        ("0 0 * * 1#2", "'1#2' is not crontab syntax"),
        ("0 9 * * 1-", "'1-' is not crontab syntax"),
        ("* * * * * *", "5 fields"),
        ("0 0 31 2 *", "can never run: no month among 2 has a day 31"),
        ("0 0 30,31 2 *", "can never run"),
        ("0 0 31 4,6,9,11 *", "can never run"),
    ],
)
def test_bad_crons_are_config_errors_naming_file_key_and_range(
    tmp_path: Path, cron: str, words: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        f'[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\ncron = "{cron}"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    message = str(info.value)
    assert str(path) in message and "source 'x'.cron" in message
    assert words in message, message


@pytest.mark.parametrize("cron", ["0 0 31 1,2 *", "0 0 31 2 fri", "0 0 30 * *", "@hourly"])
def test_crons_that_can_fire_are_accepted(tmp_path: Path, cron: str) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(
        f'[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\ncron = "{cron}"\n',
        encoding="utf-8",
    )
    if cron.startswith("@"):  # crontab's @-nicknames are not the five fields
        with pytest.raises(ConfigError, match="5 fields"):
            config.load(path, environ={})
        return
    assert config.load(path, environ={}).sources[0].cron == cron


# --------------------------------------------------------------------------------------------
# `syndicator check`, the real command


def check(folder: Path, toml: str) -> subprocess.CompletedProcess[str]:
    (folder / "c.toml").write_text(toml, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(folder / "c.toml"), "check"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def next_monday_9(now: datetime, zone: ZoneInfo) -> datetime:
    local = now.astimezone(zone)
    day = local.date()
    while True:
        at = datetime(day.year, day.month, day.day, 9, tzinfo=zone)
        if at.weekday() == 0 and at > local:
            return at.astimezone(UTC)
        day += timedelta(days=1)


@pytest.mark.e2e
def test_check_shows_the_real_next_run(tmp_path: Path) -> None:
    toml = (
        f'[service]\ndatabase = "sqlite:///{tmp_path}/s.db"\n'
        '[[source]]\nid = "monday"\nkind = "rss"\nurl = "http://a/"\ncron = "0 9 * * 1"\n'
        'timezone = "UTC"\n'
        '[[source]]\nid = "beirut"\nkind = "rss"\nurl = "http://b/"\ncron = "0 9 * * mon"\n'
        'timezone = "Asia/Beirut"\n'
    )
    before = datetime.now(UTC)
    run = check(tmp_path, toml)
    after = datetime.now(UTC)
    assert run.returncode == 0, run.stderr
    shown = dict(
        re.findall(r"^\s+(\w+)\s+rss\s+cron .*?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", run.stdout, re.M)
    )
    for source, zone in (("monday", ZoneInfo("UTC")), ("beirut", ZoneInfo("Asia/Beirut"))):
        at = datetime.strptime(shown[source], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert at.weekday() == 0, run.stdout  # a Monday, in UTC too (09:00 local is 06–07 UTC)
        assert at in {next_monday_9(before, zone), next_monday_9(after, zone)}, run.stdout


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 25 * * *", "hours are 0–23"),
        ("61 * * * *", "minutes are 0–59"),
        ("*/0 * * * *", "step 0"),
        ("* * * * 8", "weekdays are 0–7"),
        ("0 0 31 2 *", "can never run"),
    ],
)
def test_check_refuses_bad_crons_with_exit_2_and_no_traceback(
    tmp_path: Path, cron: str, words: str
) -> None:
    run = check(
        tmp_path, f'[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\ncron = "{cron}"\n'
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "configuration OK" not in run.stdout and "Traceback" not in run.stderr
    assert "c.toml: source 'x'.cron" in run.stderr and words in run.stderr, run.stderr
