"""What the hub knows exists: cameras, fibre nodes, sites. Adapters make their assets known here.

The console's map and status views and the API's ``/api/cameras`` and ``/api/fibre-nodes`` read it. It
is state on the running hub, rebuilt by the adapters every start, never a global.
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs
from attrs import field, frozen

ASSET_KINDS = ("camera", "fibre_node", "fibre_span", "radio_unit", "site")


@frozen
class Asset:
    """One thing the room can see on its map or status panel.

    ``kind`` is one of ``ASSET_KINDS``; ``id`` is the room's own name for it (the camera number, the
    node name); ``source`` the adapter instance that knows it. ``state`` is the adapter's word for its
    health (``online``, ``offline``, ``up``, ``down``...), ``state_since`` when that began (POSIX
    seconds from the hub clock). ``attributes`` carries the rest (a node's upstream, a camera's presets),
    as JSON-ready values.
    """

    kind: str = field(validator=attrs.validators.in_(ASSET_KINDS))
    id: str
    name: str | None = None
    source: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    state: str | None = None
    state_since: float | None = None
    attributes: Mapping[str, Any] = field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "state": self.state,
            "state_since": self.state_since,
            "attributes": dict(self.attributes),
        }


class Directory:
    """The assets of one hub, by kind and id. The console reads it; state changes reach the console as
    the adapters' own events on the stream."""

    def __init__(self) -> None:
        self._assets: dict[tuple[str, str], Asset] = {}

    def put(self, asset: Asset) -> None:
        """Add an asset or replace what was known of it."""
        self._assets[(asset.kind, asset.id)] = asset

    def set_state(self, kind: str, asset_id: str, state: str, since: float | None = None) -> Asset | None:
        """Change one asset's state; returns the new asset, or None if it is not known."""
        asset = self._assets.get((kind, asset_id))
        if asset is None:
            return None
        changed = attrs.evolve(asset, state=state, state_since=since)
        self.put(changed)
        return changed

    def remove_source(self, source: str) -> None:
        """Forget every asset an adapter instance made known (it was removed from the config)."""
        for key, asset in tuple(self._assets.items()):
            if asset.source == source:
                del self._assets[key]

    def get(self, kind: str, asset_id: str) -> Asset | None:
        return self._assets.get((kind, asset_id))

    def list(self, kind: str | None = None) -> list[Asset]:
        """Assets of one kind (or all), ordered by kind then id as people sort them (camera 9 before 10)."""
        assets = [a for a in self._assets.values() if kind is None or a.kind == kind]
        return sorted(assets, key=lambda a: (a.kind, natural_key(a.id)))


def natural_key(text: str) -> tuple[Any, ...]:
    """A sort key that orders numbers within names as people do: camera 9 before 10, A2 before A10."""
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))
