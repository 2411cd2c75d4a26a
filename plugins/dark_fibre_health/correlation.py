"""From each node's own state to what the room is told: which node is the root cause, which are merely
unreachable behind it.

Pure logic on the topology: verdicts come in one at a time (from the nodes' judges) with their times,
and each call returns the changes to publish, parents before children, each only when it changed.

**Effective state.** A node behind a node that is down (or itself unreachable) is ``unreachable``,
``because_of`` the down node highest up its path, whatever its own probes say: it cannot be told apart
from a dead node through a cut fibre. Otherwise a node's effective state is its own. A node that is down
while everything upstream of it answers is a **root cause**: the one alarm of the outage, naming the
cameras behind it. Nagios parents, Icinga dependencies and Zabbix trigger dependencies do the same. A
node that is not judged at all (not probed) is passed over: it never gets a state from here, and the
nodes behind it hang off the judged node above it.

**Flapping.** A flapping node is not a root cause (its own verdict says it flaps), and neither is a node
behind it: it may be going down with its parent every time. So the nodes behind a flapping node keep
their own states (the room sees what each one does) but a down among them is not a root cause, and
``because_of`` names the flapping node. The nodes behind such a down node are unreachable as usual.

**Held verdicts.** The probes of a node and of its parent are paced apart in the interval, so when a
fibre is cut the child may count its failures first and reach "down" while the parent has failed only
once or twice. Publishing the child's down then would make it a root cause for a moment, and an
incident of its own. So a child's down that would make it a root cause is held while an upstream node
has failed rounds in a row but no down verdict yet; and equally when the child was unreachable and its
upstream has just come back (the child's probes catch up a round later). A held node keeps showing what
it showed. The hold ends when the child's candidate state changes (its upstream goes down: it is
unreachable and never a root cause; its own judge says up: nothing was ever wrong with it), or after
``max_hold_s``, when its down is published as a root cause, unless the child is answering again by then
(its own up verdict is on its way, so the hold goes on until that verdict).

Why the hold is not also ended the moment the parent answers again: the child may still have a probe in
flight that was sent before the fibre came back, and that late failure would make a root cause out of a
node that recovered with its parent. The bound of a couple of intervals costs a genuinely dead child
only those seconds. Take ``max_hold_s`` as two intervals plus the probe timeout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from attrs import frozen

from plugins.dark_fibre_health.events import DOWN, FLAPPING, UNKNOWN, UNREACHABLE
from plugins.dark_fibre_health.judge import Verdict
from plugins.dark_fibre_health.topology import Topology


@frozen
class Effective:
    """``node``'s state as the room sees it: up, degraded, down, unreachable or flapping (``unknown``
    only from ``Correlator.effective`` for a node never judged). ``root_cause`` for a node that is down
    while its upstream path answers; ``because_of`` names the down node an unreachable one hangs behind,
    or the flapping node above a down one that is therefore not a root cause."""

    node: str
    state: str
    root_cause: bool = False
    because_of: str | None = None


class Correlator:
    """Effective states of every node of ``topology`` from the nodes' own verdicts."""

    def __init__(self, topology: Topology, *, max_hold_s: float = 2.0, judged: Iterable[str] | None = None) -> None:
        self._topology = topology
        self._max_hold_s = max_hold_s
        self._rank = {node: rank for rank, node in enumerate(topology.order)}
        #: The nodes judged (default every node). Another (a node not probed) is passed over: it is never
        #: given a state, and the nodes behind it hang off the judged node above it.
        self._judged = frozenset(topology.order if judged is None else judged)
        self._parent: dict[str, str | None] = {}
        for node in topology.order:
            self._parent[node] = next((up for up in topology.ancestors(node) if up in self._judged), None)
        self._own: dict[str, str] = {}
        self._shown: dict[str, Effective] = {}
        #: Held nodes, with when their hold began.
        self._held: dict[str, float] = {}

    @property
    def holding(self) -> bool:
        """Some node's verdict is held: call ``release`` on every tick."""
        return bool(self._held)

    def held(self) -> tuple[str, ...]:
        """The nodes whose change is held, in order."""
        return tuple(sorted(self._held, key=self._rank.__getitem__))

    def effective(self, node: str) -> Effective:
        """What the room was last told about ``node`` (``unknown`` when nothing yet)."""
        return self._shown.get(node) or Effective(node=node, state=UNKNOWN)

    def update(self, verdict: Verdict, failing: Mapping[str, int]) -> list[Effective]:
        """Take one node's own verdict; ``failing`` gives each node's failed rounds in a row. Returns the
        changes to publish, parents before children."""
        node = verdict.node
        self._own[node] = verdict.state
        return self._evaluate((node, *self._topology.descendants(node)), failing, verdict.at, force=())

    def release(self, failing: Mapping[str, int], now: float) -> list[Effective]:
        """Publish the held changes whose hold has run out (see the module's notes)."""
        due = [node for node, since in self._held.items()
               if now - since >= self._max_hold_s and failing.get(node, 1) > 0]
        if not due:
            return []
        nodes: set[str] = set()
        for node in due:
            nodes.add(node)
            nodes.update(self._topology.descendants(node))
        return self._evaluate(nodes, failing, now, force=frozenset(due))

    # --- how ------------------------------------------------------------------------------------------

    def _evaluate(self, nodes: Iterable[str], failing: Mapping[str, int], now: float,
                  force: Iterable[str]) -> list[Effective]:
        changes = []
        for node in sorted(set(nodes) & self._judged, key=self._rank.__getitem__):
            candidate = self._candidate(node)
            shown = self._shown.get(node)
            if candidate is None or candidate == shown:
                self._held.pop(node, None)
                continue
            if candidate.root_cause and node not in force and (
                    node in self._held or self._should_hold(node, shown, failing)):
                self._held.setdefault(node, now)
                continue
            self._held.pop(node, None)
            self._shown[node] = candidate
            changes.append(candidate)
        return changes

    def _candidate(self, node: str) -> Effective | None:
        """What ``node`` should show now, from its own state and what its upstream shows."""
        parent = self._parent[node]
        if parent is not None:
            above = self._shown.get(parent)
            if above is not None and above.state == DOWN:
                return Effective(node=node, state=UNREACHABLE, because_of=parent)
            if above is not None and above.state == UNREACHABLE:
                return Effective(node=node, state=UNREACHABLE, because_of=above.because_of)
        own = self._own.get(node)
        if own is None:
            return None
        if own == DOWN:
            flapping = self._flapping_above(node)
            return Effective(node=node, state=DOWN, root_cause=flapping is None, because_of=flapping)
        return Effective(node=node, state=own)

    def _flapping_above(self, node: str) -> str | None:
        for ancestor in self._topology.ancestors(node):
            shown = self._shown.get(ancestor)
            if shown is not None and shown.state == FLAPPING:
                return ancestor
        return None

    def _should_hold(self, node: str, shown: Effective | None, failing: Mapping[str, int]) -> bool:
        """A root-cause down is held while it may yet be its upstream's doing."""
        if shown is not None and shown.state == UNREACHABLE:
            return True
        return any(failing.get(ancestor, 0) > 0 for ancestor in self._topology.ancestors(node))
