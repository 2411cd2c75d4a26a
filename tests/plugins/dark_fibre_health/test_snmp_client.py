"""The SNMP client on a fake clock and a fake UDP port: requests matched by id and source, timeouts and
retries on the injected clock, GETBULK walks that stop where they should, v3 discovery, the time-window
resync, reports as SnmpAuthError without secrets, strangers' datagrams dropped and counted, hundreds of
agents over one port, and no timer left behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from hub.secrets import Secret
from hub.testing import assert_no_pending_timers, failure_result_of, success_result_of
from plugins.dark_fibre_health.codec import snmp, usm
from plugins.dark_fibre_health.codec.snmp import (
    CommunityMessage,
    Pdu,
    SnmpValue,
    VarBind,
    parse_oid,
)
from plugins.dark_fibre_health.config import SnmpConfig, UsmConfig
from plugins.dark_fibre_health.snmp_client import (
    SnmpAuthError,
    SnmpClient,
    SnmpError,
    SnmpResponseError,
    SnmpTarget,
    SnmpTimeout,
)

SYS_DESCR = parse_oid("1.3.6.1.2.1.1.1.0")
IF_OPER = parse_oid("1.3.6.1.2.1.2.2.1.8")
AGENT = ("192.0.2.7", 161)
COMMUNITY = "c0mmunity-s3cret"
AUTH_PASSWORD = "auth-pa55word"
PRIV_PASSWORD = "priv-pa55word"


class FakeUdpPort:
    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.written: list[tuple[bytes, tuple[str, int]]] = []
        self.listening = True
        self.fail_with: OSError | None = None

    def write(self, data: bytes, address: tuple[str, int]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.written.append((data, address))

    def take(self) -> list[tuple[bytes, tuple[str, int]]]:
        written, self.written = self.written, []
        return written

    def stopListening(self) -> None:
        self.listening = False

    def getHost(self) -> Any:
        return type("Host", (), {"port": 40000})()


class FakeReactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.ports: list[FakeUdpPort] = []

    def listenUDP(self, port: int, protocol: Any, interface: str = "") -> FakeUdpPort:
        assert port == 0
        self.ports.append(FakeUdpPort(protocol))
        return self.ports[-1]

    @property
    def port(self) -> FakeUdpPort:
        return self.ports[-1]

    def deliver(self, data: bytes, source: tuple[str, int] = AGENT) -> None:
        self.port.protocol.datagramReceived(data, source)


def v2c_target(**changes: Any) -> SnmpTarget:
    return SnmpTarget(AGENT[0], AGENT[1], "2c", Secret(COMMUNITY), **changes)


def v3_target(**changes: Any) -> SnmpTarget:
    user = UsmConfig(user=changes.pop("user", "ops"), auth_password=Secret(changes.pop("auth", AUTH_PASSWORD)),
                     auth_protocol="sha256", priv_protocol="aes", priv_password=Secret(PRIV_PASSWORD))
    return SnmpTarget(AGENT[0], AGENT[1], "3", usm=user, **changes)


@pytest.fixture
def reactor() -> FakeReactor:
    return FakeReactor()


@pytest.fixture
def client(reactor: FakeReactor) -> SnmpClient:
    client = SnmpClient(reactor, random_bytes=lambda n: bytes(n))
    client.start()
    return client


def run(coroutine: Any) -> Deferred[Any]:
    return Deferred.fromCoroutine(coroutine)


def answer_v2c(reactor: FakeReactor, respond: Callable[[Pdu], Pdu | None]) -> list[Pdu]:
    """Answers every datagram written so far as a v2c agent would; returns the requests."""
    requests = []
    for data, address in reactor.port.take():
        message = snmp.decode_message(data)
        assert isinstance(message, CommunityMessage) and message.community == COMMUNITY.encode()
        requests.append(message.pdu)
        reply = respond(message.pdu)
        if reply is not None:
            reactor.deliver(snmp.encode_community_message(CommunityMessage("2c", message.community, reply)),
                            address)
    return requests


class Table:
    """A tiny MIB: sorted OIDs and values, answering GET and GETBULK like an agent."""

    def __init__(self, rows: dict[tuple[int, ...], SnmpValue]) -> None:
        self.rows = dict(sorted(rows.items()))

    def __call__(self, pdu: Pdu) -> Pdu:
        if pdu.kind == "get":
            return pdu.response([VarBind(vb.oid, self.rows.get(vb.oid, SnmpValue("no_such_instance")))
                                 for vb in pdu.varbinds])
        assert pdu.kind == "get_bulk"
        after = pdu.varbinds[0].oid
        following = [VarBind(oid, value) for oid, value in self.rows.items() if oid > after]
        following = following[:pdu.max_repetitions]
        if len(following) < pdu.max_repetitions:
            following.append(VarBind(following[-1].oid if following else after, SnmpValue("end_of_mib_view")))
        return pdu.response(following)


IF_TABLE = Table({
    **{IF_OPER + (index,): snmp.integer(1) for index in range(1, 8)},
    parse_oid("1.3.6.1.2.1.2.2.1.9.1"): SnmpValue("timeticks", 100),
    SYS_DESCR: snmp.octets("Cisco IOS Software"),
})


# --- v2c ----------------------------------------------------------------------------------------------


def test_get_sends_one_request_and_matches_the_reply(reactor, client):
    """GET goes out once, to the agent, with the community; the reply with its request id answers it."""
    result = run(client.get(v2c_target(), [SYS_DESCR]))
    requests = answer_v2c(reactor, IF_TABLE)
    assert [pdu.kind for pdu in requests] == ["get"]
    assert success_result_of(result) == [VarBind(SYS_DESCR, snmp.octets("Cisco IOS Software"))]
    assert len(reactor.ports) == 1
    assert_no_pending_timers(reactor)


def test_timeout_retries_then_fails(reactor, client):
    """retries=2, timeout 2 s: the same bytes go out at 0, 2 and 4 s, and at 6 s it is an SnmpTimeout."""
    result = run(client.get(v2c_target(retries=2, timeout_s=2.0), [SYS_DESCR]))
    sent = reactor.port.take()
    for _ in range(2):
        reactor.advance(1.9)
        assert reactor.port.take() == []
        reactor.advance(0.1)
        assert reactor.port.take() == sent
    reactor.advance(2.0)
    failure = failure_result_of(result)
    assert failure.check(SnmpTimeout)
    assert "192.0.2.7:161" in str(failure.value) and COMMUNITY not in str(failure.value)
    assert client.stats.retransmissions == 2 and client.stats.timeouts == 1
    assert_no_pending_timers(reactor)


def test_reply_to_a_retransmission_answers(reactor, client):
    result = run(client.get(v2c_target(retries=1, timeout_s=1.0), [SYS_DESCR]))
    reactor.port.take()
    reactor.advance(1.0)
    answer_v2c(reactor, IF_TABLE)
    assert success_result_of(result)[0].value == snmp.octets("Cisco IOS Software")
    assert_no_pending_timers(reactor)


def test_strangers_are_dropped_and_counted(reactor, client):
    """A reply from another address or port, one with an unknown id, and garbage are all dropped;
    the real reply still answers."""
    result = run(client.get(v2c_target(), [SYS_DESCR]))
    (data, _address), = reactor.port.take()
    request = snmp.decode_message(data).pdu
    good = snmp.encode_community_message(CommunityMessage("2c", b"x", IF_TABLE(request)))
    stray = snmp.encode_community_message(CommunityMessage("2c", b"x", Pdu("response", request.request_id + 1)))
    reactor.deliver(good, ("192.0.2.8", 161))
    reactor.deliver(good, ("192.0.2.7", 1161))
    reactor.deliver(stray)
    reactor.deliver(b"\x30\x82\xff\xff garbage")
    assert not result.called
    assert (client.stats.wrong_source, client.stats.unknown_id, client.stats.malformed) == (2, 1, 1)
    reactor.deliver(good)
    assert success_result_of(result)[0].oid == SYS_DESCR


def test_late_reply_after_timeout_is_counted_not_raised(reactor, client):
    result = run(client.get(v2c_target(retries=0, timeout_s=1.0), [SYS_DESCR]))
    written = reactor.port.take()
    reactor.advance(1.0)
    failure_result_of(result).trap(SnmpTimeout)
    reactor.port.written = written
    answer_v2c(reactor, IF_TABLE)
    assert client.stats.unknown_id == 1


def test_error_status_is_a_response_error(reactor, client):
    result = run(client.get(v2c_target(), [SYS_DESCR]))
    answer_v2c(reactor, lambda pdu: pdu.response(pdu.varbinds, error_status=snmp.GEN_ERR, error_index=1))
    error = failure_result_of(result).value
    assert isinstance(error, SnmpResponseError) and (error.status, error.index) == (5, 1)
    assert "genErr" in str(error)


def test_send_error_fails_at_once(reactor, client):
    """EHOSTUNREACH from the socket is an SnmpError now, not a timeout later."""
    reactor.port.fail_with = OSError(113, "No route to host")
    result = run(client.get(v2c_target(), [SYS_DESCR]))
    assert "No route to host" in str(failure_result_of(result).value)
    assert_no_pending_timers(reactor)


def test_walk_uses_getbulk_and_stops_at_the_end_of_the_subtree(reactor, client):
    """Walking ifOperStatus with 3 repetitions takes three GETBULKs and returns the seven rows only."""
    result = run(client.walk(v2c_target(max_repetitions=3), IF_OPER))
    requests = []
    while not result.called:
        requests += answer_v2c(reactor, IF_TABLE)
    assert [(pdu.kind, pdu.max_repetitions, pdu.non_repeaters) for pdu in requests] == [("get_bulk", 3, 0)] * 3
    assert [vb.oid for vb in success_result_of(result)] == [IF_OPER + (index,) for index in range(1, 8)]


def test_walk_stops_at_end_of_mib_view(reactor, client):
    result = run(client.walk(v2c_target(), parse_oid("1.3.6.1.2.1.1")))
    answer_v2c(reactor, IF_TABLE)
    assert [vb.oid for vb in success_result_of(result)] == [SYS_DESCR]


def test_walk_stops_at_an_oid_that_does_not_increase(reactor, client):
    """A broken agent that answers the same OID again ends the walk instead of looping forever."""
    def broken(pdu: Pdu) -> Pdu:
        return pdu.response([VarBind(IF_OPER + (1,), snmp.integer(1)), VarBind(IF_OPER + (1,), snmp.integer(1))])

    with capture_logs() as logs:
        result = run(client.walk(v2c_target(), IF_OPER))
        answer_v2c(reactor, broken)
    assert [vb.oid for vb in success_result_of(result)] == [IF_OPER + (1,)]
    assert [entry["event"] for entry in logs] == ["snmp_walk_not_increasing"]


def test_walk_limit(reactor, client):
    result = run(client.walk(v2c_target(max_repetitions=25), IF_OPER, limit=4))
    requests = answer_v2c(reactor, IF_TABLE)
    assert requests[0].max_repetitions == 4
    assert len(success_result_of(result)) == 4


def test_hundreds_of_agents_share_one_port(reactor, client):
    """500 agents polled at once: one UDP port, 500 datagrams, replies in reverse order each answering
    its own request."""
    targets = [SnmpTarget(f"10.1.{i // 250}.{i % 250 + 1}", 161, "2c", Secret(COMMUNITY)) for i in range(500)]
    results = [run(client.get(target, [SYS_DESCR])) for target in targets]
    written = reactor.port.take()
    assert len(reactor.ports) == 1 and len(written) == 500
    for data, address in reversed(written):
        request = snmp.decode_message(data).pdu
        reply = request.response([VarBind(SYS_DESCR, snmp.octets(address[0]))])
        reactor.deliver(snmp.encode_community_message(CommunityMessage("2c", b"x", reply)), address)
    assert [success_result_of(r)[0].value.value.decode() for r in results] == [t.host for t in targets]
    assert len({snmp.decode_message(data).pdu.request_id for data, _ in written}) == 500
    assert_no_pending_timers(reactor)


def test_cancelling_a_get_leaves_no_timer(reactor, client):
    result = run(client.get(v2c_target(), [SYS_DESCR]))
    result.cancel()
    failure_result_of(result)
    assert_no_pending_timers(reactor)


def test_stop_fails_requests_in_flight(reactor, client):
    result = run(client.get(v2c_target(), [SYS_DESCR]))
    success_result_of(client.stop())
    assert failure_result_of(result).check(SnmpError)
    assert not reactor.port.listening
    assert_no_pending_timers(reactor)


def test_target_from_config():
    config = SnmpConfig(version="2c", community=Secret(COMMUNITY), port=1161, timeout_s=1.5, retries=3,
                        max_repetitions=10)
    target = SnmpTarget.from_config("10.0.0.9", config)
    assert (target.host, target.port, target.version, target.timeout_s, target.retries, target.max_repetitions) == (
        "10.0.0.9", 1161, "2c", 1.5, 3, 10)
    assert COMMUNITY not in repr(target)


# --- v3 -----------------------------------------------------------------------------------------------

ENGINE = b"\x80\x00\x1f\x88\x80fibre-node-7"


class V3Agent:
    """A USM agent (the codec's own UsmAgent) answering from a Table on the fake clock."""

    def __init__(self, reactor: FakeReactor, engine_id: bytes = ENGINE, boots: int = 4, booted_at: float = -1000.0,
                 user: str = "ops") -> None:
        self.reactor = reactor
        keys = usm.UsmKeys.from_passwords(user.encode(), engine_id, auth="sha256",
                                          auth_password=AUTH_PASSWORD.encode(), priv="aes",
                                          priv_password=PRIV_PASSWORD.encode())
        self.usm = usm.UsmAgent(engine_id, {user.encode(): keys}, engine_boots=boots, salt=99)
        self.booted_at = booted_at
        self.seen: list[str] = []

    def answer(self, table: Table = IF_TABLE) -> None:
        for data, address in self.reactor.port.take():
            now = int(self.reactor.seconds() - self.booted_at)
            incoming = self.usm.receive(data, now)
            if isinstance(incoming, usm.AgentRequest):
                self.seen.append(incoming.pdu.kind)
                self.reactor.deliver(self.usm.respond(incoming, table(incoming.pdu), now), address)
            elif incoming is not None:
                self.seen.append("report")
                self.reactor.deliver(incoming, address)


def settle(agent: V3Agent, result: Deferred[Any], rounds: int = 10) -> None:
    for _ in range(rounds):
        if result.called:
            return
        agent.answer()


def test_v3_discovers_the_engine_once_then_gets(reactor, client):
    """The first GET is preceded by one discovery probe; the second goes straight out."""
    agent = V3Agent(reactor)
    first = run(client.get(v3_target(), [SYS_DESCR]))
    settle(agent, first)
    assert success_result_of(first) == [VarBind(SYS_DESCR, snmp.octets("Cisco IOS Software"))]
    assert agent.seen == ["report", "get"]
    second = run(client.get(v3_target(), [SYS_DESCR]))
    settle(agent, second)
    success_result_of(second)
    assert agent.seen == ["report", "get", "get"]
    assert client.stats.discoveries == 1


def test_v3_concurrent_requests_share_one_discovery(reactor, client):
    agent = V3Agent(reactor)
    results = [run(client.get(v3_target(), [SYS_DESCR])) for _ in range(3)]
    assert len(reactor.port.written) == 1
    for _ in range(3):
        agent.answer()
    assert all(success_result_of(result) for result in results)
    assert agent.seen == ["report", "get", "get", "get"]


def test_v3_walk(reactor, client):
    agent = V3Agent(reactor)
    result = run(client.walk(v3_target(max_repetitions=5), IF_OPER))
    settle(agent, result)
    assert len(success_result_of(result)) == 7


def test_v3_engine_clock_advances_with_the_reactor(reactor, client):
    """An hour later the client's estimate of the engine time is still inside the window: no report."""
    agent = V3Agent(reactor)
    settle(agent, first := run(client.get(v3_target(), [SYS_DESCR])))
    success_result_of(first)
    reactor.advance(3600)
    settle(agent, later := run(client.get(v3_target(), [SYS_DESCR])))
    success_result_of(later)
    assert agent.seen == ["report", "get", "get"] and client.stats.resyncs == 0


def test_v3_not_in_time_window_resyncs_once_and_retries(reactor, client):
    """The agent rebooted (boots 4 -> 5, clock from zero): its authenticated notInTimeWindows report
    resets the client's idea of the engine clock and the request goes again, once."""
    agent = V3Agent(reactor)
    settle(agent, first := run(client.get(v3_target(), [SYS_DESCR])))
    success_result_of(first)
    agent.usm.engine_boots = 5
    agent.booted_at = reactor.seconds()
    with capture_logs() as logs:
        settle(agent, result := run(client.get(v3_target(), [SYS_DESCR])))
    assert success_result_of(result)[0].oid == SYS_DESCR
    assert agent.seen == ["report", "get", "report", "get"]
    assert client.stats.resyncs == 1
    assert "snmp_time_resync" in [entry["event"] for entry in logs]


def test_v3_unknown_engine_id_rediscovers_once(reactor, client):
    """The node was replaced (a new engine id at the same address): discovered again, then answered."""
    settle(old := V3Agent(reactor), first := run(client.get(v3_target(), [SYS_DESCR])))
    success_result_of(first)
    new = V3Agent(reactor, engine_id=b"\x80\x00\x1f\x88\x80replacement")
    settle(new, result := run(client.get(v3_target(), [SYS_DESCR])))
    assert success_result_of(result)
    assert new.seen == ["report", "report", "get"] and old.seen == ["report", "get"]
    assert client.stats.discoveries == 2


@pytest.mark.parametrize(("changes", "report"), [({"auth": "wrong-pa55word"}, "wrongDigests"),
                                                  ({"user": "nobody"}, "unknownUserNames")])
def test_v3_refusals_are_auth_errors_without_secrets(reactor, client, changes, report):
    """A wrong password or an unknown user is an SnmpAuthError naming the report; no password, key or
    community in its text or in the log."""
    agent = V3Agent(reactor)
    with capture_logs() as logs:
        settle(agent, result := run(client.get(v3_target(**changes), [SYS_DESCR])))
    error = failure_result_of(result).value
    assert isinstance(error, SnmpAuthError) and error.report == report
    text = str(error) + repr(error) + repr(logs)
    for secret in (AUTH_PASSWORD, PRIV_PASSWORD, "wrong-pa55word"):
        assert secret not in text
    keys = next(iter(client._keys.values()))
    assert keys.auth_key.hex() not in text and repr(keys.auth_key)[2:-1] not in text
    assert_no_pending_timers(reactor)


def test_v3_forged_response_is_dropped(reactor, client):
    """A response signed with another key is dropped and counted; the agent's own reply answers."""
    agent = V3Agent(reactor)
    settle(agent, first := run(client.get(v3_target(), [SYS_DESCR])))
    success_result_of(first)
    result = run(client.get(v3_target(), [SYS_DESCR]))
    (data, address), = reactor.port.written
    forger = V3Agent(reactor)
    forger.usm.users = {b"ops": usm.UsmKeys.from_passwords(b"ops", ENGINE, auth="sha256", auth_password=b"other",
                                                          priv="aes", priv_password=PRIV_PASSWORD.encode())}
    message = snmp.decode_message(data)
    forged = usm.protect(snmp.HeaderData(message.header.msg_id, flags=3),
                         snmp.UsmSecurityParameters(ENGINE, 4, 1000, b"ops"),
                         snmp.ScopedPdu(ENGINE, b"", Pdu("response", message.header.msg_id,
                                                         (VarBind(SYS_DESCR, snmp.octets("forged")),))),
                         forger.usm.users[b"ops"], salt=bytes(8))
    reactor.deliver(forged, address)
    assert not result.called and client.stats.bad_auth == 1
    agent.answer()
    assert success_result_of(result)[0].value == snmp.octets("Cisco IOS Software")


def test_v3_silent_agent_times_out_with_a_hint(reactor, client):
    """net-snmp drops what it cannot decrypt; the timeout says a wrong privacy password looks like this."""
    agent = V3Agent(reactor)
    settle(agent, first := run(client.get(v3_target(), [SYS_DESCR])))
    success_result_of(first)
    result = run(client.get(v3_target(retries=0), [SYS_DESCR]))
    reactor.advance(2.0)
    assert "privacy password" in str(failure_result_of(result).value)
