"""The fibre network's shape: which node feeds which, the spans between them, the cameras on each.

Correlation rests on it: a node is judged only after everything upstream of it (parents before children,
ordered by depth from the head end as LibreNMS orders its dependency checks), and a failed node takes
every node and camera behind it down with it. So the shape must be a forest: each chain of upstreams ends
at a root (a node fed from the head end), and no span closes a loop. A ring with a standby path is
monitored along the path the traffic takes; the standby span is left out of the configuration (or its
far node given no upstream) and the error says so.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from attrs import frozen

from hub.directory import natural_key
from plugins.dark_fibre_health.config import NodeConfig, SpanConfig

#: Joins the two ends of an assumed span's name: "FN-01–FN-02".
SPAN_JOIN = "\u2013"


class TopologyError(ValueError):
    """The configured topology cannot be judged; the message names the nodes, spans or cameras at fault."""


def _names(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@frozen
class Topology:
    """A validated forest of nodes. Build it with ``Topology.build``; every lookup is a dict read."""

    order: tuple[str, ...]
    spans: tuple[SpanConfig, ...]
    _upstream: Mapping[str, str | None]
    _children: Mapping[str, tuple[str, ...]]
    _depth: Mapping[str, int]
    _span_up: Mapping[str, str]
    _cameras: Mapping[str, tuple[str, ...]]
    _camera_node: Mapping[str, str]

    @classmethod
    def build(cls, nodes: Mapping[str, NodeConfig], spans: Sequence[SpanConfig] = ()) -> "Topology":
        """Check ``nodes`` and ``spans`` and make the topology, or raise TopologyError."""
        upstream = {name: node.upstream for name, node in nodes.items()}
        unknown = sorted((f"{name} (upstream {up})" for name, up in upstream.items()
                          if up is not None and up not in nodes), key=natural_key)
        if unknown:
            raise TopologyError(f"upstream names a node that is not configured: {_names(unknown)}")
        own = sorted((name for name, up in upstream.items() if up == name), key=natural_key)
        if own:
            raise TopologyError(f"a node cannot be its own upstream: {_names(own)}")
        depth: dict[str, int] = {}
        for start in nodes:
            path: list[str] = []
            node: str | None = start
            while node is not None and node not in depth:
                if node in path:
                    loop = path[path.index(node):] + [node]
                    raise TopologyError(
                        "the upstreams form a loop: " + " -> ".join(loop)
                        + "; every chain of upstreams must end at a node fed from the head end (no upstream)"
                    )
                path.append(node)
                node = upstream[node]
            base = -1 if node is None else depth[node]
            for offset, name in enumerate(reversed(path), start=1):
                depth[name] = base + offset

        span_up, kept = cls._spans(nodes, upstream, spans)

        cameras: dict[str, tuple[str, ...]] = {name: tuple(node.cameras) for name, node in nodes.items()}
        camera_node: dict[str, str] = {}
        doubled: dict[str, list[str]] = {}
        for name in sorted(nodes, key=natural_key):
            for camera in cameras[name]:
                if camera in camera_node:
                    doubled.setdefault(camera, [camera_node[camera]]).append(name)
                else:
                    camera_node[camera] = name
        if doubled:
            listed = [f"camera {camera} on {' and '.join(on)}" for camera, on in sorted(doubled.items())]
            raise TopologyError(f"a camera hangs off one node only: {_names(listed)}")

        order = tuple(sorted(nodes, key=lambda name: (depth[name], natural_key(name))))
        children: dict[str, list[str]] = {name: [] for name in nodes}
        for name in order:
            if upstream[name] is not None:
                children[upstream[name]].append(name)  # type: ignore[index]
        return cls(
            order=order,
            spans=kept,
            upstream=upstream,
            children={name: tuple(kids) for name, kids in children.items()},
            depth=depth,
            span_up=span_up,
            cameras=cameras,
            camera_node=camera_node,
        )

    @staticmethod
    def _spans(
        nodes: Mapping[str, NodeConfig], upstream: Mapping[str, str | None], spans: Sequence[SpanConfig]
    ) -> tuple[dict[str, str], tuple[SpanConfig, ...]]:
        """The span carrying each node's upstream link (configured, else assumed), and the full list."""
        names = [span.name for span in spans]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise TopologyError(f"span names must be unique: {_names(repeated)}")
        unknown = [f"{span.name} ({end})" for span in spans for end in (span.a, span.b) if end not in nodes]
        if unknown:
            raise TopologyError(f"a span ends at a node that is not configured: {_names(unknown)}")
        same = [span.name for span in spans if span.a == span.b]
        if same:
            raise TopologyError(f"a span joins two different nodes: {_names(same)}")
        by_pair: dict[frozenset[str], SpanConfig] = {}
        for span in spans:
            pair = frozenset((span.a, span.b))
            if pair in by_pair:
                raise TopologyError(
                    f"spans {by_pair[pair].name} and {span.name} both join {span.a} and {span.b}; "
                    "configure the span the traffic takes"
                )
            by_pair[pair] = span
        span_up: dict[str, str] = {}
        kept = list(spans)
        for name in sorted(nodes, key=natural_key):
            up = upstream[name]
            if up is None:
                continue
            span = by_pair.get(frozenset((up, name)))
            if span is None:
                span = SpanConfig(name=f"{up}{SPAN_JOIN}{name}", a=up, b=name)
                kept.append(span)
            span_up[name] = span.name
        # A configured span that is no node's upstream link either joins two trees (then the far node
        # should name its upstream) or closes a loop (a ring's standby path): both are refused, so that
        # every span on the map has a state the hub can judge.
        carried = set(span_up.values())
        stray = [span for span in spans if span.name not in carried]
        if stray:
            described = [f"{span.name} ({span.a}{SPAN_JOIN}{span.b})" for span in stray]
            raise TopologyError(
                "every span must carry a node's upstream link, so the topology stays a forest with no loops: "
                f"{_names(described)} joins nodes neither of which names the other as upstream "
                "(set upstream on the far node, or leave a ring's standby span out)"
            )
        return span_up, tuple(kept)

    # --- lookups ------------------------------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.order

    def upstream(self, node: str) -> str | None:
        return self._upstream[node]

    def children(self, node: str) -> tuple[str, ...]:
        return self._children[node]

    def depth(self, node: str) -> int:
        """0 for a node fed from the head end, 1 for the nodes behind it, and so on."""
        return self._depth[node]

    def ancestors(self, node: str) -> tuple[str, ...]:
        """The nodes between ``node`` and the head end, nearest first."""
        found = []
        up = self._upstream[node]
        while up is not None:
            found.append(up)
            up = self._upstream[up]
        return tuple(found)

    def descendants(self, node: str) -> tuple[str, ...]:
        """Every node behind ``node``, parents before children."""
        found: list[str] = []
        todo = list(self._children[node])
        while todo:
            child = todo.pop(0)
            found.append(child)
            todo.extend(self._children[child])
        return tuple(sorted(found, key=self.order.index))

    def span_to_upstream(self, node: str) -> str | None:
        """The name of the span carrying ``node``'s upstream link (None for a node with no upstream)."""
        return self._span_up.get(node)

    def span(self, name: str) -> SpanConfig | None:
        for span in self.spans:
            if span.name == name:
                return span
        return None

    def node_of_span(self, name: str) -> str | None:
        """The downstream node whose upstream link ``name`` carries: the span's state is that node's."""
        for node, span in self._span_up.items():
            if span == name:
                return node
        return None

    def cameras_on(self, node: str) -> tuple[str, ...]:
        return self._cameras[node]

    def cameras_behind(self, node: str) -> tuple[str, ...]:
        """The cameras on ``node`` and on every node behind it, in that order."""
        found = list(self._cameras[node])
        for child in self.descendants(node):
            found.extend(self._cameras[child])
        return tuple(found)

    def node_of_camera(self, camera: str) -> str | None:
        return self._camera_node.get(camera)
