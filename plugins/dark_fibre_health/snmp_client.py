"""An SNMP manager on the hub's reactor: GET and GETBULK walks over v2c and v3 (USM) to many agents at once.

One UDP port serves every target; replies are matched to requests by request id (v2c) or message id
(v3, where the two are the same number) and must come from the address and port the request went to.
Anything else (garbage, an unknown id, a stranger's address, an HMAC that does not check) is dropped and
counted in ``stats``. Each request has one timer on the injected reactor for its timeout and retries.

For v3 the agent's engine id, boots and time are discovered once per agent (an empty-engine-id probe
answered by a usmStatsUnknownEngineIDs report) and kept, the engine time advancing with the reactor's
clock. A notInTimeWindows report resynchronises the clock once and the request is sent again; an
unknownEngineIDs report (the agent was replaced) discovers again once. Unknown user, wrong digest,
decryption error and unsupported security level reports are ``SnmpAuthError``. No error text, log entry
or repr holds a community, password or key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

import structlog
from attrs import define, frozen
from twisted.internet.abstract import isIPAddress
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import DNSLookupError
from twisted.internet.protocol import DatagramProtocol

from hub.secrets import Secret
from plugins.dark_fibre_health.codec import snmp, usm
from plugins.dark_fibre_health.codec.ber import SnmpDecodeError
from plugins.dark_fibre_health.codec.snmp import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    OID,
    CommunityMessage,
    HeaderData,
    Pdu,
    ScopedPdu,
    UsmSecurityParameters,
    V3Message,
    VarBind,
)
from plugins.dark_fibre_health.config import SnmpConfig, UsmConfig

#: Reports that mean the user, its keys or its security level are wrong: no retry helps.
AUTH_REPORTS = {
    "unknownUserNames": "the agent does not know the user",
    "wrongDigests": "the agent found the message's HMAC wrong (wrong auth password or protocol)",
    "decryptionErrors": "the agent could not decrypt the message (wrong privacy password or protocol)",
    "unsupportedSecLevels": "the agent does not allow this security level for the user",
}
_MAX_ID = 2**31 - 1
_MAX_CACHED_KEYS = 10_000


@frozen
class SnmpTarget:
    """One agent and how to talk to it. ``host`` is an IPv4 address (or a name, resolved per request)."""

    host: str
    port: int = 161
    version: Literal["2c", "3"] = "3"
    community: Secret | None = None
    usm: UsmConfig | None = None
    timeout_s: float = 2.0
    retries: int = 1
    max_repetitions: int = 25

    def __attrs_post_init__(self) -> None:
        if self.version == "2c" and self.community is None:
            raise ValueError("SNMP v2c needs a community")
        if self.version == "3" and self.usm is None:
            raise ValueError("SNMP v3 needs a USM user")

    @classmethod
    def from_config(cls, host: str, config: SnmpConfig) -> SnmpTarget:
        return cls(host, config.port, config.version, config.community, config.usm, config.timeout_s,
                   config.retries, config.max_repetitions)


class SnmpError(Exception):
    """An SNMP exchange that gave no usable answer. The text names the agent, never a secret."""


class SnmpTimeout(SnmpError):
    """No reply after every retry."""


class SnmpAuthError(SnmpError):
    """The agent refused the user (unknown user, wrong digest, decryption error, security level).
    ``report`` is the usmStats counter's name."""

    def __init__(self, message: str, report: str) -> None:
        super().__init__(message)
        self.report = report


class SnmpResponseError(SnmpError):
    """The agent answered with an error-status: ``status`` (its number), ``index`` (1-based varbind)."""

    def __init__(self, message: str, status: int, index: int) -> None:
        super().__init__(message)
        self.status = status
        self.index = index


@define
class ClientStats:
    """What the client sent and what it had to throw away since it started."""

    requests: int = 0
    retransmissions: int = 0
    timeouts: int = 0
    replies: int = 0
    reports: int = 0
    discoveries: int = 0
    resyncs: int = 0
    malformed: int = 0
    wrong_source: int = 0
    unknown_id: int = 0
    bad_auth: int = 0
    send_errors: int = 0

    @property
    def dropped(self) -> int:
        return self.malformed + self.wrong_source + self.unknown_id + self.bad_auth


@define
class _Engine:
    """An agent's authoritative engine as last heard: boots, and time at reactor second ``at``."""

    engine_id: bytes
    boots: int
    time: int
    at: float

    def now(self, seconds: float) -> tuple[int, int]:
        return self.boots, min(self.time + max(int(seconds - self.at), 0), _MAX_ID)


@define(eq=False)
class _Pending:
    """One request in flight."""

    key: int
    address: tuple[str, int]
    data: bytes
    tries_left: int
    timeout_s: float
    deferred: Deferred[Any]
    keys: usm.UsmKeys | None = None  # v3: the keys its reply must check with (None: discovery)
    flags: int = 0
    v3: bool = False
    timer: Any = None
    hint: str = ""


@frozen
class _V3Reply:
    message: V3Message
    scoped: ScopedPdu
    authenticated: bool


class _Protocol(DatagramProtocol):
    def __init__(self, client: SnmpClient) -> None:
        self.client = client

    def datagramReceived(self, data: bytes, address: Any) -> None:
        self.client._received(data, (address[0], address[1]))


class SnmpClient:
    """SNMP GET and walks for any number of agents over one UDP port on the injected reactor."""

    def __init__(self, reactor: Any, log: Any = None, *, random_bytes: Callable[[int], bytes] = os.urandom,
                 interface: str = "0.0.0.0") -> None:
        self._reactor = reactor
        self._log = log if log is not None else structlog.get_logger()
        self._interface = interface
        self._port: Any = None
        self._pending: dict[int, _Pending] = {}
        self._next_id = int.from_bytes(random_bytes(4), "big") % _MAX_ID
        self._salt = int.from_bytes(random_bytes(8), "big")
        self._engines: dict[tuple[str, int], _Engine] = {}
        self._discovering: dict[tuple[str, int], list[Deferred[_Engine]]] = {}
        self._masters: dict[tuple[str, str], bytes] = {}
        self._keys: dict[tuple[UsmConfig, bytes], usm.UsmKeys] = {}
        self.stats = ClientStats()

    # --- Life cycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Binds the one UDP port every request goes out of and every reply comes back to."""
        if self._port is None:
            self._port = self._reactor.listenUDP(0, _Protocol(self), interface=self._interface)

    @property
    def port(self) -> int | None:
        return self._port.getHost().port if self._port is not None else None

    def stop(self) -> Deferred[None]:
        """Fails every request in flight with ``SnmpError`` and closes the port."""
        for pending in list(self._pending.values()):
            self._finish(pending)
            pending.deferred.errback(SnmpError("the SNMP client stopped"))
        port, self._port = self._port, None
        result = port.stopListening() if port is not None else None
        return result if isinstance(result, Deferred) else succeed(None)

    # --- Requests ----------------------------------------------------------------------------------

    async def get(self, target: SnmpTarget, oids: Sequence[OID]) -> list[VarBind]:
        """The values of ``oids`` (absent ones come back as no_such_object / no_such_instance values)."""
        oids = tuple(oids)
        pdu = await self._request(target, lambda request_id: Pdu.get(request_id, oids))
        self._check_status(target, pdu)
        return list(pdu.varbinds)

    async def walk(self, target: SnmpTarget, prefix: OID, *, limit: int = 10000) -> list[VarBind]:
        """Every varbind under ``prefix``, in order, by GETBULK; stops at the end of the subtree, at
        endOfMibView, at an OID that does not increase (a broken agent), or after ``limit`` varbinds."""
        prefix = tuple(prefix)
        found: list[VarBind] = []
        current = prefix
        depth = len(prefix)
        while True:
            wanted = max(1, min(target.max_repetitions, limit - len(found)))
            start = current
            pdu = await self._request(
                target, lambda request_id, start=start, wanted=wanted: Pdu.get_bulk(
                    request_id, (start,), max_repetitions=wanted))
            self._check_status(target, pdu)
            if not pdu.varbinds:
                return found
            for varbind in pdu.varbinds:
                if varbind.value.kind == "end_of_mib_view" or varbind.oid[:depth] != prefix:
                    return found
                if varbind.oid <= current:
                    self._log.warning("snmp_walk_not_increasing", agent=_agent(target),
                                      prefix=snmp.format_oid(prefix), oid=snmp.format_oid(varbind.oid))
                    return found
                found.append(varbind)
                current = varbind.oid
                if len(found) >= limit:
                    self._log.warning("snmp_walk_limit", agent=_agent(target), prefix=snmp.format_oid(prefix),
                                      limit=limit)
                    return found

    def _check_status(self, target: SnmpTarget, pdu: Pdu) -> None:
        if pdu.error_status:
            status = pdu.error_status
            name = snmp.ERROR_NAMES[status] if status < len(snmp.ERROR_NAMES) else str(status)
            raise SnmpResponseError(f"{_agent(target)} answered {name} (varbind {pdu.error_index})",
                                    status, pdu.error_index)

    async def _request(self, target: SnmpTarget, make_pdu: Callable[[int], Pdu]) -> Pdu:
        address = await self._address(target)
        if target.version == "2c":
            request_id = self._new_id()
            message = CommunityMessage("2c", target.community.reveal().encode(),  # type: ignore[union-attr]
                                       make_pdu(request_id))
            reply = await self._exchange(target, address, request_id, snmp.encode_community_message(message))
            return reply
        return await self._request_v3(target, address, make_pdu)

    async def _address(self, target: SnmpTarget) -> tuple[str, int]:
        host = target.host
        if not isIPAddress(host):
            try:
                host = await self._reactor.resolve(host)
            except (DNSLookupError, OSError) as error:
                raise SnmpError(f"cannot resolve {target.host}: {error.__class__.__name__}") from None
        return host, target.port

    def _new_id(self) -> int:
        while True:
            self._next_id = self._next_id % _MAX_ID + 1
            if self._next_id not in self._pending:
                return self._next_id

    # --- SNMPv3 ------------------------------------------------------------------------------------

    async def _request_v3(self, target: SnmpTarget, address: tuple[str, int],
                          make_pdu: Callable[[int], Pdu]) -> Pdu:
        config: UsmConfig = target.usm  # type: ignore[assignment]
        engine = await self._engine(target, address)
        resynced = rediscovered = False
        while True:
            keys = self._keys_for(config, engine.engine_id)
            msg_id = self._new_id()
            boots, time = engine.now(self._reactor.seconds())
            header = HeaderData(msg_id, snmp.MAX_MESSAGE_SIZE, keys.flags | FLAG_REPORTABLE)
            security = UsmSecurityParameters(engine.engine_id, boots, time, keys.user_name)
            scoped = ScopedPdu(engine.engine_id, config.context_name.encode(), make_pdu(msg_id))
            salt = b""
            if keys.priv is not None:
                self._salt = (self._salt + 1) % 2**64
                salt = self._salt.to_bytes(8, "big")
            data = usm.protect(header, security, scoped, keys, salt)
            reply: _V3Reply = await self._exchange(target, address, msg_id, data, keys=keys, flags=header.flags)
            pdu = reply.scoped.pdu
            if pdu.kind == "response":
                if reply.authenticated:
                    self._heard(engine, reply.message.security)
                return pdu
            oid = pdu.varbinds[0].oid if pdu.varbinds else ()
            name = snmp.report_name(oid)
            if name == "notInTimeWindows" and reply.authenticated and not resynced:
                resynced = True
                self.stats.resyncs += 1
                security = reply.message.security
                engine.boots, engine.time, engine.at = (security.engine_boots, security.engine_time,
                                                        self._reactor.seconds())
                self._log.info("snmp_time_resync", agent=_agent(target))
                continue
            if name == "unknownEngineIDs" and not rediscovered:
                rediscovered = True
                self._engines.pop(address, None)
                engine = await self._engine(target, address)
                continue
            if name in AUTH_REPORTS:
                raise SnmpAuthError(f"{_agent(target)} refused user {config.user!r}: {AUTH_REPORTS[name]}", name)
            raise SnmpError(f"{_agent(target)} reported {name}")

    def _heard(self, engine: _Engine, security: UsmSecurityParameters) -> None:
        """An authenticated message from the agent moves its clock forward (RFC 3414 section 3.2 7b)."""
        _boots, time = engine.now(self._reactor.seconds())
        if security.engine_boots > engine.boots or (security.engine_boots == engine.boots
                                                    and security.engine_time > time):
            engine.boots, engine.time, engine.at = (security.engine_boots, security.engine_time,
                                                    self._reactor.seconds())

    async def _engine(self, target: SnmpTarget, address: tuple[str, int]) -> _Engine:
        engine = self._engines.get(address)
        if engine is not None:
            return engine
        waiting = self._discovering.get(address)
        if waiting is not None:
            mine: Deferred[_Engine] = Deferred()
            waiting.append(mine)
            return await mine
        self._discovering[address] = waiting = []
        try:
            engine = await self._discover(target, address)
        except BaseException as error:
            del self._discovering[address]
            for deferred in waiting:
                deferred.errback(error)
            raise
        del self._discovering[address]
        self._engines[address] = engine
        for deferred in waiting:
            deferred.callback(engine)
        return engine

    async def _discover(self, target: SnmpTarget, address: tuple[str, int]) -> _Engine:
        self.stats.discoveries += 1
        msg_id = self._new_id()
        reply: _V3Reply = await self._exchange(target, address, msg_id, usm.discovery_request(msg_id, msg_id),
                                               keys=None, flags=FLAG_REPORTABLE)
        security = reply.message.security
        if not security.engine_id:
            raise SnmpError(f"{_agent(target)} gave no engine id when asked")
        self._log.info("snmp_engine_discovered", agent=_agent(target), engine_id=security.engine_id.hex(),
                       boots=security.engine_boots)
        return _Engine(security.engine_id, security.engine_boots, security.engine_time, self._reactor.seconds())

    def _keys_for(self, config: UsmConfig, engine_id: bytes) -> usm.UsmKeys:
        keys = self._keys.get((config, engine_id))
        if keys is None:
            if len(self._keys) >= _MAX_CACHED_KEYS:
                self._keys.clear()
            keys = usm.UsmKeys.from_passwords(
                config.user.encode(), engine_id, auth=config.auth_protocol,
                auth_password=config.auth_password.reveal().encode(), priv=config.priv_protocol,
                priv_password=config.priv_password.reveal().encode() if config.priv_password else b"",
                master_key=self._master_key)
            self._keys[(config, engine_id)] = keys
        return keys

    def _master_key(self, auth: usm.AuthProtocol, password: bytes) -> bytes:
        # Password-to-key hashes a megabyte: done once per password however many agents share the user.
        key = self._masters.get((auth.name, password.hex()))
        if key is None:
            if len(self._masters) >= _MAX_CACHED_KEYS:
                self._masters.clear()
            key = self._masters[(auth.name, password.hex())] = usm.password_to_key(auth, password)
        return key

    # --- The wire ----------------------------------------------------------------------------------

    def _exchange(self, target: SnmpTarget, address: tuple[str, int], key: int, data: bytes, *,
                  keys: usm.UsmKeys | None = None, flags: int = 0) -> Deferred[Any]:
        if self._port is None:
            raise SnmpError("the SNMP client is not started")
        deferred: Deferred[Any] = Deferred(lambda _d: self._cancelled(key))
        pending = _Pending(key, address, data, target.retries, target.timeout_s, deferred, keys, flags,
                           target.version == "3")
        if flags & FLAG_PRIV:
            # net-snmp drops what it cannot decrypt without a report: silence is all a wrong key gives.
            pending.hint = " (a wrong privacy password or protocol also looks like this)"
        self._pending[key] = pending
        self.stats.requests += 1
        self._send(pending)
        return deferred

    def _send(self, pending: _Pending) -> None:
        try:
            self._port.write(pending.data, pending.address)
        except OSError as error:
            self.stats.send_errors += 1
            self._finish(pending)
            pending.deferred.errback(SnmpError(f"cannot send to {pending.address[0]}:{pending.address[1]}: "
                                               f"{error.strerror or error.__class__.__name__}"))
            return
        pending.timer = self._reactor.callLater(pending.timeout_s, self._expired, pending)

    def _expired(self, pending: _Pending) -> None:
        pending.timer = None
        if pending.tries_left > 0:
            pending.tries_left -= 1
            self.stats.retransmissions += 1
            self._send(pending)
            return
        self.stats.timeouts += 1
        self._finish(pending)
        host, port = pending.address
        pending.deferred.errback(SnmpTimeout(f"no reply from {host}:{port}{pending.hint}"))

    def _finish(self, pending: _Pending) -> None:
        self._pending.pop(pending.key, None)
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        pending.timer = None

    def _cancelled(self, key: int) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            self._finish(pending)

    def _received(self, data: bytes, address: tuple[str, int]) -> None:
        try:
            message = snmp.decode_message(data)
        except SnmpDecodeError:
            self.stats.malformed += 1
            return
        if isinstance(message, CommunityMessage):
            key = message.pdu.request_id
        else:
            key = message.header.msg_id
        pending = self._pending.get(key)
        if pending is None:
            self.stats.unknown_id += 1
            return
        if pending.address != address:
            self.stats.wrong_source += 1
            return
        if isinstance(message, CommunityMessage):
            if pending.v3 or message.version != "2c" or message.pdu.kind != "response":
                self.stats.malformed += 1
                return
            result: Any = message.pdu
        else:
            if not pending.v3:
                self.stats.malformed += 1
                return
            result = self._v3_reply(pending, message, data)
            if result is None:
                return
        self.stats.replies += 1
        self._finish(pending)
        pending.deferred.callback(result)

    def _v3_reply(self, pending: _Pending, message: V3Message, data: bytes) -> _V3Reply | None:
        flags = message.header.flags & (FLAG_AUTH | FLAG_PRIV)
        try:
            scoped = usm.unprotect(message, data, pending.keys if flags else None)
        except usm.UsmError:
            self.stats.bad_auth += 1
            return None
        kind = scoped.pdu.kind
        if kind == "report":
            # Reports may come at a lower security level than the request (RFC 3412 section 7.2.11).
            self.stats.reports += 1
        elif kind != "response" or flags != pending.flags & (FLAG_AUTH | FLAG_PRIV) or pending.keys is not None and message.security.user_name != pending.keys.user_name:
            self.stats.bad_auth += 1
            return None
        return _V3Reply(message, scoped, bool(flags & FLAG_AUTH))


def _agent(target: SnmpTarget) -> str:
    return f"{target.host}:{target.port}"

