"""Reading the configuration: ``--config PATH`` (a file, or a folder whose ``*.toml`` files
are merged in name order) → TOML documents → one validated :class:`Config`, or every problem
at once (:class:`ConfigErrors`), each naming the file, the key and the fix.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from syndicator.config.records import DEFAULT_PATH, Config, Security
from syndicator.config.sections import SectionChecks
from syndicator.config.sources import SourceChecks
from syndicator.config.values import suggest
from syndicator.errors import ConfigError, ConfigErrors


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path or os.environ.get("SYNDICATOR_CONFIG") or DEFAULT_PATH)


def load(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read, merge and validate the configuration; raises ConfigErrors listing every problem."""
    root = config_path(path)
    env = os.environ if environ is None else environ
    if root.is_dir():
        files = sorted(root.glob("*.toml"))
        if not files:
            raise ConfigError(
                "no *.toml files in this folder",
                file=str(root),
                fix="add a config file, e.g. copy config/syndicator.toml",
            )
    elif root.is_file():
        files = [root]
    else:
        raise ConfigError(
            "no such file or folder",
            file=str(root),
            fix="pass --config PATH or set SYNDICATOR_CONFIG",
        )
    documents = []
    for f in files:
        try:
            with f.open("rb") as fh:
                documents.append((str(f), tomllib.load(fh)))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(
                f"not valid TOML: {e}", file=str(f), fix="fix the syntax at the line shown"
            ) from e
        except UnicodeDecodeError as e:
            raise ConfigError(
                f"not UTF-8 text (byte {e.start + 1} cannot be read as UTF-8)",
                file=str(f),
                fix="TOML files are UTF-8: save it as UTF-8",
            ) from e
        except RecursionError as e:
            raise ConfigError(
                "nested too deeply to be read (arrays or tables inside one another)",
                file=str(f),
                fix="flatten the nested values",
            ) from e
        except OSError as e:
            raise ConfigError(f"cannot read: {e.strerror}", file=str(f)) from e
    return from_documents(documents, env)


def from_documents(
    documents: list[tuple[str, dict[str, Any]]], environ: Mapping[str, str] | None = None
) -> Config:
    """Validate already-parsed TOML documents (``(file name, data)`` in merge order)."""
    v = Validator(os.environ if environ is None else environ)
    return v.run(documents)


class Validator(SectionChecks, SourceChecks):
    """Every check of the configuration: the documents merged, each table and list read."""

    def run(self, documents: list[tuple[str, dict[str, Any]]]) -> Config:
        tables: dict[str, dict[str, tuple[str, Any]]] = {
            "service": {},
            "publish": {},
            "security": {},
            "jobs": {},
        }
        lists: dict[str, list[tuple[str, int, Any]]] = {
            "region": [],
            "source": [],
            "notify": [],
        }
        for file, data in documents:
            for key, value in data.items():
                if key in tables:
                    if not isinstance(value, dict):
                        self.error(file, key, "must be a table", f"write [{key}]")
                        continue
                    for k, val in value.items():
                        tables[key][k] = (file, val)
                elif key in lists:
                    if not isinstance(value, list):
                        self.error(file, key, "must be an array of tables", f"write [[{key}]]")
                        continue
                    for i, item in enumerate(value):
                        lists[key].append((file, i, item))
                else:
                    self.error(
                        file,
                        key,
                        "unknown section" + suggest(key, [*tables, *lists]),
                        "remove it or fix its name",
                    )
        service = self.service(tables["service"])
        publish = self.publish(tables["publish"])
        security = Security(
            allow_private_targets=self.boolean(
                tables["security"], "security", "allow_private_targets", False
            ),
            allow_private_sources=self.boolean(
                tables["security"], "security", "allow_private_sources", False
            ),
        )
        self.unknown(
            tables["security"], "security", {"allow_private_targets", "allow_private_sources"}
        )
        jobs = self.jobs(tables["jobs"])
        regions = self.regions(lists["region"])
        region_ids = {r.id for r in regions}
        sources = self.sources(lists["source"], region_ids, service.base_url)
        notify = self.notifies(lists["notify"], region_ids)
        if self.errors:
            raise ConfigErrors(self.errors)
        return Config(
            service=service,
            publish=publish,
            security=security,
            jobs=jobs,
            regions=regions,
            sources=sources,
            notify=notify,
            files=tuple(f for f, _ in documents),
        )
