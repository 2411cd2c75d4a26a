"""How a simulated camera checks who is asking: WS-Security UsernameToken and HTTP Digest (RFC 7616).

Both are checked the way a strict camera checks them, so that the hub is tested against the hard case:
the UsernameToken's ``Created`` must be within a window of the *camera's* clock and a nonce is refused if
it comes again; an HTTP Digest nonce must be one the camera issued, its count must go up, and its URI must
be the request's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Literal

from attrs import frozen
from lxml import etree

from plugins.onvif.codec.namespaces import WSSE, WSU
from plugins.onvif.codec.wsse import password_digest
from plugins.onvif.sim_replies import parse_datetime

_PASSWORD_TEXT_SUFFIX = "#PasswordText"

TokenVerdict = Literal["ok", "missing", "unknown_user", "bad_digest", "time_check", "replayed", "malformed"]


class UsernameTokenCheck:
    """Checks the ``wsse:UsernameToken`` of a request against one username and password.

    ``window_s`` is how far ``Created`` may be from the camera's clock either way; nonces seen within the
    last ``remembered_nonces`` requests are refused (a replayed request is refused as real cameras do).
    """

    def __init__(self, username: str, password: str, *, window_s: float, remembered_nonces: int = 64) -> None:
        self.username = username
        self._password = password
        self.window_s = window_s
        self._recent: deque[str] = deque(maxlen=remembered_nonces)
        self._recent_set: set[str] = set()

    def check(self, header: etree._Element | None, camera_now_s: float) -> TokenVerdict:
        token = None if header is None else header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        if token is None:
            return "missing"
        username = _text(token.find(f"{{{WSSE}}}Username"))
        password = token.find(f"{{{WSSE}}}Password")
        nonce_b64 = _text(token.find(f"{{{WSSE}}}Nonce"))
        created = _text(token.find(f"{{{WSU}}}Created")) or _text(token.find(f"{{{WSSE}}}Created"))
        if username is None or password is None:
            return "malformed"
        if not hmac.compare_digest(username.encode("utf-8"), self.username.encode("utf-8")):
            return "unknown_user"
        given = (password.text or "").strip()
        if (password.get("Type") or "").endswith(_PASSWORD_TEXT_SUFFIX):
            # Plain text passwords: accepted by most cameras, with no time check possible.
            return "ok" if hmac.compare_digest(given.encode("utf-8"), self._password.encode("utf-8")) else "bad_digest"
        if nonce_b64 is None or created is None:
            return "malformed"
        try:
            nonce = base64.b64decode(nonce_b64, validate=True)
        except (binascii.Error, ValueError):
            return "malformed"
        expected = password_digest(nonce, created, self._password)
        if not hmac.compare_digest(given.encode("ascii", "replace"), expected.encode("ascii")):
            return "bad_digest"
        parsed = parse_datetime(created)
        if parsed is None or abs(parsed[0] - camera_now_s) > self.window_s:
            return "time_check"
        if nonce_b64 in self._recent_set:
            return "replayed"
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(nonce_b64)
        self._recent_set.add(nonce_b64)
        return "ok"


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


# --- HTTP Digest -----------------------------------------------------------------------------------------

DigestAlgorithm = Literal["MD5", "SHA-256"]
_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_PARAMETER = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?')

DigestVerdict = Literal["ok", "missing", "stale", "refused"]


@frozen
class DigestParameters:
    """The parameters of one ``Authorization: Digest`` header, unquoted."""

    values: dict[str, str]

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def parse_authorization(header: str | None) -> DigestParameters | None:
    """The parameters of a Digest ``Authorization`` header; None for none or another scheme."""
    if not header:
        return None
    scheme, _space, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    values = {}
    position = 0
    while position < len(rest):
        match = _PARAMETER.match(rest, position)
        if match is None:
            return None
        key, quoted, token = match.groups()
        values[key.lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
        position = match.end()
    return DigestParameters(values)


class DigestGate:
    """A camera's HTTP Digest check: issues challenges, remembers its nonces and their counts.

    Only nonces it issued are accepted (an unknown one gets a new challenge with ``stale=true`` when the
    rest was right); each nonce's count must go up, as RFC 7616 asks of a server that checks replays.
    """

    def __init__(self, username: str, password: str, *, realm: str, algorithm: DigestAlgorithm = "MD5",
                 random_bytes: Callable[[int], bytes] = os.urandom, remembered_nonces: int = 128) -> None:
        self.username = username
        self._password = password
        self.realm = realm
        self.algorithm = algorithm
        self._random_bytes = random_bytes
        self._nonces: OrderedDict[str, int] = OrderedDict()  # nonce -> highest count seen
        self._remembered = remembered_nonces

    def challenge(self, *, stale: bool = False) -> str:
        """A ``WWW-Authenticate`` value with a fresh nonce."""
        nonce = self._random_bytes(16).hex()
        self._nonces[nonce] = 0
        while len(self._nonces) > self._remembered:
            self._nonces.popitem(last=False)
        stale_text = ", stale=true" if stale else ""
        return (f'Digest realm="{self.realm}", qop="auth", algorithm={self.algorithm}, nonce="{nonce}", '
                f'opaque="{self.realm.encode().hex()}"{stale_text}')

    def check(self, header: str | None, method: str, uri: str) -> DigestVerdict:
        """Whether an ``Authorization`` header proves the password for ``method`` on ``uri``."""
        parameters = parse_authorization(header)
        if parameters is None:
            return "missing"
        algorithm = parameters.get("algorithm") or "MD5"
        nonce, response = parameters.get("nonce"), parameters.get("response")
        if (algorithm.upper() != self.algorithm.upper() or nonce is None or response is None
                or parameters.get("uri") != uri or parameters.get("username") != self.username
                or parameters.get("realm") != self.realm):
            return "refused"
        hasher = _HASHES[self.algorithm]

        def digest(text: str) -> str:
            return hasher(text.encode("utf-8")).hexdigest()

        ha1 = digest(f"{self.username}:{self.realm}:{self._password}")
        ha2 = digest(f"{method}:{uri}")
        qop = parameters.get("qop")
        count_text, cnonce = parameters.get("nc"), parameters.get("cnonce")
        if qop is None:
            expected = digest(f"{ha1}:{nonce}:{ha2}")
            count = None
        elif qop == "auth" and count_text and cnonce:
            try:
                count = int(count_text, 16)
            except ValueError:
                return "refused"
            expected = digest(f"{ha1}:{nonce}:{count_text}:{cnonce}:{qop}:{ha2}")
        else:
            return "refused"
        if not hmac.compare_digest(response.lower().encode("ascii", "replace"), expected.encode("ascii")):
            return "refused"
        last = self._nonces.get(nonce)
        if last is None:
            return "stale"  # right password, but a nonce this camera did not issue or has forgotten
        if count is not None:
            if count <= last:
                return "refused"
            self._nonces[nonce] = count
        return "ok"
