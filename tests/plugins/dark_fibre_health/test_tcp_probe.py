"""The TCP connect probe: accepted is good and closed at once, refused and silent are failures that say
which, a connect the system refuses is named by its errno, and stop leaves nothing running.

Real loopback sockets where the kernel can do it (accept, refuse, and a listener whose full backlog
makes the kernel drop SYNs, which is a real timeout); a fake reactor for the errno mapping and stop."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from plugins.dark_fibre_health.probes import ProbeResult
from plugins.dark_fibre_health.tcp_probe import TcpProber


async def results_of(prober_results: list[ProbeResult], count: int, within_s: float = 10.0) -> None:
    waited = 0.0
    while len(prober_results) < count and waited < within_s:
        await deferLater(reactor, 0.02, lambda: None)
        waited += 0.02
    assert len(prober_results) == count, prober_results


@pytest_twisted.ensureDeferred
async def test_an_accepted_connection_is_good_and_closed_at_once():
    closed: Deferred[None] = Deferred()

    class Watch(Protocol):
        def connectionLost(self, reason=None):
            closed.callback(None)

    port = reactor.listenTCP(0, ServerFactory.forProtocol(Watch), interface="127.0.0.1")
    results: list[ProbeResult] = []
    prober = TcpProber(reactor, timeout_s=2.0, on_result=results.append)
    try:
        prober.probe("FN-01", "127.0.0.1", port.getHost().port)
        await results_of(results, 1)
        await closed  # the server sees the probe's connection end without anything sent
    finally:
        prober.stop()
        await port.stopListening()
    [result] = results
    assert (result.node, result.method, result.ok, result.error) == ("FN-01", "tcp", True, None)
    assert result.rtt_s is not None and result.rtt_s >= 0
    assert prober.pending == 0


@pytest_twisted.ensureDeferred
async def test_a_closed_port_is_refused_not_a_timeout():
    """A reset means the host answered: the judge may treat that as reachable, so it is told apart."""
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    results: list[ProbeResult] = []
    prober = TcpProber(reactor, timeout_s=2.0, on_result=results.append)
    prober.probe("FN-01", "127.0.0.1", port)
    await results_of(results, 1)
    assert [(result.ok, result.error, result.rtt_s) for result in results] == [(False, "refused", None)]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener whose backlog is full: the kernel drops further SYNs, so a connect gets no answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = socket.socket()
    queued.connect(("127.0.0.1", port))  # fills the backlog of one; never accepted
    try:
        yield port
    finally:
        queued.close()
        listener.close()


@pytest_twisted.ensureDeferred
async def test_no_answer_within_the_timeout_is_a_timeout(silent_port):
    results: list[ProbeResult] = []
    prober = TcpProber(reactor, timeout_s=0.3, on_result=results.append)
    prober.probe("FN-01", "127.0.0.1", silent_port)
    await results_of(results, 1, within_s=5.0)
    assert [(result.ok, result.error) for result in results] == [(False, "timeout")]
    assert prober.pending == 0


def _failed(code: int) -> Failure:
    return Failure(error.getConnectError(OSError(code, "from the kernel")))


@pytest.mark.parametrize("code", [errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES])
def test_a_connect_the_system_refuses_is_named_by_its_errno(code):
    clock = MemoryReactorClock()
    results: list[ProbeResult] = []
    prober = TcpProber(clock, timeout_s=1.0, on_result=results.append)
    clock.advance(5)
    prober.probe("FN-01", "10.0.0.7", 22)
    host, port, factory, timeout, _bind = clock.tcpClients[0]
    assert (host, port, timeout) == ("10.0.0.7", 22, 1.0)
    factory.clientConnectionFailed(clock.connectors[0], _failed(code))
    assert results == [ProbeResult("FN-01", "tcp", 5.0, False, None, errno.errorcode[code])]


def test_connecting_uses_the_reactors_timeout_not_a_timer_of_its_own():
    clock = MemoryReactorClock()
    prober = TcpProber(clock, timeout_s=0.8, on_result=lambda result: None)
    for number in range(10):
        prober.probe(f"FN-{number}", "10.0.0.7", 22)
    assert [client[3] for client in clock.tcpClients] == [0.8] * 10
    assert clock.getDelayedCalls() == []


def test_stop_abandons_the_attempts_out_without_a_result():
    clock = MemoryReactorClock()
    results: list[ProbeResult] = []
    prober = TcpProber(clock, timeout_s=1.0, on_result=results.append)
    prober.probe("FN-01", "10.0.0.7", 22)
    prober.stop()
    assert clock.connectors[0].stoppedConnecting
    clock.tcpClients[0][2].clientConnectionFailed(clock.connectors[0], Failure(error.UserError()))
    assert results == [] and prober.pending == 0
    with pytest.raises(RuntimeError, match="stopped"):
        prober.probe("FN-01", "10.0.0.7", 22)
