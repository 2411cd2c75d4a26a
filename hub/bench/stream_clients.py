"""The client side of ``hub bench console``: many WebSocket clients of ``/api/stream`` in one process.

Run as ``python -m hub.bench.stream_clients`` by the benchmark, in a process of its own so that the
clients' CPU is not counted as the hub's. Each client is a plain TCP connection speaking WebSocket
through wsproto (it must send the session cookie and an Origin header, which Twisted's client does not
let us add). For every event it takes the publish time the benchmark wrote into the payload and the
time it arrived, both from ``CLOCK_MONOTONIC``, which every process on the machine shares; it checks
that seqs come in order with no duplicate and no gap. When the end-marker event arrives (or time runs
out) it prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import orjson
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, RejectConnection, Request, TextMessage

from hub.bench import percentile

END_TOPIC = "bench.console.finished"


class StreamClient(Protocol):
    """One stream client; keeps its own latencies and checks its own ordering."""

    def __init__(self, host: str, target: str, cookie: str, origin: str, finished: Deferred) -> None:
        self._host = host
        self._target = target
        self._cookie = cookie
        self._origin = origin
        self._finished = finished
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._parts: list[str] = []
        self.latencies_ns: list[int] = []
        self.events = 0
        self.frames = 0
        self.last_seq = 0
        self.duplicates_or_disorder = 0
        self.accepted = False
        self.error: str | None = None
        self.done = False

    def connectionMade(self) -> None:  # noqa: N802 - Twisted's name
        headers = [(b"cookie", self._cookie.encode()), (b"origin", self._origin.encode())]
        self.transport.write(self._ws.send(Request(host=self._host, target=self._target, extra_headers=headers)))

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        self._ws.receive_data(data)
        for event in self._ws.events():
            if isinstance(event, TextMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    text = "".join(self._parts)
                    self._parts = []
                    self._message(text)
            elif isinstance(event, AcceptConnection):
                self.accepted = True
            elif isinstance(event, Ping):
                self.transport.write(self._ws.send(event.response()))
            elif isinstance(event, (RejectConnection, CloseConnection)):
                self.error = f"closed by the hub: {type(event).__name__} {getattr(event, 'code', '')}"
                self._finish()

    def _message(self, text: str) -> None:
        now = time.monotonic_ns()
        message = orjson.loads(text)
        if message.get("type") != "events":
            return
        self.frames += 1
        for event in message["events"]:
            seq = event["seq"]
            if seq <= self.last_seq:
                self.duplicates_or_disorder += 1
            self.last_seq = max(self.last_seq, seq)
            if event["topic"] == END_TOPIC:
                self._finish()
                return
            sent_ns = event["payload"].get("sent_ns")
            if sent_ns is not None:
                self.events += 1
                self.latencies_ns.append(now - sent_ns)

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            self._finished.callback(None)

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802 - Twisted's name
        if not self.done:
            self.error = self.error or "connection lost"
            self._finish()


def _percentile(sorted_values: list[int], fraction: float) -> float:
    # Samples are nanoseconds; figures are milliseconds.
    return percentile(sorted_values, fraction) / 1e6


def summarise(clients: list[StreamClient]) -> dict[str, Any]:
    """Latency over every event at every client, and per-client completeness."""
    latencies = sorted(value for client in clients for value in client.latencies_ns)
    per_client_events = [client.events for client in clients]
    return {
        "clients": len(clients),
        "events_received_per_client": per_client_events,
        "events_received_min": min(per_client_events, default=0),
        "events_received_max": max(per_client_events, default=0),
        "frames_received": sum(client.frames for client in clients),
        "duplicates_or_disorder": sum(client.duplicates_or_disorder for client in clients),
        "errors": [client.error for client in clients if client.error],
        "latency_ms_p50": _percentile(latencies, 0.50),
        "latency_ms_p99": _percentile(latencies, 0.99),
        "latency_ms_max": _percentile(latencies, 1.0),
    }


def main(argv: list[str] | None = None) -> int:
    from twisted.internet.defer import DeferredList
    from twisted.internet.task import react

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/api/stream")
    parser.add_argument("--cookie", default="", help="Cookie header value (read from stdin if '-')")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    cookie = sys.stdin.readline().strip() if args.cookie == "-" else args.cookie
    origin = f"http://{args.host}:{args.port}"

    async def run(reactor: Any) -> None:
        clients: list[StreamClient] = []
        finished: list[Deferred] = []
        for _ in range(args.clients):
            done: Deferred = Deferred()
            finished.append(done)
            client = StreamClient(f"{args.host}:{args.port}", args.path, cookie, origin, done)
            clients.append(client)
            endpoint = TCP4ClientEndpoint(reactor, args.host, args.port)
            await endpoint.connect(Factory.forProtocol(lambda client=client: client))
        # Tell the benchmark every client is connected, so it can start publishing.
        print("ready", flush=True)
        timeout = reactor.callLater(args.timeout, lambda: [c._finish() for c in clients])
        await DeferredList(finished)
        if timeout.active():
            timeout.cancel()
        print(orjson.dumps(summarise(clients)).decode(), flush=True)

    react(lambda reactor: Deferred.fromCoroutine(run(reactor)))
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a separate process by the benchmark
    sys.exit(main())
