"""In-memory fakes of hub collaborators, so a test of one part needs none of the others."""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet.defer import Deferred, fail, succeed

from hub.events import Event


class RecordingBus:
    """A bus whose ``publish`` records each event and fires at once with the next sequence number.

    Set ``fail_with`` to an exception to make every ``publish`` fail with it (nothing is recorded),
    as a bus whose journal cannot write would. ``events`` holds what was published, with ``seq`` set.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.fail_with: BaseException | None = None
        self._seq = 0

    def publish(self, event: Event) -> "Deferred[int]":
        if self.fail_with is not None:
            return fail(self.fail_with)
        self._seq += 1
        self.events.append(attrs.evolve(event, seq=self._seq))
        return succeed(self._seq)

    def topics(self) -> list[str]:
        """The topics published so far, in order."""
        return [event.topic for event in self.events]

    def payloads(self, topic: str | None = None) -> list[Any]:
        """The payloads published so far, in order, optionally only those under ``topic``."""
        return [event.payload for event in self.events if topic is None or event.topic == topic]
