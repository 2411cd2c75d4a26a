"""Partner intake keys (constant-time, every key compared) and per-partner token-bucket rate limits."""

from __future__ import annotations

import hmac

import pytest
from twisted.internet.task import Clock

from hub.auth import partners as partners_module
from hub.auth.partners import PartnerGate
from hub.config import PartnerConfig
from hub.secrets import Secret

KEYS = {"shopwatch": "sw-key-0123456789abcdef", "bid": "bid-key-fedcba9876543210", "old": "old-key-55555555"}


@pytest.fixture
def clock():
    clock = Clock()
    clock.advance(1_700_000_000)
    return clock


@pytest.fixture
def gate(clock):
    return PartnerGate(
        {
            "shopwatch": PartnerConfig(key=Secret(KEYS["shopwatch"]), rate_per_minute=60, burst=3),
            "bid": PartnerConfig(key=Secret(KEYS["bid"]), display_name="Town Centre BID"),
            "old": PartnerConfig(key=Secret(KEYS["old"]), enabled=False),
        },
        clock,
    )


def test_a_partners_key_identifies_it(gate):
    """identify() names the partner whose key is offered."""
    assert gate.identify(KEYS["shopwatch"]) == "shopwatch"
    assert gate.identify(KEYS["bid"]) == "bid"


@pytest.mark.parametrize("offered", ["", None, "sw-key", KEYS["shopwatch"] + "x", KEYS["shopwatch"].upper(), "ü"])
def test_anything_but_a_whole_key_identifies_nobody(gate, offered):
    """A prefix, an extension, the wrong case or nothing at all is no partner."""
    assert gate.identify(offered) is None


def test_a_disabled_partners_key_is_refused(gate):
    """A partner switched off in config cannot post, even with its key."""
    assert gate.identify(KEYS["old"]) is None


def test_every_enabled_key_is_compared_in_constant_time(gate, monkeypatch):
    """identify() compares against every enabled key with hmac.compare_digest, without stopping at a match."""
    calls = []
    real = hmac.compare_digest

    def counting(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(partners_module.hmac, "compare_digest", counting)
    gate.identify(KEYS["bid"])
    gate.identify("wrong")
    # Digests of equal length, so not even the key length shows in the timing.
    assert calls == [(32, 32)] * 4


def test_the_gate_holds_no_key_in_its_state(gate):
    """Keys stay inside their Secret objects; the gate keeps digests."""
    held = repr(vars(gate))
    assert not any(key in held for key in KEYS.values())


def test_a_burst_is_allowed_then_the_partner_must_wait(gate):
    """burst reports pass at once; the next is told how long to wait."""
    assert [gate.take("shopwatch") for _ in range(3)] == [None, None, None]
    assert gate.take("shopwatch") == pytest.approx(1.0)


def test_the_bucket_refills_at_the_configured_rate(gate, clock):
    """At 60 a minute, one report is allowed again after a second."""
    for _ in range(3):
        gate.take("shopwatch")
    clock.advance(0.5)
    assert gate.take("shopwatch") == pytest.approx(0.5)
    clock.advance(0.5)
    assert gate.take("shopwatch") is None


def test_the_bucket_never_holds_more_than_the_burst(gate, clock):
    """A long silence does not save up more than burst reports."""
    clock.advance(3600)
    assert [gate.take("shopwatch") for _ in range(4)][-1] is not None


def test_partners_have_separate_buckets(gate):
    """One partner using up its bucket does not slow another."""
    for _ in range(3):
        gate.take("shopwatch")
    assert gate.take("bid") is None


def test_last_report_at_is_the_last_admitted_report(gate, clock):
    """last_report_at is None until a report is admitted, then its time; refused ones do not count."""
    assert gate.last_report_at("shopwatch") is None
    for _ in range(3):
        gate.take("shopwatch")
    admitted = clock.seconds()
    clock.advance(0.25)
    gate.take("shopwatch")
    assert gate.last_report_at("shopwatch") == admitted


def test_names_and_display_names(gate):
    """names() lists every configured partner; display_name falls back to the config name."""
    assert gate.names() == ["bid", "old", "shopwatch"]
    assert (gate.display_name("bid"), gate.display_name("shopwatch")) == ("Town Centre BID", "shopwatch")
    assert not gate.enabled("old")
