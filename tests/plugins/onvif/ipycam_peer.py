"""ipycam, an ONVIF virtual camera nobody here wrote (MIT, on PyPI), run as a peer for the hub's tests.

Run as a script (``python ipycam_peer.py``) this file is the camera process: ipycam's own ``IPCamera``
(its ONVIF service, PTZ controller and HTTP handler) behind a threading HTTP server on 127.0.0.1 and a
free port, holding one generated frame so that its snapshot has something to show. Only the listening
socket is ours: ``IPCamera.start()`` would also bind every interface, answer WS-Discovery on UDP 3702 and
try to start a video pipeline, none of which a test on a shared machine wants. Everything that answers a
request is ipycam's code.

Imported, it is the test side: ``IpycamPeer`` starts that process, waits for it to say which port it
listens on, reads ipycam's PTZ state through ipycam's own REST API (``/api/ptz``), and stops it.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

#: What ipycam 1.3.0 calls its ONVIF device service.
DEVICE_PATH = "/onvif/device_service"

#: The presets the peer starts with, in ipycam's own preset file format (``ptz_presets.json`` in its working
#: folder). ipycam adds "home" itself only when it finds no file, so it is listed here too.
PRESETS: dict[str, dict[str, Any]] = {
    "home": {"token": "home", "name": "Home", "pan": 0.0, "tilt": 0.0, "zoom": 0.0},
    "market_sq": {"token": "market_sq", "name": "Market Square", "pan": 0.5, "tilt": -0.25, "zoom": 0.3},
    "bus_station": {"token": "bus_station", "name": "Bus Station", "pan": -0.75, "tilt": 0.1, "zoom": 0.0},
}

#: Identity the peer reports in GetDeviceInformation.
MANUFACTURER = "PythonCam"
MODEL = "VirtualCam-1"
SERIAL_NUMBER = "PY-HUB-0042"

#: The address ipycam is told is its own and puts in every URL it hands out (services, snapshot, stream).
#: It is a documentation address (RFC 5737) nothing answers on: like a camera behind NAT, it reports a
#: host the hub cannot reach, so only the configured host and port (quirk 4) get the hub anywhere.
ADVERTISED_HOST = "192.0.2.10"

#: The generated frame's size; small, so the snapshot is a few kilobytes.
FRAME_WIDTH, FRAME_HEIGHT = 320, 240

#: How long the peer may take to start (importing OpenCV is most of it).
START_DEADLINE_S = 20.0


class IpycamPeer:
    """One ipycam process on loopback, as a camera the hub is configured with."""

    def __init__(self, work_dir: Path, *, username: str = "", password: str = "",
                 advertised_host: str = ADVERTISED_HOST) -> None:
        self.work_dir = Path(work_dir)
        self.username = username
        self.password = password
        self.advertised_host = advertised_host
        self.host = "127.0.0.1"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def device_url(self) -> str:
        return f"http://{self.host}:{self.port}{DEVICE_PATH}"

    def start(self) -> IpycamPeer:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "ptz_presets.json").write_text(json.dumps(PRESETS, indent=2))
        # Credentials go through the environment, not the command line, which any user can list.
        environment = dict(os.environ, IPYCAM_PEER_USERNAME=self.username, IPYCAM_PEER_PASSWORD=self.password,
                           IPYCAM_PEER_ADVERTISED_HOST=self.advertised_host)
        with open(self.work_dir / "ipycam.log", "wb") as log:  # the child keeps its own copy of the handle
            self._process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve())],
                cwd=self.work_dir, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            )
        self.port = self._read_port()
        return self

    def _read_port(self) -> int:
        """The port from the peer's first line, which it prints once its socket is listening."""
        assert self._process is not None and self._process.stdout is not None
        deadline = time.monotonic() + START_DEADLINE_S
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._process.stdout], [], [], max(remaining, 0))
            if not ready:
                self.stop()
                raise RuntimeError(f"ipycam did not start within {START_DEADLINE_S}s: {self.log()}")
            chunk = os.read(self._process.stdout.fileno(), 256)
            if not chunk:
                self.stop()
                raise RuntimeError(f"ipycam exited before listening: {self.log()}")
            line += chunk
        return int(json.loads(line)["port"])

    def log(self) -> str:
        path = self.work_dir / "ipycam.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Close the peer's stdin, which it takes as the signal to stop; kill it if it does not."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    # --- ipycam's own REST API, to see what the camera did -----------------------------------------------

    def _rest(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://{self.host}:{self.port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.loads(reply.read())

    def ptz_state(self) -> dict[str, Any]:
        """ipycam's PTZ position and whether it is moving: ``{"pan", "tilt", "zoom", "moving"}``."""
        return self._rest("/api/ptz")

    def reset_ptz(self) -> None:
        """Stopped at home, as a test expects to find the camera."""
        self._rest("/api/ptz", {"action": "stop"})
        self._rest("/api/ptz", {"action": "home"})


# --- the camera process --------------------------------------------------------------------------------


def serve() -> None:
    """Run ipycam's ONVIF and HTTP handling on 127.0.0.1 until stdin closes."""
    import threading

    import numpy
    from ipycam import CameraConfig, IPCamera, IPCameraHTTPHandler
    from ipycam.camera import ReusableThreadingTCPServer

    username = os.environ.get("IPYCAM_PEER_USERNAME", "")
    password = os.environ.get("IPYCAM_PEER_PASSWORD", "")
    config = CameraConfig(
        name="Market Square PTZ",
        manufacturer=MANUFACTURER,
        model=MODEL,
        serial_number=SERIAL_NUMBER,
        local_ip=os.environ.get("IPYCAM_PEER_ADVERTISED_HOST", ADVERTISED_HOST),
        username=username,
        password=password,
        main_width=FRAME_WIDTH,
        main_height=FRAME_HEIGHT,
        sub_width=FRAME_WIDTH // 2,
        sub_height=FRAME_HEIGHT // 2,
        show_timestamp=False,
    )
    camera = IPCamera(config)
    IPCameraHTTPHandler.camera = camera
    server = ReusableThreadingTCPServer(("127.0.0.1", 0), IPCameraHTTPHandler)
    # ipycam builds every URL it hands out from onvif_port, so it must be the port really bound.
    config.onvif_port = server.server_address[1]

    # A frame with a recognisable pattern (a horizontal gradient), so a snapshot is a real JPEG of something.
    row = numpy.linspace(0, 255, FRAME_WIDTH, dtype=numpy.uint8)
    frame = numpy.dstack([numpy.tile(row, (FRAME_HEIGHT, 1))] * 3)
    camera.stream(frame)

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    print(json.dumps({"port": config.onvif_port}), flush=True)
    try:
        sys.stdin.read()  # returns when the test closes our stdin, or dies
    finally:
        server.shutdown()
        server.server_close()
        camera.ptz.stop()


if __name__ == "__main__":
    serve()
