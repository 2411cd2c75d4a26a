"""Members' emergencies, status codes and texts as events on the bus, and their units in the hub's directory.

Both dialects end here: a session says "unit 1001 pressed its emergency button" and this module names the
member, words the summary for an operator, keeps an emergency from being raised twice, and keeps the unit's
directory entry in step.
"""

from __future__ import annotations

from typing import Any, Callable

from hub.events import Event, EventFactory, Severity
from plugins.shopwatch.events import (
    EMERGENCY_STATUS,
    ENDED_BY_OPERATOR,
    ENDED_BY_RADIO,
    RadioEmergencyEnded,
    RadioEmergencyRaised,
    RadioMember,
    RadioReportReceived,
)
from plugins.shopwatch.members import Members

EMERGENCY = "emergency"
NORMAL = "normal"
#: An emergency not heard from for this long is stale: the unit's next press is a new emergency, raised
#: again. A handset repeats its call every few seconds until answered; but FleetSync never says an
#: emergency ended, and a missed CCDI PROGRESS 04 or an incident closed without ``end_emergency`` would
#: otherwise swallow every later emergency from that unit as a repeat.
EMERGENCY_QUIET_S = 600.0


class Alerts:
    """Publishes what members' handsets report. ``publish`` takes an event and owns its fate."""

    def __init__(
        self,
        *,
        members: Members,
        events: EventFactory,
        publish: Callable[[Event], None],
        directory: Any,
        clock: Any,
        log: Any,
    ) -> None:
        self._members = members
        self._events = events
        self._publish = publish
        self._directory = directory
        self._clock = clock
        self._log = log
        self._active: set[str] = set()
        #: When each active emergency was last raised or repeated, on the hub's clock.
        self._last_heard: dict[str, float] = {}

    @property
    def active(self) -> frozenset[str]:
        """Units with an emergency raised and not yet ended."""
        return frozenset(self._active)

    def start(self) -> None:
        """Make every member known to the directory, keeping what an earlier run of this instance left.

        An emergency raised before the adapter restarted (a USB adapter unplugged for a second) is still
        on in the directory: it stays on, is not raised again, and ends like any other.
        """
        if self._directory is None:
            return
        now = self._clock.seconds()
        for asset in self._directory.list("radio_unit"):
            if asset.source == self._members.source and asset.state == EMERGENCY:
                unit = str(asset.attributes.get("unit"))
                self._active.add(unit)
                self._last_heard[unit] = asset.state_since if asset.state_since is not None else now
        for member in self._members.all():
            known = self._directory.get("radio_unit", self._members.asset_id(member.unit))
            if known is None:
                self._directory.put(self._members.asset(member, since=now))
            else:
                self._directory.put(self._members.asset(member, state=known.state or NORMAL,
                                                        since=known.state_since))

    def heard(self, unit: str) -> RadioMember:
        """The member for ``unit``; a unit heard for the first time is added to the directory."""
        member = self._members.member(unit)
        if self._directory is not None and self._directory.get("radio_unit", self._members.asset_id(unit)) is None:
            self._log.info("unit_first_heard", unit=unit, known=member.known)
            self._directory.put(self._members.asset(member, since=self._clock.seconds()))
        return member

    def emergency(self, unit: str, trigger: str, status: int | None = None, status_label: str | None = None) -> None:
        member = self.heard(unit)
        now = self._clock.seconds()
        last = self._last_heard.get(unit)
        self._last_heard[unit] = now
        if unit in self._active and last is not None and now - last < EMERGENCY_QUIET_S:
            # The radio repeats an emergency call until it is answered; the room already has it.
            self._log.info("emergency_repeated", unit=unit, trigger=trigger)
            return
        if unit in self._active:
            self._log.warning("emergency_raised_again_after_quiet", unit=unit, quiet_s=now - (last or now))
        self._active.add(unit)
        self._log.warning("emergency_raised", unit=unit, trigger=trigger, known=member.known)
        summary = f"EMERGENCY: {self._members.describe(member)}"
        if trigger == EMERGENCY_STATUS and status_label is not None:
            summary += f": {status_label}"
        self._set_state(unit, EMERGENCY)
        self._send(RadioEmergencyRaised(member=member, trigger=trigger, status=status), Severity.CRITICAL,
                   member, summary)

    def ended_by_radio(self, detail: str) -> None:
        """The base radio left emergency mode: every emergency it had is over."""
        if not self._active:
            self._log.info("emergency_end_without_emergency")
        for unit in sorted(self._active):
            self._end(unit, ENDED_BY_RADIO, detail, cause=None)

    def ended_by_operator(self, unit: str, detail: str, cause: Event) -> None:
        """An operator ended ``unit``'s emergency; published even if this run never saw it raised."""
        self._end(unit, ENDED_BY_OPERATOR, detail, cause=cause)

    def status(self, unit: str, code: str, status: int) -> None:
        """A preset status button: a report with its meaning, or an emergency if configured as one."""
        meaning = self._members.status(code)
        if meaning.emergency:
            self.emergency(unit, EMERGENCY_STATUS, status=status, status_label=meaning.label)
            return
        member = self.heard(unit)
        self._log.info("status_received", unit=unit, code=code, known=member.known)
        self._send(RadioReportReceived(member=member, status_code=code, status_meaning=meaning.meaning),
                   meaning.severity, member, f"{meaning.label}: {self._members.describe(member)}")

    def text(self, unit: str, text: str) -> None:
        member = self.heard(unit)
        self._log.info("text_received", unit=unit, known=member.known, length=len(text))
        self._send(RadioReportReceived(member=member, text=text), Severity.MEDIUM, member,
                   f"Message from {self._members.describe(member)}: {text}")

    def _end(self, unit: str, ended_by: str, detail: str, cause: Event | None) -> None:
        member = self.heard(unit)
        self._active.discard(unit)
        self._last_heard.pop(unit, None)
        self._log.info("emergency_ended", unit=unit, ended_by=ended_by)
        self._set_state(unit, NORMAL)
        self._send(RadioEmergencyEnded(member=member, ended_by=ended_by, detail=detail), Severity.INFO, member,
                   f"Emergency over: {self._members.describe(member)}; {detail}", cause=cause)

    def _set_state(self, unit: str, state: str) -> None:
        if self._directory is not None:
            self._directory.set_state("radio_unit", self._members.asset_id(unit), state, self._clock.seconds())

    def _send(self, payload: Any, severity: Severity, member: RadioMember, summary: str,
              cause: Event | None = None) -> None:
        self._publish(self._events(
            payload.TYPE,
            payload,
            severity=severity,
            subject=self._members.subject(member),
            location=self._members.location(member),
            summary=summary,
            incident_id=cause.incident_id if cause is not None else None,
            causation_id=cause.id if cause is not None else None,
        ))
