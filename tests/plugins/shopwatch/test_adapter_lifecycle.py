"""The shopwatch adapter's life: opening the port, losing it, stopping cleanly, the directory, several instances."""

from __future__ import annotations

import pytest
import serial

from hub.directory import Directory
from hub.testing import assert_no_pending_timers, success_result_of
from plugins.shopwatch.adapter import DeviceLost
from plugins.shopwatch.codec.ccdi import Cancel, Function, Progress, Ring, SendSdm
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig
from plugins.shopwatch.events import RadioEmergencyRaised
from plugins.shopwatch.serial_port import SerialDeviceUnavailable, open_serial_port, serial_options
from tests.plugins.shopwatch.adapter_fakes import NAME, Harness

CONFIG = ShopwatchConfig(
    port="/dev/ttyUSB0",
    keepalive_s=0,
    members={"1001": MemberConfig(name="Boots", address="12 High St", cameras=("42",), latitude=51.5,
                                  longitude=-0.12)},
)


@pytest.fixture
def radio(captured_logs, hub_bus):
    return Harness(hub_bus, CONFIG).start()


def test_starting_opens_the_configured_port_on_the_adapters_reactor(radio, captured_logs):
    """open_port gets the config and the context's reactor; the opening is logged with the line settings."""
    [(_protocol, _transport, config, reactor)] = radio.port.opened
    assert config is CONFIG and reactor is radio.clock
    [entry] = [entry for entry in captured_logs if entry["event"] == "serial_port_opened"]
    assert (entry["port"], entry["baud"], entry["stop_bits"], entry["adapter"]) == ("/dev/ttyUSB0", 9600, 1, NAME)
    assert radio.sent() == [Function("0", "3", "1")]


def test_a_port_that_will_not_open_fails_the_start(hub_bus):
    """The exception from open_port leaves startService, so the supervisor retries with back-off."""
    harness = Harness(hub_bus, CONFIG)
    harness.port.error = SerialDeviceUnavailable("cannot open serial device /dev/ttyUSB0: no such file")
    with pytest.raises(SerialDeviceUnavailable):
        harness.adapter.startService()
    success_result_of(harness.adapter.stopService())
    harness.settle()
    assert_no_pending_timers(harness.clock)


def test_the_real_port_opener_names_a_missing_device(tmp_path, hub_clock):
    """open_serial_port turns pyserial's error into SerialDeviceUnavailable naming the device."""
    missing = tmp_path / "ttyUSB9"
    config = ShopwatchConfig(port=str(missing))
    with pytest.raises(SerialDeviceUnavailable, match=f"cannot open serial device {missing}"):
        open_serial_port(object(), config, hub_clock)


def test_the_line_settings_reach_pyserial():
    """Baud, data bits, parity, stop bits (the dialect's when not set) and flow control become SerialPort's."""
    assert serial_options(ShopwatchConfig(port="/dev/ttyS0", dialect="fleetsync", baud=4800, parity="even",
                                          bytesize=7, flow_control="rtscts")) == {
        "baudrate": 4800, "bytesize": serial.SEVENBITS, "parity": serial.PARITY_EVEN,
        "stopbits": serial.STOPBITS_TWO, "xonxoff": False, "rtscts": True,
    }
    assert serial_options(ShopwatchConfig(port="/dev/ttyS0", flow_control="xonxoff"))["xonxoff"] is True


def test_every_byte_is_a_sign_of_life_even_noise(radio):
    """Noise, a lone "." and a frame each call context.heard, once per read."""
    radio.say(b"\x9c\xfe\r")
    radio.say(b".")
    radio.say(Ring("0", 2, 0, 0, 0, 1, "1001"))
    assert radio.supervisor.heard == 3


def test_losing_the_device_is_reported_to_the_supervisor(radio):
    """connectionLost while running calls context.fail with DeviceLost naming the port and the reason."""
    radio.lose_device("Input/output error")
    [error] = radio.supervisor.failures
    assert isinstance(error, DeviceLost)
    assert str(error) == "serial device /dev/ttyUSB0 lost: Input/output error"


def test_stopping_closes_the_port_leaves_no_timer_and_is_no_failure(radio):
    """stopService closes the transport; the loss that follows is not reported; nothing stays scheduled."""
    radio.initialise()
    radio.command("broadcast", text="Suspect north")  # a command in flight holds a time-out timer
    stopped = radio.stop()
    assert radio.transport.disconnecting
    radio.lose_device("closed by the hub")
    assert radio.supervisor.failures == []
    assert success_result_of(stopped) is None
    assert_no_pending_timers(radio.clock)


def test_stopping_ends_every_command_still_waiting_as_failed(radio):
    """In flight and queued commands each get one 'failed' outcome saying the adapter stopped."""
    radio.initialise()
    radio.command("broadcast", text="One")
    radio.command("broadcast", text="Two")
    radio.command("message", unit="1001", text="Three")
    radio.stop()
    assert radio.outcomes() == [("failed", "adapter stopped")] * 3


def test_a_message_the_radio_accepted_counts_as_sent_when_the_adapter_stops(radio):
    """Stopping while waiting for a delivery report ends the message 'sent', not failed: it went out."""
    radio.initialise()
    radio.command("message", unit="1001", text="Thanks")
    radio.accept()
    radio.stop()
    [(outcome, detail)] = radio.outcomes()
    assert outcome == "sent" and "adapter stopped before the radio reported delivery" in detail


def test_commands_cut_off_by_a_lost_device_say_so(radio):
    """After the device is lost, the supervisor's stop fails the waiting commands with the loss as reason."""
    radio.initialise()
    radio.command("broadcast", text="One")
    radio.lose_device("Input/output error")
    radio.stop()
    assert radio.outcomes() == [
        ("failed", "adapter stopped: serial device /dev/ttyUSB0 lost: Input/output error")]


def test_bytes_after_the_stop_are_ignored(radio):
    """Once stopped, what the port still delivers is neither heard nor published."""
    radio.stop()
    radio.say(Ring("0", 0, 1, 0, 9, None, "1001"))
    assert radio.events() == [] and radio.supervisor.heard == 0


def test_members_are_in_the_directory_from_the_start_and_unknown_units_once_heard(radio):
    """Configured members are listed at start, normal; an unknown unit is added the first time it is heard."""
    boots = radio.directory.get("radio_unit", f"{NAME}.1001")
    assert (boots.name, boots.state, boots.source, boots.latitude) == ("Boots", "normal", NAME, 51.5)
    assert boots.attributes["cameras"] == ["42"]
    assert radio.directory.get("radio_unit", f"{NAME}.2002") is None
    radio.say(Ring("0", 0, 0, 0, 0, None, "2002"))
    stranger = radio.directory.get("radio_unit", f"{NAME}.2002")
    assert (stranger.name, stranger.attributes["known"]) == ("Unknown unit 2002", False)


def test_the_directory_follows_emergencies_and_keeps_its_units_after_the_stop(radio):
    """Raised sets the unit's state to emergency, ended back to normal; stopping removes nothing."""
    radio.initialise()
    radio.say(Ring("0", 0, 1, 0, 0, None, "1001"))
    assert radio.directory.get("radio_unit", f"{NAME}.1001").state == "emergency"
    radio.clock.advance(5)
    radio.say(Progress(0x04))
    unit = radio.directory.get("radio_unit", f"{NAME}.1001")
    assert (unit.state, unit.state_since) == ("normal", 5.0)
    radio.stop()
    assert [asset.id for asset in radio.directory.list("radio_unit")] == [f"{NAME}.1001"]


def test_an_emergency_survives_the_adapter_restarting_and_is_not_raised_twice(hub_bus):
    """A new instance of the adapter (after a lost device) finds the emergency on in the directory."""
    directory = Directory()
    first = Harness(hub_bus, CONFIG, directory=directory).start()
    first.initialise()
    first.say(Ring("0", 0, 1, 0, 0, None, "1001"))
    first.lose_device()
    first.stop()
    second = Harness(hub_bus, CONFIG, directory=directory).start()
    second.initialise()
    second.say(Ring("0", 0, 1, 0, 0, None, "1001"))
    assert directory.get("radio_unit", f"{NAME}.1001").state == "emergency"
    second.say(Progress(0x04))
    assert [type(payload).__name__ for payload in second.payloads("shopwatch.emergency.*")] == [
        "RadioEmergencyRaised", "RadioEmergencyEnded"]  # the first instance's raise, the second's end
    assert directory.get("radio_unit", f"{NAME}.1001").state == "normal"


def test_two_instances_keep_apart(hub_bus):
    """Each instance hears only its own commands and publishes under its own name."""
    day = Harness(hub_bus, CONFIG, name="shopwatch.day").start()
    night = Harness(hub_bus, ShopwatchConfig(port="/dev/ttyUSB1", dialect="fleetsync"), name="shopwatch.night").start()
    day.initialise()
    night.command("broadcast", text="Night shift on")
    night.clock.advance(2)  # no report from the FleetSync radio: sent after the grace
    assert day.new() == []
    assert [outcome for outcome, _ in night.outcomes()] == ["sent"]
    assert day.outcomes() == []
    day.say(Ring("0", 0, 1, 0, 0, None, "1001"))
    day.settle()
    assert [event.source for event in hub_bus.bus.replay(pattern="shopwatch.emergency.#")] == ["shopwatch.day"]
    assert isinstance(day.payloads("shopwatch.emergency.raised")[0], RadioEmergencyRaised)
    assert night.sent()[0].text == "Night shift on" and day.sent()[-1] != SendSdm("********", "Night shift on")
    assert Cancel not in {type(message) for message in night.sent()}

