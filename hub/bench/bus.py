"""``hub bench bus``: durable throughput and latency of the bus, beside raw SQLite on the same disk.

Three measurements in one run, on a temporary journal with the production settings (WAL,
synchronous=FULL, the threaded writer, the real reactor):

(a) throughput: pre-built events published as fast as the bus takes them, until all four subscribers
    have every one;
(b) latency: events offered at a steady rate, publish-to-delivery time at each of four subscribers;
(c) the physical limit: the same serialised rows inserted straight into SQLite, in batches of the size
    the bus itself committed in (a), with no bus, no Twisted and no JSON work.

Timing uses ``time.perf_counter`` because a benchmark measures elapsed time; hub logic never does.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from hub.bench import percentile
from hub.bus import Bus
from hub.events import (
    CORE_EVENT_TYPES,
    Event,
    EventCodec,
    EventFactory,
    EventTypeRegistry,
    Location,
    Severity,
    Subject,
)
from hub.journal import JOURNAL_MIGRATIONS, Journal
from hub.sqlite_writer import ThreadedSqliteWriter, WriterSettings, migrate, open_connection

@attrs.frozen
class RadioReport:
    """The benchmark's payload: a short free-text report, as a radio member sends."""

    TYPE: ClassVar[str] = "bench.report"

    text: str


SUBSCRIBERS = 4
PUBLISH_WINDOW = 5_000


@attrs.define
class BusBenchmark:
    """One run of the three measurements; ``run(reactor)`` fires with the JSON-ready result."""

    events: int = 50_000
    latency_seconds: float = 10.0
    rate: float = 2_000.0
    synchronous: str = "full"

    async def run(self, reactor: Any) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="hub-bench-") as folder:
            registry = EventTypeRegistry()
            registry.register_all(CORE_EVENT_TYPES + (RadioReport,))
            codec = EventCodec(registry)
            factory = EventFactory(reactor, "bench.source")
            throughput, rows, batch = await self._throughput(reactor, Path(folder) / "a.sqlite3", codec, factory)
            p50, p99, worst, samples = await self._latency(reactor, Path(folder) / "b.sqlite3", codec, factory)
            sqlite_rate = self._sqlite_limit(Path(folder) / "c.sqlite3", rows, batch)
        return {
            "durable_events_per_s": round(throughput),
            "sqlite_rows_per_s": round(sqlite_rate),
            "ratio": round(throughput / sqlite_rate, 3),
            "p50_ms": round(p50 * 1000, 3),
            "p99_ms": round(p99 * 1000, 3),
            "max_ms": round(worst * 1000, 3),
            "events": self.events,
            "subscribers": SUBSCRIBERS,
            "avg_batch_rows": round(batch, 1),
            "offered_rate": self.rate,
            "latency_samples": samples,
            "synchronous": self.synchronous,
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
        }

    def _open_bus(self, reactor: Any, path: Path, codec: EventCodec) -> Bus:
        writer = ThreadedSqliteWriter(path, WriterSettings(synchronous=self.synchronous), reactor, JOURNAL_MIGRATIONS)
        journal = Journal(writer)
        journal.open()
        return Bus(journal, codec, reactor)

    def _make_events(self, factory: EventFactory, count: int) -> list[Event]:
        # A realistic envelope: subject, location and a short payload, about 500 bytes of JSON.
        return [
            factory(
                "bench.report.received",
                RadioReport(f"Shopwatch report {index}: male, grey hoodie, heading towards the market"),
                severity=Severity.MEDIUM,
                subject=Subject(kind="radio_unit", id=f"{1000 + index % 50}", name="Unit"),
                summary=f"Report from unit {1000 + index % 50}",
                location=Location(name="High Street", camera="42", latitude=53.2351, longitude=-1.4216),
            )
            for index in range(count)
        ]

    async def _throughput(
        self, reactor: Any, path: Path, codec: EventCodec, factory: EventFactory
    ) -> tuple[float, list[tuple[Any, ...]], float]:
        bus = self._open_bus(reactor, path, codec)
        events = self._make_events(factory, self.events)
        finished = [Deferred() for _ in range(SUBSCRIBERS)]
        counts = [0] * SUBSCRIBERS

        def counter(index: int) -> Any:
            def handle(_event: Event) -> None:
                counts[index] += 1
                if counts[index] == self.events:
                    finished[index].callback(None)

            return handle

        for index in range(SUBSCRIBERS):
            bus.subscribe("bench.#", counter(index), name=f"bench-{index}")
        in_flight: deque[Deferred] = deque()
        started = time.perf_counter()
        for event in events:
            in_flight.append(bus.publish(event))
            if len(in_flight) >= PUBLISH_WINDOW:
                await in_flight.popleft()
        for done in finished:
            await done
        elapsed = time.perf_counter() - started
        journal = bus.journal
        batch = journal.rows_flushed / max(journal.flushes, 1)
        await bus.close()
        rows = [
            (
                seq,
                event.id,
                event.topic,
                event.received_at.timestamp(),
                codec.to_json(event),
            )
            for seq, event in enumerate(events, start=1)
        ]
        return self.events / elapsed, rows, batch

    async def _latency(
        self, reactor: Any, path: Path, codec: EventCodec, factory: EventFactory
    ) -> tuple[float, float, float, int]:
        bus = self._open_bus(reactor, path, codec)
        total = int(self.rate * self.latency_seconds)
        events = self._make_events(factory, total)
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        remaining = [total * SUBSCRIBERS]
        done: Deferred[None] = Deferred()

        def handle(event: Event) -> None:
            latencies.append(time.perf_counter() - sent_at[event.id])
            remaining[0] -= 1
            if remaining[0] == 0:
                done.callback(None)

        for index in range(SUBSCRIBERS):
            bus.subscribe("bench.#", handle, name=f"latency-{index}")
        started = time.perf_counter()
        sent = 0
        # Every millisecond, publish as many events as the offered rate owes by now.
        while sent < total:
            owed = min(total, int((time.perf_counter() - started) * self.rate) + 1)
            while sent < owed:
                event = events[sent]
                sent_at[event.id] = time.perf_counter()
                bus.publish(event)
                sent += 1
            await deferLater(reactor, 0.001, lambda: None)
        await done
        await bus.close()
        latencies.sort()
        return percentile(latencies, 0.5), percentile(latencies, 0.99), latencies[-1], len(latencies)

    def _sqlite_limit(self, path: Path, rows: list[tuple[Any, ...]], batch: float) -> float:
        connection = open_connection(path, WriterSettings(synchronous=self.synchronous))
        migrate(connection, JOURNAL_MIGRATIONS)
        size = max(1, round(batch))
        started = time.perf_counter()
        for start in range(0, len(rows), size):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT INTO events (seq, id, topic, received_at, body) VALUES (?, ?, ?, ?, ?)",
                rows[start : start + size],
            )
            connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
        return len(rows) / elapsed


