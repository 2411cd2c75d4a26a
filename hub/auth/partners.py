"""Partner keys and rate limits for HTTP intake: which partner a bearer key belongs to, and how fast it may post.

A key is compared with every enabled partner's key, always all of them and in constant time (on
SHA-256 digests, so not even the key's length shows in the timing). Each partner has a token bucket of
``burst`` reports refilled at ``rate_per_minute``, on the injected clock.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Mapping

import attrs

from hub.config import PartnerConfig


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


@attrs.define
class _Bucket:
    tokens: float
    updated_at: float


class PartnerGate:
    """Identifies partners by key and meters their reports."""

    def __init__(self, partners: Mapping[str, PartnerConfig], clock: Any) -> None:
        self._partners = dict(partners)
        self._clock = clock
        # Digests only: the keys themselves stay inside their Secret objects.
        self._digests = [
            (name, _digest(config.key.reveal())) for name, config in sorted(self._partners.items()) if config.enabled
        ]
        now = clock.seconds()
        self._buckets = {name: _Bucket(float(config.burst), now) for name, config in self._partners.items()}
        self._last_report_at: dict[str, float] = {}

    def identify(self, bearer_token: str | None) -> str | None:
        """The enabled partner whose key this is, or None. Takes the same time whichever partner matches."""
        if not bearer_token or not isinstance(bearer_token, str):
            return None
        offered = _digest(bearer_token)
        found: str | None = None
        for name, digest in self._digests:
            # No early exit: every key is compared, so timing does not tell which one matched.
            if hmac.compare_digest(offered, digest):
                found = name
        return found

    def take(self, partner: str) -> float | None:
        """Spend one report from ``partner``'s bucket: None if allowed, else seconds until one is.

        An allowed report also becomes the partner's ``last_report_at`` (the last time it was heard
        from with a valid key within its rate).
        """
        config = self._partners[partner]
        bucket = self._buckets[partner]
        now = self._clock.seconds()
        rate = config.rate_per_minute / 60.0
        bucket.tokens = min(float(config.burst), bucket.tokens + max(0.0, now - bucket.updated_at) * rate)
        bucket.updated_at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            self._last_report_at[partner] = now
            return None
        return (1.0 - bucket.tokens) / rate

    def last_report_at(self, partner: str) -> float | None:
        """When ``partner`` last had a report admitted (POSIX seconds), or None since the hub started."""
        return self._last_report_at.get(partner)

    def names(self) -> list[str]:
        """Every configured partner, enabled or not, by name."""
        return sorted(self._partners)

    def display_name(self, partner: str) -> str:
        """The partner's display name, or its config name."""
        return self._partners[partner].display_name or partner

    def enabled(self, partner: str) -> bool:
        return self._partners[partner].enabled
