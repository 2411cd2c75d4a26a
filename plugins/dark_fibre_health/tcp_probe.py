"""The TCP connect probe, for nodes that drop ICMP: a connection to the management port, closed at once.

Accepted is ``ok``. Refused (a reset) is ``ok=False`` with ``error="refused"``: the host, or a firewall
in front of it, answered, so the path is alive even though the port is closed. Whether that counts as up
is the judge's decision, not the prober's; the prober only says what happened. No answer within
``timeout_s`` is ``"timeout"``; a connect the system refuses at once is its errno name
(``"EHOSTUNREACH"``, ``"ENETUNREACH"``...).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from twisted.internet import error as twisted_errors
from twisted.internet.protocol import ClientFactory, Protocol

from plugins.dark_fibre_health.probes import REFUSED, TIMEOUT, ProbeResult


class _Connected(Protocol):
    def connectionMade(self) -> None:
        self.factory.connected(self)
        self.transport.abortConnection()


class _Probe(ClientFactory):
    """One connect attempt; tells the prober once, whichever way it ends."""

    protocol = _Connected
    noisy = False

    def __init__(self, prober: TcpProber, node: str, sent_at: float) -> None:
        self.prober = prober
        self.node = node
        self.sent_at = sent_at
        self.connector: Any = None
        self.done = False

    def connected(self, _protocol: Protocol) -> None:
        if not self.done:
            self.done = True
            self.prober._finished(self, True, None)

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        if not self.done:
            self.done = True
            self.prober._finished(self, False, _failure_name(reason.value))

    def clientConnectionLost(self, connector: Any, reason: Any) -> None:
        pass  # we closed it, after connectionMade reported the success


def _failure_name(failure: BaseException) -> str:
    if isinstance(failure, twisted_errors.ConnectionRefusedError):
        return REFUSED
    if isinstance(failure, (twisted_errors.TimeoutError, twisted_errors.TCPTimedOutError)):
        return TIMEOUT
    code = getattr(failure, "osError", None)
    if isinstance(code, int) and code in errno.errorcode:
        return errno.errorcode[code]
    number = failure.args[0] if failure.args and isinstance(failure.args[0], int) else None
    if number in errno.errorcode:
        return errno.errorcode[number]
    return type(failure).__name__


class TcpProber:
    """Connects to ``address:port`` for a node; every ``probe`` gives exactly one ``on_result``, unless
    ``stop`` came first (the attempts still out are abandoned without a result)."""

    def __init__(self, reactor: Any, *, timeout_s: float, on_result: Callable[[ProbeResult], None],
                 log: Any = None) -> None:
        self._reactor = reactor
        self._timeout_s = timeout_s
        self._on_result = on_result
        self._log = log
        self._out: set[_Probe] = set()
        self._stopped = False

    def probe(self, node: str, address: str, port: int) -> None:
        if self._stopped:
            raise RuntimeError("the TCP prober is stopped")
        attempt = _Probe(self, node, self._reactor.seconds())
        self._out.add(attempt)
        attempt.connector = self._reactor.connectTCP(address, port, attempt, timeout=self._timeout_s)

    @property
    def pending(self) -> int:
        return len(self._out)

    def _finished(self, attempt: _Probe, ok: bool, error: str | None) -> None:
        self._out.discard(attempt)
        if self._stopped:
            return
        rtt = self._reactor.seconds() - attempt.sent_at if ok else None
        self._on_result(ProbeResult(attempt.node, "tcp", attempt.sent_at, ok, rtt, error))

    def stop(self) -> None:
        """Abandon every attempt still out (its connector stops, its timer goes); no result follows."""
        self._stopped = True
        out, self._out = self._out, set()
        for attempt in out:
            attempt.done = True
            if attempt.connector is not None:
                try:
                    attempt.connector.stopConnecting()
                except twisted_errors.NotConnectingError:
                    pass  # connected a moment ago and being closed already
