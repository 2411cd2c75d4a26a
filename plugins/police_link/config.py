"""The settings of one link to a force control room: an ``[adapters.NAME]`` table with ``type = "police_link"``.

Where the force's endpoint is and how each end proves who it is (the hub's client certificate and key; the
force's CA, its certificate's SHA-256 fingerprint, or both); which incidents go to the force on their own and
which only when an operator presses "send to police"; what the force may ask of the room without a person
agreeing first; and the link's clocks (ping, line fault, how long an answer may take). Certificates and keys
are PEM files: the key file must be readable by its owner alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from attrs import field, frozen
from attrs.validators import optional

from hub.config import Expected, between, one_of
from hub.events import Severity
from hub.secrets import Secret
from hub.topics import TopicPatternError, parse_pattern

#: A SHA-256 certificate fingerprint as openssl prints it: 32 hex pairs, colons optional.
_FINGERPRINT = re.compile(r"^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$")
_SENDER = re.compile(r"^[^\s,<&]{1,200}$")
SEVERITY_NAMES = tuple(level.name.lower() for level in Severity)


def _text(limit: int) -> Any:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise Expected(f"text of 1 to {limit} characters")

    return check


def _url(_instance: object, _attribute: object, value: object) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme != "wss" or not parts.hostname:
        raise Expected('the force\'s WebSocket address over TLS, e.g. "wss://link.force.police.uk:8443/cctv"')
    try:
        parts.port
    except ValueError:
        raise Expected("a port from 1 to 65535 in the address") from None


def _https_url(_instance: object, _attribute: object, value: object) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname or not value.endswith("/"):
        raise Expected('the https address the force reaches the hub\'s evidence at, ending "/", e.g. '
                       '"https://cctv-hub.council.gov.uk/api/evidence/"')


def _fingerprint(_instance: object, _attribute: object, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not _FINGERPRINT.match(value)):
        raise Expected('a SHA-256 fingerprint, 32 hex pairs, e.g. "AB:CD:..." as `openssl x509 -fingerprint -sha256` prints it')


def _sender(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not _SENDER.match(value):
        raise Expected('the room\'s CAP sender id, no spaces, commas, "<" or "&", e.g. "cctv@chesterfield.gov.uk"')


def _severity(_instance: object, _attribute: object, value: object) -> None:
    if value is not None and value not in SEVERITY_NAMES:
        raise Expected("one of: " + ", ".join(SEVERITY_NAMES))


def _topics(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    for pattern in value:
        try:
            parse_pattern(pattern)
        except (TopicPatternError, TypeError) as error:
            raise Expected(f'topic patterns such as "shopwatch.emergency.*" ({pattern!r}: {error})') from None


def normalise_fingerprint(value: str) -> str:
    """``ab:cd...`` or ``abcd...`` as ``AB:CD:...``, the form the hub compares and prints."""
    digits = value.replace(":", "").upper()
    return ":".join(digits[index:index + 2] for index in range(0, len(digits), 2))


@frozen
class AutoSend:
    """Which incidents go to the force without an operator pressing "send to police".

    An incident goes when it reaches ``min_severity`` (none: severity alone sends nothing), or when one of its
    events has a topic matching ``topics`` (``"shopwatch.emergency.raised"``). Everything else waits for an
    operator. An empty table sends nothing on its own.
    """

    min_severity: str | None = field(default=None, validator=_severity)
    topics: tuple[str, ...] = field(default=(), validator=_topics)


@frozen
class PoliceLinkConfig:
    """One link to one force control room.

    - ``url``: the force's endpoint, ``wss://host:port/path``; ``server_name`` the name its certificate must
      carry, when it is not the address's host.
    - ``client_certificate`` and ``client_key``: the room's certificate and key (PEM), shown to the force.
    - ``ca_certificate`` and/or ``server_fingerprint``: how the force's certificate is trusted: issued by that
      CA, equal to that fingerprint, or both. One of them is required.
    - ``force``: the force's name, as the disclosure log records the recipient; ``sender`` the room's CAP
      sender id; ``addresses`` the CAP ``addresses`` (scope Private needs one), by default the force.
    - ``cap_status``: ``Actual`` in service; ``Exercise`` or ``Test`` for trials, so the force never mistakes
      one for a real alert.
    - ``auto_send``: which incidents go by themselves (see ``AutoSend``); ``update_min_interval_s``: the
      least time between two updates of one incident (changes meanwhile go in one update).
    - ``answer_timeout_s``: how long the force has to accept or reject an alert before the operator is told
      to phone them.
    - ``live_view`` and ``point_camera``: ``auto`` (the hub does it at once) or ``consent`` (an operator
      agrees first, from the incident the request opens); ``live_view_max_minutes`` caps how long a shared
      stream address is valid; ``stream_signing_key`` (a secret) signs shared addresses with their expiry
      for a media gateway that checks them (README: "Expiring stream addresses").
    - ``evidence_base_url``: where the force can fetch a still an alert carries (the hub's evidence route,
      as the force reaches it); the still's SHA-256 is appended. Without it, stills go by hash alone.
    - ``ping_interval_s`` and ``line_fault_after_s``: the link's heartbeat and how long a silence may last.
    - ``window``: alerts sent before the first is acknowledged; ``max_frame_bytes``: the largest frame read.
    - ``reconnect_initial_s`` and ``reconnect_max_s``: the back-off between connection attempts.
    """

    url: str = field(validator=_url)
    client_certificate: Path
    client_key: Path
    force: str = field(validator=_text(200))
    sender: str = field(validator=_sender)
    ca_certificate: Path | None = None
    server_fingerprint: str | None = field(default=None, validator=_fingerprint)
    server_name: str | None = field(default=None, validator=optional(_text(253)))
    addresses: str | None = field(default=None, validator=optional(_text(500)))
    sender_name: str = field(default="CCTV control room", validator=_text(200))
    cap_status: Literal["Actual", "Exercise", "Test", "System", "Draft"] = field(
        default="Actual", validator=one_of("Actual", "Exercise", "Test", "System", "Draft"))
    auto_send: AutoSend = field(factory=AutoSend)
    update_min_interval_s: float = field(default=30.0, validator=between(0, 3600))
    answer_timeout_s: float = field(default=300.0, validator=between(10, 86_400))
    live_view: Literal["auto", "consent"] = field(default="consent", validator=one_of("auto", "consent"))
    point_camera: Literal["auto", "consent"] = field(default="consent", validator=one_of("auto", "consent"))
    live_view_max_minutes: int = field(default=60, validator=between(1, 24 * 60))
    stream_signing_key: Secret | None = None
    evidence_base_url: str | None = field(default=None, validator=optional(_https_url))
    ping_interval_s: float = field(default=30.0, validator=between(1, 600))
    line_fault_after_s: float = field(default=90.0, validator=between(3, 3600))
    window: int = field(default=256, validator=between(1, 10_000))
    max_frame_bytes: int = field(default=1_048_576, validator=between(4096, 16 * 1_048_576))
    reconnect_initial_s: float = field(default=1.0, validator=between(0.1, 600))
    reconnect_max_s: float = field(default=60.0, validator=between(1, 3600))
    command_timeout_s: float = field(default=30.0, validator=between(1, 600))

    def __attrs_post_init__(self) -> None:
        if self.ca_certificate is None and self.server_fingerprint is None:
            raise Expected("ca_certificate or server_fingerprint (or both): how the force's certificate is trusted")
        if self.line_fault_after_s <= self.ping_interval_s:
            raise Expected("line_fault_after_s longer than ping_interval_s, or every pause is a fault")
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise Expected("reconnect_max_s at least reconnect_initial_s")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 443

    @property
    def verify_name(self) -> str:
        """The name the force's certificate must carry."""
        return self.server_name or self.host

    @property
    def pinned_fingerprint(self) -> str | None:
        return None if self.server_fingerprint is None else normalise_fingerprint(self.server_fingerprint)

    @property
    def cap_addresses(self) -> str:
        return self.addresses or self.force
