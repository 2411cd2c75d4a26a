"""Time-ordered, unique event ids (the ULID layout: 48-bit milliseconds + 80 random bits, base 32).

Ids sort by creation time as plain strings, so a journal, a log file or a partner's database orders them
without parsing. Within one millisecond the generator increments the random part, so ids made by one
generator are strictly increasing even when the clock stands still or steps back.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Callable

from twisted.internet.interfaces import IReactorTime

# Crockford's base 32: no I, L, O or U, so ids survive being read aloud over a radio.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1
ID_LENGTH = 26


def encode_id(milliseconds: int, randomness: int) -> str:
    """The 26-character id for a millisecond timestamp and an 80-bit random part."""
    value = (milliseconds << _RANDOM_BITS) | randomness
    chars = []
    for _ in range(ID_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def id_milliseconds(event_id: str) -> int:
    """The millisecond timestamp an id was made at."""
    value = 0
    for char in event_id:
        value = (value << 5) | _ALPHABET.index(char)
    return value >> _RANDOM_BITS


# The first character carries only 3 bits of the 130, so it is at most 7.
_WELL_FORMED = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def is_event_id(text: object) -> bool:
    """Whether ``text`` is a well-formed id."""
    return isinstance(text, str) and _WELL_FORMED.match(text) is not None


class EventIdGenerator:
    """Makes strictly increasing ids from an injected clock."""

    def __init__(
        self, clock: IReactorTime, random_bytes: Callable[[int], bytes] = os.urandom
    ) -> None:
        self._clock = clock
        self._random_bytes = random_bytes
        self._last_ms = -1
        self._last_random = 0

    def __call__(self) -> str:
        milliseconds = max(int(self._clock.seconds() * 1000), 0)
        if milliseconds <= self._last_ms:
            # Same millisecond, or the clock stepped back: stay on the last timestamp and count up.
            milliseconds = self._last_ms
            randomness = self._last_random + 1
            if randomness > _RANDOM_MAX:
                milliseconds += 1
                randomness = int.from_bytes(self._random_bytes(10), "big") >> 1
        else:
            # The top bit is left clear so that many ids in one millisecond cannot overflow.
            randomness = int.from_bytes(self._random_bytes(10), "big") >> 1
        self._last_ms = milliseconds
        self._last_random = randomness
        return encode_id(milliseconds, randomness)


def derived_id(parent_id: str, key: str) -> str:
    """The id of what ``parent_id``'s event caused, named by ``key``: the same pair always gives the same id.

    It keeps the parent's millisecond and takes its random part from a SHA-256 of the parent id and the
    key, so it is a well-formed id that sorts beside its parent. Something that acts on an event more than
    once (a service reading the journal again after a crash) makes the same ids the second time, and the
    journal, which keeps one event per id, drops the repeats.
    """
    if not is_event_id(parent_id):
        raise ValueError(f"parent id {parent_id!r} is not a 26-character time-ordered id")
    digest = hashlib.sha256(f"{parent_id}\n{key}".encode()).digest()
    # The top bit is left clear, as the generator leaves it, so the id reads like any other.
    randomness = int.from_bytes(digest[:10], "big") >> 1
    return encode_id(id_milliseconds(parent_id), randomness)
