"""The simulated fibre ring's script of faults: which node fails how, when, and for how long.

Pure: every answer is a function of the seconds elapsed since the simulator started (on the injected
reactor's clock), so that a fake clock plays a script exactly and a real one plays it the same way every
run. ``repeat_s`` plays the script round again and again, for a demo that shows its faults over and over.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import Literal

from attrs import field, frozen
from attrs.validators import optional

from hub.config import Expected, between, one_of

FaultKind = Literal["down", "loss", "rx_decline", "port_down"]
FAULT_KINDS: tuple[str, ...] = ("down", "loss", "rx_decline", "port_down")
PortRole = Literal["uplink", "downlink"]

#: A simulated day, in seconds: what ``db_per_day`` is per (``time_scale`` makes it pass faster).
DAY_S = 86400.0


def _node_name(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise Expected('the name of a simulated node, e.g. "node-03"')


@frozen(kw_only=True)
class FaultConfig:
    """One fault of the script: node ``node`` suffers ``kind`` from ``at_s`` seconds after the start (of
    each round, with ``repeat_s``) for ``for_s`` seconds (left out: to the end of the round, or for ever).

    - ``down``: the node is gone: SNMP silent, its management port refuses connections.
    - ``loss``: in ``loss_pct`` % of the slots of ``loss_slot_s`` the node is dark as when down, so that
      about that share of the hub's probe rounds fail.
    - ``rx_decline``: the receive power of ``port`` falls by ``db_per_day`` dB per simulated day from
      ``start_dbm`` (left out: the port's normal value); the simulator's ``time_scale`` makes days pass
      in minutes. At the end the connector is clean again and the value is back to normal.
    - ``port_down``: ``port`` loses light: its ifOperStatus is down and it reads no light; the node itself
      still answers.
    """

    node: str = field(validator=_node_name)
    kind: FaultKind = field(validator=one_of(*FAULT_KINDS))
    at_s: float = field(default=0.0, validator=between(0, 366 * DAY_S))
    for_s: float | None = field(default=None, validator=optional(between(0, 366 * DAY_S, above=True)))
    loss_pct: float = field(default=30.0, validator=between(0, 100, above=True))
    db_per_day: float = field(default=1.0, validator=between(0, 1000, above=True))
    start_dbm: float | None = field(default=None, validator=optional(between(-40, 10)))
    port: PortRole = field(default="uplink", validator=one_of("uplink", "downlink"))

    def end_in(self, period: float) -> float:
        """When it ends within a round of ``period`` seconds (``inf`` for no rounds)."""
        end = math.inf if self.for_s is None else self.at_s + self.for_s
        return min(end, period)


class Windows:
    """The times, within each round of ``period`` seconds (``inf``: one round), when some condition holds:
    merged half-open intervals ``[start, end)``, with what they imply over elapsed time."""

    def __init__(self, intervals: Iterable[tuple[float, float]], period: float = math.inf) -> None:
        merged: list[list[float]] = []
        for start, end in sorted((start, end) for start, end in intervals if end > start):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.period = period
        self.intervals: tuple[tuple[float, float], ...] = tuple((start, end) for start, end in merged)
        self._starts = [start for start, _ in self.intervals]
        self._per_round = sum(end - start for start, end in self.intervals)
        # The state at the start of a round other than the first carries on from the end of the last one
        # when an interval runs to the round's end and another starts at 0: then 0 is no change.
        wraps = bool(self.intervals) and self.intervals[0][0] == 0 and self.intervals[-1][1] >= period
        points = {start for start, _ in self.intervals} | {end for _, end in self.intervals if end < period}
        self._points_first = sorted(points)
        self._points_later = sorted(points - {0.0} if wraps else points)

    def _split(self, elapsed: float) -> tuple[int, float]:
        if math.isinf(self.period):
            return 0, elapsed
        rounds = math.floor(elapsed / self.period)
        return rounds, elapsed - rounds * self.period

    def holds(self, elapsed: float) -> bool:
        _, t = self._split(elapsed)
        index = bisect.bisect_right(self._starts, t) - 1
        return index >= 0 and t < self.intervals[index][1]

    def last_change(self, elapsed: float) -> float | None:
        """The latest elapsed time, at or before ``elapsed``, when the condition began or ended."""
        rounds, t = self._split(elapsed)
        points = self._points_first if rounds == 0 else self._points_later
        start = elapsed - t  # of this round (0 * inf would be NaN)
        index = bisect.bisect_right(points, t) - 1
        if index >= 0:
            return start + points[index]
        if rounds > 0 and self._points_later:
            return start - self.period + self._points_later[-1]
        return None

    def time_in(self, elapsed: float) -> float:
        """How many seconds, from the start to ``elapsed``, the condition held."""
        rounds, t = self._split(elapsed)
        partial = sum(max(0.0, min(end, t) - start) for start, end in self.intervals if start < t)
        return (rounds * self._per_round if rounds else 0.0) + partial


class FaultScript:
    """The faults of every node over elapsed time; ``repeat_s`` plays the script in rounds."""

    def __init__(self, faults: Sequence[FaultConfig], repeat_s: float | None = None) -> None:
        self.faults = tuple(faults)
        self.period = repeat_s if repeat_s else math.inf
        self._by_node: dict[str, tuple[FaultConfig, ...]] = {}
        for fault in self.faults:
            self._by_node[fault.node] = (*self._by_node.get(fault.node, ()), fault)
        self._windows: dict[tuple[str, str, str], Windows] = {}
        changes = {point for fault in self.faults for point in (fault.at_s, fault.end_in(self.period))}
        self._changes = sorted(point for point in changes if point < self.period)

    def nodes(self) -> frozenset[str]:
        return frozenset(self._by_node)

    def round_time(self, elapsed: float) -> float:
        """Seconds into the current round."""
        return elapsed if math.isinf(self.period) else elapsed % self.period

    def active(self, node: str, elapsed: float) -> tuple[FaultConfig, ...]:
        """The node's faults on at ``elapsed``, in the script's order."""
        t = self.round_time(elapsed)
        return tuple(fault for fault in self._by_node.get(node, ())
                     if fault.at_s <= t < fault.end_in(self.period))

    def since_start(self, fault: FaultConfig, elapsed: float) -> float:
        """Seconds since ``fault`` (active now) began."""
        return self.round_time(elapsed) - fault.at_s

    def next_change(self, elapsed: float) -> float | None:
        """The first elapsed time after ``elapsed`` at which some fault begins or ends; None if none will."""
        if not self._changes:
            return None
        t = self.round_time(elapsed)
        index = bisect.bisect_right(self._changes, t)
        if index < len(self._changes):
            return elapsed - t + self._changes[index]
        if math.isinf(self.period):
            return None
        return elapsed - t + self.period + self._changes[0]

    def windows(self, node: str, kind: str, port: str | None = None) -> Windows:
        """When the node has a fault of ``kind`` (on ``port``, for the port's kinds)."""
        key = (node, kind, port or "")
        if key not in self._windows:
            self._windows[key] = Windows(
                ((fault.at_s, fault.end_in(self.period)) for fault in self._by_node.get(node, ())
                 if fault.kind == kind and (port is None or fault.port == port)),
                self.period,
            )
        return self._windows[key]


def dark_in_slot(seed: int, node: str, slot: int, loss_pct: float) -> bool:
    """Whether a node under a ``loss`` fault is dark in time slot ``slot``: about ``loss_pct`` % of slots
    are, picked by a hash so that the answer needs no state and is the same every run with one seed."""
    digest = hashlib.blake2b(f"{seed}:{node}:{slot}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < loss_pct / 100.0 * 2**64


class ManualFaults:
    """Faults switched on and off by hand while the simulator runs (``hub fibre-sim``'s console, a demo's
    scripted cues), beside the script: nodes down and ports dark until switched back, each change
    remembered with its elapsed time for the ports' ifLastChange; and ``loss`` and ``rx_decline`` faults
    on until ended, each a ``FaultConfig`` whose ``at_s`` is the elapsed time it began."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.dark_ports: set[tuple[str, str]] = set()
        self.changed: dict[tuple[str, str], float] = {}  # (node, "down") or (node, port) -> elapsed
        self._faults: dict[tuple[str, str, str], FaultConfig] = {}  # (node, kind, port or "") -> fault

    def start(self, fault: FaultConfig) -> None:
        """Switch ``fault`` on (a ``loss`` or ``rx_decline`` from its ``at_s``), in place of one of the same
        kind on the same node and port."""
        if fault.kind not in ("loss", "rx_decline"):
            raise ValueError(f"{fault.kind} is switched by set_down or set_dark")
        self._faults[_fault_key(fault.node, fault.kind, fault.port)] = fault

    def end(self, node: str, kind: str, port: str = "uplink") -> bool:
        """Switch a ``loss`` (any port) or ``rx_decline`` on ``port`` off; whether one was on."""
        return self._faults.pop(_fault_key(node, kind, port), None) is not None

    def active(self, node: str) -> tuple[FaultConfig, ...]:
        """The node's faults switched on by hand."""
        return tuple(fault for (name, _kind, _port), fault in self._faults.items() if name == node)

    def holds(self, fault: FaultConfig) -> bool:
        """Whether ``fault`` is one of these (its ``at_s`` is then an elapsed time, not a time in a round)."""
        return any(fault is mine for mine in self._faults.values())

    def set_down(self, node: str, down: bool, elapsed: float) -> bool:
        """Whether anything changed."""
        if (node in self.down) == down:
            return False
        (self.down.add if down else self.down.discard)(node)
        self.changed[(node, "down")] = elapsed
        return True

    def set_dark(self, node: str, port: str, dark: bool, elapsed: float) -> bool:
        if ((node, port) in self.dark_ports) == dark:
            return False
        (self.dark_ports.add if dark else self.dark_ports.discard)((node, port))
        self.changed[(node, port)] = elapsed
        return True


def _fault_key(node: str, kind: str, port: str) -> tuple[str, str, str]:
    return (node, kind, port if kind != "loss" else "")
