"""The ONVIF codec: pure functions from Python values to SOAP request bytes, and from reply bytes (untrusted)
to frozen values. No sockets, no clocks: the caller passes times and nonces in.

Modules: ``xml`` (safe parsing), ``namespaces``, ``wsse`` (UsernameToken), ``soap`` (envelopes and
faults), ``digest`` (HTTP Digest), ``times`` (lenient xsd:dateTime and durations), ``device``, ``media``,
``ptz``, ``events`` (requests and replies per service), ``topics`` (what an event topic means),
``discovery`` (WS-Discovery probes and matches).
"""
