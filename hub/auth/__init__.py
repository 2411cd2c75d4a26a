"""Who may use the hub: users and passwords, sessions, login throttling, partner keys (see docs/security.md)."""
