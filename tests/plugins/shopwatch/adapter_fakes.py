"""Fakes for the shopwatch adapter tests: a serial port that is a StringTransport, and a harness that plays
the radio byte for byte (or puts the simulator's BaseRadio on the other end) and reads back the bus."""

from __future__ import annotations

from typing import Any

import attrs
import structlog
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from hub.api import AdapterContext
from hub.commands import command_event
from hub.directory import Directory
from hub.events import CommandRequested, Event, EventFactory, Subject
from hub.testing import BusHarness, settle
from plugins.shopwatch.adapter import ShopwatchAdapter
from plugins.shopwatch.codec import DIALECTS
from plugins.shopwatch.codec.ccdi import RadioInfo
from plugins.shopwatch.commands import COMMANDS
from plugins.shopwatch.config import ShopwatchConfig
from plugins.shopwatch.events import EVENT_TYPES

NAME = "shopwatch.town"


@attrs.define
class Supervisor:
    """What the adapter told the supervisor through its context."""

    heard: int = 0
    failures: list[BaseException] = attrs.Factory(list)


@attrs.define
class FakePort:
    """Stands in for open_serial_port: connects the protocol to a StringTransport, or raises ``error``."""

    error: BaseException | None = None
    opened: list[tuple[Any, StringTransport, Any, Any]] = attrs.Factory(list)

    def __call__(self, protocol: Any, config: Any, reactor: Any) -> StringTransport:
        if self.error is not None:
            raise self.error
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.opened.append((protocol, transport, config, reactor))
        return transport


class Harness:
    """One adapter instance on the test clock and bus, with the test playing its radio."""

    def __init__(self, bus: BusHarness, config: ShopwatchConfig, *, name: str = NAME,
                 directory: Directory | None = None) -> None:
        self.bus = bus
        self.clock = bus.clock
        self.config = config
        self.name = name
        self.dialect = DIALECTS[config.dialect]
        self.supervisor = Supervisor()
        self.port = FakePort()
        self.directory = directory if directory is not None else Directory()
        if EVENT_TYPES[0].TYPE not in bus.registry:
            bus.registry.register_all(EVENT_TYPES)

        def heard() -> None:
            self.supervisor.heard += 1

        self.context = AdapterContext(
            name=name, adapter_type="shopwatch", reactor=self.clock, bus=bus.bus,
            log=structlog.get_logger().bind(adapter=name), config=config,
            events=EventFactory(self.clock, name), heard=heard, fail=self.supervisor.failures.append,
            directory=self.directory,
        )
        self.adapter = ShopwatchAdapter(self.context, open_port=self.port)
        self._read = 0
        self._decoder = self.dialect.decoder("to_radio")

    # --- the adapter --------------------------------------------------------------------------------

    def start(self) -> "Harness":
        self.adapter.startService()
        return self

    def stop(self) -> Any:
        stopped = self.adapter.stopService()
        self.settle()
        return stopped

    @property
    def protocol(self) -> Any:
        return self.port.opened[-1][0]

    @property
    def transport(self) -> StringTransport:
        return self.port.opened[-1][1]

    # --- playing the radio --------------------------------------------------------------------------

    def say(self, *parts: Any) -> None:
        """The radio writes: bytes as given, messages encoded; CCDI frames followed by their "." trailer."""
        data = b""
        for part in parts:
            if isinstance(part, bytes):
                data += part
            else:
                data += self.dialect.encode(part) + (b"." if self.dialect.name == "ccdi" else b"")
        self.protocol.dataReceived(data)

    def accept(self, *replies: Any) -> None:
        """The radio accepts the command in flight with ".", then sends any replies (each with its trailer)."""
        self.say(b".", *replies)

    def sent(self) -> list[Any]:
        """Every message the adapter wrote to the radio, decoded."""
        return self._decoder_all()

    def new(self) -> list[Any]:
        """The messages written since the last call."""
        data = self.transport.value()
        fresh, self._read = data[self._read:], len(data)
        return self._decoder.feed(fresh)

    def _decoder_all(self) -> list[Any]:
        return self.dialect.decoder("to_radio").feed(self.transport.value())

    def initialise(self, model: str = "TM8255", serial: str = "19234567") -> None:
        """Answer the CCDI start-up: three functions accepted, model and serial number replied."""
        for _ in range(3):
            self.accept()
        self.accept(RadioInfo("model", model))
        self.accept(RadioInfo("serial", serial))
        self.new()

    # --- the bus ------------------------------------------------------------------------------------

    def settle(self) -> None:
        settle(self.clock)

    def events(self, pattern: str = "shopwatch.#") -> list[Event]:
        self.settle()
        return [event for event in self.bus.bus.replay(pattern=pattern) if event.source == self.name]

    def payloads(self, pattern: str = "shopwatch.#") -> list[Any]:
        return [event.payload for event in self.events(pattern)]

    def outcomes(self) -> list[tuple[str, str | None]]:
        return [(event.payload.outcome.value, event.payload.detail) for event in self.events("shopwatch.command.*")]

    def command(self, verb: str, incident_id: str | None = "INC-000042", requested_by: str = "olive",
                adapter: str | None = None, **arguments: Any) -> Event:
        """Publish a command to this instance (arguments checked as the API checks them) and return it."""
        spec = {spec.verb: spec for spec in COMMANDS}[verb]
        event = command_event(self.bus.events, adapter=adapter or self.name, adapter_type="shopwatch", spec=spec,
                              arguments=arguments, requested_by=requested_by, incident_id=incident_id)
        self.bus.publish(event)
        self.settle()
        return event

    def raw_command(self, verb: str, arguments: dict[str, Any]) -> Event:
        """Publish a command whose arguments nobody checked (a rule or a partner may send anything)."""
        event = self.bus.events(
            f"command.shopwatch.{verb}",
            CommandRequested(adapter=self.name, verb=verb, arguments=arguments, requested_by="rule:night"),
            severity=10, subject=Subject(kind="adapter", id=self.name), summary="raw",
        )
        self.bus.publish(event)
        self.settle()
        return event

    def lose_device(self, why: str = "Input/output error") -> None:
        self.protocol.connectionLost(Failure(OSError(why)))


def wire_to(harness: Harness, radio: Any) -> None:
    """Put the simulator's ``radio`` on the far end. Like a serial line, it answers on a later turn of the
    clock, never inside the adapter's write; ``settle()`` (or any read of the bus) lets the two talk it out."""
    transport = harness.transport
    write = transport.write

    def answer(data: bytes) -> None:
        reply = radio.feed(data)
        if reply:
            harness.protocol.dataReceived(reply)

    def carried(data: bytes) -> None:
        write(data)
        harness.clock.callLater(0, answer, data)

    transport.write = carried  # type: ignore[method-assign]
    # What the adapter wrote before the radio was wired in (its start-up) reaches the radio now.
    harness.clock.callLater(0, answer, transport.value())
    harness.settle()
