"""One camera's ONVIF services, asked through one path that signs, limits, parses and classifies.

A ``CameraClient`` knows where its camera's services are (``services``, after the configured address has
replaced what the camera reported: quirk 4), how far the camera's clock is from the hub's
(``clock_offset_s``: quirk 1), and which media service to use (Media2 when offered). Every request goes
through ``call``: a fresh WS-Security token signed with the camera's time, the limiter's slots (quirk 10),
the transport's deadline and size cap, and a reply read as untrusted XML. Whatever goes wrong comes out as
one of three errors the adapter's health logic can act on: ``AuthFailed`` (credentials refused even after
re-reading the camera's clock), ``CameraUnreachable`` (no usable exchange) and ``CameraReplyError`` (the
camera answered, but with a fault, an HTTP error or something unreadable).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote

from attrs import field, frozen
from lxml import etree
from twisted.internet.defer import Deferred

from hub.secrets import Secret
from plugins.onvif.codec import device, media, ptz, soap, wsse
from plugins.onvif.codec.device import DeviceInformation
from plugins.onvif.codec.media import Profile
from plugins.onvif.codec.namespaces import TDS, TEV, TPTZ, TR2, TRT
from plugins.onvif.codec.ptz import Preset
from plugins.onvif.codec.xml import XmlRejected, parse_untrusted
from plugins.onvif.limiter import Limiter, LimiterBusy
from plugins.onvif.transport import (
    ConnectionClosed,
    DigestCredentials,
    HttpError,
    HttpTransport,
    ReplyTooLarge,
    TransportError,
)

#: Operations that bypass the limiter: the long poll, one per camera by construction (see limiter.py).
UNLIMITED_OPERATIONS = frozenset({"PullMessages"})

#: The largest snapshot fetched (a 4K JPEG is 1 to 3 MB).
DEFAULT_MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024

#: Operations a camera can be asked again when the connection closed before it answered: reading, or
#: idempotent moves. Never CreatePullPointSubscription: the first may have opened a pull point (quirk 3).
_REPLAYABLE = frozenset({
    "GetSystemDateAndTime", "GetServices", "GetCapabilities", "GetDeviceInformation", "GetProfiles",
    "GetStreamUri", "GetSnapshotUri", "GetPresets", "GotoPreset", "ContinuousMove", "Stop", "GotoHomePosition",
    "Renew", "Unsubscribe", "SetSynchronizationPoint",
})

_SERVICE_NAMES = {TDS: "Device", TRT: "Media", TR2: "Media2", TPTZ: "PTZ", TEV: "Events"}

MediaKind = Literal["media1", "media2"]


# --- Errors -----------------------------------------------------------------------------------------


class CameraError(Exception):
    """Something a camera request did not do. Messages never hold credentials."""


class AuthFailed(CameraError):
    """The camera refused the credentials, after its clock was read again and the request retried."""

    def __init__(self, message: str, *, http_date: str | None = None) -> None:
        super().__init__(message)
        #: The camera's HTTP Date header on the refusal, if any: a last resort for its clock.
        self.http_date = http_date


class CameraUnreachable(CameraError):
    """No usable exchange: no connection, no reply in time, or the connection closed before the reply."""

    def __init__(self, message: str, *, cause: TransportError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class CameraReplyError(CameraError):
    """The camera answered, but not usefully: a SOAP fault (``fault``), an HTTP error (``status``), or a
    reply that is unreadable, too large or not the answer to the question."""

    def __init__(self, message: str, *, fault: soap.SoapFault | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.fault = fault
        self.status = status


class CameraBusy(CameraError):
    """Too many requests for this camera are waiting already; this one was not sent."""


class NoSnapshot(CameraError):
    """The camera gives no snapshot URI for the profile (quirk 9)."""


# --- Where the camera is ----------------------------------------------------------------------------


@frozen
class CameraEndpoint:
    """How the hub reaches one camera, from config. ``override_addresses``: the configured scheme, host
    and port replace whatever the camera reports for its services and pull points (quirk 4)."""

    camera: str
    host: str
    port: int
    scheme: Literal["http", "https"] = field(default="http")
    device_path: str = "/onvif/device_service"
    username: str | None = None
    password: Secret | None = None
    override_addresses: bool = True

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    @property
    def device_url(self) -> str:
        path = self.device_path if self.device_path.startswith("/") else "/" + self.device_path
        return f"{self.scheme}://{self.authority}{path}"


@frozen
class _Address:
    scheme: str | None
    host: str | None
    port: int | None
    rest: str  # path, query; never empty, always starting with "/"


_SCHEME_AND_AUTHORITY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,15})://([^/?#]*)(.*)", re.DOTALL)
_SAFE_IN_PATH = "/?&=:;@!$'()*+,%-._~[]"


def split_address(url: str) -> _Address:
    """A camera-reported address taken apart leniently: a doubled port (``:8106:8106``) counts once,
    credentials in it are dropped, a bare path is accepted. ``ValueError`` when there is nothing usable."""
    text = url.strip() if isinstance(url, str) else ""
    if not text or len(text) > 2048 or any(ord(char) < 0x21 for char in text):
        raise ValueError("empty, overlong, or holding spaces or control characters")
    match = _SCHEME_AND_AUTHORITY.fullmatch(text)
    if match is None:
        if not text.startswith("/"):
            raise ValueError("neither an absolute URL nor a path")
        scheme = host = None
        port = None
        rest = text
    else:
        scheme, authority, rest = match.group(1).lower(), match.group(2), match.group(3)
        authority = authority.rpartition("@")[2]  # user:password@ never travels further
        if authority.startswith("["):
            host, bracket, after = authority[1:].partition("]")
            if not bracket or not host:
                raise ValueError("unclosed IPv6 address")
            after = after.lstrip(":")
        else:
            host, _colon, after = authority.partition(":")
        if not host:
            raise ValueError("no host")
        port = None
        first_port = next((part for part in after.split(":") if part), None)
        if first_port is not None:
            if not first_port.isdigit() or not 0 < int(first_port) < 65536:
                raise ValueError("port is not a number from 1 to 65535")
            port = int(first_port)
    rest = rest.split("#", 1)[0]
    if not rest.startswith("/"):
        rest = "/" + rest
    return _Address(scheme, host, port, quote(rest, safe=_SAFE_IN_PATH))


# --- The client -------------------------------------------------------------------------------------


class CameraClient:
    """One camera's requests (see the module). Create one per camera; it holds no connection itself."""

    def __init__(self, endpoint: CameraEndpoint, transport: HttpTransport, limiter: Limiter, reactor: Any,
                 log: Any, *, random_bytes: Callable[[int], bytes] = os.urandom, request_timeout_s: float = 10,
                 max_snapshot_bytes: int = DEFAULT_MAX_SNAPSHOT_BYTES) -> None:
        self.endpoint = endpoint
        self._transport = transport
        self._limiter = limiter
        self._reactor = reactor
        self._log = log
        self._random_bytes = random_bytes
        self.request_timeout_s = request_timeout_s
        self.max_snapshot_bytes = max_snapshot_bytes
        #: Camera time minus hub time, in seconds, as last measured by ``sync_clock``.
        self.clock_offset_s = 0.0
        #: Service namespace -> URL, after ``rewrite_address``. The device service is always the configured one.
        self.services: dict[str, str] = {TDS: endpoint.device_url}
        #: The media service in use, once ``profiles`` has chosen: "media2" if offered, else "media1".
        self.media: MediaKind | None = None
        self._digest = (DigestCredentials(endpoint.username, endpoint.password)
                        if endpoint.username is not None and endpoint.password is not None else None)
        self._actions: dict[tuple[str, str], str] = {}
        self._syncing = False
        self._sync_waiters: list[Deferred[None]] = []

    # --- clock --------------------------------------------------------------------------------------

    def camera_time(self) -> datetime:
        """Now, by the camera's clock as last measured."""
        return datetime.fromtimestamp(self._reactor.seconds() + self.clock_offset_s, UTC)

    async def sync_clock(self) -> datetime | None:
        """Read the camera's clock (GetSystemDateAndTime, unsigned as the standard says it must answer) and
        keep the offset. Some cameras demand auth even here: then it is asked once more, signed with the
        offset known so far; failing that, the HTTP Date header of the refusal is used when there was one.
        Returns the camera's time, or None when it sent no usable time (the offset is then kept)."""
        body = device.get_system_date_and_time()
        sent = self._reactor.seconds()
        try:
            root = await self._exchange(TDS, "GetSystemDateAndTime", body, url=self.endpoint.device_url,
                                        timeout_s=self.request_timeout_s, sign=False)
        except AuthFailed as unsigned_refused:
            if self._digest is None:
                raise
            self._log.info("camera_time_needs_auth")
            sent = self._reactor.seconds()
            try:
                root = await self._exchange(TDS, "GetSystemDateAndTime", body, url=self.endpoint.device_url,
                                            timeout_s=self.request_timeout_s, sign=True)
            except AuthFailed as signed_refused:
                http_date = signed_refused.http_date or unsigned_refused.http_date
                camera_now = _parse_http_date(http_date)
                if camera_now is None:
                    raise
                self._set_offset(camera_now, sent, source="http_date")
                return camera_now
        camera_now = parse_reply(device.parse_system_date_and_time, root)
        if camera_now is None:
            self._log.warning("camera_time_unreadable", offset_s=round(self.clock_offset_s, 1))
            return None
        self._set_offset(camera_now, sent, source="GetSystemDateAndTime")
        return camera_now

    def _set_offset(self, camera_now: datetime, sent: float, *, source: str) -> None:
        # The camera read its clock somewhere between sending and receiving: take the middle.
        received = self._reactor.seconds()
        offset = camera_now.timestamp() - (sent + received) / 2
        if abs(offset - self.clock_offset_s) >= 5:
            self._log.info("camera_clock_offset", offset_s=round(offset, 1), source=source)
        self.clock_offset_s = offset

    async def _resync_once(self) -> None:
        """Re-read the clock after an auth fault; concurrent faults share one reading."""
        waiter: Deferred[None] = Deferred()
        self._sync_waiters.append(waiter)  # before starting: a reading may complete at once
        if not self._syncing:
            self._syncing = True
            Deferred.fromCoroutine(self._sync_quietly())
        await waiter

    async def _sync_quietly(self) -> None:
        try:
            await self.sync_clock()
        except CameraError as error:  # the retry that follows reports the real failure
            self._log.info("camera_clock_resync_failed", error=str(error))
        finally:
            waiters, self._sync_waiters, self._syncing = self._sync_waiters, [], False
            for waiter in waiters:
                if not waiter.called:
                    waiter.callback(None)

    # --- services -----------------------------------------------------------------------------------

    def rewrite_address(self, url: str) -> str:
        """The URL to use for an address the camera reported (quirk 4). With ``override_addresses`` the
        configured scheme, host and port replace the camera's, keeping its path and query; without, the
        address is only tidied (doubled port, credentials dropped). ``CameraReplyError`` for junk."""
        try:
            address = split_address(url)
        except ValueError as error:
            raise CameraReplyError(f"camera reported an unusable address ({error})") from None
        if self.endpoint.override_addresses:
            return f"{self.endpoint.scheme}://{self.endpoint.authority}{address.rest}"
        if address.scheme not in ("http", "https") or address.host is None:
            raise CameraReplyError("camera reported an address that is not http or https")
        port = address.port or (443 if address.scheme == "https" else 80)
        host = f"[{address.host}]" if ":" in address.host else address.host
        return f"{address.scheme}://{host}:{port}{address.rest}"

    def rewrite_stream_address(self, url: str) -> str:
        """A stream URI to hand on: credentials dropped always; with ``override_addresses`` the configured
        host replaces the camera's, keeping the camera's scheme and port (RTSP is not on the ONVIF port)."""
        try:
            address = split_address(url)
        except ValueError as error:
            raise CameraReplyError(f"camera reported an unusable stream URI ({error})") from None
        if address.scheme is None or address.host is None:
            raise CameraReplyError("camera reported a stream URI without scheme and host")
        host = self.endpoint.host if self.endpoint.override_addresses else address.host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        port = f":{address.port}" if address.port is not None else ""
        return f"{address.scheme}://{host}{port}{address.rest}"

    async def discover_services(self) -> dict[str, str]:
        """Where each service is: GetServices, or GetCapabilities when the camera faults, answers with an
        HTTP error or sends something unreadable (quirk 7). Addresses are rewritten; junk ones skipped."""
        try:
            reported = parse_reply(device.parse_services,
                                    await self.call(TDS, "GetServices", device.get_services()))
        except CameraReplyError as error:
            self._log.info("camera_services_fallback", error=str(error))
            reported = parse_reply(device.parse_capabilities,
                                    await self.call(TDS, "GetCapabilities", device.get_capabilities()))
        services = {}
        for namespace, address in reported.items():
            try:
                services[namespace] = self.rewrite_address(address)
            except CameraReplyError as error:
                self._log.warning("camera_service_address_unusable", service=_SERVICE_NAMES.get(namespace, namespace),
                                  error=str(error))
        services[TDS] = self.endpoint.device_url  # the configured address is the truth for the device
        self.services = services
        self.media = None
        return services

    async def device_information(self) -> DeviceInformation:
        return parse_reply(device.parse_device_information,
                            await self.call(TDS, "GetDeviceInformation", device.get_device_information()))

    # --- media --------------------------------------------------------------------------------------

    def _media_choices(self) -> list[MediaKind]:
        offered: list[MediaKind] = []
        if TR2 in self.services:
            offered.append("media2")
        if TRT in self.services:
            offered.append("media1")
        return offered

    async def profiles(self) -> tuple[Profile, ...]:
        """The media profiles, from Media2 when offered, else Media1. A camera that offers both but whose
        Media2 does not answer usefully is asked through Media1 (capabilities that lie: quirk 7)."""
        choices = self._media_choices()
        if not choices:
            raise CameraReplyError("camera offers neither a Media nor a Media2 service")
        for kind in choices:
            try:
                root = await self.call(_media_ns(kind), "GetProfiles", media.get_profiles(kind))
                found = parse_reply(media.parse_profiles, root, kind)
            except CameraReplyError as error:
                if kind == choices[-1]:
                    raise
                self._log.info("camera_media2_fallback", error=str(error))
                continue
            self.media = kind
            return found
        raise AssertionError("unreachable")  # pragma: no cover

    def _media_in_use(self) -> MediaKind:
        if self.media is not None:
            return self.media
        choices = self._media_choices()
        if not choices:
            raise CameraReplyError("camera offers neither a Media nor a Media2 service")
        return choices[0]

    async def stream_uri(self, profile_token: str) -> str:
        """The RTSP URI of the profile, credentials removed and host overridden (see rewrite_stream_address)."""
        kind = self._media_in_use()
        root = await self.call(_media_ns(kind), "GetStreamUri", media.get_stream_uri(kind, profile_token))
        return self.rewrite_stream_address(parse_reply(media.parse_stream_uri, root, kind))

    async def snapshot_uri(self, profile_token: str) -> str | None:
        """The profile's snapshot URL (rewritten like a service address), or None when the camera gives
        none (quirk 9)."""
        kind = self._media_in_use()
        root = await self.call(_media_ns(kind), "GetSnapshotUri", media.get_snapshot_uri(kind, profile_token))
        uri = parse_reply(media.parse_snapshot_uri, root, kind)
        return self.rewrite_address(uri) if uri is not None else None

    async def snapshot(self, profile_token: str) -> tuple[str, bytes]:
        """A still image: its content type and bytes. ``NoSnapshot`` when the camera gives no URI."""
        uri = await self.snapshot_uri(profile_token)
        if uri is None:
            raise NoSnapshot(f"camera {self.endpoint.camera} gives no snapshot URI for profile {profile_token}")

        async def fetch() -> tuple[str, bytes]:
            return await self._transport.get(uri, timeout_s=self.request_timeout_s, digest=self._digest,
                                             max_bytes=self.max_snapshot_bytes)

        try:
            try:
                return await self._limited("GetSnapshot", fetch)
            except ConnectionClosed as error:
                if not error.before_reply:
                    raise
                # A GET is safe to repeat, and the connection may just have been closed under it.
                return await self._limited("GetSnapshot", fetch)
        except TransportError as error:
            raise self._transport_error("snapshot", error) from None

    # --- PTZ ----------------------------------------------------------------------------------------

    async def presets(self, profile_token: str) -> tuple[Preset, ...]:
        return parse_reply(ptz.parse_presets, await self.call(TPTZ, "GetPresets", ptz.get_presets(profile_token)))

    async def goto_preset(self, profile_token: str, preset_token: str, speed: float | None = None) -> None:
        """Move to a preset. Some cameras fault when Speed is sent (quirk 9): then once more without it."""
        try:
            root = await self.call(TPTZ, "GotoPreset", ptz.goto_preset(profile_token, preset_token, speed=speed))
        except CameraReplyError as error:
            if speed is None or (error.fault is None and error.status not in (400, 500)):
                raise
            self._log.info("camera_goto_preset_without_speed", error=str(error))
            root = await self.call(TPTZ, "GotoPreset", ptz.goto_preset(profile_token, preset_token))
        parse_reply(ptz.parse_empty, root, "GotoPreset")

    async def continuous_move(self, profile_token: str, pan: float, tilt: float, zoom: float,
                              timeout_s: float | None) -> None:
        root = await self.call(TPTZ, "ContinuousMove", ptz.continuous_move(
            profile_token, pan=pan, tilt=tilt, zoom=zoom, timeout_s=timeout_s))
        parse_reply(ptz.parse_empty, root, "ContinuousMove")

    async def stop(self, profile_token: str) -> None:
        """Stop moving. A zero-velocity ContinuousMove goes first, then Stop: some cameras accept Stop and
        keep moving (quirk 9), but every camera that moves continuously obeys a zero velocity. The stop
        fails only if both were refused: either one is enough to halt the camera."""
        zero_move_error: CameraError | None = None
        try:
            await self.continuous_move(profile_token, 0.0, 0.0, 0.0, None)
        except (CameraReplyError, CameraUnreachable) as error:
            zero_move_error = error
        try:
            root = await self.call(TPTZ, "Stop", ptz.stop(profile_token))
            parse_reply(ptz.parse_empty, root, "Stop")
        except (CameraReplyError, CameraUnreachable):
            if zero_move_error is not None:
                raise
            self._log.info("camera_stop_refused_after_zero_move")

    async def goto_home(self, profile_token: str) -> None:
        root = await self.call(TPTZ, "GotoHomePosition", ptz.goto_home_position(profile_token))
        parse_reply(ptz.parse_empty, root, "GotoHomePosition")

    # --- the one path -------------------------------------------------------------------------------

    async def call(self, service_ns: str, operation: str, body_xml: str, *, url: str | None = None,
                   timeout_s: float | None = None, reference_parameters: Sequence[str] = ()) -> etree._Element:
        """Send ``body_xml`` to the service (or ``url``) and return the reply's root element, checked to
        be a SOAP envelope that is not a fault. Signed with the camera's time; an auth refusal re-reads the
        camera's clock once and tries again before raising ``AuthFailed`` (quirk 1)."""
        if url is None:
            url = self.services.get(service_ns)
            if url is None:
                raise CameraReplyError(f"camera offers no {_SERVICE_NAMES.get(service_ns, service_ns)} service")
        timeout = self.request_timeout_s if timeout_s is None else timeout_s
        try:
            return await self._exchange(service_ns, operation, body_xml, url=url, timeout_s=timeout,
                                        reference_parameters=reference_parameters)
        except AuthFailed:
            if self._digest is None:
                raise
        self._log.info("camera_auth_refused_resyncing", operation=operation)
        await self._resync_once()
        try:
            return await self._exchange(service_ns, operation, body_xml, url=url, timeout_s=timeout,
                                        reference_parameters=reference_parameters)
        except AuthFailed as error:
            raise AuthFailed(f"camera refused the credentials for {operation}, its clock read again",
                             http_date=error.http_date) from None

    async def _exchange(self, service_ns: str, operation: str, body_xml: str, *, url: str, timeout_s: float,
                        sign: bool = True, reference_parameters: Sequence[str] = ()) -> etree._Element:
        try:
            return await self._exchange_once(service_ns, operation, body_xml, url, timeout_s, sign,
                                             reference_parameters)
        except CameraUnreachable as error:
            # A connection the camera closed just as the hub reused it: ask again on a fresh one.
            cause = error.cause
            if not (isinstance(cause, ConnectionClosed) and cause.before_reply and operation in _REPLAYABLE):
                raise
            self._log.debug("camera_connection_closed_retrying", operation=operation)
            return await self._exchange_once(service_ns, operation, body_xml, url, timeout_s, sign,
                                             reference_parameters)

    async def _exchange_once(self, service_ns: str, operation: str, body_xml: str, url: str, timeout_s: float,
                             sign: bool, reference_parameters: Sequence[str]) -> etree._Element:
        action = self._action(service_ns, operation)
        token = self._token() if sign else None
        is_event = service_ns == TEV
        request = soap.envelope(body_xml, security=token, action=action if is_event else None,
                                to=url if is_event else None, reference_parameters=reference_parameters)

        try:
            if operation in UNLIMITED_OPERATIONS:  # the long poll: straight to the transport, no extra layer
                reply = await self._transport.post(url, request, action=action, timeout_s=timeout_s,
                                                   digest=self._digest)
            else:
                async def post() -> bytes:
                    return await self._transport.post(url, request, action=action, timeout_s=timeout_s,
                                                      digest=self._digest)

                reply = await self._limited(operation, post)
        except HttpError as error:
            return self._http_error(operation, error)
        except TransportError as error:
            raise self._transport_error(operation, error) from None
        return self._checked(operation, reply)

    async def _limited(self, operation: str, work: Callable[[], Any]) -> Any:
        try:
            return await self._limiter.run(self.endpoint.camera, work)
        except LimiterBusy as error:
            raise CameraBusy(f"{operation} not sent: {error}") from None

    def _checked(self, operation: str, reply: bytes) -> etree._Element:
        try:
            root = parse_untrusted(reply, max_bytes=self._transport.max_reply_bytes)
            soap.body_of(root)
        except soap.SoapFault as fault:
            if fault.not_authorized:
                raise AuthFailed(f"camera refused the credentials for {operation} ({fault})") from None
            raise CameraReplyError(f"{operation}: {fault}", fault=fault) from None
        except (XmlRejected, soap.ReplyError) as error:
            raise CameraReplyError(f"{operation}: {error}") from None
        return root

    def _http_error(self, operation: str, error: HttpError) -> etree._Element:
        """A non-2xx status: a SOAP fault in it is the answer (faults come as 400 and 500, and some
        cameras send an auth fault as 401); otherwise the status is."""
        if error.body:
            try:
                self._checked(operation, error.body)
            except AuthFailed as refused:
                raise AuthFailed(str(refused), http_date=error.date) from None
            except CameraReplyError as reply_error:
                if reply_error.fault is not None:
                    raise CameraReplyError(str(reply_error), fault=reply_error.fault, status=error.status) from None
        if error.status in (401, 403):
            raise AuthFailed(f"camera refused the credentials for {operation} (HTTP {error.status})",
                             http_date=error.date)
        raise CameraReplyError(f"{operation}: HTTP status {error.status}", status=error.status)

    def _transport_error(self, operation: str, error: TransportError) -> CameraError:
        if isinstance(error, HttpError):
            if error.status in (401, 403):
                return AuthFailed(f"camera refused the credentials for {operation} (HTTP {error.status})",
                                  http_date=error.date)
            return CameraReplyError(f"{operation}: HTTP status {error.status}", status=error.status)
        if isinstance(error, ReplyTooLarge):
            return CameraReplyError(f"{operation}: {error}")
        return CameraUnreachable(f"{operation}: {error}", cause=error)

    def _token(self) -> wsse.UsernameToken | None:
        if self.endpoint.username is None or self.endpoint.password is None:
            return None
        return wsse.username_token(self.endpoint.username, self.endpoint.password.reveal(),
                                   camera_time=self.camera_time(), nonce=self._random_bytes(16))

    def _action(self, service_ns: str, operation: str) -> str:
        key = (service_ns, operation)
        action = self._actions.get(key)
        if action is None:
            action = self._actions[key] = soap.action_for(service_ns, operation)
        return action


def parse_reply(parser: Callable[..., Any], root: etree._Element, *arguments: Any) -> Any:
    """``parser(root, *arguments)``, with the codec's complaints about the reply as ``CameraReplyError``."""
    try:
        return parser(root, *arguments)
    except soap.SoapFault as fault:  # parsers read the body themselves; call() caught faults already
        raise CameraReplyError(str(fault), fault=fault) from None
    except (soap.ReplyError, XmlRejected) as error:
        raise CameraReplyError(str(error)) from None


def _media_ns(kind: MediaKind) -> str:
    return TR2 if kind == "media2" else TRT


def _parse_http_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.year < 2000:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
