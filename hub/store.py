"""The hub's one SQLite database: the journal, incidents, the audit log, users and plugins' tables, in one file.

One file means one writer and one transaction for an event and what it changes (an incident row, an
audit entry): they are kept together or not at all. ``HUB_MIGRATIONS`` is the schema history of the
whole file, oldest first; a new migration is appended at the end, whichever part it belongs to, and a
released one is never edited. Plugins' own tables have a history of their own per plugin
(``hub.database.migrate_plugin_schemas``), kept in the ``plugin_schemas`` table.
"""

from __future__ import annotations

from hub.audit import create_audit_log
from hub.auth.users import create_users
from hub.database import create_plugin_schemas
from hub.incidents.store import add_incident_covers, add_incident_rule_actions, create_incidents
from hub.journal import JOURNAL_MIGRATIONS
from hub.sqlite_writer import Migration
from hub.web.intake import create_intake_references

HUB_MIGRATIONS: tuple[Migration, ...] = (
    *JOURNAL_MIGRATIONS,  # 1: events and cursors
    create_incidents,  # 2
    create_audit_log,  # 3
    create_users,  # 4
    create_intake_references,  # 5: partner report references, for repeats
    add_incident_covers,  # 6: what a root-cause incident covers
    create_plugin_schemas,  # 7: the version each plugin's own tables have reached
    add_incident_rule_actions,  # 8: an incident's SOP checklist, offers, rules that acted, escalation delay
)
