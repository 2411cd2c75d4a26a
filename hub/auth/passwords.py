"""Password hashing: argon2id through argon2-cffi, and nothing else ever touches a password.

The default parameters are argon2-cffi's (RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes),
about 0.1 s per hash on a current server core. A stored hash records its own parameters, so raising
them later leaves every existing password working (``needs_rehash`` tells when to re-hash at login).
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: The production hasher. Tests pass a cheaper one (still argon2id) through the ``hasher`` arguments.
DEFAULT_HASHER = PasswordHasher(type=Type.ID)

#: A dummy hash per hasher, checked against when the user does not exist so that an unknown name costs
#: the same time as a known one.
_dummies: dict[tuple[int, int, int], str] = {}


def cheap_hasher() -> PasswordHasher:
    """An argon2id hasher with minimal cost, for tests only: hashes in well under a millisecond."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


def hash_password(password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """The encoded argon2id hash of ``password`` (salt and parameters included)."""
    return hasher.hash(password)


def verify_password(stored: str, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Whether ``password`` matches ``stored``; a malformed hash is a mismatch, never an exception."""
    try:
        return hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Whether ``stored`` was made with other parameters than ``hasher``'s."""
    try:
        return hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def dummy_hash(*, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """A hash of a random password with ``hasher``'s parameters, made once and kept."""
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _dummies:
        _dummies[key] = hasher.hash(secrets.token_urlsafe(24))
    return _dummies[key]
