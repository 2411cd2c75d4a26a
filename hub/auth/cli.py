"""The ``hub user`` and ``hub audit`` commands: manage console users and check or export the audit log.

They open the hub's database file directly (the journal file in the data directory) and may run while
the hub runs. Adding or disabling a user and exporting the audit log are themselves audited, with the
actor ``cli`` and the operating-system user in the detail.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path
from typing import Any, Callable, TextIO

from hub.audit import (
    CLI_ACTOR,
    audit_job,
    export_csv,
    export_jsonl,
    format_at,
    verify_chain,
)
from hub.auth.users import (
    ROLES,
    UnknownUser,
    UserExists,
    add_user_offline,
    check_new_user,
    check_password,
    disable_user_offline,
    enable_user_offline,
    list_users_offline,
    open_database,
    set_password_offline,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _now() -> float:
    # A command run by hand is the edge of the system: the one place here where the wall clock is read,
    # and handed on to the user store and audit log, which take the time as an argument.
    return time.time()


def _database(args: argparse.Namespace, *, must_exist: bool) -> Path:
    from hub.app import journal_path
    from hub.cli import CliError, load

    config, _host = load(args.config, read_secrets=False)
    path = journal_path(config)
    if must_exist and not path.is_file():
        raise CliError(f"no database at {path}: has the hub run with this configuration?")
    return path


def _os_user() -> dict[str, str]:
    # Who ran the command, for the audit row: the account is all the command line knows of them.
    try:
        return {"os_user": getpass.getuser()}
    except (KeyError, OSError):
        return {}


def read_password(stdin: TextIO, name: str) -> str:
    """The new password: asked twice without echo on a terminal, else the first line of standard input."""
    from hub.cli import CliError

    if stdin.isatty():
        first = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Same password again: ") != first:
            raise CliError("the two passwords differ; nothing was changed")
        return first
    line = stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


# --- hub user -----------------------------------------------------------------------------------------------


def cmd_user_add(args: argparse.Namespace) -> int:
    from hub.cli import CliError

    try:
        # Name and role are checked before the password is asked for, so a typo costs no typing.
        check_new_user(args.name, args.role, "x" * 12)
    except ValueError as error:
        raise CliError(str(error)) from None
    path = _database(args, must_exist=False)
    password = read_password(sys.stdin, args.name)
    try:
        # The command line is the edge of the hub: its clock is the wall clock.
        user = add_user_offline(path, args.name, args.role, password, _now(), audit_detail=_os_user())
    except ValueError as error:
        raise CliError(str(error)) from None
    except UserExists as error:
        raise CliError(str(error)) from None
    print(f"added user {user.name} ({user.role})")
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace) -> int:
    users = list_users_offline(_database(args, must_exist=True))
    if not users:
        print("no users yet; add one with: hub user add NAME --role admin --config FILE")
        return EXIT_OK
    width = max(len(user.name) for user in users)
    for user in users:
        state = "disabled" if user.disabled else "enabled"
        print(f"{user.name:<{width}}  {user.role:<10}  {state:<8}  created {format_at(user.created_at)[:19]}Z")
    return EXIT_OK


def cmd_user_disable(args: argparse.Namespace) -> int:
    from hub.cli import CliError

    try:
        user = disable_user_offline(
            _database(args, must_exist=True), args.name, _now(), audit_detail=_os_user()
        )
    except UnknownUser as error:
        raise CliError(str(error.args[0])) from None
    print(f"disabled user {user.name}; a running hub ends their sessions at their next request")
    return EXIT_OK


def cmd_user_enable(args: argparse.Namespace) -> int:
    from hub.cli import CliError

    try:
        user = enable_user_offline(_database(args, must_exist=True), args.name, _now(), audit_detail=_os_user())
    except UnknownUser as error:
        raise CliError(str(error.args[0])) from None
    print(f"enabled user {user.name}")
    return EXIT_OK


def cmd_user_password(args: argparse.Namespace) -> int:
    from hub.cli import CliError

    path = _database(args, must_exist=True)
    password = read_password(sys.stdin, args.name)
    try:
        check_password(password)
        user = set_password_offline(path, args.name, password, _now(), audit_detail=_os_user())
    except ValueError as error:
        raise CliError(str(error)) from None
    except UnknownUser as error:
        raise CliError(str(error.args[0])) from None
    print(f"new password set for {user.name}")
    return EXIT_OK


# --- hub audit ----------------------------------------------------------------------------------------------


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from hub.journal import open_reader

    connection = open_reader(_database(args, must_exist=True))
    try:
        report = verify_chain(connection)
    finally:
        connection.close()
    if report.ok:
        head = f", head {report.head}" if report.head else ""
        print(f"audit log OK: {report.rows} row{'' if report.rows == 1 else 's'}{head}")
        return EXIT_OK
    print(f"audit log BROKEN: {report.rows} rows, {len(report.problems)} problem(s)")
    for problem in report.problems:
        print(f"  {problem}")
    return EXIT_FAILED


def cmd_audit_export(args: argparse.Namespace) -> int:
    path = _database(args, must_exist=True)
    export: Callable[..., int] = export_csv if args.format == "csv" else export_jsonl
    # The export is recorded before it is written, so even an export that fails half-way is on record.
    connection = open_database(path)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            audit_job(
                CLI_ACTOR, "audit.export", "audit_log",
                {"format": args.format, "after_id": args.after, **_os_user()}, _now(),
            )(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = export(connection, out, after_id=args.after)
        else:
            count = export(connection, sys.stdout, after_id=args.after)
            sys.stdout.flush()
    finally:
        connection.close()
    print(f"exported {count} audit rows", file=sys.stderr)
    return EXIT_OK


# --- parsing ------------------------------------------------------------------------------------------------


def add_user_command(commands: Any) -> None:
    """Add ``hub user add|list|disable|enable|password`` to the ``hub`` parser's sub-commands."""
    user = commands.add_parser("user", help="add, list, disable, enable console users and set passwords")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add a user; the password is read from standard input")
    add.add_argument("name", help="1-64 letters, digits, '_', '.', '-'")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--config", required=True, help="TOML configuration file")
    add.set_defaults(handler=cmd_user_add)

    listing = actions.add_parser("list", help="list users with their role and state")
    listing.add_argument("--config", required=True)
    listing.set_defaults(handler=cmd_user_list)

    disable = actions.add_parser("disable", help="disable a user: no more logins")
    disable.add_argument("name")
    disable.add_argument("--config", required=True)
    disable.set_defaults(handler=cmd_user_disable)

    enable = actions.add_parser("enable", help="enable a disabled user again")
    enable.add_argument("name")
    enable.add_argument("--config", required=True)
    enable.set_defaults(handler=cmd_user_enable)

    password = actions.add_parser("password", help="set a new password, read from standard input")
    password.add_argument("name")
    password.add_argument("--config", required=True)
    password.set_defaults(handler=cmd_user_password)


def add_audit_command(commands: Any) -> None:
    """Add ``hub audit verify|export`` to the ``hub`` parser's sub-commands."""
    audit = commands.add_parser("audit", help="verify or export the hash-chained audit log")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    verify = actions.add_parser("verify", help="check the hash chain; exit 0 if whole, 1 naming each bad row")
    verify.add_argument("--config", required=True)
    verify.set_defaults(handler=cmd_audit_verify)

    export = actions.add_parser("export", help="write the audit log as CSV or JSON lines (itself audited)")
    export.add_argument("--config", required=True)
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", help="file to write (default: standard output)")
    export.add_argument("--after", type=int, default=0, help="only rows after this id")
    export.set_defaults(handler=cmd_audit_export)

