"""Users: argon2id-hashed passwords in the hub's database, roles, disabling, and audited changes."""

from __future__ import annotations

import sqlite3

import pytest
from argon2 import PasswordHasher, Type
from twisted.internet.task import Clock

from hub.audit import Actor, create_audit_log, verify_chain
from hub.auth.users import (
    ROLES,
    UnknownUser,
    User,
    UserExists,
    UserStore,
    add_user_offline,
    create_users,
    disable_user_offline,
    list_users_offline,
)
from hub.sqlite_writer import InlineSqliteWriter, WriterSettings
from hub.testing import failure_result_of, success_result_of

MIGRATIONS = (create_audit_log, create_users)
PASSWORD = "correct horse battery staple"
ADMIN = Actor(name="root-admin", role="admin", address="10.0.0.2")


class CountingHasher(PasswordHasher):
    """A cheap argon2id hasher that counts verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
        self.verified = 0

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        self.verified += 1
        return super().verify(hash, password)


class Harness:
    def __init__(self, path) -> None:
        self.path = path
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.hasher = CountingHasher()
        self.writer = InlineSqliteWriter(path, WriterSettings(), self.clock, MIGRATIONS)
        self.writer.start()
        self.store = UserStore(self.writer, self.clock, path, hasher=self.hasher)

    def add(self, name="alice", role="operator", password=PASSWORD, actor=None):
        added = self.store.add(name, role, password, actor=actor)
        self.clock.advance(0)
        return added

    def rows(self, sql):
        connection = sqlite3.connect(self.path)
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()

    def close(self):
        self.store.close()
        self.writer.stop()


@pytest.fixture
def users(tmp_path):
    harness = Harness(tmp_path / "hub.sqlite3")
    yield harness
    harness.close()


def test_roles_are_the_four_console_roles():
    """Users are operators, supervisors, admins or auditors."""
    assert ROLES == ("operator", "supervisor", "admin", "auditor")


def test_an_added_user_can_be_read_back(users):
    """add() stores the user; get() and list() return it, enabled, with its creation time."""
    user = success_result_of(users.add())
    assert user == User(name="alice", role="operator", disabled=False, created_at=1_700_000_000.0)
    assert users.store.get("alice") == user
    assert users.store.list() == [user]


def test_the_password_is_stored_only_as_an_argon2id_hash(users):
    """The users table holds an argon2id hash, never the password."""
    success_result_of(users.add())
    ((stored,),) = users.rows("SELECT password_hash FROM users")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_name_taken_in_any_case_is_refused(users):
    """Adding "Alice" when "alice" exists fails with UserExists."""
    success_result_of(users.add("alice"))
    failure_result_of(users.add("Alice")).trap(UserExists)


@pytest.mark.parametrize("name", ["", "a" * 65, "has space", "semi;colon", "ünï", "a/b"])
def test_a_bad_name_is_refused(users, name):
    """Names are 1 to 64 of letters, digits, '_', '.', '-'."""
    failure = failure_result_of(users.add(name))
    failure.trap(ValueError)
    assert "1 to 64" in str(failure.value)


def test_an_unknown_role_is_refused(users):
    """Only the four roles can be given."""
    failure_result_of(users.add(role="root")).trap(ValueError)


def test_a_short_password_is_refused_without_showing_it(users):
    """Fewer than 12 characters is refused, and the message does not contain the password."""
    failure = failure_result_of(users.add(password="short-pw-11"))
    failure.trap(ValueError)
    assert "12" in str(failure.value) and "short-pw-11" not in str(failure.value)


def test_a_twelve_character_password_is_accepted(users):
    """Exactly 12 characters is enough."""
    success_result_of(users.add(password="x" * 12))


def test_the_right_password_authenticates(users):
    """authenticate() returns the user for their password."""
    success_result_of(users.add())
    assert users.store.authenticate("alice", PASSWORD).name == "alice"


def test_names_match_without_regard_to_case_at_login(users):
    """Logging in as "ALICE" finds alice, under her stored name."""
    success_result_of(users.add())
    assert users.store.authenticate("ALICE", PASSWORD).name == "alice"


def test_a_wrong_password_does_not_authenticate(users):
    """A wrong password gives None."""
    success_result_of(users.add())
    assert users.store.authenticate("alice", PASSWORD + "x") is None


def test_an_unknown_user_costs_one_verification_like_a_known_one(users):
    """An unknown name is checked against a dummy hash, so it takes as long as a real user."""
    success_result_of(users.add())
    users.hasher.verified = 0
    assert users.store.authenticate("nobody", PASSWORD) is None
    assert users.store.authenticate("not a valid name!", PASSWORD) is None
    assert users.store.authenticate("alice", "wrong password!") is None
    assert users.hasher.verified == 3


def test_a_disabled_user_cannot_log_in_even_with_the_right_password(users):
    """After disable(), the correct password gives None (and is still checked, for equal timing)."""
    success_result_of(users.add())
    users.store.disable("alice")
    users.clock.advance(0)
    users.hasher.verified = 0
    assert users.store.authenticate("alice", PASSWORD) is None
    assert users.hasher.verified == 1
    assert users.store.get("alice").disabled and not users.store.is_enabled("alice")


def test_disabling_an_unknown_user_fails(users):
    """disable() of a name that does not exist fails with UnknownUser."""
    disabled = users.store.disable("ghost")
    users.clock.advance(0)
    failure_result_of(disabled).trap(UnknownUser)


def test_changes_by_an_actor_are_audited_in_the_same_transaction(users):
    """add and disable with an actor write user.add and user.disable rows, chained and without secrets."""
    success_result_of(users.add(actor=ADMIN))
    users.store.disable("alice", actor=ADMIN)
    users.clock.advance(0)
    rows = users.rows("SELECT actor, role, address, action, target, detail FROM audit_log ORDER BY id")
    assert rows == [
        ("root-admin", "admin", "10.0.0.2", "user.add", "user:alice", '{"role":"operator"}'),
        ("root-admin", "admin", "10.0.0.2", "user.disable", "user:alice", "{}"),
    ]
    connection = sqlite3.connect(users.path)
    assert verify_chain(connection).ok
    connection.close()


def test_a_refused_add_leaves_no_audit_row(users):
    """A duplicate name fails with its audit row rolled back too."""
    success_result_of(users.add(actor=ADMIN))
    failure_result_of(users.add("ALICE", actor=ADMIN)).trap(UserExists)
    assert users.rows("SELECT count(*) FROM audit_log") == [(1,)]


def test_neither_password_nor_hash_is_logged(users, captured_logs):
    """Adding and logging in log the user and role, never the password or its hash."""
    success_result_of(users.add())
    users.store.authenticate("alice", PASSWORD)
    ((stored,),) = users.rows("SELECT password_hash FROM users")
    text = repr(captured_logs)
    assert "user_added" in text
    assert PASSWORD not in text and stored not in text


class InlineThreadPool:
    def callInThreadWithCallback(self, on_result, function, *args, **kwargs):  # noqa: N802 - Twisted's name
        try:
            result = function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001
            on_result(False, error)
        else:
            on_result(True, result)


class InlineReactor:
    def getThreadPool(self):  # noqa: N802 - Twisted's name
        return InlineThreadPool()

    def callFromThread(self, function, *args, **kwargs):  # noqa: N802 - Twisted's name
        function(*args, **kwargs)


def test_authentication_in_the_thread_pool_gives_the_same_answers(users):
    """authenticate_in_thread hashes off the reactor thread and agrees with authenticate."""
    success_result_of(users.add())
    reactor = InlineReactor()
    assert success_result_of(users.store.authenticate_in_thread(reactor, "alice", PASSWORD)).name == "alice"
    assert success_result_of(users.store.authenticate_in_thread(reactor, "alice", "nope")) is None
    assert success_result_of(users.store.authenticate_in_thread(reactor, "ghost", PASSWORD)) is None


# --- offline, for the hub user command ---------------------------------------------------------------------


def test_offline_add_creates_the_database_and_audits_as_cli(tmp_path):
    """add_user_offline makes the file if need be, inserts the user and audits user.add by cli."""
    path = tmp_path / "data" / "hub.sqlite3"
    user = add_user_offline(path, "bob", "admin", PASSWORD, 1_700_000_000.0, migrations=MIGRATIONS,
                            hasher=CountingHasher(), audit_detail={"os_user": "ops"})
    assert user.role == "admin"
    assert list_users_offline(path, migrations=MIGRATIONS) == [user]
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT actor, role, address, action, target, detail FROM audit_log").fetchall() == [
        ("cli", "cli", "cli", "user.add", "user:bob", '{"os_user":"ops","role":"admin"}')
    ]
    connection.close()


def test_offline_disable_marks_the_user_disabled_and_audits_it(tmp_path):
    """disable_user_offline disables and writes user.disable; an unknown name fails and writes nothing."""
    path = tmp_path / "hub.sqlite3"
    add_user_offline(path, "bob", "operator", PASSWORD, 1.0, migrations=MIGRATIONS, hasher=CountingHasher())
    assert disable_user_offline(path, "bob", 2.0, migrations=MIGRATIONS).disabled
    with pytest.raises(UnknownUser):
        disable_user_offline(path, "ghost", 3.0, migrations=MIGRATIONS)
    connection = sqlite3.connect(path)
    assert [a for (a,) in connection.execute("SELECT action FROM audit_log ORDER BY id")] == ["user.add", "user.disable"]
    connection.close()


def test_an_offline_add_chains_onto_rows_the_hub_wrote(users):
    """The command line and the running hub write one chain in one file."""
    success_result_of(users.add(actor=ADMIN))
    add_user_offline(users.path, "bob", "auditor", PASSWORD, 5.0, migrations=MIGRATIONS, hasher=CountingHasher())
    success_result_of(users.add("carol", actor=ADMIN))
    connection = sqlite3.connect(users.path)
    report = verify_chain(connection)
    connection.close()
    assert (report.ok, report.rows) == (True, 3)
    assert [u.name for u in users.store.list()] == ["alice", "bob", "carol"]
