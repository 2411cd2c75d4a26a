"""``/metrics`` in the Prometheus text format (0.0.4): event counters, queues, adapters, incidents, web.

Rates are left to Prometheus (``rate(hub_events_published_total[1m])``): the hub only counts. Counters
that the web layer owns (events by topic prefix, HTTP requests) live in ``WebMetrics``; the rest is
read from the bus, the adapters, the incidents and the sessions at scrape time, with whatever samples
each running adapter's ``metrics()`` gives (``hub.api.MetricSample``).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Iterable

import structlog

from hub.api import MetricSample


class WebMetrics:
    """Counters kept by the web layer."""

    def __init__(self) -> None:
        self.events_by_prefix: Counter[str] = Counter()
        self.http_requests: Counter[tuple[str, int]] = Counter()

    def event_seen(self, topic: str) -> None:
        self.events_by_prefix[topic.partition(".")[0]] += 1

    def request_done(self, route: str, code: int) -> None:
        self.http_requests[(route, code)] += 1


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, object]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _help(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name, self.kind, self.help = name, kind, help_text
        self.samples: list[tuple[dict[str, object], float]] = []

    def add(self, value: float, **labels: object) -> "_Family":
        self.samples.append((labels, value))
        return self

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            yield f"{self.name}{_labels(labels)} {_number(value)}"


def adapter_families(services: Iterable[tuple[str, Any]], log: Any) -> list[_Family]:
    """The families made of every running adapter's ``metrics()`` samples, by name.

    ``services`` are (instance name, the adapter's service or None). Each sample gets the label
    ``adapter`` = the instance. An adapter whose ``metrics()`` raises (or gives something that is not
    an iterable of ``MetricSample``) is logged and left out of this scrape, and so is a sample whose
    name another sample already uses with another kind, or that repeats one already given: the rest of
    the scrape is never broken by one adapter.
    """
    families: dict[str, _Family] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for name, service in services:
        report = getattr(service, "metrics", None) if service is not None else None
        if not callable(report):
            continue
        try:
            samples = list(report())
            wrong = next((sample for sample in samples if not isinstance(sample, MetricSample)), None)
            if wrong is not None:
                raise TypeError(f"metrics() gave {type(wrong).__name__}, not MetricSample")
        except Exception as error:  # noqa: BLE001 - one adapter's bug must not break the scrape
            log.warning("adapter_metrics_failed", adapter=name, error=f"{type(error).__name__}: {error}")
            continue
        for sample in samples:
            labels = {**sample.labels, "adapter": name}
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = _Family(sample.name, sample.kind, sample.help)
            elif family.kind != sample.kind:
                log.warning("adapter_metric_refused", adapter=name, metric=sample.name,
                            reason=f"{sample.kind}, but already a {family.kind}")
                continue
            key = (sample.name, tuple(sorted(labels.items())))
            if key in seen:
                log.warning("adapter_metric_refused", adapter=name, metric=sample.name, reason="repeated labels")
                continue
            seen.add(key)
            family.add(sample.value, **labels)
    return [families[name] for name in sorted(families)]


def render_metrics(
    *,
    bus: Any,
    metrics: WebMetrics,
    adapters: list[Any],
    incident_counts: dict[str, int],
    websocket_clients: int,
    sessions_active: int,
    incident_states: Iterable[str] = (),
    adapter_services: Iterable[tuple[str, Any]] = (),
    log: Any = None,
) -> str:
    """The whole scrape, as text: the hub's own families, then the adapters' (see ``adapter_families``)."""
    families = []
    families.append(_Family("hub_events_published_total", "counter",
                            "Events journaled by this process since it started.").add(bus.published))
    by_prefix = _Family("hub_events_by_topic_prefix", "counter",
                        "Events published since start, by the first word of their topic.")
    for prefix, count in sorted(metrics.events_by_prefix.items()):
        by_prefix.add(count, prefix=prefix)
    families.append(by_prefix)
    families.append(_Family("hub_bus_head", "gauge", "Highest journal sequence number.").add(bus.head))
    depth = _Family("hub_bus_subscriber_queue_depth", "gauge", "Events waiting in a subscriber's queue.")
    behind = _Family("hub_bus_subscriber_behind", "gauge",
                     "Events a subscriber has yet to take from the journal (head minus its position).")
    for stats in bus.stats()["subscribers"]:
        depth.add(stats.queue_depth, subscriber=stats.name)
        behind.add(max(0, bus.head - stats.position), subscriber=stats.name)
    families += [depth, behind]
    up = _Family("hub_adapter_up", "gauge", "1 when an adapter instance is running, else 0.")
    for status in adapters:
        state = getattr(status.state, "value", status.state)
        up.add(1 if state == "running" else 0, adapter=status.name, type=status.adapter_type, state=state)
    families.append(up)
    incidents = _Family("hub_incidents", "gauge", "Incidents by state.")
    counts = dict.fromkeys(incident_states, 0)
    counts.update(incident_counts)
    for state, count in sorted(counts.items()):
        incidents.add(count, state=state)
    families.append(incidents)
    families.append(_Family("hub_websocket_clients", "gauge", "Live stream clients connected.")
                    .add(websocket_clients))
    requests = _Family("hub_http_requests_total", "counter", "HTTP requests answered, by route and status.")
    for (route, code), count in sorted(metrics.http_requests.items()):
        requests.add(count, route=route, code=code)
    families.append(requests)
    families.append(_Family("hub_sessions_active", "gauge", "User sessions not yet ended.").add(sessions_active))
    families += adapter_families(adapter_services, log if log is not None else structlog.get_logger("hub.web"))
    return "\n".join(line for family in families for line in family.render()) + "\n"
