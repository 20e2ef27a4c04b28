"""Accounts and what users keep: the library database's functions, and `papertrack users`
end to end (CLI -> SQLite)."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta

import pytest

from papertrack.accounts import entries, users
from papertrack.accounts.schema import load_secret, open_library, secret_path, transaction
from papertrack.errors import UsageError
from papertrack.models import ascii_int
from papertrack.store.papers import save_papers
from papertrack.store.schema import open_db
from papertrack.store.schema import transaction as db_transaction
from tests.helpers import make_paper

PASSWORD = "correct horse battery"


@pytest.fixture
def lib(tmp_path):
    db = open_library(tmp_path / "library.db")
    yield db.conn
    db.close()


def add(conn, name="alice", role="reader", password=PASSWORD):
    with transaction(conn):
        return users.add_user(conn, name, password, role)


def test_library_file_and_secret_are_private_and_the_secret_survives(tmp_path):
    open_library(tmp_path / "library.db").close()
    assert stat.S_IMODE(os.stat(tmp_path / "library.db").st_mode) == 0o600
    first = load_secret(tmp_path / "library.db")
    assert stat.S_IMODE(os.stat(secret_path(tmp_path / "library.db")).st_mode) == 0o600
    assert len(first) == 64 and load_secret(tmp_path / "library.db") == first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_passwords_are_hashed_with_argon2_and_verified(lib):
    add(lib)
    stored = lib.execute("select password_hash from users").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert users.verify_password(lib, "ALICE", PASSWORD).name == "alice"
    assert users.verify_password(lib, "alice", PASSWORD + "x") is None
    assert users.verify_password(lib, "nobody", PASSWORD) is None
    assert users.verify_password(lib, "alice", "x" * 5000) is None


@pytest.mark.parametrize(
    "name, message",
    [("", "not valid"), ("-alice", "not valid"), ("a b", "not valid"), ("x" * 65, "not valid"), ("alice", "exists already")],
)
def test_bad_names_are_refused(lib, name, message):
    add(lib)
    with pytest.raises(UsageError, match=message):
        add(lib, name)


def test_short_passwords_and_unknown_roles_are_refused(lib):
    with pytest.raises(UsageError, match="at least 8"):
        add(lib, password="short")
    with pytest.raises(UsageError, match="not one of"):
        add(lib, role="admin")


def test_sessions_store_only_a_digest_and_end(lib):
    user = add(lib)
    with transaction(lib):
        token = users.start_session(lib, user)
    assert token not in str(lib.execute("select * from sessions").fetchall())
    assert users.session_user(lib, token) == user
    assert users.session_user(lib, token + "x") is None
    with transaction(lib):
        users.end_session(lib, token)
    assert users.session_user(lib, token) is None


def test_a_new_password_ends_every_session(lib):
    user = add(lib)
    with transaction(lib):
        tokens = [users.start_session(lib, user) for _ in range(3)]
        assert users.set_password(lib, "alice", "another password") == 3
    assert all(users.session_user(lib, t) is None for t in tokens)
    assert users.verify_password(lib, "alice", "another password")


def test_expired_sessions_are_refused(lib):
    user = add(lib)
    with transaction(lib):
        token = users.start_session(lib, user, days=0)
    assert users.session_user(lib, token) is None


def test_wrong_passwords_lock_the_name_for_a_while(lib):
    for n in range(1, users.MAX_FAILURES + 1):
        assert users.locked_for(lib, "alice") == 0
        with transaction(lib):
            assert users.record_failure(lib, "Alice") == n
    left = users.locked_for(lib, "alice")
    assert users.LOCKOUT.total_seconds() - 5 < left <= users.LOCKOUT.total_seconds()
    assert users.locked_for(lib, "alice", now=datetime.now(UTC) + users.LOCKOUT + timedelta(seconds=1)) == 0
    assert users.locked_for(lib, "bob") == 0
    with transaction(lib):
        users.clear_failures(lib, "alice")
    assert users.locked_for(lib, "alice") == 0


def test_an_attempt_is_counted_before_its_password_is_checked(lib):
    """`begin_attempt` checks the lock-out and counts in one step; a right password
    (`check_password_hash`, then `finish_sign_in`) clears the count."""
    alice = add(lib)
    for _ in range(users.MAX_FAILURES - 1):
        with transaction(lib):
            attempt = users.begin_attempt(lib, "Alice")
        assert attempt.wait == 0 and attempt.user_id == alice.id
        assert users.check_password_hash(attempt.stored, "wrong password") == (False, None)
    with transaction(lib):
        attempt = users.begin_attempt(lib, "alice")
    assert users.locked_for(lib, "alice") > 0  # counted before the check: a concurrent attempt is refused
    matches, rehashed = users.check_password_hash(attempt.stored, PASSWORD)
    with transaction(lib):
        assert matches and users.finish_sign_in(lib, attempt, rehashed) == alice
    assert users.locked_for(lib, "alice") == 0
    with transaction(lib):
        unknown = users.begin_attempt(lib, "nobody")
    assert unknown.user_id is None and users.check_password_hash(unknown.stored, PASSWORD) == (False, None)


@pytest.mark.parametrize(
    "text, digits, number",
    [("7", 4, 7), ("0042", 4, 42), ("12345", 4, None), ("²", 4, None), ("٣", 4, None), ("", 4, None), ("-1", 4, None),
     (" 1", 4, None), ("1_0", 4, None), ("9" * 18, 18, 10**18 - 1)],
)  # fmt: skip
def test_numbers_in_forms_and_urls_are_ascii_digits_only(text, digits, number):
    """`models.ascii_int`, for the desk's positions and drafts, saved searches' ids and feed tokens."""
    assert ascii_int(text, digits) == number


def test_feed_tokens_name_their_user_and_rotate(lib):
    alice, bob = add(lib), add(lib, "bob")
    with transaction(lib):
        token = users.feed_token(lib, "alice")
    assert users.feed_user(lib, token) == alice
    number, _, secret = token.partition(".")
    assert users.feed_user(lib, f"{bob.id}.{secret}") is None  # alice's secret is not bob's
    for bad in ("", ".", "x.y", f"{number}.", f"{number}.{secret[:-1]}", "9" * 40 + ".x", "١." + secret):
        assert users.feed_user(lib, bad) is None
    with transaction(lib):
        rotated = users.feed_token(lib, "alice", rotate=True)
    assert rotated != token and users.feed_user(lib, token) is None and users.feed_user(lib, rotated) == alice


def test_a_removed_accounts_number_is_never_given_again(lib, tmp_path):
    """A running site keeps each reader's ranking under their number: a new account must
    not inherit the ranking (and its reasons) of the removed account whose number it got.
    A library made before AUTOINCREMENT is rebuilt on opening, its accounts kept."""
    add(lib), add(lib, "bob")
    with transaction(lib):
        users.remove_user(lib, "bob")
        carol = users.add_user(lib, "carol", PASSWORD)
    assert carol.id == 3
    old = tmp_path / "old" / "library.db"
    old.parent.mkdir()
    conn = sqlite3.connect(old)
    with conn:
        conn.execute(
            lib.execute("select sql from sqlite_master where name = 'users'").fetchone()[0].replace(" AUTOINCREMENT", "")
        )
        conn.execute("insert into users values (1, 'dan', 'reader', 'x', 'tok1', 4, '2024-01-01T00:00:00Z', null)")
        conn.execute("insert into users values (2, 'eve', 'editor', 'y', 'tok2', 0, '2024-01-01T00:00:00Z', null)")
    conn.close()
    db = open_library(old)
    with transaction(db.conn):
        users.remove_user(db.conn, "eve")
        frank = users.add_user(db.conn, "frank", PASSWORD)
    assert frank.id == 3 and users.get_user(db.conn, "dan") == users.User(1, "dan", "reader", 4)
    assert {i.name for i in db["users"].indexes} == {"idx_users_name", "idx_users_feed_token"}  # type: ignore[union-attr]
    db.close()


def test_library_actions_keep_likes_and_dislikes_apart(lib):
    user = add(lib)

    def do(paper, action):
        with transaction(lib):
            entries.apply(lib, user.id, paper, action)
        return entries.states(lib, user.id, [paper]).get(paper, set())

    assert do("p1", "save") == {"save"}
    assert do("p1", "like") == {"save", "like"}
    assert do("p1", "dislike") == {"dislike"}  # less like this: not saved, not liked
    assert do("p1", "save") == {"save"}
    assert do("p1", "unsave") == set()
    assert do("p2", "like") == {"like"} and do("p2", "clear") == set()
    do("p3", "save"), do("p4", "like"), do("p5", "dislike")
    assert entries.profile(lib, user.id) == (["p3", "p4"], ["p5"])
    assert lib.execute("select library_version from users").fetchone()[0] == 10
    with pytest.raises(UsageError, match="not one of"):
        entries.apply(lib, user.id, "p1", "delete")


def test_muted_phrases_are_normalised_and_bounded(lib):
    user = add(lib)
    with transaction(lib):
        assert entries.mute(lib, user.id, "  Large   Language-Models! ") == "large language models"
        entries.mute(lib, user.id, "large language models")
    assert entries.muted(lib, user.id) == ["large language models"]
    with pytest.raises(UsageError, match="at least one word"):
        entries.mute(lib, user.id, "<>!?")
    with pytest.raises(UsageError, match="at most"):
        entries.mute(lib, user.id, "word " * 30)


def test_saved_searches_are_per_user(lib):
    alice, bob = add(lib), add(lib, "bob")
    with transaction(lib):
        first = entries.save_search(lib, alice.id, "  pruning  papers ", "q=pruning")
        entries.save_search(lib, alice.id, "pruning papers", "q=pruning&tag=nas")
    assert [(s.name, s.query) for s in entries.searches(lib, alice.id)] == [("pruning papers", "q=pruning&tag=nas")]
    assert entries.get_search(lib, bob.id, first.id) is None
    with transaction(lib):
        assert not entries.delete_search(lib, bob.id, first.id)
        assert entries.delete_search(lib, alice.id, first.id)


# ---------------------------------------------------------------- papertrack users


def test_users_commands_end_to_end(run_cli, tmp_path):
    result = run_cli("users", "add", "Alice", "--role", "editor", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Added alice (editor)" in result.output and PASSWORD not in result.output
    assert (tmp_path / "db" / "library.db").is_file() and not (tmp_path / "db" / "papers.db").exists()
    assert run_cli("users", "add", "bob", input=PASSWORD + "\n").exit_code == 0

    listed = run_cli("users", "list").output
    assert "alice" in listed and "editor" in listed and "bob" in listed

    again = run_cli("users", "add", "bob", input=PASSWORD + "\n")
    assert again.exit_code == 2 and "exists already" in again.output

    short = run_cli("users", "password", "bob", input="short\n")
    assert short.exit_code == 2 and "at least 8" in short.output
    changed = run_cli("users", "password", "bob", input="a new password\n")
    assert changed.exit_code == 0 and "0 sessions ended" in changed.output
    assert run_cli("users", "role", "bob", "editor").exit_code == 0

    token = run_cli("users", "feed-token", "bob").output.splitlines()[0]
    rotated = run_cli("users", "feed-token", "bob", "--rotate").output.splitlines()[0]
    assert token.startswith("2.") and rotated != token

    conn = sqlite3.connect(tmp_path / "db" / "library.db")
    assert conn.execute("select name, role from users order by name").fetchall() == [("alice", "editor"), ("bob", "editor")]
    assert users.verify_password(conn, "bob", "a new password")
    conn.close()

    removed = run_cli("users", "remove", "bob")
    assert removed.exit_code == 0 and "Removed bob" in removed.output
    assert "bob" not in run_cli("users", "list").output
    missing = run_cli("users", "remove", "bob")
    assert missing.exit_code == 2 and "no user 'bob'" in missing.output


def test_users_take_library_or_db(run_cli, tmp_path):
    assert run_cli("users", "add", "carol", "--library", "elsewhere/lib.db", input=PASSWORD + "\n").exit_code == 0
    assert (tmp_path / "elsewhere" / "lib.db").is_file()
    assert run_cli("users", "add", "dave", "--db", "other/papers.db", input=PASSWORD + "\n").exit_code == 0
    assert (tmp_path / "other" / "library.db").is_file()
    assert "carol" in run_cli("users", "list", "--library", "elsewhere/lib.db").output
    nothing = run_cli("users", "list", "--db", "nowhere/papers.db")
    assert nothing.exit_code == 2 and "no library at nowhere/library.db" in nothing.output


def test_a_bad_name_fails_before_the_password_is_read(run_cli):
    result = run_cli("users", "add", "no spaces", input="")
    assert result.exit_code == 2 and "not valid" in result.output


def test_users_import_bibtex_saves_the_matched_papers(run_cli, tmp_path):
    db = open_db(tmp_path / "db" / "papers.db")
    with db_transaction(db):
        save_papers(db, [make_paper(i, title=f"Binary networks number {i} for phones") for i in range(1, 6)])
    db.close()
    run_cli("users", "add", "alice", input=PASSWORD + "\n")
    (tmp_path / "lib.bib").write_text(
        "@article{a, title={Binary networks number 2 for phones}, author={Lovelace, Ada and 2, Author}, year={2020}}\n"
        "@misc{b, title={Anything}, eprint={2001.00003}, archivePrefix={arXiv}}\n"
        "@misc{c, title={A paper nobody stored}, author={Nobody, Ann}, year={2019}}\n",
        encoding="utf-8",
    )
    result = run_cli("users", "import-bibtex", "alice", "lib.bib")
    assert result.exit_code == 0, result.output
    assert "2 matched" in result.output and "alice: 3 papers newly saved" in result.output
    conn = sqlite3.connect(tmp_path / "db" / "library.db")
    saved = [r[0] for r in conn.execute("select paper from library where action = 'save' order by paper")]
    assert saved[:2] == ["2001.00002", "2001.00003"] and saved[2].startswith("bib:c")
    again = run_cli("users", "import-bibtex", "alice", "lib.bib")
    assert "alice: 0 papers newly saved" in again.output
    unknown = run_cli("users", "import-bibtex", "zed", "lib.bib")
    assert unknown.exit_code == 2 and "no user 'zed'" in unknown.output
