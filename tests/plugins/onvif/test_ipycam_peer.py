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
from datetime import datetime, timezone
from typing import Iterator

import pytest

from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.wsse import username_token
from plugins.onvif.codec.xml import parse_untrusted, path, text_of
from tests.plugins.onvif.ipycam_peer import MANUFACTURER, MODEL, SERIAL_NUMBER, IpycamPeer

USERNAME = "hub"


@pytest.fixture(scope="module")
def ipycam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpycamPeer]:
    """One ipycam process for the module, with WS-Security on (a password made up for the run)."""
    peer = IpycamPeer(tmp_path_factory.mktemp("ipycam"), username=USERNAME,
                      password=secrets.token_urlsafe(16)).start()
    yield peer
    peer.stop()


@pytest.fixture
def camera(ipycam: IpycamPeer) -> IpycamPeer:
    """The module's ipycam, stopped at home as every test expects to find it."""
    ipycam.reset_ptz()
    return ipycam


# --- the peer itself, before any hub code: raw SOAP as any client would send it -------------------------


def raw_soap(peer: IpycamPeer, body: str, *, signed: bool) -> tuple[int, bytes]:
    """POST one SOAP 1.2 request to ipycam's device service; the HTTP status and the reply body."""
    header = ""
    if signed:
        token = username_token(USERNAME, peer.password, camera_time=datetime.now(timezone.utc),
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
