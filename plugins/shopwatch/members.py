"""Who each radio unit is and what each status code means, from the scheme's configuration.

Also how a member appears to operators: the event's subject, location and wording, and the unit's entry
in the hub's directory. A unit not in the member list is still reported, as an unknown unit.
"""

from __future__ import annotations

from typing import Mapping

from attrs import frozen

from hub.directory import Asset
from hub.events import Location, Severity, Subject
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig, StatusCodeConfig
from plugins.shopwatch.events import RadioMember

#: The unit an emergency is put on when the base radio reports emergency mode without a caller.
BASE_UNIT = "base"
#: The unit a text is put on when no SDM ring said who sent it.
UNIDENTIFIED_UNIT = "unidentified"

_PLACEHOLDER_NAMES = {BASE_UNIT: "Base radio", UNIDENTIFIED_UNIT: "Unidentified caller"}


@frozen
class StatusMeaning:
    """A status code as the scheme reads it. ``meaning`` is None for a code the configuration leaves out."""

    code: str
    meaning: str | None
    severity: Severity
    emergency: bool

    @property
    def label(self) -> str:
        return self.meaning if self.meaning is not None else f"Status {self.code}"


@frozen
class Members:
    """The member list and status codes of one adapter instance; ``source`` is its name on the bus."""

    source: str
    scheme: str
    members: Mapping[str, MemberConfig]
    status_codes: Mapping[str, StatusCodeConfig]

    @classmethod
    def from_config(cls, source: str, config: ShopwatchConfig) -> "Members":
        return cls(source=source, scheme=config.scheme, members=config.members, status_codes=config.status_codes)

    def member(self, unit: str) -> RadioMember:
        """The member whose handset is ``unit``; an unknown unit has ``known`` false and no name."""
        configured = self.members.get(unit)
        if configured is None:
            return RadioMember(unit=unit, known=False, name=None, scheme=self.scheme)
        return RadioMember(
            unit=unit,
            known=True,
            name=configured.name,
            scheme=configured.scheme if configured.scheme is not None else self.scheme,
            address=configured.address,
            cameras=configured.cameras,
        )

    def status(self, code: str) -> StatusMeaning:
        """What status ``code`` means; an unconfigured code is reported at medium with no meaning."""
        configured = self.status_codes.get(code)
        if configured is None:
            return StatusMeaning(code=code, meaning=None, severity=Severity.MEDIUM, emergency=False)
        return StatusMeaning(
            code=code,
            meaning=configured.meaning,
            severity=Severity.parse(configured.severity),
            emergency=configured.emergency,
        )

    def all(self) -> list[RadioMember]:
        """Every configured member, in configuration order."""
        return [self.member(unit) for unit in self.members]

    # --- How a member appears to operators -------------------------------------------------------

    def asset_id(self, unit: str) -> str:
        return f"{self.source}.{unit}"

    def display_name(self, member: RadioMember) -> str:
        if member.name is not None:
            return member.name
        return _PLACEHOLDER_NAMES.get(member.unit, f"Unknown unit {member.unit}")

    def subject(self, member: RadioMember) -> Subject:
        return Subject(kind="radio_unit", id=self.asset_id(member.unit), name=self.display_name(member))

    def location(self, member: RadioMember) -> Location | None:
        """Where the member is: its address, nearest camera and coordinates; None for an unknown unit."""
        if not member.known:
            return None
        configured = self.members[member.unit]
        return Location(
            name=member.address if member.address is not None else member.name,
            camera=member.cameras[0] if member.cameras else None,
            latitude=configured.latitude,
            longitude=configured.longitude,
        )

    def describe(self, member: RadioMember) -> str:
        """The member for a summary read at night: ``Boots, 12 High St (unit 1001, Shopwatch)``."""
        if not member.known:
            # The unit is already in the name ("Unknown unit 2002"), or it is the base radio.
            return f"{self.display_name(member)} ({member.scheme})"
        place = member.name if member.address is None else f"{member.name}, {member.address}"
        return f"{place} (unit {member.unit}, {member.scheme})"

    def asset(self, member: RadioMember, state: str = "normal", since: float | None = None) -> Asset:
        """The unit's entry in the hub's directory."""
        configured = self.members.get(member.unit)
        return Asset(
            kind="radio_unit",
            id=self.asset_id(member.unit),
            name=self.display_name(member),
            source=self.source,
            latitude=configured.latitude if configured is not None else None,
            longitude=configured.longitude if configured is not None else None,
            state=state,
            state_since=since,
            attributes={
                "unit": member.unit,
                "known": member.known,
                "scheme": member.scheme,
                "address": member.address,
                "cameras": list(member.cameras),
            },
        )


def declared_assets(config: ShopwatchConfig, source: str) -> list[Asset]:
    """Every configured member's radio unit, as the running adapter first puts it in the directory, without
    opening the radio's port (``AdapterType.assets``)."""
    members = Members.from_config(source, config)
    return [members.asset(member) for member in members.all()]
