"""Configuration: merging a folder, validation errors that name file, key and fix; `check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator import cli, config
from syndicator.errors import ConfigError, ConfigErrors

GOOD = """
[service]
base_url = "http://127.0.0.1:8080"
feeds_dir = "out"

[publish]
entries_per_feed = 20

[[region]]
id = "europe"
title = "أوروبا"
language = "ar"
sections = ["أوروبا"]
places = ["موسكو"]

[[source]]
id = "europe-html"
kind = "html"
url = "https://news.example/section/europe.html"
every = "10m"
regions = ["europe"]
  [source.select]
  body = ".article-body"

[[source]]
id = "wire"
kind = "rss"
url = "samples/feeds/wire.rss"
cron = "*/15 6-23 * * *"
timezone = "Asia/Riyadh"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_a_good_file(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, "a.toml", GOOD), environ={})
    assert cfg.service.feeds_dir == Path("out")
    assert cfg.publish.entries_per_feed == 20
    assert [r.id for r in cfg.regions] == ["europe"]
    europe, wire = cfg.sources
    assert europe.every == 600 and europe.schedule == "every 10m"
    assert europe.select is not None and europe.select.body == ".article-body"
    assert wire.cron == "*/15 6-23 * * *" and wire.every is None
    assert wire.schedule == "cron */15 6-23 * * * (Asia/Riyadh)"
    assert cfg.known_sections == ("أوروبا",)


def test_a_folder_is_merged_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "10-base.toml", GOOD)
    write(
        tmp_path,
        "20-more.toml",
        """
[publish]
entries_per_feed = 30

[[region]]
id = "asia"
title = "آسيا"
""",
    )
    cfg = config.load(tmp_path, environ={})
    assert cfg.publish.entries_per_feed == 30
    assert [r.id for r in cfg.regions] == ["europe", "asia"]
    assert len(cfg.files) == 2


def test_duplicate_ids_across_files_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD)
    write(tmp_path, "b.toml", '[[source]]\nid = "wire"\nkind = "rss"\nurl = "x.rss"\n')
    with pytest.raises(ConfigErrors) as info:
        config.load(tmp_path, environ={})
    message = str(info.value)
    assert "b.toml" in message and "a.toml" in message and "duplicate source id" in message


@pytest.mark.parametrize(
    ("snippet", "key", "words"),
    [
        (
            '[[source]]\nid = "x"\nkind = "htm"\nurl = "http://a/"',
            "source 'x'.kind",
            "did you mean 'html'",
        ),
        (
            '[[source]]\nid = "x"\nkind = "rss"\nurl = "ftp://a/"',
            "source 'x'.url",
            "unsupported scheme",
        ),
        (
            '[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\nevery = "soon"',
            "source 'x'.every",
            "duration",
        ),
        (
            '[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\ncron = "* * *"',
            "source 'x'.cron",
            "5 fields",
        ),
        (
            '[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\ntimezone = "Mars/Base"',
            "source 'x'.timezone",
            "IANA",
        ),
        (
            '[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\nregions = ["nowhere"]',
            "source 'x'.regions",
            "unknown region",
        ),
        (
            '[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\nevry = "5m"',
            "source 'x'.evry",
            "did you mean 'every'",
        ),
        (
            '[[source]]\nid = "x"\nkind = "html"\nurl = "http://a/"\n[source.select]\nbody = "p[["',
            "source 'x'.select.body",
            "invalid CSS selector",
        ),
        ('[[region]]\nid = "Europe!"', "region 'Europe!'.id", "[a-z0-9-]+"),
        ('[[region]]\nid = "all"', "region 'all'.id", "not be 'all'"),
        # A feed's title: what is left once the characters XML cannot carry are dropped
        (
            '[[region]]\nid = "x"\ntitle = "\\u0000\\u001f"',
            "region 'x'.title",
            "no character a feed can carry",
        ),
        ('[publish]\ntitle = "\\u0001 "', "publish.title", "no character a feed can carry"),
        # Every link of every feed starts with it: the reader's rule for a link (web_link)
        (
            '[service]\nbase_url = "http://news\\u0001.example/"',
            "service.base_url",
            "a control character or a space",
        ),
        ('[service]\nbase_url = "http://news.example/a b"', "service.base_url", "or a space"),
        ('[service]\nlisten = "8080"', "service.listen", "HOST:PORT"),
        ('[service]\nlisten = "[::1:8080"', "service.listen", "[…] for IPv6"),
        ('[publish]\nformats = ["atom", "html"]', "publish.formats", "unknown 'html'"),
        ("[publish]\nmax_delay = -1", "publish.max_delay", "seconds"),
        (
            '[[notify]]\nkind = "webhook"\nurl = "http://a/"\nsecret_env = "NO_SUCH_SECRET_XYZ"',
            "notify[0].secret_env",
            "export NO_SUCH_SECRET_XYZ",
        ),
        ("[servce]\nx = 1", "servce", "did you mean 'service'"),
    ],
)
def test_errors_name_file_key_and_fix(tmp_path: Path, snippet: str, key: str, words: str) -> None:
    path = write(tmp_path, "bad.toml", snippet)
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert words in message


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.toml", '[[source]]\nid = "x"\nkind = "nope"\n[[region]]\nid = "A"\n'
    )
    with pytest.raises(ConfigErrors) as info:
        config.load(path, environ={})
    assert len(info.value.errors) == 2


def test_secrets_come_from_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "n.toml",
        '[[notify]]\nkind = "webhook"\nurl = "http://a/"\nsecret_env = "HOOK_SECRET"\n',
    )
    cfg = config.load(path, environ={"HOOK_SECRET": "s3cret"})
    assert cfg.notify[0].secret == "s3cret"
    assert "s3cret" not in repr(cfg.notify[0])


def test_toml_syntax_errors_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.toml", "[service\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        config.load(path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        config.load(tmp_path / "nope")


def test_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "a.toml", GOOD)
    assert cli.main(["--config", str(path), "check"]) == 0
    out = capsys.readouterr().out
    assert "europe-html" in out and "every 10m" in out and "cron */15 6-23 * * *" in out


def test_check_command_exits_2_on_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "a.toml", '[[source]]\nid = "x"\nkind = "nope"\nurl = "http://a/"\n')
    assert cli.main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert "a.toml" in err and "source 'x'.kind" in err


@pytest.mark.parametrize(
    ("keys", "recheck", "window", "shown"),
    [
        ("", 3600.0, 172800.0, "recheck every 1h for 2d"),
        ('recheck = "0s"\nrecheck_window = "6h"', 0.0, 21600.0, "recheck every pass for 6h"),
        ('recheck = "off"', None, 172800.0, "recheck off"),
        (
            'recheck = "15m"\nrecheck_window = "1d12h"',
            900.0,
            129600.0,
            "recheck every 15m for 1d12h",
        ),
    ],
)
def test_recheck_keys_are_read_and_shown_by_check(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    keys: str,
    recheck: float | None,
    window: float,
    shown: str,
) -> None:
    path = write(
        tmp_path, "a.toml", f'[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\n{keys}\n'
    )
    (source,) = config.load(path, environ={}).sources
    assert (source.recheck, source.recheck_window) == (recheck, window)
    assert cli.main(["--config", str(path), "check"]) == 0
    assert shown in capsys.readouterr().out


@pytest.mark.parametrize(
    ("keys", "key", "words"),
    [
        ('recheck = "sometimes"', "recheck", '"0s" (every pass) or "off"'),
        ("recheck = -5", "recheck", "must be positive"),
        ('recheck = "4000d"', "recheck", "longer than ten years"),
        ('recheck_window = "0s"', "recheck_window", "must be positive"),
        ('recheck_window = "off"', "recheck_window", "a duration"),
        ('recheck_window = "99999999999d"', "recheck_window", "longer than ten years"),
    ],
)
def test_bad_recheck_keys_name_file_and_key(
    tmp_path: Path, keys: str, key: str, words: str
) -> None:
    path = write(
        tmp_path, "a.toml", f'[[source]]\nid = "x"\nkind = "rss"\nurl = "http://a/"\n{keys}\n'
    )
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    message = str(info.value)
    assert f"{path}: source 'x'.{key}" in message and words in message, message


# --------------------------------------------------------------------------------------------
# Hostile configs: a clear error naming the file (and the key), exit 2, never a traceback

SOURCE = '[[source]]\nid = "s"\nkind = "rss"\nurl = "http://127.0.0.1:9/f.xml"\n'


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (SOURCE + 'every = "99999999999999999999h"\n', "source 's'.every", "longer than"),
        (SOURCE + "every = 1e300\n", "source 's'.every", "longer than"),
        (SOURCE + "every = inf\n", "source 's'.every", "longer than"),
        (SOURCE + "every = nan\n", "source 's'.every", "not a duration"),
        (SOURCE + 'jitter = "999999999d"\n', "source 's'.jitter", "longer than"),
        ('[service]\ntimeout = "999999999999d"\n', "service.timeout", "longer than"),
        ('[service]\npass_timeout = "999999999999d"\n', "service.pass_timeout", "longer than"),
        ('[service]\nstale_after = "99999999999d"\n', "service.stale_after", "longer than"),
        ("[publish]\nentries_per_feed = 99999999999999999999\n", "publish.entries_per_feed", ""),
        (
            "[publish]\nentries_per_feed = 9223372036854775807\n",
            "publish.entries_per_feed",
            "at most",
        ),
        ("[service]\nmax_bytes = 9223372036854775807\n", "service.max_bytes", "at most"),
        ("[publish]\ndebounce = inf\n", "publish.debounce", "finite"),
        ("[publish]\nmax_delay = 1e300\n", "publish.max_delay", "longer than"),
    ],
)
def test_absurd_numbers_are_config_errors(tmp_path: Path, text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, "c.toml", text), environ={})
    message = str(caught.value)
    assert str(tmp_path / "c.toml") in message and key in message and words in message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n", "nested too deeply"),
        ('[service]\nfeeds_dir = "out"\n'.encode("utf-16"), "not UTF-8"),
        (b'[service]\nfeeds_dir = "\xff\xfe out"\n', "not UTF-8"),
    ],
)
def test_unreadable_files_are_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: str | bytes, words: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    with pytest.raises(ConfigError, match=words) as caught:
        config.load(path, environ={})
    assert str(path) in str(caught.value)
    for command in ("check", "once"):
        assert cli.main(["--config", str(path), command]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err
