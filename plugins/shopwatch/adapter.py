"""The shopwatch adapter: one base radio on a serial port, run as a supervised Twisted service.

It owns the port and wires the parts together: bytes go to the dialect's decoder, decoded messages to the
link (handshakes and replies) or the dialect's session (what the radio heard), commands from the bus to
the command handler, and what the decoder dropped to the line health counters. A lost device or a radio
that stops answering is reported to the supervisor, which reopens the port with back-off.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from hub.api import AdapterContext
from hub.commands import subscribe_commands
from hub.events import Severity, Subject
from hub.outbox import Outbox
from plugins.shopwatch.alerts import Alerts
from plugins.shopwatch.ccdi_session import CcdiSession
from plugins.shopwatch.codec import DIALECTS
from plugins.shopwatch.codec.ccdi import TransactionError
from plugins.shopwatch.commands import CommandHandler
from plugins.shopwatch.config import ShopwatchConfig
from plugins.shopwatch.deliveries import Deliveries
from plugins.shopwatch.events import FATAL, NOT_ANSWERING, RADIO_ERROR, RadioLineError
from plugins.shopwatch.fleetsync_session import FleetSyncSession
from plugins.shopwatch.line_health import LineHealth
from plugins.shopwatch.link import Link, LinkSettings
from plugins.shopwatch.members import Members
from plugins.shopwatch.serial_port import open_serial_port

#: Requests in a row the radio never answered before the adapter gives up on the port and reopens it.
NOT_ANSWERING_AFTER = 3

_HIGH_KINDS = (NOT_ANSWERING, FATAL)


class DeviceLost(ConnectionError):
    """The serial device went away while the adapter was using it (a USB serial adapter unplugged)."""


class RadioNotAnswering(Exception):
    """The radio stopped answering commands; the port is reopened in case the fault is on the hub's side."""


class RadioLine(Protocol):
    """The hub's end of the serial line: hands what arrives to the adapter."""

    def __init__(self, adapter: "ShopwatchAdapter") -> None:
        self._adapter = adapter

    def dataReceived(self, data: bytes) -> None:
        self._adapter.bytes_received(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._adapter.line_lost(self, reason)


class ShopwatchAdapter(Service):
    """One configured base radio. Built by the runtime with its ``AdapterContext`` on every (re)start.

    ``open_port(protocol, config, reactor)`` opens the serial port and connects the protocol to it;
    tests pass one that hands back a ``StringTransport``.
    """

    def __init__(
        self,
        context: AdapterContext,
        *,
        open_port: Callable[[Any, ShopwatchConfig, Any], Any] = open_serial_port,
    ) -> None:
        self.context = context
        self.config: ShopwatchConfig = context.config
        self._open_port = open_port
        self._log = context.log
        self._dialect = DIALECTS[self.config.dialect]
        self._decoder = self._dialect.decoder("from_radio")
        self._transport: Any = None
        self._subscription: Any = None
        self._lost: str | None = None
        self._given_up = False
        clock = context.reactor
        config = self.config
        self._outbox = Outbox(context.bus, self._log)
        members = Members.from_config(context.name, config)
        self._alerts = Alerts(members=members, events=context.events, publish=self._outbox.publish,
                              directory=context.directory, clock=clock, log=self._log)
        self._line_health = LineHealth(clock=clock, window_s=config.line_error_window_s,
                                       alarm_after=config.checksum_alarm, report=self._line_error, log=self._log)
        self._link = Link(
            LinkSettings(handshake=self._dialect.name == "ccdi", command_timeout_s=config.command_timeout_s,
                         command_retries=config.command_retries, not_ready_retry_s=config.not_ready_retry_s,
                         max_queue=config.max_queue),
            clock=clock, write=self._write, encode=self._dialect.encode, log=self._log,
            no_answer=self._no_answer, refused=self._refused,
        )
        self._deliveries = Deliveries(link=self._link, clock=clock, timeout_s=config.delivery_timeout_s,
                                      max_waiting=config.max_queue, log=self._log)
        self._session: CcdiSession | FleetSyncSession
        if self._dialect.name == "ccdi":
            self._session = CcdiSession(config=config, link=self._link, deliveries=self._deliveries,
                                        alerts=self._alerts, line_health=self._line_health,
                                        announce=self._announce, clock=clock, log=self._log)
        else:
            self._session = FleetSyncSession(config=config, deliveries=self._deliveries, alerts=self._alerts,
                                             log=self._log)
        self._commands = CommandHandler(
            adapter_type=context.adapter_type, dialect=self._dialect, group=config.group(),
            group_grace_s=config.command_timeout_s, events=context.events,
            publish=self._outbox.publish, session=self._session, link=self._link, deliveries=self._deliveries,
            alerts=self._alerts, log=self._log,
        )

    # --- Service --------------------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._alerts.start()
        line = self.config.line()
        # A device that cannot be opened raises here: the start fails and the supervisor retries it with
        # back-off, which is this adapter's reconnect loop.
        self._transport = self._open_port(RadioLine(self), self.config, self.context.reactor)
        self._log.info("serial_port_opened", port=str(self.config.port), dialect=self._dialect.name, baud=line.baud,
                       bytesize=line.bytesize, parity=line.parity, stop_bits=line.stop_bits,
                       flow_control=self.config.flow_control)
        self._subscription = subscribe_commands(self.context, self._commands)
        self._session.start()

    def stopService(self) -> "Deferred[None]":
        super().stopService()  # running is now false, so the port closing below is no failure
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        self._session.stop()
        reason = "adapter stopped" if self._lost is None else f"adapter stopped: {self._lost}"
        # Every command still waiting ends now, with this reason: none is left without an outcome.
        self._deliveries.close(reason)
        self._link.close(reason)
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.loseConnection()
        self._log.info("serial_port_closed", port=str(self.config.port))
        return self._outbox.drain()

    # --- the serial line --------------------------------------------------------------------------------

    def bytes_received(self, data: bytes) -> None:
        if not self.running:
            return  # the port is closing; nothing more is reported from it
        # Any byte, even noise, shows the line and the radio are there: it feeds the silence watchdog.
        self.context.heard()
        before = self._decoder.stats.snapshot()
        messages = self._decoder.feed(data)
        self._line_health.decoded(before, self._decoder.stats)
        for message in messages:
            if not self.running:
                return  # a message before this one made the adapter give up
            if not self._link.received(message):
                self._session.received(message)

    def line_lost(self, line: RadioLine, reason: Failure | None) -> None:
        self._transport = None
        if not self.running:
            return
        why = reason.getErrorMessage() if reason is not None else "connection lost"
        self._lost = f"serial device {self.config.port} lost: {why}"
        self._log.error("serial_device_lost", port=str(self.config.port), error=why)
        self.context.fail(DeviceLost(self._lost))

    def _write(self, data: bytes) -> None:
        if self._transport is None:
            self._log.warning("serial_write_without_port", length=len(data))
            return
        self._transport.write(data)

    # --- the radio's health -----------------------------------------------------------------------------

    def _no_answer(self, in_a_row: int) -> None:
        if in_a_row < NOT_ANSWERING_AFTER or self._given_up or not self.running:
            return
        self._given_up = True
        self._lost = f"the radio on {self.config.port} did not answer {in_a_row} requests in a row"
        self._line_health.record(NOT_ANSWERING, in_a_row, detail=f"{self._lost}; reopening the port")
        self.context.fail(RadioNotAnswering(self._lost))

    def _refused(self, error: TransactionError, label: str) -> None:
        if error.fatal:
            self._line_health.record(FATAL, detail=f"the radio reported a {error.meaning}")
        else:
            self._line_health.record(RADIO_ERROR, detail=f"the radio refused {label}: {error.meaning}")

    def _line_error(self, kind: str, count: int, detail: str) -> None:
        severity = Severity.HIGH if kind in _HIGH_KINDS else Severity.MEDIUM
        self._log.warning("line_error", kind=kind, count=count, detail=detail)
        self._announce(RadioLineError(kind=kind, count=count, detail=detail), severity,
                       f"{self.config.scheme} radio line: {detail}")

    def _announce(self, payload: Any, severity: Severity, summary: str) -> None:
        """Publish an event about the base radio itself (not about a member)."""
        self._outbox.publish(self.context.events(
            payload.TYPE, payload, severity=severity,
            subject=Subject(kind="adapter", id=self.context.name, name=f"{self.config.scheme} base radio"),
            summary=summary,
        ))
