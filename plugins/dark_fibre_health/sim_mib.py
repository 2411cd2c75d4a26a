"""A simulated agent's MIB: OIDs in lexicographic order, each with a value fixed or worked out at the
moment it is read, and the three lookups an agent answers (RFC 3416): Get, GetNext and GetBulk.

Pure and cheap: the OIDs are a sorted list searched by bisection, and the moment's state (uptime, receive
power, faults) is worked out once per request and handed to every value that depends on it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from plugins.dark_fibre_health.codec.snmp import OID, SnmpValue, VarBind

__all__ = ["END_OF_MIB_VIEW", "NO_SUCH_INSTANCE", "NO_SUCH_OBJECT", "MibTree", "Value"]

State = TypeVar("State")
#: A value as the tree keeps it: fixed, or a function of the request's state.
Value = SnmpValue | Callable[[Any], SnmpValue]

NO_SUCH_OBJECT = SnmpValue("no_such_object")
NO_SUCH_INSTANCE = SnmpValue("no_such_instance")
END_OF_MIB_VIEW = SnmpValue("end_of_mib_view")


class MibTree(Generic[State]):
    """The OIDs an agent serves and their values; ``state`` (whatever the values' functions take) is
    passed to each lookup, worked out once by the caller for the whole request."""

    def __init__(self, entries: Iterable[tuple[OID, Value]]) -> None:
        pairs = sorted(entries, key=lambda pair: pair[0])
        for (before, _), (after, _) in itertools.pairwise(pairs):
            if before == after:
                raise ValueError(f"OID {'.'.join(map(str, before))} is served twice")
        self._oids: list[OID] = [oid for oid, _ in pairs]
        self._values: list[Value] = [value for _, value in pairs]
        # A Get for an unknown instance of a known object is noSuchInstance, of an unknown object
        # noSuchObject. The object is taken to be the OID without its last arc (a scalar's .0, a column of a
        # table with one index); in a table with a longer index an unknown first arc reads as noSuchObject.
        self._objects = frozenset(oid[:-1] for oid in self._oids)

    def __len__(self) -> int:
        return len(self._oids)

    def oids(self) -> Sequence[OID]:
        return tuple(self._oids)

    def _value(self, index: int, state: State) -> SnmpValue:
        value = self._values[index]
        return value if isinstance(value, SnmpValue) else value(state)

    def get(self, oid: OID, state: State) -> VarBind:
        """The value at exactly ``oid``, or noSuchInstance / noSuchObject."""
        index = bisect.bisect_left(self._oids, oid)
        if index < len(self._oids) and self._oids[index] == oid:
            return VarBind(oid, self._value(index, state))
        return VarBind(oid, NO_SUCH_INSTANCE if oid[:-1] in self._objects else NO_SUCH_OBJECT)

    def next(self, oid: OID, state: State) -> VarBind:
        """The first OID after ``oid`` with its value, or ``oid`` with endOfMibView past the last."""
        index = bisect.bisect_right(self._oids, oid)
        if index < len(self._oids):
            return VarBind(self._oids[index], self._value(index, state))
        return VarBind(oid, END_OF_MIB_VIEW)

    def bulk(self, oids: Sequence[OID], non_repeaters: int, max_repetitions: int, state: State,
             *, limit: int = 10_000) -> list[VarBind]:
        """A GetBulk's varbinds (RFC 3416 4.2.3): one GetNext for each of the first ``non_repeaters``,
        then up to ``max_repetitions`` rounds of GetNext over the rest, each from the last round's
        answer. Stops early once every repeater is past the end (with that round's endOfMibView
        answers given), and after ``limit`` varbinds, whole rounds only (at least one varbind)."""
        non_repeaters = max(0, min(non_repeaters, len(oids)))
        answer = [self.next(oid, state) for oid in oids[:non_repeaters]]
        current = list(oids[non_repeaters:])
        if not current:
            return answer
        for _ in range(max(0, max_repetitions)):
            if answer and len(answer) + len(current) > limit:
                break
            round_ = [self.next(oid, state) for oid in current]
            answer.extend(round_)
            current = [varbind.oid for varbind in round_]
            if all(varbind.value.kind == "end_of_mib_view" for varbind in round_):
                break
        return answer
