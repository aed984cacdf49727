"""Before/after identity of ``syndicator ingest``: the same mixed NDJSON ingested by two
checkouts, with the clock fixed and event ids from a counter; every row of every table, the
``--json`` output and every published file compared.

    .venv/bin/python bench/ingest_identity.py BEFORE_DIR AFTER_DIR
        [--database sqlite|postgresql] [--workers N] [--articles 2500] [--keep]

BEFORE_DIR and AFTER_DIR are checkouts of the project (e.g. ``git worktree add --detach DIR
COMMIT`` and this one). Two files are written: ``--articles`` ARTICLE objects in Arabic, English
and French (paragraphs, text or HTML with scripts; tracking parameters, fragments, hosts in
upper case with a default port, images, authors, sections of three regions and of none,
regions named by the client, declared languages, dates in three forms) with copies at other
addresses, near-duplicates, revisions and unchanged repeats in the same file, and bad lines
(not JSON, no title, a lone surrogate, a year 99999, ``javascript:`` and ``file:`` URLs,
control characters, no body, not an object); then a second file of revisions and repeats.
Each checkout ingests both (``--workers`` reader processes, so renderers too) into its own
empty store and feeds folder (archive pages of 20, so many of them); the script prints
IDENTICAL, or the differences and exits 1. PostgreSQL: a database made and dropped on
``$SYNDICATOR_TEST_POSTGRES`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432``).

Checkouts of different schema versions differ in what the schema holds, and only there: a
column only one side has is left out of the comparison, and so is the ``schema_version`` row
of ``meta`` when the versions differ, each said in a line (``rows: ignored …``); every other
row and value is compared. (Indexes are not compared: they hold no data.)
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import filecmp
import json
import os
import random
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

POSTGRES = os.environ.get(
    "SYNDICATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)

AR = [
    "قال",
    "المتحدث",
    "باسم",
    "الحكومة",
    "إن",
    "الاجتماع",
    "الذي",
    "عقد",
    "في",
    "العاصمة",
    "يوم",
    "الثلاثاء",
    "ناقش",
    "خطة",
    "جديدة",
    "لتحسين",
    "شبكة",
    "النقل",
    "العام",
    "وتوسيع",
    "خطوط",
    "القطارات",
    "بين",
    "المدن",
    "الكبرى",
    "خلال",
    "السنوات",
    "المقبلة",
    "وأضاف",
    "أن",
    "التمويل",
    "سيأتي",
    "من",
    "صندوق",
    "خاص",
    "بالبنية",
    "التحتية",
    "بالتعاون",
    "مع",
    "البلديات",
    "والقطاع",
    "الخاص",
    "ومن",
    "المتوقع",
    "أن",
    "تبدأ",
    "الأعمال",
    "في",
    "الربيع",
    "المقبل",
    "بعد",
    "استكمال",
    "الدراسات",
    "الفنية",
    "والبيئية",
    "اللازمة",
    "أُعلِنَ",
    "ٱلخبر",
    "١٢٣",
    "۴۵",
    "ـــ",
    "إلى",
]
EN = [
    "The",
    "minister",
    "said",
    "on",
    "Tuesday",
    "that",
    "the",
    "new",
    "transport",
    "plan",
    "would",
    "extend",
    "rail",
    "lines",
    "between",
    "the",
    "largest",
    "cities",
    "over",
    "the",
    "coming",
    "years,",
    "funded",
    "by",
    "a",
    "special",
    "infrastructure",
    "fund",
    "with",
    "municipalities",
    "and",
    "private",
    "partners;",
    "work",
    "is",
    "expected",
    "to",
    "start",
    "next",
    "spring,",
    '"after"',
    "the",
    "technical",
    "&",
    "environmental",
    "studies",
    "—",
    "3.5%",
    "of",
    "budget",
    "<b>bold</b>",
    "café",
    "naïve",
]
FR = [
    "Le",
    "ministre",
    "a",
    "déclaré",
    "mardi",
    "que",
    "le",
    "nouveau",
    "plan",
    "de",
    "transport",
    "étendrait",
    "les",
    "lignes",
    "ferroviaires",
    "entre",
    "les",
    "grandes",
    "villes",
    "au",
    "cours",
    "des",
    "prochaines",
    "années,",
    "«",
    "financé",
    "»",
    "par",
    "un",
    "fonds",
    "spécial",
    "d'infrastructure",
]

CONFIG = """
[service]
base_url = "http://127.0.0.1:8080"
database = "{database}"
feeds_dir = "{feeds}"

[publish]
entries_per_feed = 30
archive_page_size = 20

[[region]]
id = "europe"
title = "أوروبا"
language = "ar"
sections = ["أوروبا", "Europe"]
places = ["موسكو", "بروكسل"]

[[region]]
id = "asia"
title = "Asia"
language = "en"
sections = ["Asia"]
suppress_near_duplicates = true

[[region]]
id = "africa"
title = "Afrique"
language = "fr"
sections = ["Afrique"]
"""


def words(rng: random.Random, vocab: list[str], k: int) -> str:
    return " ".join(rng.choices(vocab, k=k))


def base_article(n: int, rng: random.Random) -> dict[str, object]:
    lang = rng.choice(["ar", "ar", "en", "fr"])
    vocab = {"ar": AR, "en": EN, "fr": FR}[lang]
    section = rng.choice(
        {
            "ar": ["أوروبا", "Asia", None, "رياضة"],
            "en": ["Europe", "Asia", None],
            "fr": ["Afrique", None],
        }[lang]
    )
    host = rng.choice(["news.example", "NEWS.example:443", "other.example"])
    url = f"https://{host}/{lang}/{n // 100}/story-{n}.html"
    if rng.random() < 0.2:
        url += "?utm_source=x&b=2&a=1&fbclid=zz"
    if rng.random() < 0.1:
        url += "#frag"
    obj: dict[str, object] = {"url": url, "title": f"{words(rng, vocab, 6)} {n}"}
    body = [words(rng, vocab, rng.randint(5, 60)) + "." for _ in range(rng.randint(1, 8))]
    kind = rng.random()
    if kind < 0.7:
        obj["paragraphs"] = body
    elif kind < 0.85:
        obj["text"] = "\n\n".join(body)
    else:
        obj["content_html"] = "".join(
            f"<p>{p}</p>"
            if i % 3
            else f"<p onclick='x()'>{p} <script>bad()</script><a href='javascript:x'>l</a></p>"
            for i, p in enumerate(body)
        )
    if section:
        obj["section"] = section
    if rng.random() < 0.7:
        day = 1 + n % 28
        obj["published"] = rng.choice(
            [
                f"2026-02-{day:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
                f"2026-02-{day:02d}T10:00:00+03:00",
                f"Mon, {day:02d} Feb 2026 08:00:00 GMT",
            ]
        )
    if rng.random() < 0.2:
        obj["updated"] = f"2026-02-{1 + n % 28:02d}T23:00:00Z"
    if rng.random() < 0.4:
        obj["authors"] = rng.sample(["Jane Doe", "جون سميث", "AFP", "Reuters"], rng.randint(1, 2))
    if rng.random() < 0.3:
        obj["images"] = [
            {
                "url": f"https://img.example/{n}-{i}.jpg",
                "caption": words(rng, vocab, 4),
                "credit": rng.choice(["AP", "AFP", "EPA", "Reuters"]),
            }
            for i in range(rng.randint(1, 3))
        ]
    if rng.random() < 0.3:
        obj["language"] = lang
    if rng.random() < 0.15:
        obj["summary"] = words(rng, vocab, 12)
    if rng.random() < 0.1:
        obj["subtitle"] = words(rng, vocab, 8)
    if rng.random() < 0.1:
        obj["dateline"] = rng.choice(["موسكو", "بروكسل", "Paris"])
    if rng.random() < 0.1:
        obj["categories"] = ["Politics", "سياسة"]
    if rng.random() < 0.08:
        obj["regions"] = rng.sample(["europe", "asia", "africa"], rng.randint(1, 2))
    return obj


BAD = [
    "this is not json",
    '{"url": "https://news.example/x-notitle.html", "paragraphs": ["a b c"]}',
    '{"url": "https://news.example/sur.html", "title": "bad \\ud800 surrogate", '
    '"paragraphs": ["x y"]}',
    '{"url": "https://news.example/y.html", "title": "year", '
    '"published": "99999-01-01T00:00:00Z", "paragraphs": ["x y"]}',
    '{"url": "javascript:alert(1)", "title": "js", "paragraphs": ["x y"]}',
    '{"url": "file:///etc/passwd", "title": "file", "paragraphs": ["x y"]}',
    '{"url": "https://news.example/ctl.html", "title": "ctl\\u0001\\u0007 chars", '
    '"paragraphs": ["x\\u0000y z\\u000b"]}',
    '{"url": "https://news.example/empty.html", "title": "empty", "paragraphs": []}',
    "[1, 2, 3]",
]


def make_files(folder: Path, count: int) -> tuple[Path, Path]:
    rng = random.Random(20261204)
    first: list[str] = []
    bases = []
    for n in range(count):
        obj = base_article(n, rng)
        bases.append(obj)
        first.append(json.dumps(obj, ensure_ascii=rng.random() < 0.5))
        r = rng.random()
        if r < 0.05:  # a copy at another address (a duplicate)
            copy = dict(obj, url=f"https://mirror.example/copy/{n}.html?utm_medium=y")
            first.append(json.dumps(copy, ensure_ascii=False))
        elif r < 0.10:  # a near-duplicate: one word changed
            near = dict(obj, url=f"https://near.example/{n}.html")
            body = list(obj.get("paragraphs") or [str(obj.get("text") or "x")])
            body[-1] = body[-1] + " إضافة"
            near.pop("text", None)
            near.pop("content_html", None)
            near["paragraphs"] = body
            first.append(json.dumps(near, ensure_ascii=False))
        elif r < 0.14:  # revised later in the same file
            rev = dict(obj, title=str(obj["title"]) + " (corrected)")
            first.append(json.dumps(rev, ensure_ascii=False))
        elif r < 0.18:  # repeated unchanged
            first.append(json.dumps(obj, ensure_ascii=False))
        if n % 350 == 7:
            first.append(BAD[(n // 350) % len(BAD)])
        if n % 500 == 3:
            first.append("")
    first.extend(BAD)
    second = []
    for obj in bases:
        r = rng.random()
        if r < 0.15:
            second.append(
                json.dumps(dict(obj, title=str(obj["title"]) + " v2"), ensure_ascii=False)
            )
        elif r < 0.3:
            second.append(json.dumps(obj, ensure_ascii=False))
    a, b = folder / "first.ndjson", folder / "second.ndjson"
    a.write_text("\n".join(first) + "\n", encoding="utf-8")
    b.write_text("\n".join(second) + "\n", encoding="utf-8")
    return a, b


def create_db(kind: str, folder: Path, label: str) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{folder / f'{label}.db'}", None
    import sqlalchemy as sa

    name = f"ingest_identity_{label}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{POSTGRES}/{name}", name


def drop_db(name: str | None) -> None:
    if name is None:
        return
    import sqlalchemy as sa

    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def dump_db(url: str, out: Path) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    lines = []
    with engine.connect() as conn:
        for table in sorted(meta.tables.values(), key=lambda t: t.name):
            cols = [c.name for c in table.columns]
            lines.append(f"## {table.name} {cols}")
            rows = [tuple(repr(v) for v in row) for row in conn.execute(sa.select(table))]
            lines.extend("\t".join(r) for r in sorted(rows))
    engine.dispose()
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(
    code: Path, kind: str, folder: Path, label: str, files: tuple[Path, Path], workers: str
) -> Path:
    url, name = create_db(kind, folder, label)
    feeds = folder / f"feeds-{label}"
    config = folder / f"{label}.toml"
    config.write_text(CONFIG.format(database=url, feeds=feeds), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(code)}
    outs = []
    try:
        for i, f in enumerate(files):
            p = subprocess.run(
                [sys.executable, __file__, "--run", str(config), str(i), workers, str(f)],
                env=env,
                cwd=code,
                capture_output=True,
                text=True,
            )
            # The progress line varies; which modules a checkout imports late is its own
            # (printed, not compared: a late module keeps the real clock, so rows would differ)
            late = [line for line in p.stderr.splitlines() if line.startswith(_LATE)]
            print(f"  {label}: {late[0]}" if late else f"  {label}: no module imported late")
            outs.append(
                f"== exit {p.returncode}\n{p.stdout}\n== stderr\n"
                + "\n".join(
                    line
                    for line in p.stderr.splitlines()
                    if not line.startswith(("ingest: ", _LATE))
                )
            )
        (folder / f"{label}.out").write_text("\n".join(outs), encoding="utf-8")
        dump_db(url, folder / f"{label}.rows")
    finally:
        drop_db(name)
    return feeds


def _tables(lines: list[str]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """A dump (:func:`dump_db`) read back: table → its columns, its rows (values as written)."""
    import ast

    out: dict[str, tuple[list[str], list[list[str]]]] = {}
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("## "):
            name, cols = line[3:].split(" ", 1)
            rows = []
            out[name] = (list(ast.literal_eval(cols)), rows)
        else:
            rows.append(line.split("\t"))
    return out


def schema_aligned(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """Two dumps with what only a change of schema makes differ left out, each said: a column
    only one side has (its values dropped from that side's rows) and the schema version row
    of ``meta`` when the versions differ. Every other row and value is still compared."""
    ta, tb = _tables(a), _tables(b)
    for name in sorted(set(ta) & set(tb)):
        (ca, ra), (cb, rb) = ta[name], tb[name]
        common = [c for c in ca if c in cb]
        for side, cols in (("before", ca), ("after", cb)):
            for c in cols:
                if c not in common:
                    print(f"  rows: ignored column {name}.{c} (only {side} has it)")
        if name == "meta":
            versions = [[r for r in rows if r[0] == "'schema_version'"] for rows in (ra, rb)]
            if versions[0] != versions[1]:
                print(f"  rows: ignored meta schema_version {versions[0]} -> {versions[1]}")
                ra[:] = [r for r in ra if r[0] != "'schema_version'"]
                rb[:] = [r for r in rb if r[0] != "'schema_version'"]
        for cols, rows in ((ca, ra), (cb, rb)):
            at = [cols.index(c) for c in common]
            rows[:] = sorted([r[i] for i in at] for r in rows)
            cols[:] = common

    def lines(tables: dict[str, tuple[list[str], list[list[str]]]]) -> list[str]:
        out = []
        for name, (cols, rows) in sorted(tables.items()):
            out.append(f"## {name} {cols}")
            out.extend("\t".join(r) for r in rows)
        return out

    return lines(ta), lines(tb)


def compare_dirs(a: Path, b: Path) -> list[str]:
    diffs = []
    cmp = filecmp.dircmp(a, b)
    stack = [cmp]
    count = 0
    while stack:
        c = stack.pop()
        diffs += [f"only in {c.left}: {x}" for x in c.left_only]
        diffs += [f"only in {c.right}: {x}" for x in c.right_only]
        for name in c.common_files:
            count += 1
            if (Path(c.left) / name).read_bytes() != (Path(c.right) / name).read_bytes():
                diffs.append(f"differs: {Path(c.left) / name}")
        stack.extend(c.subdirs.values())
    print(f"  {count} published files compared")
    return diffs


class _AnyDatetime(type):
    """Instances of the fixed clock's class are plain datetimes, and plain datetimes its."""

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, _REAL)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, _REAL)


_REAL = datetime.datetime


class FixedClock(_REAL, metaclass=_AnyDatetime):
    """``datetime`` whose ``now`` is :attr:`at` (for :func:`run_fixed`; module level, so that
    what is made with it crosses to reader and renderer processes)."""

    at = _REAL(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:  # type: ignore[override]
        return cls.at if tz is None else cls.at.astimezone(tz)


def run_fixed(config: str, step: str, workers: str, doc: str) -> int:
    """``syndicator ingest --json`` of ``doc`` in this process with the clock fixed (6 h later
    each step) and event ids counted: every module of the package that reads the clock
    through ``datetime`` gets :class:`FixedClock` (its instances stay plain datetimes), and
    ``uuid.uuid4`` counts."""
    import importlib
    import itertools

    FixedClock.at += datetime.timedelta(hours=6 * int(step))
    real, fixed_class = _REAL, FixedClock
    counter = itertools.count(1_000_000 * (int(step) + 1))
    uuid.uuid4 = lambda: uuid.UUID(int=next(counter))
    for name in (
        "syndicator.cli",
        "syndicator.cli.documents",
        "syndicator.syndication",
        "syndicator.ingest",
        "syndicator.normalize.article",  # the command reads chunks itself when its readers lag
        "syndicator.normalize.dates",
        "syndicator.publish.publisher",
        "syndicator.notify",
        "syndicator.store",
    ):
        importlib.import_module(name)

    def patch() -> list[str]:
        done = []
        for name, module in list(sys.modules.items()):
            if name.startswith("syndicator") and getattr(module, "datetime", None) is real:
                module.datetime = fixed_class  # type: ignore[attr-defined]
                done.append(name)
        return done

    patch()
    from syndicator import cli

    code = cli.main(["--config", config, "ingest", "--json", "--workers", workers, doc])
    late = patch()
    if late:
        print(f"{_LATE}: {late}", file=sys.stderr)
    return code


_LATE = "modules imported after the clock was fixed"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--database", default="sqlite")
    ap.add_argument("--workers", default="2")
    ap.add_argument("--articles", type=int, default=2500)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="identity-"))
    files = make_files(folder, args.articles)
    print(f"{folder}: {sum(1 for _ in files[0].open())} + {sum(1 for _ in files[1].open())} lines")
    feeds = {}
    for label, code in (("before", args.before.resolve()), ("after", args.after.resolve())):
        feeds[label] = run(code, args.database, folder, label, files, args.workers)
    problems = []
    for ext in ("out", "rows"):
        a = (folder / f"before.{ext}").read_text().splitlines()
        b = (folder / f"after.{ext}").read_text().splitlines()
        if ext == "rows":
            a, b = schema_aligned(a, b)
        print(f"  {ext}: {len(a)} lines")
        if a != b:
            problems.append(ext)
            sys.stdout.writelines(
                line + "\n" for line in list(difflib.unified_diff(a, b, lineterm="", n=0))[:40]
            )
    d = compare_dirs(feeds["before"], feeds["after"])
    if d:
        problems.append("feeds")
        print("\n".join(d[:20]))
    print("IDENTICAL" if not problems else f"DIFFERENT: {problems}")
    if not args.keep and not problems:
        import shutil

        shutil.rmtree(folder)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run"]:
        sys.exit(run_fixed(*sys.argv[2:6]))
    main()
