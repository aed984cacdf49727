"""Publishing: a region's entries rendered as Atom 1.0, RSS 2.0 and JSON Feed 1.1, RFC 5005 archive
pages, the OPML list and the index page, written atomically into the feeds folder.

The renderers (``render_*``, :mod:`.render`) are pure: records in, bytes out, no disk and no
clock, so the same entries always render the same bytes (feed ``updated`` is the newest entry's,
never *now*). Atom is written directly (:mod:`.atom`: the bytes feedgen and lxml would give,
without building a tree); RSS is built with feedgen, and what feedgen cannot express there (hub
links, Media RSS, ``dc:creator``) is added through its extension API (:mod:`.extensions`);
entries are prepared once for all formats (:mod:`.items`). :class:`Publisher`
(:mod:`.publisher`) is the edge: it reads the store, renders, and replaces only the files whose
bytes changed (:mod:`.files`). This package does not fetch, store or notify. The renderers load
on first use (:mod:`syndicator.lazy`).
"""

from typing import TYPE_CHECKING

from syndicator import lazy
from syndicator.direction import is_rtl, well_formed_tag
from syndicator.publish.atom import ArchiveLinks
from syndicator.publish.common import (
    ALL,
    AT_NS,
    ATOM_NS,
    DC_NS,
    EPOCH,
    FH_NS,
    FORMAT_NAMES,
    FORMATS,
    GENERATOR,
    JSON_FEED_VERSION,
    MEDIA_NS,
    MEDIA_TYPES,
    TEXT_DUMP_TYPE,
    TEXT_METHODS,
    XML_LANG,
    XML_NS,
    archive_url,
    check_id,
    deleted,
    directed,
    feed_url,
    home_url,
    image_type,
    newest,
    ordered,
    web_link,
)
from syndicator.publish.files import (
    STALE_TEMP_SECONDS,
    TEMP_SUFFIX,
    sweep_temporary,
    write_atomic,
)
from syndicator.publish.publisher import Publisher, PublishResult, renderer_processes

if TYPE_CHECKING:
    from syndicator.publish.render import (
        preferred_format,
        render_archive_page,
        render_atom,
        render_json,
        render_opml,
        render_region,
        render_rss,
    )

# The renderers load with the first of their names asked for (feedgen, lxml: a `once` whose
# sources changed nothing renders no region).
# fmt: off
__getattr__, __dir__ = lazy.exports(__name__, {
    "render": (
        "preferred_format", "render_archive_page", "render_atom", "render_json", "render_opml",
        "render_region", "render_rss",
    ),
})
# fmt: on

__all__ = [
    "ALL",
    "ATOM_NS",
    "AT_NS",
    "DC_NS",
    "EPOCH",
    "FH_NS",
    "FORMATS",
    "FORMAT_NAMES",
    "GENERATOR",
    "JSON_FEED_VERSION",
    "MEDIA_NS",
    "MEDIA_TYPES",
    "STALE_TEMP_SECONDS",
    "TEMP_SUFFIX",
    "TEXT_DUMP_TYPE",
    "TEXT_METHODS",
    "XML_LANG",
    "XML_NS",
    "ArchiveLinks",
    "PublishResult",
    "Publisher",
    "archive_url",
    "check_id",
    "deleted",
    "directed",
    "feed_url",
    "home_url",
    "image_type",
    "is_rtl",
    "newest",
    "ordered",
    "preferred_format",
    "render_archive_page",
    "render_atom",
    "render_json",
    "render_opml",
    "render_region",
    "render_rss",
    "renderer_processes",
    "sweep_temporary",
    "web_link",
    "well_formed_tag",
    "write_atomic",
]
