"""WS-Security UsernameToken with a password digest, as ONVIF cameras check it.

PasswordDigest = Base64(SHA-1(nonce + created + password)), where ``created`` is the *camera's* time:
a camera refuses a token whose ``created`` is far from its own clock, so callers pass the hub clock
corrected by the offset measured for that camera.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone

from attrs import frozen

from plugins.onvif.codec.namespaces import WSSE, WSU

PASSWORD_DIGEST_TYPE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)
NONCE_ENCODING = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """The Base64 digest a UsernameToken carries for this nonce, created time and password."""
    digest = hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def created_text(moment: datetime) -> str:
    """A ``wsu:Created`` value: UTC, whole seconds, with the ``Z`` every camera accepts."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@frozen(repr=False)
class UsernameToken:
    """One signed token: made fresh for every request (cameras may refuse a reused nonce)."""

    username: str
    digest: str
    nonce_b64: str
    created: str

    def __repr__(self) -> str:  # the digest is as good as the password for a replay: never show it
        return f"UsernameToken(username={self.username!r}, created={self.created!r})"

    def header_xml(self) -> str:
        """The ``wsse:Security`` header element, as XML text (values are escaped)."""
        from xml.sax.saxutils import escape

        return (
            f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" s:mustUnderstand="1">'
            "<wsse:UsernameToken>"
            f"<wsse:Username>{escape(self.username)}</wsse:Username>"
            f'<wsse:Password Type="{PASSWORD_DIGEST_TYPE}">{self.digest}</wsse:Password>'
            f'<wsse:Nonce EncodingType="{NONCE_ENCODING}">{self.nonce_b64}</wsse:Nonce>'
            f"<wsu:Created>{self.created}</wsu:Created>"
            "</wsse:UsernameToken></wsse:Security>"
        )


def username_token(username: str, password: str, *, camera_time: datetime, nonce: bytes) -> UsernameToken:
    """A token for ``username`` signed at ``camera_time`` (the camera's clock, not the hub's)."""
    created = created_text(camera_time)
    return UsernameToken(
        username=username,
        digest=password_digest(nonce, created, password),
        nonce_b64=base64.b64encode(nonce).decode("ascii"),
        created=created,
    )
