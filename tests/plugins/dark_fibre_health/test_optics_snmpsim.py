"""The whole SNMP path against a peer nobody here wrote: snmpsim answering as the recorded Cisco 6509,
Catalyst 3750, Juniper MX960 and Arista 7150S over UDP on loopback, polled with the real ``SnmpClient``
and ``poll_node`` (v2c, and v3 with SHA / AES), giving the figures the recordings hold.

snmpsim will not run as root: as root the test runs it as ``nobody`` with Debian's /usr/bin/python3 (an
interpreter that user can read) with the hub's installed packages (snmpsim among them) first on its path; it
serves uncompressed copies of the recordings' interface, entity and sensor tables (snmpsim indexes a
data file before it answers; a whole 40 MB Juniper walk would take minutes with the dbm module Debian's
Python has without python3-gdbm). The community is the data file's name, and so is the v3 context.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_twisted

from hub.secrets import Secret
from plugins.dark_fibre_health.codec.optics import NodeReadings, OpticalReading
from plugins.dark_fibre_health.config import OpticalThresholds, SnmpConfig, UsmConfig
from plugins.dark_fibre_health.optics_poll import poll_node
from plugins.dark_fibre_health.snmp_client import SnmpAuthError, SnmpClient, SnmpTarget
from tests.plugins.dark_fibre_health.snmprec import write_uncompressed

pytestmark = pytest.mark.slow

#: The tables copied from each recording (whole, so walks end where they would on the device).
TABLES = ((1, 3, 6, 1, 2, 1, 2, 2), (1, 3, 6, 1, 2, 1, 31, 1, 1), (1, 3, 6, 1, 2, 1, 47),
          (1, 3, 6, 1, 2, 1, 99), (1, 3, 6, 1, 4, 1, 9, 9, 91), (1, 3, 6, 1, 4, 1, 2636, 3, 60),
          (1, 3, 6, 1, 4, 1, 30065, 3, 12))
SERVED = {"cat6509": "cisco-unknown-01", "c3750": "cisco-c3750", "mx960": "juniper-mx960-16-1r6-7-a",
          "arista": "arista-dcs-7150s-52-cl"}
V3_USER, V3_AUTH, V3_PRIV = "fibre-ro", "auth-secret-1", "priv-secret-1"
DEBIAN_PYTHON = "/usr/bin/python3"


class Snmpsim:
    """One snmpsim-command-responder process serving ``SERVED`` on 127.0.0.1:``port``."""

    def __init__(self, root: Path, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.root, self.port, self.process, self.log = root, port, process, log

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run snmpsim as: nobody when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _start(root: Path) -> Snmpsim:
    snmpsim = pytest.importorskip("snmpsim")
    site = str(Path(snmpsim.__file__).resolve().parents[1])
    user = _run_as()
    python = DEBIAN_PYTHON if user is not None else os.environ.get("PYTHON", "python3")
    if user is not None and not os.access(DEBIAN_PYTHON, os.X_OK):
        pytest.skip(f"snmpsim needs a Python that nobody can run ({DEBIAN_PYTHON})")
    data, cache = root / "data", root / "cache"
    data.mkdir()
    cache.mkdir()
    for community, recording in SERVED.items():
        write_uncompressed(recording, data / f"{community}.snmprec", TABLES)
    os.chmod(root, 0o755)
    for path in (data, *data.iterdir()):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    if user is not None:
        os.chown(cache, *user)
    # The hub's packages first: pysnmp's AES needs a newer cryptography than Debian's python3-cryptography.
    launcher = ("import sys; sys.path.insert(0, sys.argv.pop(1)); from snmpsim.commands.responder import main; "
                "sys.argv[0] = 'snmpsim-command-responder'; sys.exit(main())")
    port = _free_udp_port()
    log = root / "snmpsim.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [python, "-c", launcher, site, f"--data-dir={data}", f"--cache-dir={cache}",
             f"--agent-udpv4-endpoint=127.0.0.1:{port}", f"--v3-user={V3_USER}", f"--v3-auth-key={V3_AUTH}",
             "--v3-auth-proto=SHA", f"--v3-priv-key={V3_PRIV}", "--v3-priv-proto=AES"],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=root,
            user=user[0] if user else None, group=user[1] if user else None,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(root)},
        )
    simulator = Snmpsim(root, port, process, log)
    deadline = time.monotonic() + 90
    while "Listening at UDP/IPv4 endpoint" not in simulator.tail():
        if process.poll() is not None or time.monotonic() > deadline:
            simulator.stop()
            pytest.fail(f"snmpsim did not start (exit {process.poll()}):\n{simulator.tail()}")
        time.sleep(0.1)
    return simulator


@pytest.fixture(scope="module")
def snmpsim() -> Iterator[Snmpsim]:
    root = Path(tempfile.mkdtemp(prefix="fibre-snmpsim-"))
    simulator = None
    try:
        simulator = _start(root)
        yield simulator
    finally:
        if simulator is not None:
            simulator.stop()
        shutil.rmtree(root, ignore_errors=True)
    assert simulator.process.returncode is not None


def v2c(snmpsim: Snmpsim, community: str) -> SnmpTarget:
    config = SnmpConfig(version="2c", port=snmpsim.port, community=Secret(community), timeout_s=3.0, retries=1)
    return SnmpTarget.from_config("127.0.0.1", config)


def v3(snmpsim: Snmpsim, context: str, *, auth: str = V3_AUTH) -> SnmpTarget:
    usm = UsmConfig(user=V3_USER, auth_protocol="sha", auth_password=Secret(auth), priv_protocol="aes",
                    priv_password=Secret(V3_PRIV), context_name=context)
    return SnmpTarget.from_config("127.0.0.1", SnmpConfig(version="3", port=snmpsim.port, usm=usm,
                                                          timeout_s=3.0, retries=1))


async def poll(target: SnmpTarget, **options) -> NodeReadings:
    from twisted.internet import reactor

    client = SnmpClient(reactor, interface="127.0.0.1")
    client.start()
    try:
        options.setdefault("config_thresholds", None)
        return await poll_node(client, target, **options)
    finally:
        await client.stop()


def optic(readings: NodeReadings, port: str, direction: str) -> OpticalReading:
    return next(reading for reading in readings.optics if reading.port == port and reading.direction == direction)


@pytest_twisted.ensureDeferred
async def test_cisco_6509_over_udp_alarms_on_low_receive_power_it_calls_ok(snmpsim):
    readings = await poll(v2c(snmpsim, "cat6509"))
    alarms = {reading.port: reading.dbm for reading in readings.optics if reading.level == "alarm"}
    assert alarms == pytest.approx({"Te3/3": -14.7, "Te3/6": -15.5, "Te3/7": -14.8}, abs=0.005)
    assert optic(readings, "Te3/3", "rx").thresholds.values() == (-13.9, -9.9, -1.0, 3.0)
    assert len(readings.optics) == 22
    assert len(readings.interfaces) == 459


@pytest.mark.parametrize("version", ["2c", "3"])
@pytest_twisted.ensureDeferred
async def test_juniper_over_udp_alarm_no_light_and_no_dom(snmpsim, version):
    target = v2c(snmpsim, "mx960") if version == "2c" else v3(snmpsim, "mx960")
    readings = await poll(target)
    ge6 = optic(readings, "ge-0/0/6", "rx")
    assert (ge6.dbm, ge6.level, ge6.thresholds.values()) == (-23.27, "alarm", (-21.48, -20.45, -2.99, -1.99))
    xe20 = optic(readings, "xe-0/2/0", "rx")
    assert (xe20.dbm, xe20.level) == (None, "no_light")
    ports = {reading.port for reading in readings.optics}
    assert "ge-0/0/5" not in ports and "ge-0/0/7" not in ports
    assert len(readings.optics) == 74


@pytest_twisted.ensureDeferred
async def test_arista_over_udp_milliwatts_in_dbm_with_its_thresholds_and_a_dark_port(snmpsim):
    readings = await poll(v3(snmpsim, "arista"))
    receive = optic(readings, "Ethernet5", "rx")
    assert receive.dbm == pytest.approx(-3.95, abs=0.005)
    assert receive.thresholds.values() == pytest.approx((-15.02, -15.02, -1.02, 3.01), abs=0.005)
    assert optic(readings, "Ethernet5", "tx").dbm == pytest.approx(-2.21, abs=0.005)
    ethernet50 = optic(readings, "Ethernet50", "rx")
    assert (ethernet50.dbm, ethernet50.level) == (None, "no_light")
    assert len(readings.optics) == 18


@pytest_twisted.ensureDeferred
async def test_c3750_over_udp_takes_configured_thresholds(snmpsim):
    readings = await poll(v2c(snmpsim, "c3750"), config_thresholds=OpticalThresholds(high_warning_dbm=-5.5),
                          ports=("GigabitEthernet1/0/6",))
    assert [(reading.port, reading.direction, reading.dbm, reading.level, reading.thresholds.source)
            for reading in readings.optics] == [("GigabitEthernet1/0/6", "rx", -5.0, "warning", "config"),
                                                ("GigabitEthernet1/0/6", "tx", -5.1, "ok", "none")]


@pytest_twisted.ensureDeferred
async def test_a_wrong_v3_password_fails_the_poll_without_saying_it(snmpsim):
    with pytest.raises(SnmpAuthError) as raised:
        await poll(v3(snmpsim, "arista", auth="not-the-password"))
    assert "not-the-password" not in str(raised.value) and V3_PRIV not in str(raised.value)
