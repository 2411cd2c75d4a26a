"""onvif-zeep-async, the library Home Assistant uses and a client nobody here wrote, against ``hub onvif-sim``.

The fleet runs as the benchmark runs it, a process of its own started by the command line; the library
connects, reads the device, subscribes to a pull point and pulls the generator's events. Camera 2 runs an
hour fast, which the library's own clock adjustment must cope with.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import onvif  # a declared test dependency: the check must not skip quietly

PASSWORD = "zeep-peer-password"
HUB = Path(sys.executable).with_name("hub")


@pytest.fixture
def fleet_process():
    environment = {**os.environ, "SIM_PASSWORD": PASSWORD}
    process = subprocess.Popen(
        [str(HUB), "onvif-sim", "--cameras", "2", "--base-port", "0", "--event-rate", "20", "--password-env",
         "SIM_PASSWORD", "--camera-quirk", "2:clock_skew_s=3600", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=environment, text=True)
    try:
        ready = process.stdout.readline()
        assert ready.startswith("onvif-sim ready cameras=2 host=127.0.0.1 "), process.stderr.read()
        fields = dict(part.split("=", 1) for part in ready.split()[2:])
        yield [int(port) for port in fields["ports"].split(",")]
    finally:
        process.terminate()
        process.wait(timeout=10)


async def drive(port: int) -> dict:
    from onvif import ONVIFCamera

    camera = ONVIFCamera("127.0.0.1", port, "hub", PASSWORD, adjust_time=True)
    try:
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        information = await device.GetDeviceInformation()
        media = await camera.create_media_service()
        profiles = await media.GetProfiles()
        manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
        pull_point = manager.get_service()
        stamps: list[str] = []
        deadline = time.monotonic() + 5
        while not stamps and time.monotonic() < deadline:
            result = await pull_point.PullMessages({"MessageLimit": 50, "Timeout": dt.timedelta(seconds=2)})
            for message in result.NotificationMessage:
                data = message.Message._value_1.Data.SimpleItem
                stamps += [item.Value for item in data if item.Name == "SimSentNs"]
        await manager.shutdown()
        return {"serial": information.SerialNumber, "profiles": [profile.token for profile in profiles],
                "offset_s": camera.dt_diff.total_seconds() if camera.dt_diff else 0.0, "stamps": stamps,
                "events_xaddr": camera.xaddrs["http://www.onvif.org/ver10/events/wsdl"]}
    finally:
        await camera.close()


@pytest.mark.slow
def test_onvif_zeep_async_reads_subscribes_and_pulls_from_the_simulator(fleet_process):
    # A thread of its own: another test (Playwright, the reactor) may have an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        first, second = (thread.submit(asyncio.run, drive(port)).result(timeout=60) for port in fleet_process)
    assert first["serial"] == "SIM000001" and second["serial"] == "SIM000002"
    assert first["profiles"] == ["Profile_1", "Profile_2"]
    assert first["events_xaddr"] == f"http://127.0.0.1:{fleet_process[0]}/onvif/events_service"
    assert abs(first["offset_s"]) < 5 and abs(second["offset_s"] - 3600) < 5
    for result in (first, second):
        assert result["stamps"] and all(stamp.isdigit() and int(stamp) <= time.monotonic_ns()
                                        for stamp in result["stamps"])
