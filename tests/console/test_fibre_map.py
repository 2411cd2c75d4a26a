"""Fibre nodes and spans on the map, in a real browser, against a real hub process whose test fibre adapter
(tests/console/fibre_hub.py) has a small tree in every node state: each state has its colour class and a
mark that does not rely on colour, and a fibre.node event on the bus redraws a node and its span at once."""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from tests.console.conftest import PASSWORD, Console, _free_port, run_hub
from tests.console.fibre_hub import NODES, span_name

FIBRE_HUB = Path(__file__).with_name("fibre_hub.py")
ADAPTER = "console_fibre.town"
APPEARS_S = 5
STATE_CLASSES = {"up": "good", "degraded": "warn", "down": "bad", "unreachable": "unreachable", "flapping": "flapping"}


@pytest.fixture(scope="module")
def fibre_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = (
        '[hub]\nname = "Fibre test room"\ndata_dir = "data"\nshutdown_grace_s = 2\n'
        '[logging]\nlevel = "info"\nformat = "json"\n'
        f'[web]\nlisten = "127.0.0.1:{_free_port()}"\n'
        '[adapters.town]\ntype = "console_fibre"\n'
    )
    folder = tmp_path_factory.mktemp("fibre-hub")
    with run_hub(folder, config, {"olive": "operator", "sam": "supervisor"},
                 command=(sys.executable, str(FIBRE_HUB))) as url:
        yield url


@pytest.fixture
def fibre_map(chromium: Any, fibre_hub: str) -> Iterator[Console]:
    """The operator's console on the map view."""
    context = chromium.new_context(base_url=fibre_hub, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(5000)
    page = context.new_page()
    view = Console(page=page)
    page.on("pageerror", lambda error: view.errors.append(str(error)))
    page.on("request", lambda request: view.requests.append(request.url))
    view.sign_in("olive")
    view.page.keyboard.press("2")
    expect(view.page.locator("#map-view svg .span").first).to_be_visible()
    yield view
    context.close()


def send_command(url: str, verb: str, arguments: dict[str, str]) -> None:
    """Another user (a supervisor, through the API) asks the test fibre adapter to do something."""
    def call(method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method=method,
                                         headers={"Content-Type": "application/json", **headers})
        return urllib.request.urlopen(request, timeout=10)

    with call("POST", "/api/session", {"username": "sam", "password": PASSWORD}, {}) as answer:
        cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
        token = json.loads(answer.read())["csrf_token"]
    with call("POST", "/api/commands", {"adapter": ADAPTER, "verb": verb, "arguments": arguments},
              {"Cookie": cookie, "X-CSRF-Token": token}) as answer:
        assert answer.status == 202


def node_mark(view: Console, name: str) -> Any:
    return view.page.locator(f"#map-view svg .pt.node[data-id='{name}']")


def span_line(view: Console, node: str) -> Any:
    return view.page.locator(f"#map-view svg .span[data-id='{span_name(node)}']")


def map_reads(view: Console) -> int:
    return sum(1 for url in view.requests if url.split("?", 1)[0].endswith("/api/map"))


def read_again(view: Console) -> None:
    """Leave the map and come back, which reads it again; returns once that reading is drawn."""
    with view.page.expect_response(lambda response: response.url.endswith("/api/map")):
        view.page.keyboard.press("1")
        view.page.keyboard.press("2")
    expect(view.page.locator("#map-view svg.map-svg")).to_have_attribute("aria-busy", "false")


def test_each_node_and_span_is_drawn_in_its_states_class(fibre_map: Console) -> None:
    """Up is good, degraded warn, down bad, unreachable and flapping their own; a span takes its node's state."""
    view = fibre_map
    for name in ("cab-2", "cab-3", "cab-4", "cab-5"):
        state = NODES[name][1]
        expect(node_mark(view, name)).to_have_class(re.compile(rf"\b{STATE_CLASSES[state]}\b"))
        expect(span_line(view, name)).to_have_class(re.compile(rf"\bspan {STATE_CLASSES[state]}\b"))
        expect(span_line(view, name)).to_have_attribute("data-state", state)
        expect(span_line(view, name).locator("line.span-line")).to_have_count(1)
    expect(node_mark(view, "core-1")).to_have_class(re.compile(r"\bgood\b"))
    # The flapping span is drawn twice over (its own pattern); the others once.
    expect(span_line(view, "cab-5").locator("line.span-flap")).to_have_count(1)
    expect(span_line(view, "cab-2").locator("line.span-flap")).to_have_count(0)
    # cab-6 has no coordinates: neither it nor its span is drawn; every other span is.
    expect(node_mark(view, "cab-6")).to_have_count(0)
    expect(view.page.locator("#map-view svg .span")).to_have_count(len(NODES) - 2)
    assert view.errors == []


def test_a_state_is_told_without_colour_in_marks_and_words(fibre_map: Console) -> None:
    """A down node is crossed, a flapping one zigzagged and labelled ~; titles say the state and figures."""
    view = fibre_map
    expect(node_mark(view, "cab-3").locator("path.mark")).to_have_count(1)
    expect(node_mark(view, "cab-5").locator("path.mark")).to_have_count(1)
    expect(node_mark(view, "cab-5").locator("text")).to_have_text("cab-5 ~")
    expect(node_mark(view, "cab-2").locator("path.mark")).to_have_count(0)
    expect(span_line(view, "cab-3").locator("text.span-mark")).to_have_text("×")
    down = node_mark(view, "cab-3")
    expect(down).to_have_attribute("aria-label", re.compile(
        r"^Fibre node cab-3, down since \d\d:\d\d:\d\d, reason no answer to 3 rounds, loss 100 %, "
        r"cameras behind 2: 31, 32$"))
    expect(down.locator("title")).to_have_text(down.get_attribute("aria-label"))
    expect(node_mark(view, "cab-2")).to_have_attribute("aria-label", re.compile(
        r"degraded .* loss 25 %, rtt 3\.2 ms, worst rx -21\.7 dBm, cameras behind 1: 71$"))
    expect(span_line(view, "cab-2")).to_have_attribute("aria-label", re.compile(
        r"^Fibre span core-1–cab-2, core-1 to cab-2, 1\.2 km, degraded since \d\d:\d\d:\d\d$"))
    legend = view.page.locator(".map-legend .legend-state")
    expect(legend).to_have_text(["up", "degraded", "×down", "unreachable", "~flapping"])  # each key's mark, then its name
    expect(legend.nth(2).locator(".key.node.bad")).to_have_text("×")
    expect(legend.nth(3).locator(".key.line.unreachable")).to_have_count(1)


def test_a_span_and_a_node_show_their_details_when_chosen(fibre_map: Console) -> None:
    """A span's detail names its ends, length and state; from there its far node's health figures."""
    view = fibre_map
    info = view.page.locator(".map-info")
    span_line(view, "cab-2").click()
    expect(info.locator("h3")).to_have_text("Fibre span core-1–cab-2")
    expect(info.locator(".health.warn")).to_have_text("degraded")
    expect(info).to_contain_text("1.2 km")
    info.get_by_role("button", name="cab-2").click()
    expect(info.locator("h3")).to_have_text("Fibre node cab-2")
    facts = info.locator("dl.facts")
    expect(facts).to_contain_text("Worst Rx-21.7 dBm")
    expect(facts).to_contain_text("RTT3.2 ms")
    expect(facts).to_contain_text("upstreamcore-1")
    assert view.errors == []


def test_a_fibre_node_event_turns_the_node_and_its_span_down_at_once(fibre_map: Console, fibre_hub: str) -> None:
    """fibre.node.down on the stream redraws the node crossed and its span thick and bad, with no refresh."""
    view = fibre_map
    expect(node_mark(view, "cab-7")).to_have_class(re.compile(r"\bgood\b"))
    expect(span_line(view, "cab-7")).to_have_class(re.compile(r"\bgood\b"))
    reads = map_reads(view)

    send_command(fibre_hub, "set_node", {"node": "cab-7", "state": "down"})

    expect(node_mark(view, "cab-7")).to_have_class(re.compile(r"\bbad\b"), timeout=APPEARS_S * 1000)
    expect(node_mark(view, "cab-7").locator("path.mark")).to_have_count(1)
    expect(span_line(view, "cab-7")).to_have_class(re.compile(r"\bspan bad\b"))
    expect(node_mark(view, "cab-7")).to_have_attribute("aria-label", re.compile(r"reason set to down by command"))
    assert map_reads(view) == reads, "the map was read again: the change did not come from the stream"
    # The neighbours are untouched.
    expect(span_line(view, "cab-2")).to_have_class(re.compile(r"\bwarn\b"))

    send_command(fibre_hub, "set_node", {"node": "cab-7", "state": "up"})
    expect(span_line(view, "cab-7")).to_have_class(re.compile(r"\bspan good\b"), timeout=APPEARS_S * 1000)
    assert view.errors == []


def test_a_state_from_the_stream_outlasts_an_older_reading_of_the_map(fibre_map: Console, fibre_hub: str) -> None:
    """When the map is read again and the hub's directory is older than the node's last event, the event wins."""
    view = fibre_map
    expect(node_mark(view, "cab-4")).to_have_class(re.compile(r"\bunreachable\b"))
    send_command(fibre_hub, "announce_node", {"node": "cab-4", "state": "up"})
    expect(span_line(view, "cab-4")).to_have_class(re.compile(r"\bspan good\b"), timeout=APPEARS_S * 1000)

    read_again(view)

    expect(node_mark(view, "cab-4")).to_have_class(re.compile(r"\bgood\b"))
    expect(span_line(view, "cab-4")).to_have_class(re.compile(r"\bspan good\b"))
    # The directory did change, later than the event: that reading wins.
    send_command(fibre_hub, "set_node", {"node": "cab-4", "state": "unreachable"})
    expect(span_line(view, "cab-4")).to_have_class(re.compile(r"\bspan unreachable\b"), timeout=APPEARS_S * 1000)
    read_again(view)
    expect(node_mark(view, "cab-4")).to_have_class(re.compile(r"\bunreachable\b"))
    assert view.errors == []
