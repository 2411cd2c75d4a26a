"""Opening the base radio's serial port with the configured line settings, on the reactor the adapter is given."""

from __future__ import annotations

from typing import Any

import serial
from twisted.internet.interfaces import IProtocol

from plugins.shopwatch.config import ShopwatchConfig

_PARITY = {"none": serial.PARITY_NONE, "even": serial.PARITY_EVEN, "odd": serial.PARITY_ODD}
_STOP_BITS = {1: serial.STOPBITS_ONE, 2: serial.STOPBITS_TWO}
_BYTESIZE = {7: serial.SEVENBITS, 8: serial.EIGHTBITS}


class SerialDeviceUnavailable(OSError):
    """The serial device could not be opened (unplugged, wrong path, in use, no permission)."""


def serial_options(config: ShopwatchConfig) -> dict[str, Any]:
    """The keyword arguments ``twisted.internet.serialport.SerialPort`` takes for this configuration."""
    line = config.line()
    return {
        "baudrate": line.baud,
        "bytesize": _BYTESIZE[line.bytesize],
        "parity": _PARITY[line.parity],
        "stopbits": _STOP_BITS[line.stop_bits],
        "xonxoff": config.flow_control == "xonxoff",
        "rtscts": config.flow_control == "rtscts",
    }


def open_serial_port(protocol: IProtocol, config: ShopwatchConfig, reactor: Any) -> Any:
    """Open ``config.port`` and connect ``protocol`` to it; returns the transport.

    ``SerialDeviceUnavailable`` if the device cannot be opened: the adapter's start fails with it, and the
    supervisor tries again with back-off, which is how a USB serial adapter plugged back in is found.
    """
    # Imported here: twisted.internet.serialport picks its platform class when first imported.
    from twisted.internet.serialport import SerialPort

    try:
        return SerialPort(protocol, str(config.port), reactor, **serial_options(config))
    except (serial.SerialException, OSError, ValueError) as error:
        raise SerialDeviceUnavailable(f"cannot open serial device {config.port}: {error}") from error
