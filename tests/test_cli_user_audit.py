"""The hub user and hub audit commands, run through hub.cli.main on a real database file."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys

import pytest

from hub import cli
from hub.auth import cli as auth_cli

PASSWORD = "correct horse battery staple"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\nname = "Test room"\ndata_dir = "data"\n')
    return path


@pytest.fixture
def database(tmp_path):
    return tmp_path / "data" / "journal.sqlite3"


def run(capsys, monkeypatch, *argv, stdin: str = ""):
    """Run ``hub ARGV`` in this process with ``stdin``; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def hub(capsys, monkeypatch, config):
    def hub(*argv, stdin=""):
        return run(capsys, monkeypatch, *[arg.replace("CONFIG", str(config)) for arg in argv], stdin=stdin)

    return hub


def add(hub, name="alice", role="operator", password=PASSWORD):
    return hub("user", "add", name, "--role", role, "--config", "CONFIG", stdin=password + "\n")


def rows(database, sql, *params):
    connection = sqlite3.connect(database)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def tamper(database, sql, *params):
    """What someone with the file and the sqlite3 shell can do: drop the triggers and change the table."""
    connection = sqlite3.connect(database)
    try:
        connection.execute("DROP TRIGGER audit_log_no_update")
        connection.execute("DROP TRIGGER audit_log_no_delete")
        connection.execute(sql, params)
        connection.commit()
    finally:
        connection.close()


# --- hub user ----------------------------------------------------------------------------------------------


def test_user_add_reads_the_password_from_stdin_and_stores_an_argon2id_hash(hub, database):
    """hub user add takes one line of stdin as the password and stores only its argon2id hash."""
    code, out, err = add(hub)
    assert (code, out, err) == (0, "added user alice (operator)\n", "")
    ((stored,),) = rows(database, "SELECT password_hash FROM users WHERE name = 'alice'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_user_add_is_audited_as_the_command_line_without_the_password(hub, database):
    """The new user is recorded as user.add by actor cli; the password is nowhere in the audit log."""
    add(hub, role="admin")
    ((actor, role, address, action, target, detail),) = rows(
        database, "SELECT actor, role, address, action, target, detail FROM audit_log"
    )
    assert (actor, role, address, action, target) == ("cli", "cli", "cli", "user.add", "user:alice")
    assert json.loads(detail)["role"] == "admin"
    assert PASSWORD not in repr(rows(database, "SELECT * FROM audit_log"))


def test_user_add_on_a_terminal_asks_twice_without_echo(hub, monkeypatch, database):
    """On a terminal the password is asked for twice with getpass; both must match."""
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr(auth_cli.getpass, "getpass", lambda prompt: next(answers))
    monkeypatch.setattr(auth_cli.sys, "stdin", Terminal())
    assert auth_cli.read_password(auth_cli.sys.stdin, "alice") == PASSWORD
    answers = iter([PASSWORD, PASSWORD + "x"])
    with pytest.raises(cli.CliError, match="differ"):
        auth_cli.read_password(auth_cli.sys.stdin, "alice")


def test_a_password_under_12_characters_is_refused(hub, database):
    """Eleven characters exits 2, adds nobody and does not echo the password."""
    code, out, err = add(hub, password="elevenchars")
    assert code == 2 and "at least 12" in err and "elevenchars" not in out + err
    assert not database.exists()


@pytest.mark.parametrize("name", ["has space", "x" * 65, "semi;colon"])
def test_a_bad_user_name_is_refused_before_the_password_is_read(hub, name, tmp_path):
    """A bad name exits 2 without reading a password or creating a database."""
    code, _out, err = add(hub, name=name)
    assert code == 2 and "1 to 64" in err
    assert not (tmp_path / "data").exists()


def test_an_unknown_role_is_refused_by_the_parser(hub):
    """--role accepts only the four roles."""
    with pytest.raises(SystemExit) as exit_info:
        add(hub, role="root")
    assert exit_info.value.code == 2


def test_adding_an_existing_name_exits_2(hub):
    """A second user of the same name (in any case) is refused."""
    add(hub)
    code, _out, err = add(hub, name="ALICE")
    assert code == 2 and "already exists" in err


def test_user_list_shows_each_user_with_role_and_state(hub):
    """hub user list prints one line per user: name, role, enabled or disabled."""
    add(hub, "alice", "operator")
    add(hub, "bob", "auditor")
    hub("user", "disable", "bob", "--config", "CONFIG")
    code, out, _err = hub("user", "list", "--config", "CONFIG")
    lines = [line.split()[:3] for line in out.splitlines()]
    assert code == 0 and lines == [["alice", "operator", "enabled"], ["bob", "auditor", "disabled"]]


def test_user_disable_marks_the_user_and_is_audited(hub, database):
    """hub user disable disables the user and writes user.disable by cli."""
    add(hub)
    code, out, _err = hub("user", "disable", "alice", "--config", "CONFIG")
    assert code == 0 and "disabled user alice" in out
    assert rows(database, "SELECT disabled FROM users") == [(1,)]
    assert rows(database, "SELECT actor, action FROM audit_log ORDER BY id")[-1] == ("cli", "user.disable")


def test_disabling_an_unknown_user_exits_2(hub):
    """A name that does not exist is reported, exit 2."""
    add(hub)
    code, _out, err = hub("user", "disable", "ghost", "--config", "CONFIG")
    assert code == 2 and "ghost" in err


def test_user_enable_lets_a_disabled_user_back_in_and_is_audited(hub, database):
    """hub user enable clears disabled and writes user.enable by cli."""
    add(hub)
    hub("user", "disable", "alice", "--config", "CONFIG")
    code, out, _err = hub("user", "enable", "alice", "--config", "CONFIG")
    assert code == 0 and "enabled user alice" in out
    assert rows(database, "SELECT disabled FROM users") == [(0,)]
    assert rows(database, "SELECT action FROM audit_log ORDER BY id")[-1] == ("user.enable",)


def test_user_password_replaces_the_hash_and_is_audited_without_it(hub, database):
    """hub user password stores a new argon2id hash from stdin and writes user.password without either."""
    add(hub)
    ((before,),) = rows(database, "SELECT password_hash FROM users")
    code, out, _err = hub("user", "password", "alice", "--config", "CONFIG", stdin="a brand new passphrase\n")
    ((after,),) = rows(database, "SELECT password_hash FROM users")
    assert code == 0 and "new password set for alice" in out
    assert after != before and after.startswith("$argon2id$")
    ((action, detail),) = rows(database, "SELECT action, detail FROM audit_log WHERE id = 2")
    assert action == "user.password" and "passphrase" not in detail and "$argon2" not in detail


def test_user_password_refuses_a_short_one(hub, database):
    """A new password under 12 characters is refused and the old one kept."""
    add(hub)
    code, _out, err = hub("user", "password", "alice", "--config", "CONFIG", stdin="short\n")
    assert code == 2 and "at least 12" in err
    assert rows(database, "SELECT count(*) FROM audit_log") == [(1,)]


def test_user_list_before_the_hub_ever_ran_says_so(hub):
    """With no database yet, list exits 2 naming the missing file."""
    code, _out, err = hub("user", "list", "--config", "CONFIG")
    assert code == 2 and "no database" in err


# --- hub audit verify --------------------------------------------------------------------------------------


@pytest.fixture
def audited(hub):
    """Five audit rows: three users added, two disabled."""
    for name in ("alice", "bob", "carol"):
        add(hub, name)
    for name in ("alice", "bob"):
        hub("user", "disable", name, "--config", "CONFIG")
    return hub


def test_audit_verify_prints_ok_with_the_row_count(audited, database):
    """An untouched log verifies: OK, the row count and the head hash, exit 0."""
    code, out, _err = audited("audit", "verify", "--config", "CONFIG")
    ((head,),) = rows(database, "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
    assert (code, out) == (0, f"audit log OK: 5 rows, head {head}\n")


def test_audit_verify_names_a_deleted_row(audited, database):
    """Deleting row 3 with sqlite3 makes verify exit 1 and name row 3."""
    tamper(database, "DELETE FROM audit_log WHERE id = 3")
    code, out, _err = audited("audit", "verify", "--config", "CONFIG")
    assert code == 1
    assert "  row 3 missing: deleted\n" in out


def test_audit_verify_names_an_edited_row(audited, database):
    """Changing who did row 2 makes verify exit 1 and name row 2 as edited."""
    tamper(database, "UPDATE audit_log SET actor = 'someone-else' WHERE id = 2")
    code, out, _err = audited("audit", "verify", "--config", "CONFIG")
    assert code == 1
    assert "  row 2: edited (its contents do not give its hash)\n" in out
    assert "row 3" not in out and "row 1" not in out


def test_audit_verify_names_a_removed_tail(audited, database):
    """Deleting the last two rows makes verify name them as a removed tail."""
    tamper(database, "DELETE FROM audit_log WHERE id > 3")
    code, out, _err = audited("audit", "verify", "--config", "CONFIG")
    assert code == 1 and "  rows 4-5 missing at the end: tail removed\n" in out


def test_the_triggers_stop_casual_edits(audited, database):
    """Without dropping the triggers, sqlite3 cannot change or delete a row."""
    connection = sqlite3.connect(database)
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("DELETE FROM audit_log WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("UPDATE audit_log SET actor = 'x'")
    connection.close()
    assert audited("audit", "verify", "--config", "CONFIG")[0] == 0


# --- hub audit export --------------------------------------------------------------------------------------


def test_audit_export_writes_csv_to_stdout_and_is_audited(audited, database):
    """export --format csv prints the rows, including its own audit.export row by cli."""
    code, out, err = audited("audit", "export", "--config", "CONFIG")
    exported = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and "exported 6 audit rows" in err
    assert [row["action"] for row in exported] == ["user.add"] * 3 + ["user.disable"] * 2 + ["audit.export"]
    assert (exported[-1]["actor"], json.loads(exported[-1]["detail"])["format"]) == ("cli", "csv")


def test_audit_export_writes_jsonl_to_a_file(audited, tmp_path):
    """export --format jsonl --output FILE writes one JSON object per row to the file."""
    target = tmp_path / "audit.jsonl"
    code, out, _err = audited("audit", "export", "--config", "CONFIG", "--format", "jsonl", "--output", str(target))
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert code == 0 and out == ""
    assert [line["id"] for line in lines] == [1, 2, 3, 4, 5, 6]


def test_an_export_keeps_the_chain_whole(audited):
    """The export's own audit row chains on, so verify stays OK."""
    audited("audit", "export", "--config", "CONFIG", "--format", "jsonl")
    code, out, _err = audited("audit", "verify", "--config", "CONFIG")
    assert code == 0 and out.startswith("audit log OK: 6 rows")


def test_no_password_is_in_any_export(audited):
    """Neither passwords nor their hashes appear in the exported audit log."""
    _code, out, _err = audited("audit", "export", "--config", "CONFIG", "--format", "jsonl")
    assert PASSWORD not in out and "$argon2" not in out


def test_audit_commands_are_listed_as_built_in():
    """user and audit are reserved, so a plugin cannot take their names."""
    assert {"user", "audit"} <= set(cli.BUILT_IN_COMMANDS)


def test_verify_without_a_database_exits_2(hub):
    """No database yet: verify says so and exits 2."""
    code, _out, err = hub("audit", "verify", "--config", "CONFIG")
    assert code == 2 and "no database" in err


def test_user_commands_work_without_the_partner_keys_the_service_reads(hub, config, monkeypatch):
    """An administrator adds users without holding every partner key the running hub needs."""
    monkeypatch.delenv("TEST_PARTNER_KEY", raising=False)
    config.write_text(config.read_text() + '[partners.bid]\nkey = { env = "TEST_PARTNER_KEY" }\n')
    code, out, err = add(hub)
    assert code == 0, err
    code, out, err = hub("check-config", "CONFIG")
    assert code == 2 and "TEST_PARTNER_KEY" in err
