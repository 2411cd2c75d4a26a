"""Requests to simulated cameras, written by hand for the simulator's own tests.

They do not use the hub's codec (apart from the WS-Security digest), so that the simulator is checked
against the ONVIF shapes themselves and the hub's codec can in turn be checked against the simulator.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from twisted.internet.task import Clock

from hub.secrets import Secret
from plugins.onvif.codec.namespaces import (
    SOAP_ENV,
    TDS,
    TER,
    TEV,
    TPTZ,
    TR2,
    TRT,
    TT,
    WSA,
    WSNT,
)
from plugins.onvif.codec.wsse import username_token
from plugins.onvif.sim_camera import CameraQuirks, Reply, SimulatedCamera

USERNAME = "hub"
PASSWORD = "correct horse"
#: 2027-01-15T08:00:00Z: the tests' clocks start here, so that camera times look like real ones.
START = 1_800_000_000.0

NS = {"s": SOAP_ENV, "tds": TDS, "trt": TRT, "tr2": TR2, "tptz": TPTZ, "tev": TEV, "wsnt": WSNT, "wsa": WSA,
      "tt": TT, "ter": TER}
DEVICE, MEDIA, MEDIA2, PTZ, EVENTS = ("/onvif/device_service", "/onvif/media_service", "/onvif/media2_service",
                                      "/onvif/ptz_service", "/onvif/events_service")

_nonces = itertools.count(1)


def counting_bytes(size: int) -> bytes:
    """Stand-in for os.urandom: different every call, the same every run."""
    return next(_nonces).to_bytes(size, "big")


def make_camera(clock: Clock | None = None, number: str = "7", **quirks: Any) -> SimulatedCamera:
    if clock is None:
        clock = Clock()
        clock.advance(START)
    return SimulatedCamera(number, CameraQuirks(**quirks), clock=clock, username=USERNAME, password=Secret(PASSWORD),
                           host="127.0.0.1", port=8080, random_bytes=counting_bytes,
                           monotonic_ns=lambda: 424242)


def operation(prefix: str, name: str, inner: str = "") -> str:
    namespace = {"tds": TDS, "trt": TRT, "tr2": TR2, "tptz": TPTZ, "tev": TEV, "wsnt": WSNT}[prefix]
    return f'<{prefix}:{name} xmlns:{prefix}="{namespace}" xmlns:tt="{TT}">{inner}</{prefix}:{name}>'


def envelope(body_xml: str, *, signed_at: float | None = None, username: str = USERNAME,
             password: str = PASSWORD, nonce: bytes | None = None, plain: bool = False,
             extra_header: str = "") -> bytes:
    """A SOAP 1.2 request; with ``signed_at`` (seconds since 1970, the camera's clock) a UsernameToken."""
    header = f"<s:Header>{extra_header}</s:Header>" if extra_header else ""
    if signed_at is not None:
        moment = datetime.fromtimestamp(signed_at, UTC)
        token = username_token(username, password, camera_time=moment, nonce=nonce or counting_bytes(16))
        header = f"<s:Header>{token.header_xml()}{extra_header}</s:Header>"
        if plain:
            header = header.replace(token.digest, password).replace("#PasswordDigest", "#PasswordText")
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP_ENV}">{header}'
            f"<s:Body>{body_xml}</s:Body></s:Envelope>").encode()


def call(camera: SimulatedCamera, path: str, body_xml: str, *, signed: bool = True, extra_header: str = "",
         **kwargs: Any) -> Any:
    """Send one request signed with the camera's own clock (as a client that measured its offset does)."""
    request = envelope(body_xml, signed_at=camera.now() if signed else None, extra_header=extra_header)
    return camera.handle(path, request, **kwargs)


def root_of(reply: Reply) -> etree._Element:
    assert isinstance(reply, Reply), reply
    return etree.fromstring(reply.body)


def texts(reply: Reply, xpath: str) -> list[str]:
    return [str(found) for found in root_of(reply).xpath(xpath, namespaces=NS)]


def fault_subcodes(reply: Reply) -> list[str]:
    return texts(reply, "//s:Fault/s:Code//s:Subcode/s:Value/text()")


def digest_authorization(challenge: str, *, method: str, uri: str, nc: int = 1, cnonce: str = "0a4f113b",
                         username: str = USERNAME, password: str = PASSWORD, algorithm: str | None = None) -> str:
    """An RFC 7616 ``Authorization`` answering ``challenge`` (qop=auth), computed here by hand."""
    fields = dict(part.strip().split("=", 1) for part in challenge.removeprefix("Digest ").split(", "))
    fields = {key: value.strip('"') for key, value in fields.items()}
    algorithm = algorithm or fields["algorithm"]
    hasher = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5

    def digest(text: str) -> str:
        return hasher(text.encode()).hexdigest()

    ha1 = digest(f"{username}:{fields['realm']}:{password}")
    ha2 = digest(f"{method}:{uri}")
    count = f"{nc:08x}"
    response = digest(f"{ha1}:{fields['nonce']}:{count}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{username}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", uri="{uri}", '
            f'algorithm={algorithm}, response="{response}", qop=auth, nc={count}, cnonce="{cnonce}", '
            f'opaque="{fields["opaque"]}"')
