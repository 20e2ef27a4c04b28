"""The library database: its tables as data, opened and migrated in one place, and the
secret that signs session cookies, kept beside it.

The file holds password hashes and feed tokens: it is created readable by its owner only
(mode 0600, and SQLite gives its -wal and -shm files the same mode), it is never handed to
Datasette as a database (no table, SQL or JSON view can reach it) and never attached to
the papers database's connections.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from papertrack.errors import UsageError
from papertrack.store.schema import open_wal
from papertrack.store.schema import transaction as db_transaction
from papertrack.store.schema_docs import table_markdown

LIBRARY_NAME = "library.db"  # the default library file, beside the papers database
USER = (int, "users.id")
TABLES: dict[str, dict] = {
    "users": {
        "doc": "One row per account.",
        "pk": "id",
        "columns": {
            "id": (int, "Account number"),
            "name": (str, "Sign-in name: lowercase letters, digits, '.', '_', '-' (unique)"),
            "role": (str, "reader or editor (the editor's desk)"),
            "password_hash": (str, "argon2id hash in argon2-cffi's encoded form (never the password)"),
            "feed_token": (str, "Secret part of the account's private feed URLs (`users feed-token --rotate` replaces it)"),
            "library_version": (int, "Counts changes to the account's library: the ranking refits when it moves"),
            "created": (str, "When the account was added, ISO-8601 UTC"),
            "password_changed": (str, "When the password was last set"),
        },
    },
    "sessions": {
        "doc": "Signed-in browsers: the cookie carries a random token, this table its SHA-256. Ended by sign-out, a new password or the account's removal.",
        "pk": "id",
        "columns": {
            "id": (str, "SHA-256 (hex) of the session token"),
            "user_id": USER,
            "created": (str, "Sign-in time"),
            "expires": (str, "When the session ends by itself"),
        },
    },
    "library": {
        "doc": "What a user keeps and says: saved papers, more like this (like), less like this (dislike).",
        "pk": ("user_id", "paper", "action"),
        "columns": {
            "user_id": USER,
            "paper": (str, "papers.id in the papers database"),
            "action": (str, "save, like or dislike (a like and a dislike of one paper exclude each other)"),
            "at": (str, "When, ISO-8601 UTC"),
        },
    },
    "muted": {
        "doc": "Muted words and phrases: papers containing one are hidden from the user's pages and feeds.",
        "pk": ("user_id", "phrase"),
        "columns": {"user_id": USER, "phrase": (str, "Lowercase words, matched as a phrase"), "at": (str, "When")},
    },
    "searches": {
        "doc": "Saved searches, each with a private Atom feed.",
        "pk": "id",
        "columns": {
            "id": (int, "Search number (in the feed's URL)"),
            "user_id": USER,
            "name": (str, "The user's name for it"),
            "query": (str, "The browse page's query string (q, tag, category, venue, year)"),
            "created": (str, "When"),
        },
    },
    "login_failures": {
        "doc": "Wrong passwords per sign-in name, for throttling.",
        "pk": "name",
        "columns": {
            "name": (str, "The name tried (lowercased)"),
            "failures": (int, "Wrong passwords in a row"),
            "last_at": (str, "The last one, ISO-8601 UTC"),
        },
    },
}
INDEXES = [("sessions", ["user_id"]), ("searches", ["user_id"])]
UNIQUE_INDEXES = [("users", ["name"]), ("users", ["feed_token"]), ("searches", ["user_id", "name"])]


def library_path(db_path: str | Path, library: str | Path | None = None) -> Path:
    """The library file: `library` when given, else `library.db` beside the papers database."""
    return Path(library) if library else Path(db_path).parent / LIBRARY_NAME


def open_library(path: str | Path, create: bool = True) -> sqlite_utils.Database:
    """Open (create, migrate) the library database in WAL mode; a new file is made mode 0600.
    With `create=False` a missing file is a `UsageError`."""
    path = Path(path)
    if not path.is_file():
        if not create:
            raise UsageError(f"no library at {path}: add an account first (papertrack users add NAME)")
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_private(path)
    return open_wal(path, ensure_library, "a papertrack library")


def ensure_library(db: sqlite_utils.Database) -> None:
    """Create missing tables, columns and indexes (idempotent)."""
    existing = set(db.table_names())
    if (
        existing.issuperset(TABLES)
        and all(set(s["columns"]) <= set(db[n].columns_dict) for n, s in TABLES.items())
        and _numbers_never_reused(db)
    ):
        return
    with db_transaction(db):
        for name, spec in TABLES.items():
            columns = {col: kind for col, (kind, _) in spec["columns"].items()}
            if name in existing:
                db[name].add_missing_columns([columns])  # type: ignore[union-attr]
            else:
                db[name].create(columns, pk=spec["pk"], not_null=set(columns) - {"password_changed"})  # type: ignore[union-attr]
        if not _numbers_never_reused(db):
            _autoincrement(db, "users")
        for name, cols in INDEXES:
            db[name].create_index(cols, if_not_exists=True)  # type: ignore[union-attr]
        for name, cols in UNIQUE_INDEXES:
            db[name].create_index(cols, unique=True, if_not_exists=True)  # type: ignore[union-attr]


def _numbers_never_reused(db: sqlite_utils.Database) -> bool:
    """Whether `users.id` is AUTOINCREMENT: a removed account's number is never a new
    account's (a running site keeps each reader's ranking under it)."""
    row = db.execute("select sql from sqlite_master where type = 'table' and name = 'users'").fetchone()
    return row is not None and "AUTOINCREMENT" in row[0].upper()


def _autoincrement(db: sqlite_utils.Database, table: str) -> None:
    """Rebuild `table` (in the caller's transaction) with its INTEGER PRIMARY KEY AUTOINCREMENT,
    rows kept; its indexes go with the old table (the caller makes them again)."""
    sql = db.execute("select sql from sqlite_master where type = 'table' and name = ?", [table]).fetchone()[0]
    new, found = re.subn(r"\bINTEGER PRIMARY KEY\b", "INTEGER PRIMARY KEY AUTOINCREMENT", sql, count=1, flags=re.I)
    if not found:
        raise UsageError(f"the library's {table} table has no INTEGER PRIMARY KEY: not a papertrack library")
    db.execute(new.replace(f'"{table}"', f'"{table}_new"', 1).replace(f"[{table}]", f"[{table}_new]", 1))
    db.execute(f'insert into "{table}_new" select * from "{table}"')
    db.execute(f'drop table "{table}"')
    db.execute(f'alter table "{table}_new" rename to "{table}"')


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`store.schema.transaction` (BEGIN IMMEDIATE ... COMMIT) on a plain connection, such
    as the one Datasette's write thread hands over."""
    with db_transaction(sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)):
        yield conn


def secret_path(library: str | Path) -> Path:
    return Path(library).with_suffix(".secret")


def load_secret(library: str | Path) -> str:
    """The secret that signs session and CSRF cookies: made once beside the library (mode
    0600), so sign-ins survive a restart; a new one signs everyone out."""
    path = secret_path(library)
    if not path.exists():
        # written whole under another name, then linked: a reader never sees half a secret
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        _create_private(tmp, secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    text = path.read_text(encoding="ascii").strip()
    if len(text) < 32:
        raise UsageError(f"{path}: the secret is missing or too short; delete the file to make a new one")
    return text


def _create_private(path: Path, text: str = "") -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text)


def schema_markdown() -> str:
    """The library's tables as markdown (docs/schema.md, by cog)."""
    out: list[str] = []
    for name, spec in TABLES.items():
        out += table_markdown(name, spec)
    return "\n".join(out).rstrip() + "\n"
