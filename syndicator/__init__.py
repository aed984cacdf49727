"""syndicator: polls news sources, normalizes and deduplicates articles, publishes region feeds.

The package is laid out as a pipeline (see docs/architecture.md): ``extract`` → ``normalize`` →
``fingerprint`` → ``regions`` form the pure core; ``fetch``, ``store``, ``publish`` and ``notify``
are the edges; ``ingest``, ``scheduler`` and ``web`` orchestrate; ``cli`` is the front door.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
