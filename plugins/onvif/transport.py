"""HTTP to cameras on the hub's reactor: SOAP posts and snapshot gets, bounded in size and time.

One ``HttpTransport`` serves every camera, over the lean keep-alive client of http_client.py, so a thousand
cameras cost a thousand sockets and no threads, and a camera's next request reuses the connection its last
one left open. Every exchange has a deadline (``timeout_s``, covering connect, request and reply, digest
retry included) and every reply a size cap: the body is counted as it arrives and the connection dropped as
soon as the cap is passed, so a camera (or something pretending to be one) cannot fill the hub's memory.
Requests are built as bytes from parts made once per URL and per SOAP action.

HTTP Digest (RFC 7616) is answered when a camera asks for it with a 401: the request is sent once more
with an ``Authorization`` header. The challenge is kept per host and reused with an incrementing nonce
count, so later requests carry the header from the start instead of costing a 401 each. Basic is never
answered: it would send the password in the clear.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from attrs import frozen
from twisted.internet.defer import Deferred, fail
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.web.client import BrowserLikePolicyForHTTPS

from hub.secrets import Secret
from plugins.onvif.codec import digest as http_digest
from plugins.onvif.http_client import (
    ConnectionClosed,
    ConnectionFailed,
    HttpClient,
    Origin,
    ReplyTooLarge,
    Response,
    Timeout,
    TransportError,
)

__all__ = [
    "ConnectionClosed", "ConnectionFailed", "DigestCredentials", "HttpError", "HttpTransport", "ReplyTooLarge",
    "Timeout", "TransportError",
]

#: SOAP 1.2 says the action travels as a parameter of the media type (RFC 3902), not in a SOAPAction header.
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"

#: Idle persistent connections are closed by the hub after this long. Cameras close theirs after 5 to 60 s;
#: a short limit keeps the hub from sending on a connection the camera is just closing.
IDLE_CONNECTION_S = 20.0


class HttpError(TransportError):
    """The camera answered with a status other than 2xx. ``body`` is the (capped) reply, since a SOAP
    fault arrives as a 400 or 500 with the fault in it."""

    def __init__(self, status: int, body: bytes = b"", content_type: str | None = None,
                 date: str | None = None) -> None:
        super().__init__(f"HTTP status {status}")
        self.status = status
        self.body = body
        self.content_type = content_type
        #: The reply's Date header: the camera's clock, when nothing else tells it (see client.sync_clock).
        self.date = date


@frozen
class DigestCredentials:
    """Who the hub is when a camera asks for HTTP Digest."""

    username: str
    password: Secret


@frozen
class _Target:
    """A URL taken apart once: where to connect and the request line and Host header to send."""

    origin: Origin
    request_target: str  # path and query, what digest signs as "uri"
    post_prefix: bytes  # b"POST /path HTTP/1.1\r\nHost: host\r\n"
    get_prefix: bytes


@functools.lru_cache(maxsize=8192)
def _target(url: str) -> _Target:
    # Cached: a camera has a handful of service URLs and one pull point, used over and over.
    try:
        url.encode("ascii")
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except (UnicodeEncodeError, ValueError) as error:
        raise TransportError(f"unusable URL ({type(error).__name__})") from None
    scheme = parts.scheme
    if scheme not in ("http", "https") or not host or any(char in host for char in " \t\r\n/\\"):
        raise TransportError("unusable URL (not http or https with a host)")
    default_port = 443 if scheme == "https" else 80
    port = port or default_port
    host_header = f"[{host}]" if ":" in host else host
    if port != default_port:
        host_header = f"{host_header}:{port}"
    request_target = parts.path or "/"
    if parts.query:
        request_target = f"{request_target}?{parts.query}"
    if any(ord(char) < 0x21 for char in request_target):
        raise TransportError("unusable URL (spaces or control characters)")
    line_end = f" HTTP/1.1\r\nHost: {host_header}\r\n".encode("ascii")
    return _Target((scheme.encode("ascii"), host.encode("ascii"), port), request_target,
                   b"POST " + request_target.encode("ascii") + line_end,
                   b"GET " + request_target.encode("ascii") + line_end)


class _DigestState:
    """The last Digest challenge a host sent and how many times its nonce has been used."""

    __slots__ = ("challenge", "nonce_count")

    def __init__(self, challenge: Any) -> None:
        self.challenge = challenge
        self.nonce_count = 0


class HttpTransport:
    """SOAP and snapshot HTTP for every camera (see the module)."""

    def __init__(self, reactor: Any, *, max_reply_bytes: int, connect_timeout_s: float, pool_per_host: int = 2,
                 random_bytes: Callable[[int], bytes] = os.urandom, tls_policy: Any = None) -> None:
        self._reactor = reactor
        self.max_reply_bytes = max_reply_bytes
        self._random_bytes = random_bytes
        self._connect_timeout_s = connect_timeout_s
        self._tls_policy = tls_policy or BrowserLikePolicyForHTTPS()
        self._client = HttpClient(reactor, self._endpoint, idle_per_origin=pool_per_host,
                                  idle_timeout_s=IDLE_CONNECTION_S)
        self._challenges: dict[Origin, _DigestState] = {}
        self._cnonces = b""  # random bytes drawn 512 at a time, 8 per digest answer
        self._content_types: dict[str | None, bytes] = {}

    def post(self, url: str, body: bytes, *, action: str | None, timeout_s: float,
             digest: DigestCredentials | None) -> Deferred[bytes]:
        """The body of the camera's 2xx reply to a SOAP 1.2 request; ``HttpError`` for any other status.
        (A Deferred, to be awaited.)"""
        content_type = self._content_types.get(action)
        if content_type is None:
            text = SOAP_CONTENT_TYPE if action is None else f'{SOAP_CONTENT_TYPE}; action="{action}"'
            content_type = self._content_types[action] = b"Content-Type: " + text.encode("ascii") + b"\r\n"
        return self._exchange(b"POST", url, content_type, body, digest, self.max_reply_bytes, timeout_s, True)

    def get(self, url: str, *, timeout_s: float, digest: DigestCredentials | None,
            max_bytes: int) -> Deferred[tuple[str, bytes]]:
        """The content type and body of a 2xx reply to a GET (a snapshot). (A Deferred, to be awaited.)"""
        return self._exchange(b"GET", url, b"", None, digest, max_bytes, timeout_s, False)

    def close(self) -> Deferred[None]:
        """Close the idle connections; fires when they are closed."""
        return self._client.close()

    # --- one exchange ----------------------------------------------------------------------------------

    def _endpoint(self, origin: Origin) -> Any:
        scheme, host, port = origin
        endpoint = HostnameEndpoint(self._reactor, host.decode("ascii"), port, timeout=self._connect_timeout_s)
        if scheme == b"https":
            endpoint = wrapClientTLS(self._tls_policy.creatorForNetloc(host, port), endpoint)
        return endpoint

    def _exchange(self, method: bytes, url: str, headers: bytes, body: bytes | None,
                  digest: DigestCredentials | None, max_bytes: int, timeout_s: float, post: bool) -> Deferred[Any]:
        try:
            target = _target(url)
            state = self._challenges.get(target.origin) if digest is not None else None
            authorization = self._authorization(state, digest, method, target) if state is not None else None
        except TransportError as error:
            return fail(error)
        sent = self._client.request(target.origin, _request_bytes(method, target, headers, body, authorization),
                                    max_bytes=max_bytes, timeout_s=timeout_s)
        if digest is None:
            return sent.addCallback(_result, post)
        deadline = self._reactor.seconds() + timeout_s
        return sent.addCallback(self._answer_challenge, method, target, headers, body, digest, max_bytes,
                                deadline, post)

    def _answer_challenge(self, response: Response, method: bytes, target: _Target, headers: bytes,
                          body: bytes | None, digest: DigestCredentials, max_bytes: int, deadline: float,
                          post: bool) -> Any:
        if response.status != 401:
            return _result(response, post)
        challenge = self._challenge_in(response)
        if challenge is None:
            self._challenges.pop(target.origin, None)
            return _result(response, post)
        state = self._challenges[target.origin] = _DigestState(challenge)
        left = deadline - self._reactor.seconds()
        if left <= 0:
            raise Timeout("no complete reply in time (after a digest challenge)")
        data = _request_bytes(method, target, headers, body, self._authorization(state, digest, method, target))
        return self._client.request(target.origin, data, max_bytes=max_bytes, timeout_s=left).addCallback(
            self._after_answer, target, post)

    def _after_answer(self, response: Response, target: _Target, post: bool) -> Any:
        if response.status == 401:
            # Refused with a fresh challenge: the credentials are wrong, so stop sending them unasked.
            self._challenges.pop(target.origin, None)
        return _result(response, post)

    # --- digest ----------------------------------------------------------------------------------------

    @staticmethod
    def _challenge_in(response: Response) -> Any:
        # A camera may offer several; SHA-256 is preferred over MD5 when both are there.
        found = []
        for raw in response.header_values(b"www-authenticate"):
            challenge = http_digest.parse_challenge(raw)
            if challenge is not None:
                found.append(challenge)
        for challenge in found:
            if challenge.algorithm.upper().startswith("SHA-256"):
                return challenge
        return found[0] if found else None

    def _cnonce(self) -> str:
        # One system call per 64 answers instead of one each (this is on every signed long poll).
        if len(self._cnonces) < 8:
            self._cnonces = self._random_bytes(512)
        cnonce, self._cnonces = self._cnonces[:8], self._cnonces[8:]
        return cnonce.hex()

    def _authorization(self, state: _DigestState, credentials: DigestCredentials | None, method: bytes,
                       target: _Target) -> bytes | None:
        if credentials is None:
            return None
        state.nonce_count += 1
        try:
            header = http_digest.authorization(
                state.challenge, username=credentials.username, password=credentials.password.reveal(),
                method=method.decode("ascii"), uri=target.request_target, nc=state.nonce_count,
                cnonce=self._cnonce(),
            )
        except ValueError as error:  # a username with control characters; the message names no value
            raise TransportError(f"cannot answer the camera's digest challenge ({error})") from None
        try:
            encoded = header.encode("latin-1")
        except UnicodeEncodeError:
            raise TransportError("cannot answer the camera's digest challenge (username not latin-1)") from None
        if b"\r" in encoded or b"\n" in encoded:
            raise TransportError("cannot answer the camera's digest challenge (line break in a field)")
        return b"Authorization: " + encoded + b"\r\n"


def _request_bytes(method: bytes, target: _Target, headers: bytes, body: bytes | None,
                   authorization: bytes | None) -> bytes:
    prefix = target.post_prefix if method == b"POST" else target.get_prefix
    if body is None:
        return b"".join((prefix, headers, authorization or b"", b"\r\n"))
    return b"".join((prefix, headers, b"Content-Length: %d\r\n" % len(body), authorization or b"", b"\r\n", body))


def _result(response: Response, post: bool) -> Any:
    status = response.status
    if not 200 <= status < 300:
        raise HttpError(status, response.body, response.header(b"content-type"), response.header(b"date"))
    if post:
        return response.body
    return response.header(b"content-type") or "application/octet-stream", response.body
