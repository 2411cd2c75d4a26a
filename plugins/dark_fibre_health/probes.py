"""What every probe of a node gives back, whatever the method: ICMP echo, TCP connect or SNMP.

One ``ProbeResult`` per probe, made on the hot path a thousand times a second, so it has no validators:
the probers that make it are the only writers.
"""

from __future__ import annotations

from typing import Literal

from attrs import frozen

#: The values of ``ProbeResult.error`` the probers give, besides an errno name from a failed send or
#: connect (``EHOSTUNREACH``, ``ENETUNREACH``, ``EPERM``...).
TIMEOUT = "timeout"
REFUSED = "refused"


@frozen
class ProbeResult:
    """One probe of ``node`` by ``method``, sent at ``sent_at`` (the reactor's clock, seconds).

    ``ok`` means the node answered: an echo reply, or a TCP connection accepted. ``rtt_s`` is the round
    trip when it did. ``error`` says why it failed: ``"timeout"``, ``"refused"`` (TCP: something answered
    with a reset, so the host is up but the port is closed; the judge decides what that means), an ICMP
    error a router sent back (``"host-unreachable"``, ``"ttl-exceeded"``...) or the errno name of a send
    or connect the system refused at once (``"EHOSTUNREACH"``, ``"ENETUNREACH"``, ``"EPERM"``).
    """

    node: str
    method: Literal["icmp", "tcp", "snmp"]
    sent_at: float
    ok: bool
    rtt_s: float | None = None
    error: str | None = None
