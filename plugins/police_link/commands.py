"""What an operator can ask of the police link, from an incident or the status panel.

``send_to_police`` is offered on every incident, whoever raised it: it sends the incident to the force as a
CAP Alert, or as an Update when the force already has it. ``withdraw_from_police`` sends a Cancel.
``approve_request`` and ``refuse_request`` answer a request from the force that needs a person (it opened
an incident of its own); ``complete_retention`` says the footage on hold has been exported.
"""

from __future__ import annotations

from hub.api import CommandArgument, CommandSpec

_REQUEST_ID = CommandArgument(name="request_id", title="Request", max_length=100,
                              prefill="payload.request_id")

SEND_TO_POLICE = CommandSpec(
    verb="send_to_police",
    title="Send to police",
    description=("Send this incident to the force control room as a CAP alert (an update if they already "
                 "have it), with its location and any stills kept as evidence."),
    arguments=(CommandArgument(name="note", title="Note for the force", required=False, max_length=1000),),
    applies_to=("#",),
    any_source=True,
)
WITHDRAW_FROM_POLICE = CommandSpec(
    verb="withdraw_from_police",
    title="Withdraw from police",
    description="Tell the force this incident no longer needs them (a CAP Cancel of what was sent).",
    arguments=(CommandArgument(name="reason", title="Why", max_length=1000),),
    applies_to=("police.alert.*",),
)
APPROVE_REQUEST = CommandSpec(
    verb="approve_request",
    title="Approve police request",
    description="Agree to the force's request and carry it out; the force is told at once.",
    arguments=(_REQUEST_ID,
               CommandArgument(name="note", title="Note", required=False, max_length=1000)),
    applies_to=("police.request.received",),
)
REFUSE_REQUEST = CommandSpec(
    verb="refuse_request",
    title="Refuse police request",
    description="Refuse the force's request; the reason goes to the force.",
    arguments=(_REQUEST_ID, CommandArgument(name="reason", title="Why", max_length=1000)),
    applies_to=("police.request.received",),
)
COMPLETE_RETENTION = CommandSpec(
    verb="complete_retention",
    title="Footage exported",
    description=("Record that the footage on hold has been exported: the export's reference and, one per "
                 "line, each file's name and SHA-256 (`sha256sum` output)."),
    arguments=(_REQUEST_ID,
               CommandArgument(name="export_reference", title="Export reference", max_length=200),
               CommandArgument(name="manifest", title="Files and SHA-256 (sha256sum output)", required=False,
                               max_length=20_000)),
    applies_to=("police.hold.created",),
)

COMMANDS: tuple[CommandSpec, ...] = (
    SEND_TO_POLICE, WITHDRAW_FROM_POLICE, APPROVE_REQUEST, REFUSE_REQUEST, COMPLETE_RETENTION,
)
