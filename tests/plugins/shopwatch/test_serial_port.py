"""The Shopwatch adapter end to end: a simulated base radio on a real pseudo-terminal, the real serial port,
the real supervisor (restarts with back-off, health events) and a real bus on a SQLite journal, all on the real
reactor. Nothing sleeps: each test waits for the events it expects, with a deadline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import attrs
import pytest_twisted
import structlog
from twisted.internet import reactor
from twisted.internet.defer import Deferred

from hub.api import SimulatorContext
from hub.bus import Bus
from hub.commands import command_topic
from hub.config import SupervisionConfig
from hub.directory import Directory
from hub.events import (
    CommandRequested,
    Event,
    EventFactory,
    Severity,
    Subject,
)
from hub.runtime import SupervisedAdapter
from hub.testing import BusHarness
from plugins.shopwatch.codec.ccdi import ALL_UNITS, STARTUP_FUNCTIONS, SendSdm
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig, StatusCodeConfig
from plugins.shopwatch.events import EVENT_TYPES
from plugins.shopwatch.plugin import plugin
from plugins.shopwatch.simulator import (
    SHOPWATCH_SIMULATOR,
    BaseRadio,
    Handset,
    PtyRadio,
    SentMessage,
    ShopwatchSimulatorConfig,
)

#: The adapter type exactly as the plugin registers it with the hub.
[SHOPWATCH] = plugin.hub_register_adapter_types()

#: Each wait's deadline. Every step here takes milliseconds; a miss means the behaviour is wrong.
DEADLINE_S = 4.0

#: Restarts a tenth of a second apart, so a lost device is retried several times within a test.
QUICK = SupervisionConfig(restart_initial_s=0.1, restart_max_s=0.2, restart_jitter=0.0, healthy_after_s=1.0)

SHOPWATCH_MEMBERS = {
    "1001": MemberConfig(name="Boots", address="12 High St", cameras=("42", "43")),
    "1002": MemberConfig(name="Greggs", address="3 Market Pl"),
}
PUBWATCH_MEMBERS = {
    "100-1001": MemberConfig(name="The Red Lion", address="1 Castle St", cameras=("7",)),
    "100-1002": MemberConfig(name="The Swan", address="9 Bridge St"),
}


class Watch:
    """Every event on the bus, kept in order, with a way to wait for one that has not come yet."""

    def __init__(self, bus: Bus) -> None:
        self.events: list[Event] = []
        self._waiting: list[tuple[int, Callable[[Event], bool], Deferred[Event]]] = []
        self.subscription = bus.subscribe("#", self._seen)

    def mark(self) -> int:
        """A point in the stream: ``next(..., after=mark)`` only looks at events after it."""
        return len(self.events)

    def next(self, topic: str, *, source: str | None = None, after: int = 0,
             where: Callable[[Event], bool] = lambda event: True) -> "Deferred[Event]":
        """The first event after ``after`` with this topic (and source) for which ``where`` holds."""

        def wanted(event: Event) -> bool:
            return event.topic == topic and (source is None or event.source == source) and where(event)

        waiting: Deferred[Event] = Deferred()
        self._waiting.append((after, wanted, waiting))
        self._check()
        return waiting.addTimeout(DEADLINE_S, reactor)

    def topics(self, source: str | None = None, after: int = 0) -> list[str]:
        return [event.topic for event in self.events[after:] if source is None or event.source == source]

    def _seen(self, event: Event) -> None:
        self.events.append(event)
        self._check()

    def _check(self) -> None:
        for entry in list(self._waiting):
            after, wanted, waiting = entry
            found = next((event for event in self.events[after:] if wanted(event)), None)
            if found is not None:
                self._waiting.remove(entry)
                waiting.callback(found)


def within(deferred: "Deferred[Any]") -> "Deferred[Any]":
    return deferred.addTimeout(DEADLINE_S, reactor)


@attrs.define
class Rig:
    """One hub's worth of real pieces: a journal file, a bus, supervised adapters and the radios they talk to."""

    tmp_path: Path
    bus: Bus = None  # type: ignore[assignment]
    watch: Watch = None  # type: ignore[assignment]
    directory: Directory = attrs.Factory(Directory)
    radios: list[PtyRadio] = attrs.Factory(list)
    simulators: list[Any] = attrs.Factory(list)
    adapters: list[SupervisedAdapter] = attrs.Factory(list)

    def open(self) -> "Rig":
        # The hub's test bus, on the real reactor: its journal is a real SQLite file in tmp_path.
        self.bus = BusHarness(self.tmp_path, clock=reactor, event_types=EVENT_TYPES).bus
        self.watch = Watch(self.bus)
        return self

    def radio(self, name: str, dialect: str, handsets: tuple[Handset, ...], **options: Any) -> PtyRadio:
        radio = PtyRadio(reactor, self.tmp_path / name, BaseRadio(dialect, handsets, **options))
        radio.open()
        self.radios.append(radio)
        return radio

    def adapter(self, instance: str, config: ShopwatchConfig) -> SupervisedAdapter:
        name = f"shopwatch.{instance}"
        supervised = SupervisedAdapter(
            name=name,
            adapter_type=SHOPWATCH,
            config=config,
            supervision=QUICK,
            reactor=reactor,
            bus=self.bus,
            log=structlog.get_logger(),
            events=EventFactory(reactor, name),
            directory=self.directory,
        )
        supervised.startService()
        self.adapters.append(supervised)
        return supervised

    def command(self, instance: str, verb: str, **arguments: Any) -> Event:
        """Ask an adapter instance for something, as the console does, and return the command event."""
        name = f"shopwatch.{instance}"
        event = EventFactory(reactor, "hub.api")(
            command_topic("shopwatch", verb),
            CommandRequested(adapter=name, verb=verb, arguments=arguments, requested_by="olive"),
            severity=Severity.INFO,
            subject=Subject(kind="adapter", id=name),
            summary=f"olive asked {name} to {verb}",
        )
        self.bus.publish(event)
        return event

    async def close(self) -> None:
        for supervised in reversed(self.adapters):
            await supervised.stopService()
        for radio in self.radios:
            radio.close()
        for simulator in self.simulators:
            simulator.stopService()
        await self.bus.close()


@pytest_twisted.async_yield_fixture
async def rig(tmp_path):
    opened = Rig(tmp_path).open()
    yield opened
    await opened.close()


def shopwatch_config(radio: PtyRadio, **settings: Any) -> ShopwatchConfig:
    settings.setdefault("members", SHOPWATCH_MEMBERS)
    settings.setdefault("status_codes", {"0A": StatusCodeConfig(meaning="Shop theft", severity="high")})
    # Off: a keep-alive query every few seconds would only make the radio's record harder to read.
    settings.setdefault("keepalive_s", 0)
    settings.setdefault("command_timeout_s", 0.5)
    return ShopwatchConfig(port=str(radio.link_path), **settings)


def initialised(count: int = 1) -> Callable[[BaseRadio], bool]:
    """The hub has sent the start-up functions ``count`` times and the radio has them on."""
    return lambda radio: (
        sum(1 for command in radio.commands if command in STARTUP_FUNCTIONS) >= 3 * count
        and radio.ring_output and radio.progress_output and radio.sdm_push
    )


async def running_shopwatch(rig: Rig, **settings: Any) -> PtyRadio:
    radio = rig.radio("ttyShopwatch", "ccdi", (Handset("1001"), Handset("1002"), Handset("1003", "fail")))
    rig.adapter("town_centre", shopwatch_config(radio, **settings))
    await rig.watch.next("adapter.health.running", source="shopwatch.town_centre")
    await within(radio.when(initialised()))
    return radio


# --- the tests ------------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_an_emergency_button_becomes_a_critical_event_naming_the_member(rig):
    """A handset's emergency reaches the bus as shopwatch.emergency.raised, naming the shop, and is journaled."""
    radio = await running_shopwatch(rig)
    radio.emergency("1001")
    event = await rig.watch.next("shopwatch.emergency.raised")
    assert event.source == "shopwatch.town_centre"
    assert event.severity is Severity.CRITICAL
    assert (event.payload.member.unit, event.payload.member.name) == ("1001", "Boots")
    assert event.subject.id == "shopwatch.town_centre.1001"
    assert [stored.id for stored in rig.bus.replay(pattern="shopwatch.emergency.#")] == [event.id]


@pytest_twisted.ensureDeferred
async def test_noise_on_the_line_is_reported_and_the_frames_around_it_still_read(rig):
    """Noise before and between frames, and a frame with a bad checksum: the good frames are still read,
    and the adapter publishes shopwatch.line.error for the noise and for the checksum."""
    radio = await running_shopwatch(rig, checksum_alarm=1)
    mark = rig.watch.mark()
    radio.noise(40)
    radio.status("1002", "0A")
    radio.noise(7)
    radio.garble_next()
    radio.status("1001", "0A")  # lost to its checksum
    radio.text("1001", "Two lads heading to Market St")
    report = await rig.watch.next("shopwatch.report.received", after=mark)
    assert (report.payload.member.name, report.payload.status_code, report.payload.status_meaning) == (
        "Greggs", "0A", "Shop theft")
    text = await rig.watch.next("shopwatch.report.received", after=mark, where=lambda e: e.payload.text is not None)
    assert (text.payload.member.name, text.payload.text) == ("Boots", "Two lads heading to Market St")
    noise = await rig.watch.next("shopwatch.line.error", after=mark, where=lambda e: e.payload.kind == "noise")
    assert noise.payload.count > 0
    await rig.watch.next("shopwatch.line.error", after=mark, where=lambda e: e.payload.kind == "checksum")
    reports = [e for e in rig.watch.events[mark:] if e.topic == "shopwatch.report.received"]
    assert len(reports) == 2


@pytest_twisted.ensureDeferred
async def test_a_device_that_vanishes_and_returns_is_picked_up_again_by_itself(rig):
    """Unplugged: adapter.health.failed, and reopening fails while the path is gone; plugged back in, the
    supervisor's next restart opens it, re-initialises the radio and events flow again."""
    radio = await running_shopwatch(rig)
    mark = rig.watch.mark()
    radio.vanish()
    lost = await rig.watch.next("adapter.health.failed", after=mark)
    assert "ttyShopwatch" in lost.payload.reason
    # Restarted while the device is away: the open fails and the supervisor backs off again.
    await rig.watch.next("adapter.health.failed", after=rig.watch.events.index(lost) + 1)
    back = rig.watch.mark()
    radio.come_back()
    await rig.watch.next("adapter.health.running", after=back)
    await within(radio.when(initialised(count=2)))
    radio.status("1002", "0A")
    report = await rig.watch.next("shopwatch.report.received", after=back)
    assert report.payload.member.name == "Greggs"
    assert rig.adapters[0].status.state.value == "running"


@pytest_twisted.ensureDeferred
async def test_a_message_to_one_unit_is_delivered_when_its_radio_acknowledges(rig):
    """A message to a unit goes out as an SDM; the radio's auto-acknowledge makes it shopwatch.command.delivered."""
    radio = await running_shopwatch(rig)
    mark = rig.watch.mark()
    command = rig.command("town_centre", "message", unit="1001", text="CCTV has it, camera 42")
    delivered = await rig.watch.next("shopwatch.command.delivered", after=mark)
    assert delivered.causation_id == command.id
    [sent] = radio.radio.sent
    assert (sent.unit, sent.text, sent.delivered) == ("1001", "CCTV has it, camera 42", True)


@pytest_twisted.ensureDeferred
async def test_a_radio_restart_in_the_middle_of_a_broadcast_is_recovered_and_the_broadcast_sent(rig):
    """The radio restarts instead of accepting a broadcast: the hub reports the restart, sends the start-up
    functions again, then the broadcast, whose outcome is shopwatch.command.sent."""
    radio = await running_shopwatch(rig)
    radio.restart_on_next(SendSdm)
    mark = rig.watch.mark()
    command = rig.command("town_centre", "broadcast", text="Police on scene, Market Pl")
    await rig.watch.next("shopwatch.radio.restarted", after=mark)
    outcome = await rig.watch.next("shopwatch.command.sent", after=mark)
    assert outcome.causation_id == command.id
    assert radio.radio.restarts == 1
    assert radio.radio.sent == [SentMessage(ALL_UNITS, "Police on scene, Market Pl", None, None)]
    # What the radio heard after it swallowed the broadcast: the start-up functions first, then the
    # broadcast again (once), and the radio has its outputs back on.
    commands = radio.commands
    interrupted = next(index for index, command in enumerate(commands) if isinstance(command, SendSdm))
    after = commands[interrupted + 1:]
    assert after[:3] == list(STARTUP_FUNCTIONS)
    assert [command for command in after if isinstance(command, SendSdm)] == [commands[interrupted]]
    assert initialised()(radio.radio)
    assert not {"shopwatch.command.failed", "shopwatch.command.timed_out"} & set(rig.watch.topics(after=mark))


@pytest_twisted.ensureDeferred
async def test_two_schemes_on_two_ports_at_once_keep_to_their_own_members(rig):
    """A CCDI Shopwatch and a FleetSync Pubwatch run side by side; each names its own members."""
    shop = rig.radio("ttyShopwatch", "ccdi", (Handset("1001"), Handset("1002")))
    pub = rig.radio("ttyPubwatch", "fleetsync", (Handset("100-1001"), Handset("100-1002", "fail")))
    rig.adapter("town_centre", shopwatch_config(shop))
    rig.adapter("pubwatch", ShopwatchConfig(
        port=str(pub.link_path), dialect="fleetsync", scheme="Pubwatch", members=PUBWATCH_MEMBERS,
        status_codes={"12": StatusCodeConfig(meaning="Fight", severity="high")}, keepalive_s=0))
    await rig.watch.next("adapter.health.running", source="shopwatch.town_centre")
    await rig.watch.next("adapter.health.running", source="shopwatch.pubwatch")
    await within(shop.when(initialised()))
    mark = rig.watch.mark()
    shop.emergency("1001")
    pub.emergency("100-1001")
    pub.status("100-1002", "12")
    shop_emergency = await rig.watch.next("shopwatch.emergency.raised", source="shopwatch.town_centre", after=mark)
    pub_emergency = await rig.watch.next("shopwatch.emergency.raised", source="shopwatch.pubwatch", after=mark)
    fight = await rig.watch.next("shopwatch.report.received", source="shopwatch.pubwatch", after=mark)
    assert (shop_emergency.payload.member.name, shop_emergency.payload.member.scheme) == ("Boots", "Shopwatch")
    assert (pub_emergency.payload.member.name, pub_emergency.payload.member.scheme) == ("The Red Lion", "Pubwatch")
    assert pub_emergency.payload.trigger == "emergency_status"
    assert (fight.payload.member.name, fight.payload.status_meaning) == ("The Swan", "Fight")
    # A reply to one pub goes out on the Pubwatch radio only, and its failure comes back to that adapter.
    command = rig.command("pubwatch", "message", unit="100-1002", text="CCTV has it")
    failed = await rig.watch.next("shopwatch.command.failed", source="shopwatch.pubwatch", after=mark)
    assert failed.causation_id == command.id
    assert [m.address for m in pub.radio.sent] == ["100-1002"] and shop.radio.sent == []


@pytest_twisted.ensureDeferred
async def test_the_demo_simulator_plays_handsets_the_adapter_reports(rig):
    """The simulator type as hub demo builds it: its scenario's status, text, emergency and its end reach the bus."""
    config = ShopwatchSimulatorConfig(link=rig.tmp_path / "run" / "ttyDemo", period_s=0.1, scenario=False)
    simulator = SHOPWATCH_SIMULATOR.factory(SimulatorContext(
        name="demo_radio", reactor=reactor, log=structlog.get_logger(), config=config, base_dir=rig.tmp_path))
    simulator.startService()
    rig.simulators.append(simulator)
    rig.adapter("town_centre", ShopwatchConfig(port=str(config.link), members=SHOPWATCH_MEMBERS, keepalive_s=0))
    # The demo starts playing at once; here it waits for the radio to be set up, so no step is lost.
    await within(simulator.radio.when(initialised()))
    mark = rig.watch.mark()
    simulator.scenario.start()
    await rig.watch.next("shopwatch.emergency.ended", after=mark)
    played = [topic for topic in rig.watch.topics(source="shopwatch.town_centre", after=mark)
              if topic.startswith(("shopwatch.report", "shopwatch.emergency"))]
    assert played[:5] == ["shopwatch.report.received"] * 3 + ["shopwatch.emergency.raised", "shopwatch.emergency.ended"]
