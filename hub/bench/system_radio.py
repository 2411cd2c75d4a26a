"""The radio ``hub bench system`` plays itself, and the matching of what it sent to what the console saw.

``StampedRadio`` stands between the Shopwatch simulator's ``Scenario`` (the demo's handsets: a status
button, a text, another status, an emergency and its end, another text, over and over) and its
``PtyRadio`` on a real pseudo-terminal: it numbers every frame, reads ``CLOCK_MONOTONIC`` as soon as the
frame is on the pty, and notes which event the console should get for it. Texts carry the frame's
number, so each is told apart. ``ScriptedRadio`` plays the demo's evening's cues to its Shopwatch radio
on the same stamped radio, so the script's frames are timed too. ``FrameMatcher`` takes the events from
the console's WebSocket and pairs each with the oldest frame waiting for the same key (topic, unit,
status code or text): events of one unit come in the order its frames were written, so the oldest
waiting frame is the one.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import datetime
from typing import Any, Hashable

from attrs import define


@define
class Frame:
    """One frame written: its number, what it was, when its last byte was on the pty, when the console saw it."""

    number: int
    kind: str
    written_ns: int
    seen_ns: int | None = None
    #: The same two moments and the event's ``received_at`` (when the adapter made it) on the wall clock,
    #: to split the latency into the adapter's part and the journal-to-console part.
    written_wall: float | None = None
    made_wall: float | None = None

    @property
    def latency_ms(self) -> float | None:
        return None if self.seen_ns is None else (self.seen_ns - self.written_ns) / 1e6

    @property
    def to_event_ms(self) -> float | None:
        """From the frame on the pty to the adapter making its event (wall clock, so only roughly)."""
        if self.made_wall is None or self.written_wall is None:
            return None
        return (self.made_wall - self.written_wall) * 1000


class FrameMatcher:
    """Frames waiting for their event, by key; ``seen(event)`` pairs an event from the stream with one."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.frames: list[Frame] = []
        self._waiting: dict[Hashable, deque[Frame]] = {}
        #: Events of the radio's source that no frame was waiting for (another run's, or a mismatch).
        self.unexpected = 0

    def expect(self, key: Hashable, frame: Frame) -> None:
        self.frames.append(frame)
        self._waiting.setdefault(key, deque()).append(frame)

    def seen(self, event: dict[str, Any], now_ns: int) -> Frame | None:
        if event.get("source") != self.source:
            return None
        key = event_key(event)
        waiting = self._waiting.get(key) if key is not None else None
        if not waiting:
            if key is not None:
                self.unexpected += 1
            return None
        frame = waiting.popleft()
        frame.seen_ns = now_ns
        received_at = event.get("received_at")
        if isinstance(received_at, str):
            try:
                frame.made_wall = datetime.fromisoformat(received_at).timestamp()
            except ValueError:
                pass
        return frame

    @property
    def matched(self) -> list[Frame]:
        return [frame for frame in self.frames if frame.seen_ns is not None]

    @property
    def outstanding(self) -> int:
        return sum(len(waiting) for waiting in self._waiting.values())

    def latencies_ms(self) -> list[float]:
        return sorted(frame.latency_ms for frame in self.matched)  # type: ignore[type-var]


def event_key(event: dict[str, Any]) -> Hashable | None:
    """The key a Shopwatch event is matched on, as the console receives it; None for other topics."""
    topic = event.get("topic")
    payload = event.get("payload") or {}
    unit = (payload.get("member") or {}).get("unit")
    if topic == "shopwatch.report.received":
        if payload.get("text") is not None:
            return (topic, unit, "text", payload["text"])
        return (topic, unit, "status", payload.get("status_code"))
    if topic in ("shopwatch.emergency.raised", "shopwatch.emergency.ended"):
        return (topic, unit)
    return None


class StampedRadio:
    """What the demo's ``Scenario`` drives, passed on to a ``PtyRadio``; each frame numbered and stamped."""

    def __init__(self, radio: Any, matcher: FrameMatcher) -> None:
        self.radio = radio
        self.matcher = matcher
        self.number = 0
        #: Frames the radio did not send (a text while it still held the last one, as a real radio does).
        self.not_sent = 0
        self.running = True

    def _frame(self, kind: str, keys: list[Hashable], send: Any) -> None:
        if not self.running:
            return
        before = self.radio.link.dropped_bytes
        held = getattr(self.radio.radio, "lost_sdms", 0)
        send()
        # The bytes are on the pty when the write returns (or queued behind a hub that is not reading, which
        # then counts in the latency, as it should).
        written = time.monotonic_ns()
        written_wall = time.time()
        if self.radio.link.dropped_bytes != before or getattr(self.radio.radio, "lost_sdms", 0) != held:
            self.not_sent += 1
            return
        for key in keys:
            self.number += 1
            self.matcher.expect(key, Frame(self.number, kind, written, written_wall=written_wall))

    def status(self, unit: str, code: str, kind: str = "status") -> None:
        self._frame(kind, [("shopwatch.report.received", unit, "status", code)],
                    lambda: self.radio.status(unit, code))

    def text(self, unit: str, text: str, kind: str = "text", numbered: bool = True) -> None:
        if numbered:
            # The frame's number in the text tells this report from every other one.
            text = f"{text[:22].rstrip()} #{self.number + 1}"
        self._frame(kind, [("shopwatch.report.received", unit, "text", text)], lambda: self.radio.text(unit, text))

    def emergency(self, unit: str, kind: str = "emergency") -> None:
        if unit in self.radio.radio.emergencies:
            return  # already in emergency: the hub says so once
        self._frame(kind, [("shopwatch.emergency.raised", unit)], lambda: self.radio.emergency(unit))

    def end_emergency(self, kind: str = "emergency_end") -> None:
        units = sorted(self.radio.radio.emergencies)
        if not units:
            return
        self._frame(kind, [("shopwatch.emergency.ended", unit) for unit in units], self.radio.end_emergency)


class ScriptedRadio:
    """The demo's evening's cues to its Shopwatch radio (``[scenario]``), played on the bench's stamped radio.

    A ``hub.scenario.ScenarioPlayer`` plays them as it would on the Shopwatch simulator (same cues, same
    refusals for a unit the radio does not play or a code it cannot send), and each frame is timed like the
    handsets' ones, its kind ``scripted <cue>`` so that the script's frames are shown apart.
    """

    def __init__(self, stamped: StampedRadio, units: list[str] | tuple[str, ...], dialect: str = "ccdi") -> None:
        from plugins.shopwatch.simulator import CUES

        self.cues = CUES
        self.stamped = stamped
        self.units = tuple(units)
        self.dialect = dialect
        #: The cues played, by name, in order.
        self.played: list[str] = []

    def cue(self, name: str, arguments: dict[str, Any]) -> None:
        from hub.api import CueRefused

        kind = f"scripted {name}"
        if name == "status":
            self.stamped.status(self._unit(arguments), self._code(arguments), kind=kind)
        elif name == "emergency":
            self.stamped.emergency(self._unit(arguments), kind=kind)
        elif name == "end_emergency":
            if self.dialect != "ccdi":
                raise CueRefused("a FleetSync radio sends no end of an emergency")
            self.stamped.end_emergency(kind=kind)
        elif name == "text":
            unit, text = self._unit(arguments), arguments.get("text")
            if not (isinstance(text, str) and text.strip() and len(text) <= 32 and text.isascii()
                    and text.isprintable()):
                raise CueRefused(f"text {text!r} is not 1 to 32 printable ASCII characters")
            self.stamped.text(unit, text, kind=kind, numbered=False)
        else:
            raise CueRefused(f"no cue {name!r}; the radio's cues: {', '.join(spec.name for spec in self.cues)}")
        self.played.append(name)

    def _unit(self, arguments: dict[str, Any]) -> str:
        from hub.api import CueRefused

        unit = arguments.get("unit")
        if isinstance(unit, int) and not isinstance(unit, bool):
            unit = str(unit)
        if unit not in self.units:
            raise CueRefused(f"unit {unit!r} is not one of the radio's handsets ({', '.join(self.units)})")
        return unit

    def _code(self, arguments: dict[str, Any]) -> str:
        from hub.api import CueRefused

        code = arguments.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            code = f"{code:02d}"
        if self.dialect == "ccdi" and isinstance(code, str):
            code = code.upper()
        hex_digits = "0123456789ABCDEF" if self.dialect == "ccdi" else "0123456789"
        if not (isinstance(code, str) and len(code) == 2 and all(c in hex_digits for c in code) and code != "FF"):
            raise CueRefused(f"status code {arguments.get('code')!r} is not one this radio can send")
        return code
