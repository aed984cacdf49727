"""OPML subscription lists in: ``syndicator sources import FILE.opml`` turns each feed outline
into a ``[[source]]`` table, appended to a TOML file of the config folder.

:func:`read_outlines` and :func:`plan` are pure (bytes and records in, records out);
:func:`import_sources` is the command's edge: it validates the whole config with the new
sources before writing anything, and writes the file whole (temporary file, then rename).
Hostile lists are refused or reported, never followed: no DTD, entity or network access
(``extract.xmlsafe``), a bounded size and count, http(s) addresses only.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from syndicator import config as config_module
from syndicator.errors import ConfigError, ExtractError
from syndicator.extract import xmlsafe
from syndicator.normalize import canonical_url

IMPORT_FILE = "imported-sources.toml"  # in the config folder, merged after the others
MAX_OPML_BYTES = 5 * 1024 * 1024
MAX_OUTLINES = 5000
DEFAULT_EVERY = "30m"
_NOT_PRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Outline:
    """One subscription of the list: its feed address, title and kind (``rss``, ``atom``…)."""

    url: str
    title: str
    kind: str


@dataclass
class Plan:
    """What an import would do: the sources to add (in list order) and what it leaves out."""

    added: list[dict[str, object]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (address or title, why)


def read_outlines(body: bytes) -> tuple[list[Outline], list[tuple[str, str]]]:
    """The feed outlines of an OPML document, and those that are not usable with the reason.

    Raises ExtractError when the document itself is refused (entities declared, not XML, not
    OPML, too large)."""
    if len(body) > MAX_OPML_BYTES:
        raise ExtractError(f"refused: the list is over {MAX_OPML_BYTES >> 20} MiB")
    root = xmlsafe.parse(body)  # refuses entity declarations: billion laughs, external entities
    if root.tag != "opml":
        raise ExtractError(f"not an OPML document (its root is <{root.tag}>)")
    outlines: list[Outline] = []
    bad: list[tuple[str, str]] = []
    for n, element in enumerate(root.iter("outline")):
        if n >= MAX_OUTLINES:
            bad.append(("…", f"more than {MAX_OUTLINES} outlines: the rest are not read"))
            break
        raw_url = element.get("xmlUrl") or element.get("xmlurl")
        if raw_url is None:
            continue  # a folder of outlines, or a plain link: not a feed
        title = _printable(element.get("title") or element.get("text") or "")
        url = _printable(raw_url).strip()
        try:
            parts = urlsplit(url)
        except ValueError:
            bad.append((url or title, "not a URL"))
            continue
        if parts.scheme not in ("http", "https") or not parts.hostname:
            bad.append((url or title, "not an http(s) URL: only web feeds are imported"))
            continue
        if parts.username or parts.password:
            bad.append((url, "a URL with a user name or password: put secrets elsewhere"))
            continue
        kind = "jsonfeed" if parts.path.endswith(".json") else "rss"
        outlines.append(Outline(url=url, title=title[:200], kind=kind))
    return outlines, bad


def plan(
    outlines: list[Outline],
    config: config_module.Config,
    *,
    region: str | None = None,
    every: str = DEFAULT_EVERY,
) -> Plan:
    """The sources to add for ``outlines``: one per feed not already a source (compared by
    canonical URL), each with a fresh id made from its title or address."""
    result = Plan()
    taken = {s.id for s in config.sources}
    known = {_same(s.url): s.id for s in config.sources}
    for outline in outlines:
        key = _same(outline.url)
        if key in known:
            result.skipped.append((outline.url, f"already a source ({known[key]})"))
            continue
        source_id = _fresh_id(outline, taken)
        taken.add(source_id)
        known[key] = source_id
        table: dict[str, object] = {"id": source_id, "kind": outline.kind, "url": outline.url}
        if outline.title:
            table["title"] = outline.title
        table["every"] = every
        if region:
            table["regions"] = [region]
        result.added.append(table)
    return result


def render_toml(tables: list[dict[str, object]], origin: str) -> str:
    """``[[source]]`` tables as TOML text (strings written as JSON strings, which TOML reads)."""
    lines = [f"\n# Imported from {_printable(origin)}"]
    for table in tables:
        lines.append("\n[[source]]")
        for key, value in table.items():
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def import_sources(
    folder: Path,
    body: bytes,
    *,
    origin: str,
    region: str | None = None,
    dry_run: bool = False,
) -> Plan:
    """Add the feeds of an OPML list as sources in ``folder/imported-sources.toml``.

    The config folder with the new file must validate as a whole, or nothing is written
    (ConfigError). With ``dry_run`` nothing is written either way."""
    if not folder.is_dir():
        raise ConfigError(
            "sources import adds a file to a config folder, and this is not one",
            file=str(folder),
            fix="pass --config FOLDER (a folder of *.toml files, such as ./config)",
        )
    current = config_module.load(folder)
    if region is not None and region not in {r.id for r in current.regions}:
        raise ConfigError(
            f"no region {region!r} in the configuration",
            file=str(folder),
            fix="name one of " + ", ".join(r.id for r in current.regions),
        )
    try:
        outlines, bad = read_outlines(body)
    except ExtractError as e:
        raise ConfigError(f"cannot import {origin}: {e.reason}", file=origin) from e
    result = plan(outlines, current, region=region)
    result.skipped[:0] = bad
    if not result.added:
        return result
    target = folder / IMPORT_FILE
    before = target.read_text(encoding="utf-8") if target.exists() else _HEADER
    after = before + render_toml(result.added, origin)
    _validate(folder, target, after)
    if not dry_run:
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(after, encoding="utf-8")
        temporary.replace(target)
    return result


_HEADER = "# Sources added by `syndicator sources import`: edit them as any other config file.\n"


def _validate(folder: Path, target: Path, text: str) -> None:
    """Load the config folder as it would be with ``target`` holding ``text``."""
    import tomllib

    documents = []
    for path in sorted({*folder.glob("*.toml"), target}):
        raw = text if path == target else path.read_text(encoding="utf-8")
        documents.append((str(path), tomllib.loads(raw)))
    config_module.from_documents(documents)


def _same(url: str) -> str:
    try:
        return canonical_url(url)
    except ValueError:
        return url


def _fresh_id(outline: Outline, taken: set[str]) -> str:
    folded = unicodedata.normalize("NFKD", outline.title).encode("ascii", "ignore").decode()
    base = _SLUG.sub("-", folded.lower()).strip("-")
    if len(base) < 3:  # a title in another script: the address names it
        parts = urlsplit(outline.url)
        host = (parts.hostname or "feed").removeprefix("www.")
        base = _SLUG.sub("-", f"{host} {parts.path}".lower()).strip("-")
    base = base[:48].strip("-") or "feed"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _printable(text: str) -> str:
    return _NOT_PRINTABLE.sub("", text)
