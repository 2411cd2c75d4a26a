"""Password hashing: argon2id, and a mismatch or a malformed hash is False, never an exception."""

from __future__ import annotations

from argon2 import PasswordHasher

from hub.auth.passwords import (
    cheap_hasher,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)

PASSWORD = "correct horse battery staple"


def test_hashes_are_argon2id_with_the_default_parameters():
    """The production hash is argon2id with argon2-cffi's RFC 9106 parameters."""
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_the_right_password_verifies():
    """verify_password is True for the password that was hashed."""
    hasher = cheap_hasher()
    assert verify_password(hash_password(PASSWORD, hasher=hasher), PASSWORD, hasher=hasher)


def test_a_wrong_password_does_not_verify():
    """verify_password is False for any other password."""
    hasher = cheap_hasher()
    assert not verify_password(hash_password(PASSWORD, hasher=hasher), PASSWORD + "!", hasher=hasher)


def test_a_malformed_hash_is_a_mismatch():
    """A damaged stored hash never raises; it simply does not verify."""
    assert not verify_password("not a hash", PASSWORD, hasher=cheap_hasher())


def test_the_same_password_hashes_differently_each_time():
    """Every hash has its own salt."""
    hasher = cheap_hasher()
    assert hash_password(PASSWORD, hasher=hasher) != hash_password(PASSWORD, hasher=hasher)


def test_the_dummy_hash_has_the_hashers_parameters():
    """The hash checked for unknown users costs what a real user's hash costs."""
    hasher = cheap_hasher()
    assert not needs_rehash(dummy_hash(hasher=hasher), hasher=hasher)
    assert dummy_hash(hasher=hasher) == dummy_hash(hasher=hasher)


def test_a_hash_made_with_weaker_parameters_needs_rehashing():
    """Raising the parameters is noticed for hashes made before."""
    assert needs_rehash(hash_password(PASSWORD, hasher=cheap_hasher()), hasher=PasswordHasher())
