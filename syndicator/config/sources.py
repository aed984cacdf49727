"""The validation of the ``[[source]]`` and ``[[notify]]`` lists (with a source's local root
and its ``[source.select]`` selectors). Each returns its records; problems go to the checker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from syndicator.config.checks import Checker
from syndicator.config.durations import parse_duration
from syndicator.config.records import (
    BASE_URL_PLACEHOLDER,
    DEFAULT_RECHECK,
    DEFAULT_RECHECK_WINDOW,
    EVENT_TYPES,
    FETCH_PAGES,
    NOTIFY_KINDS,
    SOURCE_KINDS,
    Notify,
    Source,
)
from syndicator.config.values import (
    SOURCE_ID_PATTERN,
    as_cron,
    as_env_name,
    as_jitter,
    as_language,
    as_positive_int,
    as_recheck,
    as_source_url,
    as_target_url,
    as_text,
    as_text_list,
    as_timezone,
    choices,
    one_of,
    suggest,
)
from syndicator.model import Selectors


class SourceChecks(Checker):
    def sources(
        self, items: list[tuple[str, int, Any]], region_ids: set[str], base_url: str
    ) -> tuple[Source, ...]:
        out: list[Source] = []
        seen: dict[str, str] = {}
        known = {
            "id",
            "kind",
            "url",
            "every",
            "cron",
            "timezone",
            "jitter",
            "regions",
            "language",
            "select",
            "fetch_pages",
            "enabled",
            "max_articles",
            "title",
            "recheck",
            "recheck_window",
            "local_root",
        }
        for file, i, raw in items:
            name = f"source[{i}]"
            if not isinstance(raw, dict):
                self.error(file, name, "must be a table")
                continue
            sid = raw.get("id")
            if isinstance(sid, str):
                name = f"source {sid!r}"
            t = {k: (file, v) for k, v in raw.items()}
            url_text = raw.get("url")
            if isinstance(url_text, str) and url_text.startswith(BASE_URL_PLACEHOLDER):
                # A page this service serves itself (the demo reads the bundled samples so)
                t["url"] = (file, base_url + url_text[len(BASE_URL_PLACEHOLDER) :])
            self.unknown(t, name, known)
            if not isinstance(sid, str) or not SOURCE_ID_PATTERN.match(sid):
                self.error(
                    file,
                    f"{name}.id",
                    f"a source id must match [A-Za-z0-9_.-]+, got {sid!r}",
                    'use e.g. id = "example-europe"',
                )
                continue
            if sid in seen:
                self.error(
                    file,
                    f"{name}.id",
                    f"duplicate source id, also defined in {seen[sid]}",
                    "give each source its own id",
                )
                continue
            seen[sid] = file
            kind = raw.get("kind")
            if kind not in SOURCE_KINDS:
                self.error(
                    file,
                    f"{name}.kind",
                    f"unknown kind {kind!r}" + suggest(str(kind), SOURCE_KINDS),
                    f"use one of {', '.join(SOURCE_KINDS)}",
                )
                continue
            url = self.get(
                t, name, "url", None, as_source_url, "an http(s) URL, file:// URL or path"
            )
            if url is None:
                if "url" not in raw:
                    self.error(file, f"{name}.url", "missing", "every source needs a url")
                continue
            if "every" in raw and "cron" in raw:
                self.error(file, name, "has both every and cron", "keep one of them")
            cron = self.get(t, name, "cron", None, as_cron, "a crontab expression")
            every = (
                None
                if cron
                else self.get(t, name, "every", 600.0, parse_duration, 'a duration such as "10m"')
            )
            tzname = self.get(
                t, name, "timezone", None, as_timezone, "an IANA timezone such as Asia/Riyadh"
            )
            regions = self.get(t, name, "regions", (), as_text_list, "a list of region ids")
            for r in regions:
                if r not in region_ids:
                    self.error(
                        file,
                        f"{name}.regions",
                        f"unknown region {r!r}" + suggest(r, region_ids),
                        "define it in a [[region]] table",
                    )
            select = None
            if "select" in raw:
                select = self.selectors(file, name, raw["select"])
            local_root = self.get(t, name, "local_root", None, as_text, "a folder")
            if local_root is not None:
                self.local_root(file, name, url, local_root)
            out.append(
                Source(
                    id=sid,
                    kind=kind,
                    url=url,
                    every=every,
                    cron=cron,
                    timezone=tzname,
                    jitter=self.get(t, name, "jitter", None, as_jitter, "a duration"),
                    regions=regions,
                    language=self.get(t, name, "language", None, as_language, "a language tag"),
                    select=select,
                    fetch_pages=self.get(
                        t,
                        name,
                        "fetch_pages",
                        "auto",
                        one_of(FETCH_PAGES),
                        " or ".join(FETCH_PAGES),
                    ),
                    enabled=self.boolean(t, name, "enabled", True),
                    max_articles=self.get(
                        t, name, "max_articles", 100, as_positive_int, "a positive integer"
                    ),
                    title=self.get(t, name, "title", None, as_text, "a string"),
                    recheck=self.get(
                        t,
                        name,
                        "recheck",
                        DEFAULT_RECHECK,
                        as_recheck,
                        'a duration such as "1h", "0s" (every pass) or "off"',
                    ),
                    recheck_window=self.get(
                        t,
                        name,
                        "recheck_window",
                        DEFAULT_RECHECK_WINDOW,
                        parse_duration,
                        'a duration such as "2d"',
                    ),
                    local_root=local_root,
                    file=file,
                )
            )
        return tuple(out)

    def local_root(self, file: str, name: str, url: str, root: str) -> None:
        """``local_root`` is for local sources, and holds the source's own file."""
        scheme = urlsplit(url).scheme
        if scheme not in ("file", "") and len(scheme) != 1:
            self.error(
                file,
                f"{name}.local_root",
                "only a local source (a file path or file:// URL) reads local files",
                "remove local_root",
            )
            return
        path = Path(unquote(urlsplit(url).path)) if scheme == "file" else Path(url)
        folder = Path(root)
        if not path.resolve().is_relative_to(folder.resolve()):
            self.error(
                file,
                f"{name}.local_root",
                f"the source's own file {url!r} is not inside {root!r}",
                "name a folder that holds the source's file (and the files it links to)",
            )

    def selectors(self, file: str, name: str, raw: Any) -> Selectors | None:
        if not isinstance(raw, dict):
            self.error(file, f"{name}.select", "must be a table", "write [source.select]")
            return None
        fields = set(Selectors.__dataclass_fields__)
        values: dict[str, str] = {}
        for key, value in raw.items():
            if key not in fields:
                self.error(
                    file,
                    f"{name}.select.{key}",
                    "unknown selector" + suggest(key, fields),
                    f"use one of {', '.join(sorted(fields))}",
                )
                continue
            if not isinstance(value, str) or not value.strip():
                self.error(file, f"{name}.select.{key}", f"expected a CSS selector, got {value!r}")
                continue
            from cssselect import GenericTranslator, SelectorError

            try:
                GenericTranslator().css_to_xpath(value)
            except SelectorError as e:
                self.error(file, f"{name}.select.{key}", f"invalid CSS selector {value!r}: {e}")
                continue
            values[key] = value
        return Selectors(**values)

    def notifies(
        self, items: list[tuple[str, int, Any]], region_ids: set[str]
    ) -> tuple[Notify, ...]:
        out: list[Notify] = []
        known = {"id", "kind", "url", "secret_env", "urls_env", "events", "regions", "max_attempts"}
        for file, i, raw in items:
            name = f"notify[{i}]"
            if not isinstance(raw, dict):
                self.error(file, name, "must be a table")
                continue
            t = {k: (file, v) for k, v in raw.items()}
            self.unknown(t, name, known)
            kind = raw.get("kind")
            if kind not in NOTIFY_KINDS:
                self.error(
                    file,
                    f"{name}.kind",
                    f"unknown kind {kind!r}",
                    f"use one of {', '.join(NOTIFY_KINDS)}",
                )
                continue
            url = self.get(t, name, "url", None, as_target_url, "an http(s) URL")
            urls_env = self.get(
                t, name, "urls_env", None, as_env_name, "an environment variable name"
            )
            if kind == "webhook" and not url:
                self.error(file, f"{name}.url", "a webhook needs a url")
            if kind == "apprise" and not (urls_env or url):
                self.error(
                    file,
                    f"{name}.urls_env",
                    "an apprise target needs urls_env",
                    "name the environment variable holding the apprise URLs",
                )
            if urls_env and not self.env.get(urls_env):
                self.error(
                    file,
                    f"{name}.urls_env",
                    f"environment variable {urls_env} is not set",
                    f"export {urls_env}=...",
                )
            secret_env = self.get(
                t, name, "secret_env", None, as_env_name, "an environment variable name"
            )
            secret = None
            if secret_env:
                secret = self.env.get(secret_env) or None
                if secret is None:
                    self.error(
                        file,
                        f"{name}.secret_env",
                        f"environment variable {secret_env} is not set",
                        f"export {secret_env}=<the shared secret>",
                    )
            events = self.get(
                t,
                name,
                "events",
                Notify.__dataclass_fields__["events"].default,
                choices(EVENT_TYPES),
                f"a list of {', '.join(EVENT_TYPES)}",
            )
            regions = self.get(t, name, "regions", (), as_text_list, "a list of region ids")
            for r in regions:
                if r not in region_ids and r != "all":
                    self.error(
                        file,
                        f"{name}.regions",
                        f"unknown region {r!r}" + suggest(r, region_ids),
                        "define it in a [[region]] table",
                    )
            nid = self.get(t, name, "id", f"{kind}-{len(out) + 1}", as_text, "a string")
            out.append(
                Notify(
                    kind=kind,
                    url=url,
                    secret=secret,
                    secret_env=secret_env,
                    urls_env=urls_env,
                    apprise_urls=tuple(
                        u for u in re.split(r"[\s,]+", self.env.get(urls_env, "")) if u
                    )
                    if urls_env
                    else (),
                    events=events,
                    regions=regions,
                    id=nid,
                    max_attempts=self.get(
                        t, name, "max_attempts", 8, as_positive_int, "a positive integer"
                    ),
                    file=file,
                )
            )
        return tuple(out)
