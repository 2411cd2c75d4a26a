"""Placeholder: helper B writes the audit log here."""


def create_audit_log(connection):  # noqa: D103
    raise NotImplementedError
