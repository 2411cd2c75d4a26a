"""The hub against ipycam, an ONVIF camera nobody here wrote, over real sockets on loopback.

ipycam (MIT, on PyPI) is a virtual camera answering Device, Media and PTZ, with WS-Security on. It is run as
a separate process by ``ipycam_peer``; the hub's side runs on the real reactor. Where ipycam departs from the
ONVIF specifications the tests say so: those departures are what real cameras do too, and the hub has to
live with them rather than the tests hiding them (/tmp/issue5/CHANGES.md, IPEER, lists them).
"""

from __future__ import annotations

import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy
import pytest
import pytest_twisted
import structlog
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from hub.commands import command_topic
from hub.config import SupervisionConfig
from hub.directory import Directory
from hub.events import CommandRequested, Event, EventFactory, Severity, Subject
from hub.evidence import EvidenceStore
from hub.runtime import SupervisedAdapter
from hub.secrets import Secret
from hub.testing import BusHarness
from plugins.onvif.client import AuthFailed, CameraClient, CameraEndpoint, CameraReplyError
from plugins.onvif.codec import device
from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.wsse import username_token
from plugins.onvif.codec.xml import parse_untrusted, path, text_of
from plugins.onvif.config import CameraConfig, OnvifConfig
from plugins.onvif.events import EVENT_TYPES
from plugins.onvif.limiter import Limiter
from plugins.onvif.plugin import plugin
from plugins.onvif.transport import HttpTransport
from tests.plugins.onvif.ipycam_peer import (
    ADVERTISED_HOST,
    FRAME_HEIGHT,
    FRAME_WIDTH,
    MANUFACTURER,
    MODEL,
    PRESETS,
    SERIAL_NUMBER,
    IpycamPeer,
)

#: The user ipycam is set up with; its password is made up per run.
USERNAME = "hub"

#: Each wait's deadline. Every step here takes milliseconds on loopback; a miss means the behaviour is wrong.
DEADLINE_S = 4.0

#: ipycam's media profiles: the first carries the full PTZ configuration, so the hub uses it.
MAIN, SUB = "Profile_Main", "Profile_Sub"


@pytest.fixture(scope="module")
def ipycam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpycamPeer]:
    """One ipycam process for the module, with WS-Security on (a password made up for the run)."""
    peer = IpycamPeer(tmp_path_factory.mktemp("ipycam"), username=USERNAME,
                      password=secrets.token_urlsafe(16)).start()
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def open_ipycam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpycamPeer]:
    """ipycam as it comes out of the box: no credentials at all (its snapshot is then open too)."""
    peer = IpycamPeer(tmp_path_factory.mktemp("open_ipycam")).start()
    yield peer
    peer.stop()


@pytest.fixture
def camera(ipycam: IpycamPeer) -> IpycamPeer:
    """The module's ipycam, stopped at home as every test expects to find it."""
    ipycam.reset_ptz()
    return ipycam


class Hub:
    """The hub's side of the conversation: one transport and limiter, as the adapter has, and clients."""

    def __init__(self) -> None:
        self.transport = HttpTransport(reactor, max_reply_bytes=1_048_576, connect_timeout_s=2.0)
        self.limiter = Limiter(overall=8, per_camera=2)

    def client(self, peer: IpycamPeer, *, password: str | None = None, clock: Any = reactor) -> CameraClient:
        """A client for camera "42" at the peer's real address, with the peer's credentials (or ``password``)."""
        username = peer.username or None
        password = password if password is not None else peer.password
        endpoint = CameraEndpoint(camera="42", host=peer.host, port=peer.port, scheme="http",
                                  username=username, password=Secret(password) if username else None)
        return CameraClient(endpoint, self.transport, self.limiter, clock, structlog.get_logger().bind(camera="42"),
                            request_timeout_s=DEADLINE_S)

    async def close(self) -> None:
        await self.transport.close()


@pytest_twisted.async_yield_fixture
async def hub():
    opened = Hub()
    yield opened
    await opened.close()


class SkewedClock:
    """The hub's clock, wrong by ``skew_s``: all the client reads of its reactor is the time."""

    def __init__(self, skew_s: float) -> None:
        self.skew_s = skew_s

    def seconds(self) -> float:
        return reactor.seconds() + self.skew_s


def pause(seconds: float) -> Deferred[None]:
    """Let real time pass on the reactor (ipycam moves its PTZ in real time)."""
    return deferLater(reactor, seconds, lambda: None)


def at(state: dict[str, Any], preset: str) -> bool:
    """Whether ipycam's PTZ position is that of ``preset``."""
    wanted = PRESETS[preset]
    return all(state[axis] == pytest.approx(wanted[axis], abs=1e-6) for axis in ("pan", "tilt", "zoom"))


# --- the peer itself, before any hub code: raw SOAP as any client would send it -------------------------


def raw_soap(peer: IpycamPeer, body: str, *, signed: bool) -> tuple[int, bytes]:
    """POST one SOAP 1.2 request to ipycam's device service; the HTTP status and the reply body."""
    header = ""
    if signed:
        token = username_token(USERNAME, peer.password, camera_time=datetime.now(UTC),
                               nonce=os.urandom(16))
        header = f"<s:Header>{token.header_xml()}</s:Header>"
    envelope = f'<s:Envelope xmlns:s="{ns.SOAP_ENV}">{header}<s:Body>{body}</s:Body></s:Envelope>'
    request = urllib.request.Request(peer.device_url, data=envelope.encode(),
                                     headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_the_peer_answers_get_device_information_to_a_signed_request(camera):
    """ipycam is up, on loopback, and tells who it is when the request carries a valid UsernameToken."""
    status, reply = raw_soap(camera, f'<GetDeviceInformation xmlns="{ns.TDS}"/>', signed=True)
    assert status == 200
    body = path(parse_untrusted(reply), "Body", "GetDeviceInformationResponse")
    assert body is not None
    assert [text_of(path(body, name)) for name in ("Manufacturer", "Model", "SerialNumber")] == [
        MANUFACTURER, MODEL, SERIAL_NUMBER]


def test_the_peer_refuses_an_unsigned_request_even_for_its_clock(camera):
    """WS-Security is really on: unsigned, even GetSystemDateAndTime (which ONVIF says must be open) is
    refused with HTTP 401 and a SOAP fault whose only sign of what went wrong is its reason text."""
    status, reply = raw_soap(camera, f'<GetSystemDateAndTime xmlns="{ns.TDS}"/>', signed=False)
    assert status == 401
    reason = path(parse_untrusted(reply), "Body", "Fault", "Reason", "Text")
    assert text_of(reason) == "Sender not authorized"


# --- the hub's CameraClient against ipycam ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_the_camera_clock_is_read_although_ipycam_wants_auth_for_it(camera, hub):
    """ipycam refuses an unsigned GetSystemDateAndTime; the client asks again signed, and the offset it
    keeps is the (here nil) difference between the two clocks."""
    client = hub.client(camera)
    camera_now = await client.sync_clock()
    assert camera_now is not None
    assert abs(camera_now - datetime.now(UTC)).total_seconds() < 3
    assert abs(client.clock_offset_s) < 3


@pytest_twisted.ensureDeferred
async def test_a_hub_clock_an_hour_out_still_gets_in(camera, hub):
    """Quirk 1 at its worst: the hub's clock is an hour fast and ipycam wants auth even for its clock, so
    both GetSystemDateAndTime attempts are refused; the Date header of the refusal gives the camera's time,
    and requests signed with it are accepted."""
    client = hub.client(camera, clock=SkewedClock(3600))
    await client.sync_clock()
    assert client.clock_offset_s == pytest.approx(-3600, abs=3)
    info = await client.device_information()
    assert info.serial_number == SERIAL_NUMBER


@pytest_twisted.ensureDeferred
async def test_services_are_found_at_the_configured_address_not_the_one_ipycam_reports(camera, hub):
    """ipycam reports every service at the address it thinks it has (here one nothing answers on, as
    behind NAT); the hub keeps each service's path on the host and port it was configured with. It offers
    Device, Media and PTZ, and no Events."""
    client = hub.client(camera)
    await client.sync_clock()
    services = await client.discover_services()
    base = f"http://127.0.0.1:{camera.port}/onvif"
    assert services == {ns.TDS: f"{base}/device_service", ns.TRT: f"{base}/media_service",
                        ns.TPTZ: f"{base}/ptz_service"}


@pytest_twisted.ensureDeferred
async def test_the_capabilities_fall_back_reads_the_same_services(camera, hub):
    """The GetCapabilities reply (the fall-back for cameras without GetServices) names the same services,
    at the address ipycam believes is its own."""
    client = hub.client(camera)
    await client.sync_clock()
    reported = device.parse_capabilities(await client.call(ns.TDS, "GetCapabilities", device.get_capabilities()))
    assert {namespace: url.split("/onvif/")[1] for namespace, url in reported.items()} == {
        ns.TDS: "device_service", ns.TRT: "media_service", ns.TPTZ: "ptz_service"}
    assert {url.split("/")[2] for url in reported.values()} == {f"{ADVERTISED_HOST}:{camera.port}"}
    assert {namespace: client.rewrite_address(url) for namespace, url in reported.items()} == \
        await client.discover_services()


@pytest_twisted.ensureDeferred
async def test_device_information_is_ipycams_identity(camera, hub):
    client = hub.client(camera)
    await client.sync_clock()
    info = await client.device_information()
    assert (info.manufacturer, info.model, info.serial_number, info.hardware_id) == (
        MANUFACTURER, MODEL, SERIAL_NUMBER, "PY-HW-01")
    assert info.firmware_version  # ipycam's own version


@pytest_twisted.ensureDeferred
async def test_profiles_come_from_media1_with_their_ptz_and_video(camera, hub):
    """ipycam offers Media only (no Media2): its main profile with PTZ and the generated frame's size, and
    a sub stream at half the size."""
    client = hub.client(camera)
    await client.sync_clock()
    await client.discover_services()
    main, sub = await client.profiles()
    assert client.media == "media1"
    assert (main.token, main.has_ptz, main.ptz_configuration_token, main.encoding, main.width, main.height) == (
        MAIN, True, "PTZ_Config_1", "H264", FRAME_WIDTH, FRAME_HEIGHT)
    assert (sub.token, sub.width, sub.height) == (SUB, FRAME_WIDTH // 2, FRAME_HEIGHT // 2)


@pytest_twisted.ensureDeferred
async def test_stream_and_snapshot_uris_point_at_the_configured_host(camera, hub):
    """The RTSP URIs keep ipycam's RTSP port and stream names with the configured host; the snapshot URL
    is on the configured host and port."""
    client = hub.client(camera)
    await client.sync_clock()
    await client.discover_services()
    await client.profiles()
    assert await client.stream_uri(MAIN) == "rtsp://127.0.0.1:8554/video_main"
    assert await client.stream_uri(SUB) == "rtsp://127.0.0.1:8554/video_sub"
    assert await client.snapshot_uri(MAIN) == f"http://127.0.0.1:{camera.port}/snapshot.jpg"


@pytest_twisted.ensureDeferred
async def test_a_snapshot_behind_basic_auth_is_refused_without_sending_the_password(camera, hub):
    """With credentials set, ipycam guards its snapshot with HTTP Basic, which the hub never answers (it
    would send the password in the clear): the snapshot fails as a refusal, naming no secret."""
    client = hub.client(camera)
    await client.sync_clock()
    await client.discover_services()
    await client.profiles()
    with pytest.raises(AuthFailed) as refused:
        await client.snapshot(MAIN)
    assert "401" in str(refused.value)
    assert camera.password not in str(refused.value)


@pytest_twisted.ensureDeferred
async def test_a_snapshot_from_an_open_camera_is_its_current_frame(open_ipycam, hub):
    """Without credentials ipycam serves its snapshot openly: a JPEG of the frame it holds, a left-to-right
    gradient at the frame's size."""
    client = hub.client(open_ipycam)
    await client.sync_clock()
    await client.discover_services()
    await client.profiles()
    content_type, jpeg = await client.snapshot(MAIN)
    assert content_type == "image/jpeg"
    image = cv2.imdecode(numpy.frombuffer(jpeg, numpy.uint8), cv2.IMREAD_GRAYSCALE)
    assert image.shape == (FRAME_HEIGHT, FRAME_WIDTH)
    assert image[:, :10].mean() < 20 and image[:, -10:].mean() > 235


@pytest_twisted.ensureDeferred
async def test_presets_are_read_although_ipycam_never_declares_their_prefixes(camera, hub):
    """ipycam's PTZ replies use ``ptz:`` and ``tptz:`` prefixes it never declares (quirk 7: unreadable XML
    in some replies); the hub still reads every preset with its name."""
    client = hub.client(camera)
    await client.sync_clock()
    await client.discover_services()
    presets = await client.presets(MAIN)
    assert [(preset.token, preset.name) for preset in presets] == [
        (token, preset["name"]) for token, preset in PRESETS.items()]


@pytest_twisted.ensureDeferred
async def test_goto_preset_and_home_turn_the_camera(camera, hub):
    """GotoPreset puts ipycam's PTZ where the preset is; GotoHomePosition brings it back to the middle."""
    client = hub.client(camera)
    await client.sync_clock()
    await client.discover_services()
    await client.goto_preset(MAIN, "market_sq")
    assert at(camera.ptz_state(), "market_sq")
    await client.goto_preset(MAIN, "bus_station", speed=0.5)
    assert at(camera.ptz_state(), "bus_station")
    await client.goto_home(MAIN)
    assert at(camera.ptz_state(), "home")


@pytest_twisted.ensureDeferred
async def test_continuous_move_turns_the_camera_until_stop(camera, hub):
    """ContinuousMove right sets ipycam panning; Stop halts it where it got to. ipycam ignores the move's
    Timeout (it is still panning well after it), which is why the hub's move command stops by itself."""
    client = hub.client(camera)
    await client.sync_clock()
    await client.discover_services()
    await client.continuous_move(MAIN, 0.5, 0.0, 0.0, 0.1)
    await pause(0.4)
    moving = camera.ptz_state()
    assert moving["moving"] is True and moving["pan"] > 0.05
    assert moving["tilt"] == 0.0 and moving["zoom"] == 0.0
    await client.stop(MAIN)
    stopped = camera.ptz_state()
    assert stopped["moving"] is False
    await pause(0.2)
    assert camera.ptz_state()["pan"] == stopped["pan"]


@pytest_twisted.ensureDeferred
async def test_a_camera_that_closes_after_each_reply_gets_every_request_on_a_live_connection(
        camera, hub, captured_logs):
    """ipycam speaks HTTP/1.0: it closes the connection after each reply without saying ``Connection:
    close``. The hub must not send its next request down that dead connection (and then have to send it
    again): a snapshot, or a CreatePullPointSubscription, is not asked twice."""
    client = hub.client(camera)
    await client.sync_clock()
    await client.discover_services()
    await client.device_information()
    await client.profiles()
    await client.presets(MAIN)
    assert [entry for entry in captured_logs if entry["event"] == "camera_connection_closed_retrying"] == []


@pytest_twisted.ensureDeferred
async def test_a_wrong_password_is_a_refusal_after_the_clock_is_read_again(camera, hub):
    """ipycam refuses a token signed with the wrong password; the client re-reads the camera's clock
    once (the refusal could have been a skewed clock) and then calls it what it is, naming no secret."""
    wrong = "not-" + camera.password
    client = hub.client(camera, password=wrong)
    with pytest.raises(AuthFailed) as refused:
        await client.device_information()
    assert wrong not in str(refused.value) and camera.password not in str(refused.value)


@pytest_twisted.ensureDeferred
async def test_ipycam_has_no_events_and_the_client_says_so_without_asking(camera, hub):
    """Events are not among ipycam's services; the client refuses to guess an address for them."""
    client = hub.client(camera)
    await client.sync_clock()
    await client.discover_services()
    with pytest.raises(CameraReplyError, match="no Events service"):
        await client.call(ns.TEV, "GetEventProperties", f'<tev:GetEventProperties xmlns:tev="{ns.TEV}"/>')


# --- the whole adapter against ipycam: a real OnvifAdapter, supervised, on a real bus ---------------------

#: The adapter type exactly as the plugin registers it with the hub.
[ONVIF] = plugin.hub_register_adapter_types()

#: The adapter's own supervision: restarts a tenth of a second apart, should it fail as a whole.
QUICK = SupervisionConfig(restart_initial_s=0.1, restart_max_s=0.2, restart_jitter=0.0, healthy_after_s=1.0)
ADAPTER = "onvif.cameras"


class Watch:
    """Every event on the bus, in order, with a way to wait for one that has not come yet."""

    def __init__(self, bus: Any) -> None:
        self.events: list[Event] = []
        self._waiting: list[tuple[Callable[[Event], bool], Deferred[Event]]] = []
        self.subscription = bus.subscribe("#", self._seen)

    def next(self, topic: str, where: Callable[[Event], bool] = lambda event: True) -> Deferred[Event]:
        """The first event (already seen or still to come) with this topic for which ``where`` holds."""
        return self.first(lambda event: event.topic == topic and where(event))

    def first(self, wanted: Callable[[Event], bool]) -> Deferred[Event]:
        """The first event, already seen or still to come, that is ``wanted``."""
        waiting: Deferred[Event] = Deferred()
        self._waiting.append((wanted, waiting))
        self._check()
        return waiting.addTimeout(DEADLINE_S, reactor)

    def _seen(self, event: Event) -> None:
        self.events.append(event)
        self._check()

    def _check(self) -> None:
        for entry in list(self._waiting):
            wanted, waiting = entry
            found = next((event for event in self.events if wanted(event)), None)
            if found is not None:
                self._waiting.remove(entry)
                waiting.callback(found)


class Rig:
    """One hub's worth of real pieces around the adapter: a journal, a bus, a directory, an evidence store."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.bus = BusHarness(tmp_path, clock=reactor, event_types=EVENT_TYPES).bus
        self.watch = Watch(self.bus)
        self.directory = Directory()
        self.evidence = EvidenceStore(tmp_path / "evidence")
        self.adapter: SupervisedAdapter | None = None

    def start(self, peer: IpycamPeer, **settings: Any) -> None:
        """The adapter with one camera, "42", at the peer's real address."""
        credentials: dict[str, Any] = {}
        if peer.username:
            credentials = {"username": peer.username, "password": Secret(settings.pop("password", peer.password))}
        config = OnvifConfig(
            cameras={"42": CameraConfig(host=peer.host, port=peer.port, name="High St / Market Sq",
                                        site="Market Square", fibre_node="node-07")},
            # A verdict on the camera after its first attempt; the next one not within a test's time.
            failures_before_offline=1, retry_min_s=5.0, startup_spread_s=0.0, request_timeout_s=DEADLINE_S,
            **credentials, **settings,
        )
        self.adapter = SupervisedAdapter(
            name=ADAPTER, adapter_type=ONVIF, config=config, supervision=QUICK, reactor=reactor, bus=self.bus,
            log=structlog.get_logger(), events=EventFactory(reactor, ADAPTER), directory=self.directory,
            evidence=self.evidence,
        )
        self.adapter.startService()

    async def command(self, verb: str, **arguments: Any) -> Event:
        """Ask the adapter for something about camera 42, as the console does; the command's outcome event."""
        command = EventFactory(reactor, "hub.api")(
            command_topic("onvif", verb),
            CommandRequested(adapter=ADAPTER, verb=verb, arguments={"camera": "42", **arguments},
                             requested_by="olive"),
            severity=Severity.INFO, subject=Subject(kind="adapter", id=ADAPTER), summary=f"olive: {verb}",
        )
        self.bus.publish(command)
        return await self.watch.first(lambda event: event.topic.startswith("onvif.command.")
                                      and getattr(event.payload, "command_id", None) == command.id)

    async def close(self) -> None:
        if self.adapter is not None:
            await self.adapter.stopService()
        await self.bus.close()


@pytest_twisted.async_yield_fixture
async def rig(tmp_path):
    opened = Rig(tmp_path)
    yield opened
    await opened.close()


@pytest_twisted.ensureDeferred
async def test_the_adapter_identifies_ipycam_and_calls_it_degraded_for_want_of_events(camera, rig):
    """The adapter reaches ipycam through every quirk above, publishes what it is (make, model, the PTZ
    profile and its presets) and puts it in the directory; with no event service to subscribe to, the
    camera is degraded, with the reason given, rather than online or offline."""
    rig.start(camera)
    identified = (await rig.watch.next("onvif.camera.identified")).payload
    assert (identified.manufacturer, identified.model, identified.serial_number) == (
        MANUFACTURER, MODEL, SERIAL_NUMBER)
    assert (identified.media, identified.profile, identified.ptz, identified.snapshot) == (
        "media1", MAIN, True, True)
    assert [(preset.token, preset.name) for preset in identified.presets] == [
        (token, preset["name"]) for token, preset in PRESETS.items()]
    assert abs(identified.clock_offset_s) < 3

    degraded = await rig.watch.next("onvif.camera.degraded")
    assert (degraded.subject.kind, degraded.subject.id) == ("camera", "42")
    assert "event" in degraded.payload.reason.lower()
    assert not [event for event in rig.watch.events if event.topic in ("onvif.camera.online",
                                                                      "onvif.camera.offline",
                                                                      "onvif.camera.auth_failed")]
    asset = rig.directory.get("camera", "42")
    assert (asset.state, asset.name, asset.attributes["model"], asset.attributes["ptz"]) == (
        "degraded", "High St / Market Sq", MODEL, True)
    assert [preset["token"] for preset in asset.attributes["presets"]] == list(PRESETS)
    assert camera.password not in repr([event.payload for event in rig.watch.events])


@pytest_twisted.ensureDeferred
async def test_operators_steer_ipycam_through_the_adapter(camera, rig):
    """Go to a preset by its name, move for a second (the hub stops ipycam itself, since ipycam ignores the
    move's time-out), go home, and share the stream address: each ends delivered, and ipycam's PTZ is where
    the operator wanted it."""
    rig.start(camera)
    await rig.watch.next("onvif.camera.identified")

    outcome = await rig.command("goto_preset", preset="Market Square")
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    assert at(camera.ptz_state(), "market_sq")

    outcome = await rig.command("move", direction="right", seconds=1)
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    await pause(0.3)
    assert camera.ptz_state()["moving"] is True
    await pause(1.2)
    stopped = camera.ptz_state()
    assert stopped["moving"] is False and stopped["pan"] > PRESETS["market_sq"]["pan"]

    outcome = await rig.command("home")
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    assert at(camera.ptz_state(), "home")

    outcome = await rig.command("stream_uri")
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    shared = (await rig.watch.next("onvif.stream.shared")).payload
    assert shared.uri == "rtsp://127.0.0.1:8554/video_main"


@pytest_twisted.ensureDeferred
async def test_a_snapshot_from_ipycam_is_kept_as_evidence(open_ipycam, rig):
    """From an ipycam without credentials, the snapshot command keeps its JPEG in the evidence store under
    its SHA-256 and says so in an ``onvif.snapshot.taken`` event."""
    rig.start(open_ipycam)
    await rig.watch.next("onvif.camera.identified")
    outcome = await rig.command("snapshot")
    assert outcome.topic == "onvif.command.delivered", outcome.summary
    evidence = (await rig.watch.next("onvif.snapshot.taken")).payload.evidence
    assert evidence.content_type == "image/jpeg" and evidence.sha256 in outcome.payload.detail
    kept = rig.evidence.get(evidence.sha256)
    assert kept is not None and kept.size == evidence.size


@pytest_twisted.ensureDeferred
async def test_a_snapshot_ipycam_guards_with_basic_auth_fails_cleanly(camera, rig):
    """With credentials set, ipycam's snapshot wants HTTP Basic, which the hub does not send: the command
    fails saying the camera refused, and no secret is in what the room sees."""
    rig.start(camera)
    await rig.watch.next("onvif.camera.identified")
    outcome = await rig.command("snapshot")
    assert outcome.topic == "onvif.command.failed"
    assert "credentials" in outcome.payload.detail
    assert camera.password not in outcome.summary


@pytest_twisted.ensureDeferred
async def test_a_wrong_password_makes_ipycam_auth_failed(camera, rig):
    """ipycam refusing the hub's password is told apart from a clock problem and from a dead camera."""
    rig.start(camera, password="not-the-password")
    failed = await rig.watch.next("onvif.camera.auth_failed")
    assert (failed.subject.kind, failed.subject.id) == ("camera", "42")
    assert rig.directory.get("camera", "42").state == "auth_failed"
    assert "not-the-password" not in repr(failed)
