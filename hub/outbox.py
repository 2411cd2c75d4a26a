"""An adapter's way to publish: nothing it hands the bus is dropped without a word.

``Bus.publish`` returns a Deferred that fires once the event is durable. An adapter that publishes from a
protocol callback has nobody to hand that Deferred to; if the journal then refused the event (a full disk,
a payload that will not encode), the failure would vanish. An ``Outbox`` keeps every publish until it is
durable, logs a refusal loudly with what the event was, and lets the adapter wait on stop until all it
published is in the journal.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.python.failure import Failure

from hub.events import Event


class Outbox:
    """Publishes events, logs any the journal refuses, and knows which are not yet durable."""

    def __init__(self, bus: Any, log: Any) -> None:
        self._bus = bus
        self._log = log
        self._pending: set[Deferred[Any]] = set()

    def publish(self, event: Event) -> None:
        try:
            publishing = self._bus.publish(event)
        except Exception as error:  # noqa: BLE001 - a refused publish is logged, never lost silently
            self._refused(Failure(error), event)
            return
        self._pending.add(publishing)
        publishing.addErrback(self._refused, event)
        publishing.addBoth(lambda _result: self._pending.discard(publishing))

    def drain(self) -> "Deferred[None]":
        """Fires once every event published so far is in the journal (or its refusal logged)."""
        return DeferredList(list(self._pending)).addCallback(lambda _results: None)

    def _refused(self, failure: Failure, event: Event) -> None:
        # The one thing a control room must not lose quietly: say so loudly, with what it was.
        self._log.error("event_publish_failed", topic=event.topic, event_id=event.id, summary=event.summary,
                        error=failure.getErrorMessage())
