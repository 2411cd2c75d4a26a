"""The police link: CAP alerts to a force control room and its requests back, over one mutual-TLS WebSocket,
with an outbox in the journal so nothing confirmed is lost, and a disclosure log of every release."""
