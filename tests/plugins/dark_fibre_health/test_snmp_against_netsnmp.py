"""Real peers over loopback. net-snmp's snmpd (started here with its own config, no system files) is read
by the real client on the real reactor: sysDescr, the IF-MIB walk (checked against net-snmp's own
snmpbulkwalk), every auth and privacy protocol including AES-192/256, and the failures an operator meets
(wrong community, wrong password, unknown user, wrong privacy password). The other way round, net-snmp's
snmpget and snmpbulkwalk read a small agent built on this codec (v2c and v3), so the agent side the
simulator uses is proven against an implementation nobody here wrote."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.utils import getProcessOutputAndValue

from hub.secrets import Secret
from plugins.dark_fibre_health.codec import snmp, usm
from plugins.dark_fibre_health.codec.snmp import (
    CommunityMessage,
    Pdu,
    SnmpDecodeError,
    SnmpValue,
    VarBind,
    parse_oid,
)
from plugins.dark_fibre_health.config import UsmConfig
from plugins.dark_fibre_health.snmp_client import (
    SnmpAuthError,
    SnmpClient,
    SnmpTarget,
    SnmpTimeout,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("snmpd") is None or shutil.which("snmpget") is None,
                       reason="needs Debian's snmpd and snmp packages"),
]

SYS_DESCR = parse_oid("1.3.6.1.2.1.1.1.0")
IF_TABLE = parse_oid("1.3.6.1.2.1.2.2")
IF_DESCR = parse_oid("1.3.6.1.2.1.2.2.1.2")
DESCRIPTION = "fibre ring test agent"
COMMUNITY = "ring-c0mmunity"
# net-snmp without MIB files: numeric OIDs only, and no warnings about missing modules.
NET_SNMP_ENV = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}

#: name: (auth protocol, auth password, priv protocol, priv password), as UsmConfig and net-snmp name them.
USERS = {
    "sha256aes": ("sha256", "auth-pass-256", "aes", "priv-pass-128"),
    "md5aes": ("md5", "auth-pass-md5", "aes", "priv-pass-md5"),
    "shaaes256": ("sha", "auth-pass-sha", "aes256", "priv-pass-256"),
    "md5aes192": ("md5", "auth-pass-md5", "aes192", "priv-pass-192"),
    "sha224aes256": ("sha224", "auth-pass-224", "aes256", "priv-pass-224"),
    "sha384aes": ("sha384", "auth-pass-384", "aes", "priv-pass-384"),
    "sha512auth": ("sha512", "auth-pass-512", "none", None),
}
NET_SNMP_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
                 "sha512": "SHA-512"}
NET_SNMP_PRIV = {"aes": "AES", "aes192": "AES-192", "aes256": "AES-256"}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    request = snmp.encode_community_message(CommunityMessage("2c", COMMUNITY.encode(), Pdu.get(1, [SYS_DESCR])))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        probe.sendto(request, ("127.0.0.1", port))
        try:
            return bool(probe.recv(65535))
        except OSError:
            return False


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """net-snmp's snmpd on 127.0.0.1:<free port>, with a v2c community and the USERS; its port."""
    folder = tmp_path_factory.mktemp("snmpd")
    port = free_udp_port()
    lines = [f"rocommunity {COMMUNITY} 127.0.0.1", f"sysDescr {DESCRIPTION}"]
    for user, (auth, auth_password, priv, priv_password) in USERS.items():
        privacy = f' {NET_SNMP_PRIV[priv]} "{priv_password}"' if priv != "none" else ""
        lines.append(f'createUser {user} {NET_SNMP_AUTH[auth]} "{auth_password}"{privacy}')
        lines.append(f"rouser {user} {'authpriv' if priv != 'none' else 'auth'}")
    (folder / "snmpd.conf").write_text("\n".join(lines) + "\n")
    (folder / "persistent").mkdir()
    log = (folder / "snmpd.log").open("wb")
    process = subprocess.Popen(
        ["snmpd", "-f", "-Lo", "-C", "-c", str(folder / "snmpd.conf"), f"udp:127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, env={**NET_SNMP_ENV, "SNMP_PERSISTENT_DIR": str(folder / "persistent")})
    try:
        deadline = time.monotonic() + 15
        while not answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"snmpd did not start: {(folder / 'snmpd.log').read_text()[-2000:]}")
        yield port
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def client() -> Iterator[SnmpClient]:
    client = SnmpClient(reactor, interface="127.0.0.1")
    client.start()
    yield client
    pytest_twisted.blockon(client.stop())


def v3(port: int, user: str, **changes: Any) -> SnmpTarget:
    auth, auth_password, priv, priv_password = USERS.get(user, USERS["sha256aes"])
    auth_password = changes.pop("auth_password", auth_password)
    priv_password = changes.pop("priv_password", priv_password)
    config = UsmConfig(user=user, auth_protocol=auth, auth_password=Secret(auth_password), priv_protocol=priv,
                       priv_password=Secret(priv_password) if priv_password else None)
    return SnmpTarget("127.0.0.1", port, "3", usm=config, **changes)


@pytest_twisted.ensureDeferred
async def test_v2c_get_sys_descr(snmpd, client):
    target = SnmpTarget("127.0.0.1", snmpd, "2c", Secret(COMMUNITY))
    assert await client.get(target, [SYS_DESCR]) == [VarBind(SYS_DESCR, snmp.octets(DESCRIPTION))]


@pytest_twisted.ensureDeferred
async def test_v2c_walk_of_if_table_is_what_snmpbulkwalk_sees(snmpd, client):
    """The walk of ifTable returns exactly the OIDs net-snmp's own snmpbulkwalk lists, in order, and the
    loopback interface among the ifDescr values."""
    target = SnmpTarget("127.0.0.1", snmpd, "2c", Secret(COMMUNITY), max_repetitions=7)
    walked = await client.walk(target, IF_TABLE)
    output, _error, code = await getProcessOutputAndValue(
        "snmpbulkwalk", ["-On", "-v2c", "-c", COMMUNITY, f"127.0.0.1:{snmpd}", snmp.format_oid(IF_TABLE)],
        env=NET_SNMP_ENV)
    assert code == 0
    theirs = [line.split(" = ")[0].lstrip(".") for line in output.decode().splitlines() if " = " in line]
    assert [snmp.format_oid(vb.oid) for vb in walked] == theirs
    assert b"lo" in [vb.value.value for vb in walked if vb.oid[:len(IF_DESCR)] == IF_DESCR]


@pytest_twisted.ensureDeferred
async def test_v2c_wrong_community_times_out(snmpd, client):
    """net-snmp ignores a wrong community, so all the hub sees is silence."""
    target = SnmpTarget("127.0.0.1", snmpd, "2c", Secret("not-the-community"), timeout_s=0.3, retries=1)
    with pytest.raises(SnmpTimeout) as caught:
        await client.get(target, [SYS_DESCR])
    assert "not-the-community" not in str(caught.value)


@pytest.mark.parametrize("user", sorted(USERS))
@pytest_twisted.ensureDeferred
async def test_v3_every_protocol_reads_sys_descr_and_walks(snmpd, client, user):
    """Each auth protocol (MD5, SHA-1, SHA-224/256/384/512) and privacy protocol (AES-128, and AES-192/256
    with net-snmp's Blumenthal key extension) reads sysDescr and walks ifDescr."""
    target = v3(snmpd, user)
    assert await client.get(target, [SYS_DESCR]) == [VarBind(SYS_DESCR, snmp.octets(DESCRIPTION))]
    assert b"lo" in [vb.value.value for vb in await client.walk(target, IF_DESCR)]


@pytest_twisted.ensureDeferred
async def test_v3_wrong_auth_password_is_an_auth_error(snmpd, client):
    with pytest.raises(SnmpAuthError) as caught:
        await client.get(v3(snmpd, "sha256aes", auth_password="not-the-password"), [SYS_DESCR])
    assert caught.value.report == "wrongDigests"
    assert "not-the-password" not in str(caught.value)


@pytest_twisted.ensureDeferred
async def test_v3_unknown_user_is_an_auth_error(snmpd, client):
    with pytest.raises(SnmpAuthError) as caught:
        await client.get(v3(snmpd, "intruder"), [SYS_DESCR])
    assert caught.value.report == "unknownUserNames"
    assert "intruder" in str(caught.value)


@pytest_twisted.ensureDeferred
async def test_v3_wrong_privacy_password_times_out_with_a_hint(snmpd, client):
    """net-snmp drops a request it cannot decrypt without a report; the timeout says what to check."""
    with pytest.raises(SnmpTimeout, match="privacy password"):
        await client.get(v3(snmpd, "sha256aes", priv_password="not-the-privacy", timeout_s=0.3, retries=0),
                         [SYS_DESCR])


# --- net-snmp's tools against an agent built on this codec --------------------------------------------

AGENT_ENGINE = b"\x80\x00\x1f\x88\x04fibre-codec"
AGENT_ROWS = {
    SYS_DESCR: snmp.octets("codec agent"),
    parse_oid("1.3.6.1.2.1.1.3.0"): SnmpValue("timeticks", 123456),
    **{parse_oid(f"1.3.6.1.2.1.2.2.1.2.{i}"): snmp.octets(f"Te1/{i}") for i in range(1, 6)},
    **{parse_oid(f"1.3.6.1.2.1.2.2.1.8.{i}"): snmp.integer(1 if i % 2 else 2) for i in range(1, 6)},
    **{parse_oid(f"1.3.6.1.2.1.31.1.1.1.6.{i}"): SnmpValue("counter64", 2**40 + i) for i in range(1, 6)},
    parse_oid("1.3.6.1.4.1.2636.3.60.1.1.1.1.5.501"): snmp.integer(-723),
}


class CodecAgent(DatagramProtocol):
    """A minimal read-only agent: GET, GETNEXT and GETBULK over a sorted table, v2c and v3 (USM)."""

    def __init__(self) -> None:
        self.rows = dict(sorted(AGENT_ROWS.items()))
        self.oids = list(self.rows)
        users = {}
        for name, (auth, auth_password, priv, priv_password) in USERS.items():
            users[name.encode()] = usm.UsmKeys.from_passwords(
                name.encode(), AGENT_ENGINE, auth=auth, auth_password=auth_password.encode(), priv=priv,
                priv_password=(priv_password or "").encode())
        self.usm = usm.UsmAgent(AGENT_ENGINE, users, engine_boots=2, salt=12345)
        self.started = reactor.seconds()

    def next_after(self, oid: tuple[int, ...]) -> VarBind:
        for candidate in self.oids:
            if candidate > oid:
                return VarBind(candidate, self.rows[candidate])
        return VarBind(oid, SnmpValue("end_of_mib_view"))

    def answer(self, pdu: Pdu) -> Pdu:
        if pdu.kind == "get":
            return pdu.response([VarBind(vb.oid, self.rows.get(vb.oid, SnmpValue("no_such_object")))
                                 for vb in pdu.varbinds])
        if pdu.kind == "get_next":
            return pdu.response([self.next_after(vb.oid) for vb in pdu.varbinds])
        if pdu.kind == "get_bulk":
            found = [self.next_after(vb.oid) for vb in pdu.varbinds[:pdu.non_repeaters]]
            cursors = [vb.oid for vb in pdu.varbinds[pdu.non_repeaters:]]
            for _ in range(min(pdu.max_repetitions, 50)):
                row = [self.next_after(oid) for oid in cursors]
                found.extend(row)
                cursors = [vb.oid for vb in row]
            return pdu.response(found)
        return pdu.response(pdu.varbinds, error_status=snmp.GEN_ERR, error_index=1)

    def datagramReceived(self, data: bytes, address: Any) -> None:
        try:
            message = snmp.decode_message(data)
        except SnmpDecodeError:
            return
        if isinstance(message, CommunityMessage):
            if message.community == COMMUNITY.encode() and message.pdu.kind in snmp.REQUEST_KINDS:
                reply = CommunityMessage(message.version, message.community, self.answer(message.pdu))
                self.transport.write(snmp.encode_community_message(reply), address)
            return
        now = int(reactor.seconds() - self.started)
        incoming = self.usm.receive(data, now)
        if isinstance(incoming, usm.AgentRequest):
            self.transport.write(self.usm.respond(incoming, self.answer(incoming.pdu), now), address)
        elif incoming is not None:
            self.transport.write(incoming, address)


@pytest.fixture
def codec_agent() -> Iterator[int]:
    port = reactor.listenUDP(0, CodecAgent(), interface="127.0.0.1")
    yield port.getHost().port
    stopped = port.stopListening()
    if stopped is not None:
        pytest_twisted.blockon(stopped)


async def net_snmp(tool: str, *arguments: str) -> list[str]:
    output, error, code = await getProcessOutputAndValue(tool, ["-On", "-t", "2", "-r", "1", *arguments],
                                                         env=NET_SNMP_ENV)
    assert code == 0, error.decode()
    return output.decode().splitlines()


@pytest_twisted.ensureDeferred
async def test_snmpget_v2c_reads_the_codec_agent(codec_agent):
    lines = await net_snmp("snmpget", "-v2c", "-c", COMMUNITY, f"127.0.0.1:{codec_agent}", "1.3.6.1.2.1.1.1.0",
                           "1.3.6.1.2.1.1.3.0", "1.3.6.1.4.1.2636.3.60.1.1.1.1.5.501", "1.3.6.1.2.1.1.9.0")
    assert lines == [
        '.1.3.6.1.2.1.1.1.0 = STRING: "codec agent"',
        ".1.3.6.1.2.1.1.3.0 = Timeticks: (123456) 0:20:34.56",
        ".1.3.6.1.4.1.2636.3.60.1.1.1.1.5.501 = INTEGER: -723",
        ".1.3.6.1.2.1.1.9.0 = No Such Object available on this agent at this OID",
    ]


@pytest_twisted.ensureDeferred
async def test_snmpbulkwalk_v2c_walks_the_codec_agent(codec_agent):
    lines = await net_snmp("snmpbulkwalk", "-Cr3", "-v2c", "-c", COMMUNITY, f"127.0.0.1:{codec_agent}",
                           "1.3.6.1.2.1.31.1.1.1.6")
    assert lines == [f".1.3.6.1.2.1.31.1.1.1.6.{i} = Counter64: {2**40 + i}" for i in range(1, 6)]


@pytest.mark.parametrize("user", sorted(USERS))
@pytest_twisted.ensureDeferred
async def test_snmpget_v3_reads_the_codec_agent(codec_agent, user):
    """net-snmp discovers the codec agent's engine, then reads it with every auth and privacy protocol."""
    auth, auth_password, priv, priv_password = USERS[user]
    security = ["-l", "authNoPriv"] if priv == "none" else ["-l", "authPriv", "-x", NET_SNMP_PRIV[priv],
                                                            "-X", priv_password]
    lines = await net_snmp("snmpget", "-v3", "-u", user, "-a", NET_SNMP_AUTH[auth], "-A", auth_password,
                           *security, f"127.0.0.1:{codec_agent}", "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.2.2.1.2.3")
    assert lines == ['.1.3.6.1.2.1.1.1.0 = STRING: "codec agent"', '.1.3.6.1.2.1.2.2.1.2.3 = STRING: "Te1/3"']


@pytest_twisted.ensureDeferred
async def test_snmpget_v3_wrong_password_is_refused_by_the_codec_agent(codec_agent):
    _output, error, code = await getProcessOutputAndValue(
        "snmpget", ["-On", "-t", "1", "-r", "0", "-v3", "-u", "sha256aes", "-a", "SHA-256", "-A", "wrong-password",
                    "-l", "authPriv", "-x", "AES", "-X", "priv-pass-128", f"127.0.0.1:{codec_agent}",
                    "1.3.6.1.2.1.1.1.0"], env=NET_SNMP_ENV)
    assert code != 0
    assert b"Authentication failure" in error


@pytest_twisted.ensureDeferred
async def test_our_client_reads_our_agent(codec_agent):
    """Both halves of the codec together over a real socket, v3 with AES-256."""
    client = SnmpClient(reactor, interface="127.0.0.1")
    client.start()
    try:
        walked = await client.walk(v3(codec_agent, "shaaes256"), parse_oid("1.3.6.1.2.1.2.2.1.8"))
    finally:
        await client.stop()
    assert [vb.value.value for vb in walked] == [1, 2, 1, 2, 1]

