"""The validation of the single tables: ``[service]``, ``[jobs]``, ``[publish]``, and the
``[[region]]`` list. Each method returns the table's record; problems go to the checker.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from syndicator.config.checks import Checker
from syndicator.config.durations import format_duration, parse_duration
from syndicator.config.records import (
    FEED_FORMATS,
    LISTEN_ENV,
    Jobs,
    Publish,
    Region,
    ServiceSettings,
)
from syndicator.config.values import (
    ID_PATTERN,
    as_base_url,
    as_database_timeout,
    as_env_name,
    as_language,
    as_listen,
    as_non_negative,
    as_positive_int,
    as_rate,
    as_text,
    as_text_list,
    as_title,
    as_url_list,
    choices,
    url_of,
)


class SectionChecks(Checker):
    def service(self, t: Mapping[str, tuple[str, Any]]) -> ServiceSettings:
        d = ServiceSettings()
        known = {
            "base_url",
            "listen",
            "database",
            "database_timeout",
            "feeds_dir",
            "user_agent",
            "api_token_env",
            "respect_robots",
            "concurrency",
            "per_host",
            "timeout",
            "pass_timeout",
            "max_bytes",
            "stale_after",
            "rate_limit",
            "rate_burst",
            "serve_samples",
        }
        self.unknown(t, "service", known)
        listen = self.get(t, "service", "listen", d.listen, as_listen, '"HOST:PORT"')
        if self.env.get(LISTEN_ENV):  # run/serve --listen: replaces the file's
            env = {"listen": (f"${LISTEN_ENV}", self.env[LISTEN_ENV])}
            listen = self.get(env, "service", "listen", listen, as_listen, '"HOST:PORT"')
        # Unless it is set, the base URL is where the service listens (the demo, a first try).
        base_url = self.get(t, "service", "base_url", url_of(listen), as_base_url, "an http(s) URL")
        token_env = self.get(
            t,
            "service",
            "api_token_env",
            d.api_token_env,
            as_env_name,
            "an environment variable name",
        )
        return ServiceSettings(
            base_url=base_url.rstrip("/"),
            listen=listen,
            database=self.database(t, d.database),
            database_timeout=self.get(
                t,
                "service",
                "database_timeout",
                d.database_timeout,
                as_database_timeout,
                'a duration from "1s" to "1h"',
            ),
            feeds_dir=Path(
                self.get(t, "service", "feeds_dir", str(d.feeds_dir), as_text, "a path")
            ),
            user_agent=self.get(t, "service", "user_agent", d.user_agent, as_text, "a string"),
            api_token_env=token_env,
            api_token=self.env.get(token_env) or None,
            respect_robots=self.boolean(t, "service", "respect_robots", d.respect_robots),
            serve_samples=self.boolean(t, "service", "serve_samples", d.serve_samples),
            concurrency=self.get(
                t, "service", "concurrency", d.concurrency, as_positive_int, "a positive integer"
            ),
            per_host=self.get(
                t, "service", "per_host", d.per_host, as_positive_int, "a positive integer"
            ),
            timeout=self.get(t, "service", "timeout", d.timeout, parse_duration, "a duration"),
            pass_timeout=self.get(
                t, "service", "pass_timeout", d.pass_timeout, parse_duration, "a duration"
            ),
            max_bytes=self.get(
                t, "service", "max_bytes", d.max_bytes, as_positive_int, "a number of bytes"
            ),
            stale_after=self.get(
                t,
                "service",
                "stale_after",
                d.stale_after,
                parse_duration,
                'a duration such as "2d"',
            ),
            rate_limit=self.get(
                t,
                "service",
                "rate_limit",
                d.rate_limit,
                as_rate,
                "a number of requests per second (0 turns the limit off)",
            ),
            rate_burst=self.get(
                t, "service", "rate_burst", d.rate_burst, as_positive_int, "a positive integer"
            ),
        )

    def jobs(self, t: Mapping[str, tuple[str, Any]]) -> Jobs:
        d = Jobs()
        self.unknown(t, "jobs", {"concurrency", "heartbeat", "stalled_after"})
        duration = 'a duration such as "5s"'
        jobs = Jobs(
            concurrency=self.get(
                t, "jobs", "concurrency", d.concurrency, as_positive_int, "a positive integer"
            ),
            heartbeat=self.get(t, "jobs", "heartbeat", d.heartbeat, parse_duration, duration),
            stalled_after=self.get(
                t, "jobs", "stalled_after", d.stalled_after, parse_duration, duration
            ),
        )
        if jobs.stalled_after < 2 * jobs.heartbeat:
            file = (t.get("stalled_after") or t.get("heartbeat") or ("?", None))[0]
            self.error(
                file,
                "jobs.stalled_after",
                f"a worker is taken for dead after {format_duration(jobs.stalled_after)}, "
                f"less than two heartbeats ({format_duration(jobs.heartbeat)} each)",
                "make stalled_after at least twice the heartbeat",
            )
        return jobs

    def publish(self, t: Mapping[str, tuple[str, Any]]) -> Publish:
        d = Publish()
        self.unknown(
            t,
            "publish",
            {
                "entries_per_feed",
                "formats",
                "hubs",
                "builtin_hub",
                "archive_page_size",
                "title",
                "debounce",
                "max_delay",
            },
        )
        formats = self.get(
            t,
            "publish",
            "formats",
            d.formats,
            choices(FEED_FORMATS),
            f"a list of {', '.join(FEED_FORMATS)}",
        )
        return Publish(
            entries_per_feed=self.get(
                t,
                "publish",
                "entries_per_feed",
                d.entries_per_feed,
                as_positive_int,
                "a positive integer",
            ),
            formats=formats,
            hubs=self.get(t, "publish", "hubs", d.hubs, as_url_list, "a list of http(s) URLs"),
            builtin_hub=self.boolean(t, "publish", "builtin_hub", d.builtin_hub),
            archive_page_size=self.get(
                t,
                "publish",
                "archive_page_size",
                d.archive_page_size,
                as_positive_int,
                "a positive integer",
            ),
            title=self.get(t, "publish", "title", d.title, as_title, "a string"),
            debounce=self.get(t, "publish", "debounce", d.debounce, as_non_negative, "seconds"),
            max_delay=self.get(t, "publish", "max_delay", d.max_delay, as_non_negative, "seconds"),
        )

    def regions(self, items: list[tuple[str, int, Any]]) -> tuple[Region, ...]:
        out: list[Region] = []
        seen: dict[str, str] = {}
        known = {
            "id",
            "title",
            "language",
            "sections",
            "places",
            "description",
            "suppress_near_duplicates",
        }
        for file, i, raw in items:
            name = f"region[{i}]"
            if not isinstance(raw, dict):
                self.error(file, name, "must be a table")
                continue
            t = {k: (file, v) for k, v in raw.items()}
            rid = raw.get("id")
            if isinstance(rid, str):
                name = f"region {rid!r}"
            self.unknown(t, name, known)
            if not isinstance(rid, str) or not ID_PATTERN.match(rid) or rid == "all":
                self.error(
                    file,
                    f"{name}.id",
                    f"a region id must match [a-z0-9-]+ and not be "
                    f"'all' (it names files and URLs), got {rid!r}",
                    'use e.g. id = "europe"',
                )
                continue
            if rid in seen:
                self.error(
                    file,
                    f"{name}.id",
                    f"duplicate region id, also defined in {seen[rid]}",
                    "give each region its own id",
                )
                continue
            seen[rid] = file
            out.append(
                Region(
                    id=rid,
                    title=self.get(t, name, "title", rid, as_title, "a string"),
                    language=self.get(t, name, "language", None, as_language, "a language tag"),
                    sections=self.get(t, name, "sections", (), as_text_list, "a list of strings"),
                    places=self.get(t, name, "places", (), as_text_list, "a list of strings"),
                    description=self.get(t, name, "description", None, as_text, "a string"),
                    suppress_near_duplicates=self.boolean(
                        t, name, "suppress_near_duplicates", False
                    ),
                    file=file,
                )
            )
        return tuple(out)
