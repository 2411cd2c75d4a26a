"""The radio data protocols the adapter speaks, sans-IO: bytes in, typed messages out, and back.

Two dialects sit behind one interface (``Dialect``): Tait CCDI v3 (``ccdi``), documented by Tait, and Kenwood
FleetSync PC serial (``fleetsync``), known only from public code that watched real traffic. Each has a decoder
that resynchronises after noise and counts what it dropped, and an encoder for every message in both
directions (the simulator plays the radio with the same code).
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Protocol

import attrs
from attrs import frozen

Direction = Literal["from_radio", "to_radio"]


class CodecError(ValueError):
    """A message that cannot be put on the wire as asked; the text says why, for the operator."""


@frozen
class LineSettings:
    """How the serial line is set up: baud, data bits, parity and stop bits."""

    baud: int
    bytesize: int = 8
    parity: str = "none"
    stop_bits: int = 1


@attrs.define
class DecoderStats:
    """What a decoder has read and what it had to throw away, since it was made.

    ``garbage_bytes`` are bytes outside any frame (noise, power-up bytes); ``bad_checksums`` frames whose
    checksum did not match; ``malformed`` frames with a good checksum whose fields made no sense;
    ``overlong`` frames longer than the protocol allows.
    """

    frames: int = 0
    prompts: int = 0
    garbage_bytes: int = 0
    bad_checksums: int = 0
    malformed: int = 0
    overlong: int = 0

    @property
    def dropped(self) -> int:
        return self.garbage_bytes + self.bad_checksums + self.malformed + self.overlong

    def snapshot(self) -> "DecoderStats":
        return attrs.evolve(self)


class Decoder(Protocol):
    """Turns a byte stream, fed in pieces of any size, into messages."""

    stats: DecoderStats

    def feed(self, data: bytes) -> list[Any]: ...


@frozen
class Dialect:
    """One radio data protocol: its default line, limits, decoder and encoder.

    ``max_text`` is the longest text one outbound message carries; ``group_address`` addresses every unit
    of the scheme when the configuration names no other group.
    """

    name: str
    label: str
    line: LineSettings
    max_text: int
    group_address: str
    make_decoder: Callable[[Direction], Decoder]
    encoder: Callable[[Any], bytes]

    def decoder(self, direction: Direction = "from_radio") -> Decoder:
        return self.make_decoder(direction)

    def encode(self, message: Any) -> bytes:
        return self.encoder(message)


def _dialects() -> dict[str, Dialect]:
    from plugins.shopwatch.codec import ccdi, fleetsync

    return {
        "ccdi": Dialect(
            name="ccdi",
            label="Tait CCDI v3",
            line=LineSettings(baud=9600, bytesize=8, parity="none", stop_bits=1),
            max_text=ccdi.MAX_SDM_TEXT,
            group_address=ccdi.ALL_UNITS,
            make_decoder=ccdi.CcdiDecoder,
            encoder=ccdi.encode,
        ),
        "fleetsync": Dialect(
            name="fleetsync",
            label="Kenwood FleetSync (from public code, not a Kenwood document)",
            line=LineSettings(baud=9600, bytesize=8, parity="none", stop_bits=2),
            max_text=fleetsync.MAX_TEXT,
            group_address=fleetsync.ALL_UNITS,
            make_decoder=fleetsync.FleetSyncDecoder,
            encoder=fleetsync.encode,
        ),
    }


DIALECTS: dict[str, Dialect] = _dialects()
CCDI = DIALECTS["ccdi"]
FLEETSYNC = DIALECTS["fleetsync"]
