"""Which cameras are nearest an event: the ones a rule's ``move_cameras`` turns to a preset.

Pure: it reads the event and the directory the adapters keep (``hub.directory``), nothing else, so the
rule actions on the running hub and ``hub rules test`` (which fills a directory from the config) agree.
"""

from __future__ import annotations

import math
from typing import Iterable

from attrs import frozen

from hub.directory import Asset, Directory
from hub.events import Event

#: Mean Earth radius (IUGG), metres: plenty for "which camera is closest" across a town centre.
_EARTH_RADIUS_M = 6_371_008.8


@frozen
class NearCamera:
    """A camera chosen for an event: its number, the adapter instance that drives it, and why it was chosen.

    ``why`` is one of ``named`` (the event's location or subject names it), ``member`` (the radio member's
    cameras in the scheme's directory), ``node`` (behind the fibre node the event is about) or ``distance``
    (within range of the event's coordinates; ``metres`` says how far).
    """

    camera: str
    adapter: str | None
    why: str
    metres: float | None = None


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _listed(value: object) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return []


def nearest_cameras(
    event: Event,
    directory: Directory,
    *,
    count: int = 1,
    within_m: float = 300.0,
    adapter: str | None = None,
) -> list[NearCamera]:
    """Up to ``count`` cameras for ``event``, best first, each once.

    In order: cameras the event names (``location.camera``, a ``camera`` subject); a radio member's
    cameras (its ``radio_unit`` asset's ``cameras``); a fibre node's cameras (its ``fibre_node`` asset's
    ``cameras``); then cameras within ``within_m`` of the event's coordinates, closest first. Cameras
    the directory does not know are still given for the first three (the adapter is then None: the rule
    action says it cannot reach them); ``adapter`` keeps only cameras driven by that instance.
    """
    chosen: list[NearCamera] = []
    seen: set[str] = set()

    def offer(numbers: Iterable[str], why: str) -> None:
        for number in numbers:
            if number in seen:
                continue
            asset = directory.get("camera", number)
            source = asset.source if asset is not None else None
            if adapter is not None and source != adapter:
                continue
            seen.add(number)
            chosen.append(NearCamera(camera=number, adapter=source, why=why))

    named = []
    if event.location is not None and event.location.camera:
        named.append(event.location.camera)
    if event.subject.kind == "camera":
        named.append(event.subject.id)
    offer(named, "named")
    if event.subject.kind == "radio_unit":
        member = directory.get("radio_unit", event.subject.id)
        if member is not None:
            offer(_listed(member.attributes.get("cameras")), "member")
    if event.subject.kind == "fibre_node":
        node = directory.get("fibre_node", event.subject.id)
        if node is not None:
            offer(_listed(node.attributes.get("cameras")), "node")
    if len(chosen) < count:
        chosen.extend(_by_distance(event, directory, within_m, adapter, seen))
    return chosen[:count]


def _by_distance(
    event: Event, directory: Directory, within_m: float, adapter: str | None, seen: set[str]
) -> list[NearCamera]:
    place = event.location
    if place is None or place.latitude is None or place.longitude is None:
        return []
    found: list[tuple[float, Asset]] = []
    for asset in directory.list("camera"):
        if asset.id in seen or asset.latitude is None or asset.longitude is None:
            continue
        if adapter is not None and asset.source != adapter:
            continue
        metres = distance_m(place.latitude, place.longitude, asset.latitude, asset.longitude)
        if metres <= within_m:
            found.append((metres, asset))
    found.sort(key=lambda pair: (pair[0], pair[1].id))
    return [NearCamera(camera=a.id, adapter=a.source, why="distance", metres=round(m, 1)) for m, a in found]
