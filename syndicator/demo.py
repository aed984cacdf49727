"""The bundled demo: the invented sample news site shipped inside the package (``samples/``),
the address the service serves it at (``{base_url}/samples/`` with ``[service]
serve_samples``), and the starting folder ``syndicator init`` writes (``skeleton/``).

It only locates and copies those files; serving them is the web layer's, reading them the
fetcher's (through its ``mounts``).
"""

from __future__ import annotations

from pathlib import Path

from syndicator.config import Config

PACKAGE = Path(__file__).resolve().parent
SAMPLES_DIR = PACKAGE / "samples"
SAMPLES_PATH = "/samples/"
SKELETON_DIR = PACKAGE / "skeleton"
CONFIG_NAME = "syndicator.toml"
# What a sample file is served as. HTML goes without a charset: each page's own <meta> or BOM
# says its encoding (one is windows-1256, one UTF-16), as a real site's might.
SAMPLE_TYPES = {
    ".html": "text/html",
    ".xml": "application/xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".txt": "text/plain; charset=utf-8",
    ".gz": "application/gzip",
    ".jpg": "image/jpeg",
    ".md": "text/markdown; charset=utf-8",
}


def samples_url(base_url: str) -> str:
    """Where the samples are served: ``{base_url}/samples/``."""
    return base_url.rstrip("/") + SAMPLES_PATH


def mounts(config: Config) -> dict[str, Path]:
    """The fetcher's mounts for this config: the samples, when the service serves them."""
    if not config.service.serve_samples:
        return {}
    return {samples_url(config.service.base_url): SAMPLES_DIR}


def init(folder: Path, *, force: bool = False) -> list[Path]:
    """Write the starting configuration into ``folder/config/``; returns the files written.

    Refuses (FileExistsError) to overwrite a file that is there, unless ``force``."""
    written = []
    for template in sorted(SKELETON_DIR.glob("*.toml")):
        target = folder / "config" / template.name
        if target.exists() and not force:
            raise FileExistsError(target)
        written.append(target)
    for template, target in zip(sorted(SKELETON_DIR.glob("*.toml")), written, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(template.read_bytes())
    return written
