"""Metrics in the Prometheus text format: every signal the service acts on is also a metric.

One registry per running service (not the process-global one), so tests can run several.
Counters and histograms expose no ``*_created`` series. Metric names are a contract for
dashboards: change them only with a note in the CHANGELOG.
"""

from __future__ import annotations

import contextlib

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from syndicator.health import HEALTH_STATES

CONTENT_TYPE = CONTENT_TYPE_LATEST

# No ``*_created`` series: a counter's creation time is one more series per label set that no
# dashboard reads (Prometheus detects counter resets by itself). The switch is process-wide.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.fetches = Counter(
            "syndicator_fetches",
            "Documents fetched, by source and outcome (ok, not-modified, error)",
            ["source", "outcome"],
            registry=r,
        )
        self.passes = Counter(
            "syndicator_passes",
            "Source passes, by source and result (ok, not-modified, failed)",
            ["source", "result"],
            registry=r,
        )
        self.pass_seconds = Histogram(
            "syndicator_pass_seconds",
            "Duration of a source pass",
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.articles = Counter(
            "syndicator_articles",
            "Articles stored, by change (created, updated, duplicate, unchanged)",
            ["change"],
            registry=r,
        )
        self.publish_seconds = Histogram(
            "syndicator_publish_seconds",
            "Duration of publishing changed regions",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.published_files = Counter(
            "syndicator_published_files",
            "Feed files written because their bytes changed",
            registry=r,
        )
        self.deliveries = Counter(
            "syndicator_deliveries",
            "Notification deliveries, by target and outcome (delivered, retry, dead)",
            ["target", "outcome"],
            registry=r,
        )
        self.health = Gauge(
            "syndicator_source_health",
            "1 for the source's current health state, 0 for the others",
            ["source", "state"],
            registry=r,
        )
        self.failures = Gauge(
            "syndicator_source_consecutive_failures",
            "Failed passes in a row",
            ["source"],
            registry=r,
        )
        self.last_success = Gauge(
            "syndicator_source_last_success_timestamp_seconds",
            "When the source was last read successfully",
            ["source"],
            registry=r,
        )
        self.http = Counter(
            "syndicator_http_requests",
            "HTTP requests served, by route and status",
            ["route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "syndicator_http_request_seconds",
            "Time to answer an HTTP request",
            ["route"],
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
        )
        self.reloads = Counter(
            "syndicator_config_reloads", "Config reloads, by result", ["result"], registry=r
        )
        self.outbox_pending = Gauge(
            "syndicator_outbox_pending", "Events not yet delivered to every target", registry=r
        )

    def set_health(self, source: str, state: str) -> None:
        for s in HEALTH_STATES:
            self.health.labels(source, s).set(1 if s == state else 0)

    def forget(self, source: str) -> None:
        """Drop a removed source's series."""
        for gauge in (self.failures, self.last_success):
            with contextlib.suppress(KeyError):
                gauge.remove(source)
        for s in HEALTH_STATES:
            with contextlib.suppress(KeyError):
                self.health.remove(source, s)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
