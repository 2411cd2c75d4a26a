"""WS-Discovery as ONVIF cameras speak it: the Probe a client multicasts, and the ProbeMatches they answer.

Pure: the caller gives message ids and receives frozen values. Replies come from anything on the network
that chooses to answer a multicast, so they are parsed through ``xml.parse_untrusted`` with a datagram-sized
cap, every list is bounded, and nothing in a reply is trusted to be well-formed beyond what is checked here.

ONVIF uses the 2005/04 WS-Discovery draft (with 2004/08 WS-Addressing). Some devices answer in the 2009
OASIS namespaces; the parser reads elements by local name under either, so both are accepted.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape, quoteattr

from attrs import frozen
from lxml import etree

from plugins.onvif.codec.namespaces import DN, SOAP_ENV, TDS, WSA_2004, WSD
from plugins.onvif.codec.xml import local_name, parse_untrusted, text_of

#: The IPv4 multicast group and port every WS-Discovery target listens on.
MULTICAST_GROUP = "239.255.255.250"
DISCOVERY_PORT = 3702
#: A UDP datagram can hold no more than this; nothing larger can be a discovery message.
MAX_DATAGRAM_BYTES = 65_507

WSD_2009 = "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01"
WSA_2005 = "http://www.w3.org/2005/08/addressing"
_DISCOVERY_NAMESPACES = (WSD, WSD_2009)
_ADDRESSING_NAMESPACES = (WSA_2004, WSA_2005)

PROBE_ACTION = f"{WSD}/Probe"
PROBE_MATCHES_ACTION = f"{WSD}/ProbeMatches"
#: The well-known address a multicast Probe is sent to (WS-Discovery 2005/04).
DISCOVERY_TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ANONYMOUS = f"{WSA_2004}/role/anonymous"

#: Types, in Clark notation (``{namespace}LocalName``), so that matching never depends on the prefix a
#: device chose.
NETWORK_VIDEO_TRANSMITTER = f"{{{DN}}}NetworkVideoTransmitter"
DEVICE = f"{{{TDS}}}Device"
VIDEO_DEVICE_TYPES = frozenset({NETWORK_VIDEO_TRANSMITTER, DEVICE})
_PREFIX_FOR = {DN: "dn", TDS: "tds"}

ONVIF_SCOPE_PREFIX = "onvif://www.onvif.org/"

# Bounds on what one reply may make the hub keep: a datagram is at most 64 KiB, but nothing honest comes
# near these, and a hostile one must not make a listing unreadable.
MAX_MATCHES_PER_REPLY = 64
MAX_ITEMS_PER_LIST = 64
MAX_VALUE_CHARS = 1024


class DiscoveryError(ValueError):
    """A datagram that is XML but not the discovery message expected. The message never repeats the
    datagram (it may hold anything)."""


@frozen
class ProbeMatch:
    """One device's answer: who it is (the endpoint reference, stable across address changes), what it
    is (types), how it describes itself (scopes) and where its device service is (XAddrs)."""

    address: str
    types: tuple[str, ...]
    scopes: tuple[str, ...]
    xaddrs: tuple[str, ...]
    metadata_version: int | None

    @property
    def is_video_device(self) -> bool:
        """True for an ONVIF camera or encoder. A match that names no types answered a typed Probe, so it
        is taken at its word."""
        return not self.types or any(kind in VIDEO_DEVICE_TYPES or _unresolved_video_type(kind) for kind in self.types)

    @property
    def name(self) -> str | None:
        return first_scope_value(self.scopes, "name")

    @property
    def hardware(self) -> str | None:
        return first_scope_value(self.scopes, "hardware")

    @property
    def location(self) -> str | None:
        """Every location scope, joined: cameras split it (``country/uk``, ``city/leeds``) or give free text."""
        values = scope_values(self.scopes, "location")
        return "; ".join(values) if values else None


@frozen
class ProbeMatches:
    """A ProbeMatches message: which probe it answers (``relates_to``) and the matches it carries."""

    message_id: str | None
    relates_to: str | None
    matches: tuple[ProbeMatch, ...]


@frozen
class Probe:
    """A Probe as a responder reads it: the types and scopes asked for (empty means any)."""

    message_id: str | None
    types: tuple[str, ...]
    scopes: tuple[str, ...]

    def wants(self, match: ProbeMatch) -> bool:
        """Whether a device described by ``match`` should answer this probe: every asked-for type is one
        of its types, and every asked-for scope is a whole-segment prefix of one of its scopes."""
        if any(kind not in match.types for kind in self.types):
            return False
        return all(any(_scope_matches(asked, own) for own in match.scopes) for asked in self.scopes)


# ---------------------------------------------------------------------------------------------- building


def probe(message_id: str, *, types: tuple[str, ...] = (NETWORK_VIDEO_TRANSMITTER,)) -> bytes:
    """A multicast Probe for devices of ``types`` (Clark notation), as the UTF-8 bytes of one datagram.

    Retransmissions of a probe carry the same ``message_id`` (SOAP-over-UDP), so responders can drop
    the copies."""
    return _envelope(
        header=(
            f'<wsa:Action s:mustUnderstand="1">{PROBE_ACTION}</wsa:Action>'
            f"<wsa:MessageID>{escape(message_id)}</wsa:MessageID>"
            f"<wsa:ReplyTo><wsa:Address>{ANONYMOUS}</wsa:Address></wsa:ReplyTo>"
            f'<wsa:To s:mustUnderstand="1">{DISCOVERY_TO}</wsa:To>'
        ),
        body=f"<d:Probe>{_types_xml(types)}</d:Probe>",
    )


def probe_matches(
    message_id: str,
    relates_to: str,
    matches: tuple[ProbeMatch, ...] | list[ProbeMatch],
    *,
    instance_id: int = 1,
    message_number: int = 1,
) -> bytes:
    """A ProbeMatches reply to the probe ``relates_to``, as a device (or the simulator) sends it."""
    body = "".join(
        "<d:ProbeMatch>"
        f"<wsa:EndpointReference><wsa:Address>{escape(match.address)}</wsa:Address></wsa:EndpointReference>"
        f"{_types_xml(match.types)}"
        f"<d:Scopes>{escape(' '.join(match.scopes))}</d:Scopes>"
        f"<d:XAddrs>{escape(' '.join(match.xaddrs))}</d:XAddrs>"
        f"<d:MetadataVersion>{match.metadata_version if match.metadata_version is not None else 1}</d:MetadataVersion>"
        "</d:ProbeMatch>"
        for match in matches
    )
    return _envelope(
        header=(
            f"<wsa:Action>{PROBE_MATCHES_ACTION}</wsa:Action>"
            f"<wsa:MessageID>{escape(message_id)}</wsa:MessageID>"
            f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>"
            f"<wsa:To>{ANONYMOUS}</wsa:To>"
            f'<d:AppSequence InstanceId="{int(instance_id)}" MessageNumber="{int(message_number)}"/>'
        ),
        body=f"<d:ProbeMatches>{body}</d:ProbeMatches>",
    )


def _envelope(*, header: str, body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:wsa="{WSA_2004}" xmlns:d="{WSD}" '
        f'xmlns:dn="{DN}" xmlns:tds="{TDS}">'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _types_xml(types: tuple[str, ...]) -> str:
    if not types:
        return ""
    declarations: dict[str, str] = {}
    names = []
    for kind in types:
        if kind.startswith("{"):
            namespace, _, local = kind[1:].partition("}")
            prefix = _PREFIX_FOR.get(namespace) or declarations.setdefault(namespace, f"t{len(declarations)}")
            names.append(f"{prefix}:{local}")
        else:  # "prefix:Local" as an undeclaring device sent it: passed on as it came
            names.append(kind)
    xmlns = "".join(f" xmlns:{prefix}={quoteattr(namespace)}" for namespace, prefix in declarations.items())
    return f"<d:Types{xmlns}>{escape(' '.join(names))}</d:Types>"


# ---------------------------------------------------------------------------------------------- parsing


def parse_datagram(data: bytes) -> etree._Element:
    """The root of a discovery datagram, through the untrusted-XML parser with a datagram-sized cap."""
    return parse_untrusted(data, max_bytes=MAX_DATAGRAM_BYTES)


def parse_probe_matches(root: etree._Element) -> ProbeMatches:
    """The ProbeMatches in an envelope, or ``DiscoveryError`` if the envelope carries something else (a
    Hello, a Bye, another client's Probe: all of which share the multicast group)."""
    header, body = _header_and_body(root)
    message = _first_child(body)
    if message is None or local_name(message) != "ProbeMatches" or _namespace(message) not in _DISCOVERY_NAMESPACES:
        raise DiscoveryError(f"datagram is not ProbeMatches (body holds {_describe(message)})")
    matches = []
    for element in message:
        if local_name(element) != "ProbeMatch":
            continue
        match = _probe_match(element)
        if match is not None:
            matches.append(match)
        if len(matches) >= MAX_MATCHES_PER_REPLY:
            break
    return ProbeMatches(
        message_id=_header_value(header, "MessageID"),
        relates_to=_header_value(header, "RelatesTo"),
        matches=tuple(matches),
    )


def parse_probe(root: etree._Element) -> Probe:
    """The Probe in an envelope, or ``DiscoveryError`` (the responder's side)."""
    header, body = _header_and_body(root)
    message = _first_child(body)
    if message is None or local_name(message) != "Probe" or _namespace(message) not in _DISCOVERY_NAMESPACES:
        raise DiscoveryError(f"datagram is not a Probe (body holds {_describe(message)})")
    types_element = _child(message, "Types")
    scopes_element = _child(message, "Scopes")
    return Probe(
        message_id=_header_value(header, "MessageID"),
        types=_qnames(types_element),
        scopes=_words(text_of(scopes_element)),
    )


def _header_and_body(root: etree._Element) -> tuple[etree._Element | None, etree._Element]:
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise DiscoveryError(f"datagram is not a SOAP 1.2 envelope (root is {_describe(root)})")
    header = root.find(f"{{{SOAP_ENV}}}Header")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if body is None:
        raise DiscoveryError("envelope has no Body")
    return header, body


def _probe_match(element: etree._Element) -> ProbeMatch | None:
    """One ProbeMatch, or None when it names no endpoint (nothing to tell it from the others by)."""
    address = None
    reference = _child(element, "EndpointReference", _ADDRESSING_NAMESPACES)
    if reference is not None:
        address = _bounded(text_of(_child(reference, "Address", _ADDRESSING_NAMESPACES)))
    if address is None:
        return None
    return ProbeMatch(
        address=address,
        types=_qnames(_child(element, "Types")),
        scopes=_words(text_of(_child(element, "Scopes"))),
        xaddrs=_words(text_of(_child(element, "XAddrs"))),
        metadata_version=_metadata_version(text_of(_child(element, "MetadataVersion"))),
    )


def _qnames(element: etree._Element | None) -> tuple[str, ...]:
    """The QNames in a Types list, in Clark notation. A prefix the element does not declare is kept as
    ``prefix:Local`` (some devices forget the declaration)."""
    if element is None:
        return ()
    names = []
    nsmap = element.nsmap
    for word in _words(text_of(element)):
        prefix, _, local = word.rpartition(":")
        namespace = nsmap.get(prefix or None)
        names.append(f"{{{namespace}}}{local}" if namespace and local else word)
    return tuple(names)


def _unresolved_video_type(kind: str) -> bool:
    # "dn:NetworkVideoTransmitter" with no xmlns:dn: the name is clear enough to trust.
    return not kind.startswith("{") and kind.rpartition(":")[2] == "NetworkVideoTransmitter"


def _words(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    words = []
    for word in text.split():
        if len(word) <= MAX_VALUE_CHARS:
            words.append(word)
        if len(words) >= MAX_ITEMS_PER_LIST:
            break
    return tuple(words)


def _bounded(text: str | None) -> str | None:
    return text if text is not None and len(text) <= MAX_VALUE_CHARS else None


def _metadata_version(text: str | None) -> int | None:
    if text is None or not text.isdigit() or len(text) > 10:
        return None
    return int(text)


def _header_value(header: etree._Element | None, name: str) -> str | None:
    if header is None:
        return None
    return _bounded(text_of(_child(header, name, _ADDRESSING_NAMESPACES)))


def _child(
    parent: etree._Element, name: str, namespaces: tuple[str, ...] = _DISCOVERY_NAMESPACES
) -> etree._Element | None:
    for child in parent:
        if local_name(child) == name and _namespace(child) in namespaces:
            return child
    return None


def _first_child(parent: etree._Element) -> etree._Element | None:
    for child in parent:
        if isinstance(child.tag, str):
            return child
    return None


def _namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace


def _describe(element: etree._Element | None) -> str:
    if element is None:
        return "nothing"
    name = local_name(element)
    return repr(name[:40]) if name else "no element"


# ---------------------------------------------------------------------------------------------- scopes


def scope_values(scopes: tuple[str, ...], kind: str) -> tuple[str, ...]:
    """The decoded values of the ONVIF scopes of one kind (``name``, ``location``, ``hardware``...):
    ``onvif://www.onvif.org/name/Market%20Sq`` gives ``Market Sq``."""
    prefix = f"{ONVIF_SCOPE_PREFIX}{kind}/"
    values = []
    for scope in scopes:
        if scope.lower().startswith(prefix):
            value = unquote(scope[len(prefix) :]).strip()
            if value:
                values.append(value)
    return tuple(values)


def first_scope_value(scopes: tuple[str, ...], kind: str) -> str | None:
    values = scope_values(scopes, kind)
    return values[0] if values else None


def _scope_matches(asked: str, own: str) -> bool:
    # WS-Discovery's default (RFC 3986) rule: scheme and authority compare case-insensitively, then the
    # asked-for path must be whole leading segments of the device's.
    asked_parts = asked.rstrip("/").split("/")
    own_parts = own.rstrip("/").split("/")
    if len(asked_parts) > len(own_parts):
        return False
    case_blind = 3 if "://" in asked else 0  # "scheme:", "", "authority"
    for index, part in enumerate(asked_parts):
        other = own_parts[index]
        if (part.lower() != other.lower()) if index < case_blind else (part != other):
            return False
    return True


# ---------------------------------------------------------------------------------------------- XAddrs


@frozen
class DeviceAddress:
    """Where a device service is: the parts a camera's config needs."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


_DOUBLED_PORT = re.compile(r"^(?P<host>[^:\[\]]+):(?P<port>\d{1,5})(?::(?P=port))+$")


def parse_xaddr(xaddr: str) -> DeviceAddress | None:
    """An XAddr as scheme, host, port and path, or None if it is not an http(s) URL with a host.

    Lenient about what cameras get wrong: a doubled port (``host:8106:8106``, quirk 4) is read once."""
    try:
        parts = urlsplit(xaddr)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return None
    default_port = 80 if scheme == "http" else 443
    netloc = parts.netloc.rpartition("@")[2]  # credentials in an XAddr are never kept
    doubled = _DOUBLED_PORT.match(netloc)
    if doubled is not None:
        host, port = doubled["host"], int(doubled["port"])
    else:
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            return None
        if port is None:
            port = default_port
    if not host or not 0 < port < 65536 or not _plausible_host(host):
        return None
    path = parts.path or "/onvif/device_service"
    if parts.query:
        path = f"{path}?{parts.query}"
    return DeviceAddress(scheme=scheme, host=host, port=port, path=path)


def _plausible_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return re.fullmatch(r"[A-Za-z0-9.-]{1,253}", host) is not None


def preferred_address(match: ProbeMatch, *, answered_from: str | None = None) -> DeviceAddress | None:
    """The XAddr to configure: the one on the address the reply came from if there is one, else an IPv4
    one, else any; http before https on the same host (the hub's default scheme)."""
    addresses = [address for address in (parse_xaddr(x) for x in match.xaddrs) if address is not None]
    if not addresses:
        return None

    def rank(address: DeviceAddress) -> tuple[int, int, int]:
        return (
            0 if answered_from is not None and address.host == answered_from else 1,
            0 if _is_ipv4(address.host) else 1 if not _is_link_local(address.host) else 2,
            0 if address.scheme == "http" else 1,
        )

    return min(addresses, key=rank)


def _is_ipv4(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 4
    except ValueError:
        return False


def _is_link_local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.partition("%")[0]).is_link_local
    except ValueError:
        return False
