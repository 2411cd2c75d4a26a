"""HTTP Digest authentication, client side (RFC 7616, and RFC 2617/2069 as older cameras speak it).

Some cameras want HTTP Digest on every request, instead of or besides WS-Security. The transport keeps the
last challenge per host and answers it with ``authorization``; the cnonce and the nonce count come from the
caller (the codec has no randomness and no state). Supported: MD5, MD5-sess, SHA-256, SHA-256-sess, with
``qop=auth`` or with no qop at all (RFC 2069). ``auth-int`` alone, and unknown algorithms, are challenges the
hub cannot answer: ``parse_challenge`` skips them.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from attrs import frozen

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_ALGORITHMS = {
    "md5": "MD5",
    "md5-sess": "MD5-sess",
    "sha-256": "SHA-256",
    "sha-256-sess": "SHA-256-sess",
}
#: Which challenge wins when a camera offers several (RFC 7616 asks servers to offer SHA-256 first, but
#: cameras list them in any order).
_PREFERENCE = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")
_MAX_HEADER = 8192


@frozen
class DigestChallenge:
    """A Digest challenge the hub can answer. ``qop`` is ``"auth"`` or None (no qop: RFC 2069);
    ``algorithm`` is one of MD5, MD5-sess, SHA-256, SHA-256-sess; ``stale`` means the nonce expired and
    the same credentials should simply be sent again with the new one."""

    realm: str
    nonce: str
    qop: str | None
    algorithm: str
    opaque: str | None
    stale: bool


def _parse(header: str) -> list[tuple[str, dict[str, str]]]:
    """The challenges in a WWW-Authenticate value: ``[(scheme, {param: value})]``. Never raises."""
    challenges: list[tuple[str, dict[str, str]]] = []
    length = len(header)
    index = 0

    def skip(chars: str) -> None:
        nonlocal index
        while index < length and header[index] in chars:
            index += 1

    while index < length:
        skip(" \t,")
        start = index
        while index < length and header[index] not in ' \t,="':
            index += 1
        token = header[start:index]
        if not token:
            index += 1  # a stray quote or '=': step over it
            continue
        skip(" \t")
        if index < length and header[index] == "=" and challenges:
            index += 1
            skip(" \t")
            if index < length and header[index] == '"':
                index += 1
                value = []
                while index < length and header[index] != '"':
                    if header[index] == "\\" and index + 1 < length:
                        index += 1
                    value.append(header[index])
                    index += 1
                index += 1  # the closing quote
                text = "".join(value)
            else:
                start = index
                while index < length and header[index] not in " \t,":
                    index += 1
                text = header[start:index]
            challenges[-1][1].setdefault(token.lower(), text)
        elif index < length and header[index] == "=":
            # token68 or a parameter before any scheme: skip to the next comma
            while index < length and header[index] != ",":
                index += 1
        else:
            challenges.append((token, {}))
    return challenges


def _printable(text: str) -> bool:
    return all(" " <= character != "\x7f" for character in text)


def _challenge(parameters: dict[str, str]) -> DigestChallenge | None:
    nonce = parameters.get("nonce")
    if not nonce:
        return None
    algorithm = _ALGORITHMS.get(parameters.get("algorithm", "MD5").strip().lower())
    if algorithm is None:
        return None
    qop = None
    if "qop" in parameters:
        offered = {option.strip().lower() for option in parameters["qop"].split(",")}
        if "auth" not in offered:
            return None  # auth-int only: the hub does not hash bodies
        qop = "auth"
    realm, opaque = parameters.get("realm", ""), parameters.get("opaque")
    if not all(_printable(value) for value in (realm, nonce, opaque or "")):
        return None  # a control character would be echoed into the hub's own request headers
    return DigestChallenge(
        realm=realm,
        nonce=nonce,
        qop=qop,
        algorithm=algorithm,
        opaque=opaque,
        stale=parameters.get("stale", "").strip().lower() == "true",
    )


def parse_challenge(www_authenticate: str) -> DigestChallenge | None:
    """The best Digest challenge in a WWW-Authenticate value (several challenges may share one header,
    Basic among them), or None when there is no Digest challenge the hub can answer."""
    if not www_authenticate or len(www_authenticate) > _MAX_HEADER:
        return None
    usable = []
    for scheme, parameters in _parse(www_authenticate):
        if scheme.lower() == "digest":
            challenge = _challenge(parameters)
            if challenge is not None:
                usable.append(challenge)
    if not usable:
        return None
    return min(usable, key=lambda challenge: _PREFERENCE.index(challenge.algorithm))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def authorization(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    nc: int,
    cnonce: str,
) -> str:
    """The Authorization header value answering ``challenge`` for one request.

    ``uri`` is the request target as sent on the request line (path and query); ``nc`` counts the
    requests made with this nonce, from 1; ``cnonce`` is a fresh client nonce (printable, no quotes).
    """
    for name, value in (("username", username), ("uri", uri), ("method", method)):
        if not _printable(value):
            raise ValueError(f"digest {name} holds a control character")
    if not cnonce or not _printable(cnonce) or '"' in cnonce or "\\" in cnonce:
        raise ValueError("digest cnonce must be printable text without quotes")
    if not 0 < nc <= 0xFFFFFFFF:
        raise ValueError("digest nonce count must be from 1 to 2**32 - 1")
    base = challenge.algorithm.removesuffix("-sess")
    hash_function = _HASHES[base]

    def hexdigest(text: str) -> str:
        return hash_function(text.encode("utf-8")).hexdigest()

    nc_text = f"{nc:08x}"
    ha1 = hexdigest(f"{username}:{challenge.realm}:{password}")
    if challenge.algorithm.endswith("-sess"):
        ha1 = hexdigest(f"{ha1}:{challenge.nonce}:{cnonce}")
    ha2 = hexdigest(f"{method.upper()}:{uri}")
    if challenge.qop is None:
        response = hexdigest(f"{ha1}:{challenge.nonce}:{ha2}")
    else:
        response = hexdigest(f"{ha1}:{challenge.nonce}:{nc_text}:{cnonce}:{challenge.qop}:{ha2}")
    if username.isascii():
        parts = [f"username={_quoted(username)}"]
    else:  # RFC 7616 section 3.4.4: a non-ASCII user name goes as username*, percent-encoded UTF-8
        parts = [f"username*=UTF-8''{quote(username, safe='')}"]
    parts += [
        f"realm={_quoted(challenge.realm)}",
        f"nonce={_quoted(challenge.nonce)}",
        f"uri={_quoted(uri)}",
        f"algorithm={challenge.algorithm}",
        f"response={_quoted(response)}",
    ]
    if challenge.qop is not None:
        parts += [f"qop={challenge.qop}", f"nc={nc_text}", f"cnonce={_quoted(cnonce)}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={_quoted(challenge.opaque)}")
    return "Digest " + ", ".join(parts)
