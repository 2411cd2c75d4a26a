"""Adapters' own metrics in ``/metrics``: samples an adapter's ``metrics()`` gives, grouped into Prometheus
families beside the hub's, each labelled with its adapter instance; one adapter's failure never breaks
the scrape."""

from __future__ import annotations

import math
from typing import Any

import pytest
import structlog

from hub.api import MetricSample
from hub.web.metrics import WebMetrics, render_metrics


class FakeBus:
    published = 7
    head = 7

    def stats(self) -> dict[str, Any]:
        return {"subscribers": []}


class Reporting:
    """An adapter service whose ``metrics()`` gives what the test says (or raises it)."""

    def __init__(self, *samples: Any, error: BaseException | None = None) -> None:
        self.samples = samples
        self.error = error

    def metrics(self) -> Any:
        if self.error is not None:
            raise self.error
        return iter(self.samples)


def up(node: str, value: float, help_text: str = "1 when the node answers probes, else 0.") -> MetricSample:
    return MetricSample("fibre_node_up", "gauge", help_text, value, {"node": node})


def scrape(*services: tuple[str, Any]) -> str:
    return render_metrics(bus=FakeBus(), metrics=WebMetrics(), adapters=[], incident_counts={},
                          websocket_clients=0, sessions_active=0, adapter_services=services,
                          log=structlog.get_logger("test"))


def family(text: str, name: str) -> list[str]:
    """The lines of one family, HELP and TYPE first."""
    return [line for line in text.splitlines() if line.split("{")[0].split(" ")[0] in (name,)
            or line.startswith((f"# HELP {name} ", f"# TYPE {name} "))]


def test_samples_of_one_name_from_every_adapter_are_one_family_labelled_by_instance():
    """Two fibre instances' fibre_node_up make one family with one HELP and TYPE, each sample labelled
    with its own labels and then ``adapter``; families come after the hub's own, by name."""
    text = scrape(
        ("fibre.north", Reporting(up("FN-07", 1), up("FN-08", 0),
                                  MetricSample("fibre_probes_sent_total", "counter", "Probes sent.", 12_000))),
        ("fibre.south", Reporting(up("FS-01", 1, help_text="another help, ignored"))),
    )
    assert family(text, "fibre_node_up") == [
        "# HELP fibre_node_up 1 when the node answers probes, else 0.",
        "# TYPE fibre_node_up gauge",
        'fibre_node_up{node="FN-07",adapter="fibre.north"} 1',
        'fibre_node_up{node="FN-08",adapter="fibre.north"} 0',
        'fibre_node_up{node="FS-01",adapter="fibre.south"} 1',
    ]
    assert 'fibre_probes_sent_total{adapter="fibre.north"} 12000' in text
    lines = text.splitlines()
    assert lines.index("# HELP fibre_node_up 1 when the node answers probes, else 0.") > lines.index(
        "# TYPE hub_sessions_active gauge")
    assert lines.index("# TYPE fibre_node_up gauge") < lines.index("# TYPE fibre_probes_sent_total counter")
    assert text.endswith("\n")


def test_values_and_labels_are_written_as_prometheus_reads_them():
    """Fractions as they are, NaN and infinities by their Prometheus names; quotes, backslashes and new
    lines in label values and help are escaped."""
    text = scrape(("fibre.north", Reporting(
        MetricSample("fibre_rx_dbm", "gauge", 'Receive power\nin "dBm" \\ per port.', -7.25, {"port": 'Te1/1 "uplink"'}),
        MetricSample("fibre_rx_dbm", "gauge", "", math.nan, {"port": "Te1/2"}),
        MetricSample("fibre_rtt_ms", "gauge", "Round trip.", math.inf),
        MetricSample("fibre_slope", "gauge", "Slope.", -math.inf),
    )))
    assert family(text, "fibre_rx_dbm") == [
        '# HELP fibre_rx_dbm Receive power\\nin "dBm" \\\\ per port.',
        "# TYPE fibre_rx_dbm gauge",
        'fibre_rx_dbm{port="Te1/1 \\"uplink\\"",adapter="fibre.north"} -7.25',
        'fibre_rx_dbm{port="Te1/2",adapter="fibre.north"} NaN',
    ]
    assert 'fibre_rtt_ms{adapter="fibre.north"} +Inf' in text
    assert 'fibre_slope{adapter="fibre.north"} -Inf' in text


def test_an_adapter_whose_metrics_fail_is_logged_and_left_out_of_the_scrape(captured_logs):
    """A raising metrics(), or one giving something that is not a MetricSample, costs that adapter's
    samples only; the hub's families and other adapters' samples are all there."""
    text = scrape(
        ("fibre.north", Reporting(error=RuntimeError("table not ready"))),
        ("fibre.east", Reporting(up("FE-01", 1), {"name": "fibre_node_up"})),
        ("fibre.south", Reporting(up("FS-01", 1))),
    )
    assert 'fibre_node_up{node="FS-01",adapter="fibre.south"} 1' in text
    assert "fibre.north" not in text and "fibre.east" not in text
    assert "# TYPE hub_events_published_total counter" in text
    failures = [(entry["adapter"], entry["error"]) for entry in captured_logs
                if entry["event"] == "adapter_metrics_failed"]
    assert failures == [("fibre.north", "RuntimeError: table not ready"),
                        ("fibre.east", "TypeError: metrics() gave dict, not MetricSample")]


def test_a_sample_at_odds_with_its_family_or_repeating_a_series_is_left_out(captured_logs):
    """A name already a gauge cannot be a counter too, and a series (name and labels) is given once."""
    text = scrape(("fibre.north", Reporting(
        up("FN-07", 1),
        MetricSample("fibre_node_up", "counter", "wrong kind", 5, {"node": "FN-09"}),
        up("FN-07", 0),
    )))
    assert family(text, "fibre_node_up")[2:] == ['fibre_node_up{node="FN-07",adapter="fibre.north"} 1']
    reasons = [entry["reason"] for entry in captured_logs if entry["event"] == "adapter_metric_refused"]
    assert reasons == ["counter, but already a gauge", "repeated labels"]


def test_adapters_without_metrics_or_not_running_add_nothing(captured_logs):
    """A service with no metrics() and an adapter with no service (failed, stopped) are skipped quietly."""
    assert scrape(("radio.town", object()), ("fibre.north", None)) == scrape()
    assert [entry for entry in captured_logs if entry["log_level"] != "debug"] == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": "Fibre_up"}, "must match"),
        ({"name": "fibre-up"}, "must match"),
        ({"name": "9fibre"}, "must match"),
        ({"name": "hub_fibre_up"}, "the hub's own"),
        ({"kind": "histogram"}, "gauge or counter"),
        ({"labels": {"adapter": "x"}}, "is the hub's"),
        ({"labels": {"__name__": "x"}}, "must match"),
        ({"labels": {"port name": "x"}}, "must match"),
        ({"value": "lots"}, "could not convert"),
    ],
)
def test_a_sample_with_a_bad_name_kind_label_or_value_cannot_be_made(arguments, message):
    """Mistakes show in the adapter's own tests, when the sample is made, not in a scraper's parse error."""
    fields = {"name": "fibre_node_up", "kind": "gauge", "help": "h", "value": 1, **arguments}
    with pytest.raises(ValueError, match=message):
        MetricSample(**fields)


def test_a_sample_keeps_its_labels_as_text():
    """Label values are text whatever the adapter passed; the sample is frozen."""
    sample = MetricSample("fibre_port_errors_total", "counter", "Input errors.", 3, {"ifindex": 10101})
    assert (sample.value, dict(sample.labels)) == (3.0, {"ifindex": "10101"})
    with pytest.raises(AttributeError):
        sample.value = 4  # type: ignore[misc]
