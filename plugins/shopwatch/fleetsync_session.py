"""The conversation with a Kenwood radio in FleetSync: identities, status codes, texts and delivery reports.

FleetSync has no handshake, no start-up settings and nothing to ask the radio, so this side only listens:
a unit's ``I`` frame with a status in 95 to 99 is an emergency (Kenwood reserves those for emergency and
man-down), another status is a report, a ``D`` frame is a text, and ``0``/``1`` confirm a delivery.
"""

from __future__ import annotations

from typing import Any

from plugins.shopwatch.alerts import Alerts
from plugins.shopwatch.codec.fleetsync import (
    EMERGENCY_STATUSES,
    DataReceived,
    DeliveryReport,
    Identified,
    SendText,
    split_unit_id,
)
from plugins.shopwatch.config import ShopwatchConfig
from plugins.shopwatch.deliveries import Deliveries
from plugins.shopwatch.events import EMERGENCY_STATUS
from plugins.shopwatch.link import Request


class FleetSyncSession:
    """Everything FleetSync-specific the adapter does."""

    #: The radio's 0/1 report is about the last message it sent, a broadcast too.
    reports_group_sends = True

    def __init__(self, *, config: ShopwatchConfig, deliveries: Deliveries, alerts: Alerts, log: Any) -> None:
        self._config = config
        self._deliveries = deliveries
        self._alerts = alerts
        self._log = log

    def start(self) -> None:
        """Nothing to set up: a FleetSync radio sends what it hears without being asked."""

    def stop(self) -> None:
        """No timers of its own."""

    def group_request(self, text: str) -> Request:
        fleet, unit = split_unit_id(self._config.group())
        return Request(SendText(fleet, unit, text), "broadcast text")

    def unit_request(self, unit: str, text: str) -> Request:
        fleet, number = split_unit_id(unit)
        return Request(SendText(fleet, number, text), f"text to {unit}")

    def end_emergency_request(self, unit: str) -> None:
        # FleetSync has no message that clears an emergency at the radio; the hub closes it alone.
        return None

    def received(self, message: Any) -> None:
        if isinstance(message, Identified):
            unit = message.unit_id
            if message.status is None:
                self._alerts.heard(unit)
                self._log.info("unit_identified", unit=unit)
            elif message.status in EMERGENCY_STATUSES:
                self._alerts.emergency(unit, EMERGENCY_STATUS, status=message.status,
                                       status_label=self._alerts_label(message.status))
            else:
                self._alerts.status(unit, f"{message.status:02d}", message.status)
        elif isinstance(message, DataReceived):
            self._alerts.text(message.unit_id, message.text)
        elif isinstance(message, DeliveryReport):
            self._deliveries.report(message.delivered)
        else:
            self._log.info("radio_message_ignored", message=repr(message))

    def _alerts_label(self, status: int) -> str:
        configured = self._config.status_codes.get(f"{status:02d}")
        return configured.meaning if configured is not None else f"status {status:02d} (emergency or man-down)"
