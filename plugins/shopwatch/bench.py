"""``hub bench shopwatch``: how fast the radio codec decodes, and how soon an emergency reaches the bus.

Two measurements in one run:

(a) decoding: a realistic CCDI stream (rings with status codes and emergencies, progress messages, texts,
    the radio's ``.`` after each) decoded in serial-sized reads, in frames per second, beside the number
    of frames per second a 115200-baud 8N1 line (the fastest a TM8200 runs) can carry at all; ``ratio``
    is how many such lines one core could keep up with;
(b) latency: the real adapter on a real pseudo-terminal through Twisted's SerialPort, publishing to a real
    bus with its journal on disk; a separate process plays the base radio and writes emergency frames;
    the time from the last byte of each frame written to the emergency event delivered to a bus
    subscriber. Both processes read CLOCK_MONOTONIC, which is one clock for the whole machine.

Timing uses ``time.perf_counter`` / ``time.monotonic_ns`` because a benchmark measures elapsed time; the
adapter's logic never does.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from hub.bench import percentile
from plugins.shopwatch.codec import DIALECTS
from plugins.shopwatch.codec import ccdi, fleetsync

#: The fastest line a Tait TM8200 runs, 8N1: ten bits on the wire per byte.
LINE_BAUD = 115_200
BITS_PER_BYTE = 10
#: Bytes per read, about what a USB serial adapter hands over at a time.
READ_SIZE = 64


def _ccdi_traffic(units: int = 50) -> tuple[bytes, int]:
    """A stretch of CCDI as a base radio sends it on a busy night; and the number of frames in it."""
    pieces: list[bytes] = []
    frames = 0
    for index in range(units):
        caller = f"{10000 + index}"
        messages: list[Any] = [
            ccdi.Ring("0", ccdi.RING_STATUS, 0, 0, 0, index % 12, caller),
            ccdi.Progress(ccdi.PROGRESS_DATA_RECEIVED),
            ccdi.Ring("0", ccdi.RING_SDM, 0, 0, 0, None, caller),
            ccdi.ReceivedSdm(f"Male grey hoodie Boots {index:02d}"[:32]),
            ccdi.Progress(ccdi.PROGRESS_SDM_AUTO_ACK, "1"),
        ]
        if index % 10 == 0:
            messages.append(ccdi.Ring("0", ccdi.RING_VOICE, 1, 0, ccdi.RING_ALARM_REQUEST, None, caller))
        for message in messages:
            pieces.append(ccdi.encode(message) + b".")
            frames += 1
    return b"".join(pieces), frames


def _fleetsync_traffic(units: int = 50) -> tuple[bytes, int]:
    pieces: list[bytes] = []
    for index in range(units):
        unit = f"{1000 + index:04d}"
        pieces.append(fleetsync.encode(fleetsync.Identified("100", unit, index % 90)))
        pieces.append(fleetsync.encode(fleetsync.DataReceived("100", unit, "Male grey hoodie heading to market")))
        pieces.append(fleetsync.encode(fleetsync.DeliveryReport(True)))
    return b"".join(pieces), 3 * units


def measure_decoding(dialect: str, seconds: float) -> dict[str, Any]:
    """Decode the dialect's traffic in READ_SIZE pieces for about ``seconds``; frames/s and the line limit."""
    stream, frames_per_pass = _ccdi_traffic() if dialect == "ccdi" else _fleetsync_traffic()
    chunks = [stream[start : start + READ_SIZE] for start in range(0, len(stream), READ_SIZE)]
    make_decoder = DIALECTS[dialect].decoder
    passes = 0
    decoded = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        decoder = make_decoder("from_radio")
        feed = decoder.feed
        for chunk in chunks:
            decoded += len(feed(chunk))
        passes += 1
        if decoder.stats.frames != frames_per_pass or decoder.stats.dropped:
            raise AssertionError(f"the {dialect} benchmark stream did not decode cleanly: {decoder.stats}")
        if time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - started
    frames_per_s = passes * frames_per_pass / elapsed
    bytes_per_frame = len(stream) / frames_per_pass
    line_frames_per_s = LINE_BAUD / BITS_PER_BYTE / bytes_per_frame
    return {
        "decode_frames_per_s": round(frames_per_s),
        "line_frames_per_s": round(line_frames_per_s, 1),
        "ratio": round(frames_per_s / line_frames_per_s, 1),
        "mean_frame_bytes": round(bytes_per_frame, 1),
    }


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count()}


# --- (b) latency: the hub's side ------------------------------------------------------------------------

#: Ten bits per byte at the default 9600 baud: how long an emergency frame itself takes on a real line.
DEFAULT_BAUD = 9600


async def measure_latency(reactor: Any, count: int, rate: float) -> dict[str, Any]:
    """Run the real adapter on a pty with a child process as the radio; last byte -> bus delivery."""
    import json
    import subprocess
    import sys
    import tempfile
    import tty
    from pathlib import Path

    import structlog
    from twisted.internet.defer import Deferred

    from hub.api import AdapterContext
    from hub.bus import Bus
    from hub.directory import Directory
    from hub.events import CORE_EVENT_TYPES, EventCodec, EventFactory, EventTypeRegistry
    from hub.journal import JOURNAL_MIGRATIONS, Journal
    from hub.sqlite_writer import ThreadedSqliteWriter, WriterSettings
    from plugins.shopwatch.adapter import ShopwatchAdapter
    from plugins.shopwatch.config import ShopwatchConfig
    from plugins.shopwatch.events import EVENT_TYPES

    master, slave = os.openpty()
    tty.setraw(slave)
    slave_path = os.ttyname(slave)
    radio = subprocess.Popen(
        [sys.executable, "-m", "plugins.shopwatch.bench", str(master), str(count), str(rate)],
        pass_fds=[master], stdout=subprocess.PIPE,
    )
    os.close(master)
    with tempfile.TemporaryDirectory(prefix="hub-bench-shopwatch-") as folder:
        registry = EventTypeRegistry()
        registry.register_all(CORE_EVENT_TYPES + tuple(EVENT_TYPES))
        writer = ThreadedSqliteWriter(Path(folder) / "journal.sqlite3", WriterSettings(synchronous="full"),
                                      reactor, JOURNAL_MIGRATIONS)
        journal = Journal(writer)
        journal.open()
        bus = Bus(journal, EventCodec(registry), reactor)
        delivered: dict[str, int] = {}
        done: Deferred[None] = Deferred()

        def emergency(event: Any) -> None:
            delivered[event.payload.member.unit] = time.monotonic_ns()
            if len(delivered) == count and not done.called:
                done.callback(None)

        bus.subscribe("shopwatch.emergency.raised", emergency, name="bench-latency")
        failures: list[BaseException] = []
        name = "shopwatch.bench"
        context = AdapterContext(
            name=name, adapter_type="shopwatch", reactor=reactor, bus=bus,
            log=structlog.get_logger().bind(adapter=name),
            config=ShopwatchConfig(port=slave_path, keepalive_s=0), events=EventFactory(reactor, name),
            fail=failures.append, directory=Directory(),
        )
        adapter = ShopwatchAdapter(context)
        adapter.startService()
        os.close(slave)  # the adapter holds its own descriptor now
        try:
            timeout = reactor.callLater(30 + count / rate, lambda: done.called or done.errback(
                TimeoutError(f"only {len(delivered)} of {count} emergencies reached the bus; {failures}")))
            await done
            if timeout.active():
                timeout.cancel()
        finally:
            await adapter.stopService()
            await bus.close()
        output, _ = radio.communicate(timeout=10)
    written = json.loads(output)
    latencies = sorted(
        (delivered[f"{90000000 + index}"] - at) / 1e6 for index, at in enumerate(written)
    )
    frame_bytes = len(ccdi.encode(ccdi.Ring("0", 0, 1, 0, 9, None, "90000000")))
    return {
        "emergency_p50_ms": round(percentile(latencies, 0.5), 3),
        "emergency_p99_ms": round(percentile(latencies, 0.99), 3),
        "emergency_max_ms": round(latencies[-1], 3),
        "emergency_goal_p99_ms": 20,
        "emergency_samples": len(latencies),
        "emergency_frame_wire_ms_at_9600_baud": round(frame_bytes * BITS_PER_BYTE / DEFAULT_BAUD * 1000, 3),
    }


async def run_benchmark(args: Any, reactor: Any) -> dict[str, Any]:
    """Both measurements, side by side, as ``hub bench shopwatch`` prints them."""
    decoding = measure_decoding("ccdi", args.seconds)
    fleetsync_decoding = measure_decoding("fleetsync", args.seconds)
    latency = await measure_latency(reactor, args.emergencies, args.rate)
    return {
        **decoding,
        "line_baud": LINE_BAUD,
        "fleetsync_decode_frames_per_s": fleetsync_decoding["decode_frames_per_s"],
        "fleetsync_ratio": fleetsync_decoding["ratio"],
        **latency,
        "emergency_rate_per_s": args.rate,
        "journal_synchronous": "full",
        **machine(),
    }


def add_arguments(parser: Any) -> None:
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of decoding per dialect (default 3)")
    parser.add_argument("--emergencies", type=int, default=1000,
                        help="emergency frames for the latency run (default 1000)")
    parser.add_argument("--rate", type=float, default=50.0, help="emergency frames per second (default 50)")


# --- (b) latency: the radio's side, in a child process ------------------------------------------------


def radio_main(argv: list[str] | None = None) -> int:
    """Play a CCDI base radio on the pty master ``fd``: accept every command with ``.``, and send ``count``
    emergency rings from distinct units at ``rate`` per second, after the hub has initialised the radio.
    Prints one JSON line: the CLOCK_MONOTONIC nanoseconds at which each frame's last byte was written."""
    import json
    import select
    import sys

    args = sys.argv[1:] if argv is None else argv
    fd, count, rate = int(args[0]), int(args[1]), float(args[2])
    os.set_blocking(fd, True)
    commands = ccdi.CcdiDecoder("to_radio")
    initialised = 0
    written: list[int] = []
    interval_ns = int(1e9 / rate)
    next_at: int | None = None
    while len(written) < count:
        now = time.monotonic_ns()
        timeout = 1.0 if next_at is None else max(0.0, (next_at - now) / 1e9)
        readable, _, _ = select.select([fd], [], [], timeout)
        if readable:
            for message in commands.feed(os.read(fd, 4096)):
                os.write(fd, b".")
                if isinstance(message, ccdi.Query):
                    reply = ccdi.RadioInfo("model" if message.what == ccdi.QUERY_MODEL else "serial", "BENCH")
                    os.write(fd, ccdi.encode(reply) + b".")
                if isinstance(message, ccdi.Function):
                    initialised += 1
            if next_at is None and initialised >= len(ccdi.STARTUP_FUNCTIONS):
                next_at = time.monotonic_ns() + 200_000_000  # let the start-up queries finish
            continue
        if next_at is not None and time.monotonic_ns() >= next_at:
            caller = f"{90000000 + len(written)}"
            ring = ccdi.encode(ccdi.Ring("0", ccdi.RING_VOICE, 1, 0, ccdi.RING_ALARM_REQUEST, None, caller))
            os.write(fd, ring)
            written.append(time.monotonic_ns())
            os.write(fd, b".")
            next_at += interval_ns
    print(json.dumps(written), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as the benchmark's child process
    raise SystemExit(radio_main())
