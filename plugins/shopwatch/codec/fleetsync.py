"""Kenwood FleetSync over the radio's PC serial port, sans-IO.

Known from public code that watched real traffic, not from a Kenwood document: the radio and the PC exchange
``STX payload ETX`` frames with no checksum. The first payload character says what the frame is:

- ``I`` + fleet (3 digits) + unit (4 digits) [+ status (2 digits)]: a unit identified itself (PTT ID), with
  the status code it sent, if any;
- ``D`` + fleet + unit + text: a text message from that unit;
- ``0`` / ``1``: the last message the PC sent was delivered / failed;
- ``F`` + fleet + unit + text (from the PC): send a text; fleet ``000`` unit ``0000`` addresses all.

Where the public sources are silent (the status digits after an ``I``, the text after a ``D``) the layout above
is this project's reading; it is kept in this one module so a site with different firmware changes one place.
Status codes 95 to 99 are reserved by Kenwood for emergency and man-down.
"""

from __future__ import annotations

import re
from typing import Any

from attrs import frozen

from plugins.shopwatch.codec import CodecError, DecoderStats, Direction

STX = 0x02
ETX = 0x03
MAX_TEXT = 48
#: Longest payload accepted: an ``F`` frame with a full text. Anything longer has lost its ETX.
MAX_PAYLOAD = 1 + 3 + 4 + MAX_TEXT
ALL_FLEETS = "000"
ALL_UNITS_IN_FLEET = "0000"
#: The hub's name for "every unit": fleet 000, unit 0000.
ALL_UNITS = "000-0000"
EMERGENCY_STATUSES = range(95, 100)

_UNIT_ID = re.compile(r"^(\d{3})-(\d{4})$")
_DIGITS = re.compile(r"^\d+$")


@frozen
class Identified:
    """A unit identified itself; ``status`` is the status code it sent with it, if any."""

    fleet: str
    unit: str
    status: int | None = None

    @property
    def unit_id(self) -> str:
        return unit_id(self.fleet, self.unit)

    @property
    def emergency(self) -> bool:
        return self.status is not None and self.status in EMERGENCY_STATUSES


@frozen
class DataReceived:
    """A text message from a unit."""

    fleet: str
    unit: str
    text: str

    @property
    def unit_id(self) -> str:
        return unit_id(self.fleet, self.unit)


@frozen
class DeliveryReport:
    """Whether the last message the PC sent reached its unit."""

    delivered: bool


@frozen
class SendText:
    """Send ``text`` to one unit, or to all with fleet ``000`` and unit ``0000``."""

    fleet: str
    unit: str
    text: str


def unit_id(fleet: str, unit: str) -> str:
    """How the hub writes a FleetSync unit: ``FFF-UUUU``."""
    return f"{fleet}-{unit}"


def split_unit_id(text: str) -> tuple[str, str]:
    """Fleet and unit from ``FFF-UUUU``; ``CodecError`` if it is not written that way."""
    match = _UNIT_ID.match(text)
    if match is None:
        raise CodecError(f"a FleetSync unit is written FFF-UUUU (fleet and unit digits), e.g. 100-1001; not {text!r}")
    return match.group(1), match.group(2)


def _check_address(fleet: str, unit: str) -> None:
    if len(fleet) != 3 or not _DIGITS.match(fleet) or len(unit) != 4 or not _DIGITS.match(unit):
        raise CodecError(f"a FleetSync address is a 3-digit fleet and a 4-digit unit, not {fleet!r} {unit!r}")


def _printable(text: str, what: str) -> str:
    if not text.isascii() or not text.isprintable():
        raise CodecError(f"{what} may only hold printable ASCII characters: {text!r}")
    return text


def _text(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise CodecError(f"a FleetSync text is at most {MAX_TEXT} characters; this one has {len(text)}")
    return _printable(text, "a text")


def encode(message: Any) -> bytes:
    """The frame for one message, in either direction. ``CodecError`` says what cannot be sent."""
    if isinstance(message, SendText):
        _check_address(message.fleet, message.unit)
        payload = f"F{message.fleet}{message.unit}{_text(message.text)}"
    elif isinstance(message, Identified):
        _check_address(message.fleet, message.unit)
        if message.status is not None and not 0 <= message.status <= 99:
            raise CodecError(f"a FleetSync status is 00 to 99, not {message.status!r}")
        status = "" if message.status is None else f"{message.status:02d}"
        payload = f"I{message.fleet}{message.unit}{status}"
    elif isinstance(message, DataReceived):
        _check_address(message.fleet, message.unit)
        payload = f"D{message.fleet}{message.unit}{_text(message.text)}"
    elif isinstance(message, DeliveryReport):
        payload = "0" if message.delivered else "1"
    else:
        raise CodecError(f"FleetSync has no frame for {type(message).__name__}")
    return b"\x02" + payload.encode("ascii") + b"\x03"


def _parse_from_radio(payload: str) -> Any:
    kind = payload[:1]
    if payload in ("0", "1"):
        return DeliveryReport(payload == "0")
    if kind == "I" and len(payload) in (8, 10) and _DIGITS.match(payload[1:]):
        status = int(payload[8:]) if len(payload) == 10 else None
        return Identified(payload[1:4], payload[4:8], status)
    if kind == "D" and len(payload) >= 8 and _DIGITS.match(payload[1:8]):
        return DataReceived(payload[1:4], payload[4:8], payload[8:])
    raise ValueError(f"not a FleetSync message from a radio: {payload!r}")


def _parse_to_radio(payload: str) -> Any:
    if payload[:1] == "F" and len(payload) >= 8 and _DIGITS.match(payload[1:8]):
        return SendText(payload[1:4], payload[4:8], payload[8:])
    raise ValueError(f"not a FleetSync message from a PC: {payload!r}")


class FleetSyncDecoder:
    """Reads FleetSync frames from a byte stream fed in pieces of any size; never raises, never wedges.

    Bytes outside ``STX ... ETX`` are noise. A new STX before the ETX means the frame before it was cut
    short: it is dropped and reading starts again at the new STX. A payload that grows past the longest
    frame has lost its ETX and is dropped too.
    """

    def __init__(self, direction: Direction = "from_radio") -> None:
        if direction not in ("from_radio", "to_radio"):
            raise ValueError(f"direction is from_radio or to_radio, not {direction!r}")
        self.direction = direction
        self._parse = _parse_from_radio if direction == "from_radio" else _parse_to_radio
        self._pending = b""
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[Any]:
        buffer = self._pending + data if self._pending else bytes(data)
        messages: list[Any] = []
        stats = self.stats
        position = 0
        length = len(buffer)
        while position < length:
            start = buffer.find(b"\x02", position)
            if start == -1:
                stats.garbage_bytes += length - position
                position = length
                break
            stats.garbage_bytes += start - position
            end = buffer.find(b"\x03", start + 1, start + 2 + MAX_PAYLOAD)
            restart = buffer.find(b"\x02", start + 1, end if end != -1 else start + 2 + MAX_PAYLOAD)
            if restart != -1:
                # Cut short: another frame began before this one ended.
                stats.garbage_bytes += restart - start
                position = restart
                continue
            if end == -1:
                if length - start > MAX_PAYLOAD + 1:
                    stats.overlong += 1
                    stats.garbage_bytes += 1
                    position = start + 1
                    continue
                position = start
                break  # the rest of the frame is not here yet
            raw = buffer[start + 1 : end]
            position = end + 1
            try:
                payload = raw.decode("ascii")
                if not payload or not payload.isprintable():
                    raise ValueError("empty or not printable")
                messages.append(self._parse(payload))
            except ValueError:
                stats.malformed += 1
                continue
            stats.frames += 1
        self._pending = buffer[position:]
        return messages
