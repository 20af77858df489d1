"""Prometheus metrics of a running pipeline (`ingest run --metrics-port P`), with the standard
client library. The series live in their own registry, so a library user's process is not
polluted; the HTTP server starts only when a port is given.

    ingest_fetches_total{kind, outcome}      every fetch by kind (feed, article) and outcome
    ingest_polls_total{outcome}              feed polls: ok, not_modified, failed
    ingest_articles_total{outcome}           stored pages: new, version, unchanged, flipflop, suspect
    ingest_flags_total{flag}                 verdicts on new versions: duplicate:<kind>, garbled
    ingest_feed_failures{feed}               consecutive failed polls of each feed (0 when fine)
    ingest_in_flight, ingest_store_queue     work between the stages right now
    ingest_extraction_seconds                time of an extraction in the workers (histogram)
"""
from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from ingest.records import FetchLog, Stored


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.fetches = Counter("ingest_fetches", "Fetches by kind and outcome.", ["kind", "outcome"], registry=r)
        self.polls = Counter("ingest_polls", "Feed polls by outcome.", ["outcome"], registry=r)
        self.articles = Counter("ingest_articles", "Stored pages by outcome.", ["outcome"], registry=r)
        self.flags = Counter("ingest_flags", "Verdicts on new versions.", ["flag"], registry=r)
        self.feed_failures = Gauge("ingest_feed_failures", "Consecutive failed polls per feed.", ["feed"],
                                   registry=r)
        self.in_flight = Gauge("ingest_in_flight", "Articles between submit and store.", registry=r)
        self.store_queue = Gauge("ingest_store_queue", "Extracted articles waiting for the writer.", registry=r)
        self.extraction = Histogram("ingest_extraction_seconds", "Extraction time per page (worker round trip).",
                                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=r)

    def serve(self, host: str, port: int) -> int:
        """Start the /metrics HTTP server (a daemon thread); the port it listens on."""
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)

    def fetched(self, log: FetchLog) -> None:
        self.fetches.labels(log.kind, log.outcome).inc()

    def polled(self, feed: str, outcome: str, streak: int) -> None:
        self.polls.labels(outcome).inc()
        self.feed_failures.labels(feed).set(streak)

    def stored(self, stored: Stored) -> None:
        self.articles.labels(stored.outcome).inc()
        for flag in stored.flags:
            self.flags.labels(flag.split("+")[0] if flag.startswith("garbled") else flag).inc()

    def queues(self, in_flight: Callable[[], int], store_queue: Callable[[], int]) -> None:
        """Read the queue depths when scraped (no bookkeeping on the hot path)."""
        self.in_flight.set_function(in_flight)
        self.store_queue.set_function(store_queue)
