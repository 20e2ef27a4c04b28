"""Accounts: names, roles, argon2 password hashes, sessions, feed tokens and the throttle
on wrong passwords. Every function takes a plain sqlite3 connection to the library
database; those that write expect the caller's transaction (`schema.transaction`).

Passwords are hashed with argon2id (argon2-cffi's `PasswordHasher`, its default
parameters) and never stored, logged or echoed. A session cookie carries a random token;
only its SHA-256 is stored, so a copy of the library file opens no session. Feed URLs
carry `ID.SECRET`; the secret is compared in constant time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from papertrack.errors import UsageError
from papertrack.models import ascii_int, iso_utc, now_iso

ROLES = ("reader", "editor")
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MIN_PASSWORD, MAX_PASSWORD = 8, 1024  # characters (the upper bound keeps a hash's work bounded)
SESSION_DAYS = 30
MAX_FAILURES = 5  # wrong passwords in a row for one name ...
LOCKOUT = timedelta(minutes=15)  # ... refuse that name this long after the last one
_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    library_version: int = 0

    @property
    def actor(self) -> dict:
        """What Datasette knows of the user (`request.actor`): nothing secret."""
        return {"id": self.name, "role": self.role}


_USER_COLUMNS = "u.id, u.name, u.role, u.library_version"


def check_name(name: str) -> str:
    """The sign-in name as stored (lowercased); `UsageError` naming a bad one."""
    text = (name or "").strip().lower()
    if not NAME.fullmatch(text):
        raise UsageError(
            f"user name {name[:70]!r} is not valid: 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return text


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UsageError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def get_user(conn: sqlite3.Connection, name: str) -> User | None:
    row = conn.execute(f"select {_USER_COLUMNS} from users u where u.name = ?", [(name or "").strip().lower()]).fetchone()
    return User(*row) if row else None


def require_user(conn: sqlite3.Connection, name: str) -> User:
    user = get_user(conn, check_name(name))
    if user is None:
        raise UsageError(f"no user {name!r} (papertrack users list shows them)")
    return user


def add_user(conn: sqlite3.Connection, name: str, password: str, role: str = "reader") -> User:
    name, role = check_name(name), check_role(role)
    if get_user(conn, name):
        raise UsageError(f"user {name!r} exists already (papertrack users password {name} sets a new password)")
    now = now_iso()
    conn.execute(
        "insert into users (name, role, password_hash, feed_token, library_version, created, password_changed) "
        "values (?, ?, ?, ?, 0, ?, ?)",
        [name, role, hash_password(password), secrets.token_urlsafe(24), now, now],
    )
    return require_user(conn, name)


USER_TABLES = ("library", "muted", "searches", "sessions")


def remove_user(conn: sqlite3.Connection, name: str) -> dict[str, int]:
    """Delete the account and everything it kept; rows removed per table."""
    user = require_user(conn, name)
    counts = {table: conn.execute(f"delete from {table} where user_id = ?", [user.id]).rowcount for table in USER_TABLES}
    conn.execute("delete from users where id = ?", [user.id])
    return counts


def set_password(conn: sqlite3.Connection, name: str, password: str) -> int:
    """A new password; every session of the account ends (how many)."""
    user = require_user(conn, name)
    conn.execute(
        "update users set password_hash = ?, password_changed = ? where id = ?",
        [hash_password(password), now_iso(), user.id],
    )
    return conn.execute("delete from sessions where user_id = ?", [user.id]).rowcount


def set_role(conn: sqlite3.Connection, name: str, role: str) -> None:
    conn.execute("update users set role = ? where id = ?", [check_role(role), require_user(conn, name).id])


def list_users(conn: sqlite3.Connection) -> list[dict]:
    """Every account with what it keeps (for `users list`)."""
    now = now_iso()
    rows = conn.execute(
        """select u.name, u.role, u.created,
             (select count(*) from library l where l.user_id = u.id and l.action = 'save'),
             (select count(*) from library l where l.user_id = u.id and l.action = 'like'),
             (select count(*) from library l where l.user_id = u.id and l.action = 'dislike'),
             (select count(*) from muted m where m.user_id = u.id),
             (select count(*) from searches s where s.user_id = u.id),
             (select count(*) from sessions s where s.user_id = u.id and s.expires > ?)
           from users u order by u.name""",
        [now],
    )
    keys = ("name", "role", "created", "saved", "liked", "disliked", "muted", "searches", "sessions")
    return [dict(zip(keys, r)) for r in rows]


def verify_password(conn: sqlite3.Connection, name: str, password: str) -> User | None:
    """The user when the password is theirs (rehashing it if argon2's parameters moved on),
    else None, all on one connection. An unknown name costs the same time as a wrong
    password. (The site splits this up: `begin_attempt`, `check_password_hash` off the
    database's thread, `finish_sign_in`.)"""
    row = _hash_row(conn, name)
    matches, rehashed = check_password_hash(row[1] if row else None, password)
    return _signed_in(conn, row[0], row[1], rehashed) if row and matches else None


def _hash_row(conn: sqlite3.Connection, name: str) -> tuple[int, str] | None:
    return conn.execute("select id, password_hash from users where name = ?", [(name or "").strip().lower()]).fetchone()


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt the throttle let through (`wait` 0), or refused for `wait` seconds."""

    name: str
    wait: float = 0.0
    user_id: int | None = None  # None: no such name
    stored: str | None = None  # the user's password hash


def begin_attempt(conn: sqlite3.Connection, name: str) -> Attempt:
    """The throttle's one step, in the caller's transaction: a name locked out is refused
    (nothing counted); any other attempt is counted as a wrong password before its password
    is checked (`finish_sign_in` clears the count when it was right). Checking and counting
    in one transaction is what keeps concurrent attempts from all passing the check."""
    wait = locked_for(conn, name)
    if wait:
        return Attempt(name, wait)
    record_failure(conn, name)
    row = _hash_row(conn, name)
    return Attempt(name, 0.0, *row) if row else Attempt(name)


def check_password_hash(stored: str | None, password: str) -> tuple[bool, str | None]:
    """(whether `password` matches the argon2 hash `stored`, a new hash when argon2's
    parameters moved on). CPU only, no database: any thread. No hash (an unknown name) costs
    what a wrong password costs."""
    if stored is None or not 0 < len(password) <= MAX_PASSWORD:
        _verify(_dummy_hash(), "x")
        return False, None
    if not _verify(stored, password):
        return False, None
    return True, _hasher.hash(password) if _hasher.check_needs_rehash(stored) else None


def finish_sign_in(conn: sqlite3.Connection, attempt: Attempt, rehashed: str | None) -> User | None:
    """After a right password (in the caller's transaction): the count cleared, the new hash
    kept; the user, or None when the account went or changed its password meanwhile."""
    clear_failures(conn, attempt.name)
    if attempt.user_id is None or attempt.stored is None:
        return None
    return _signed_in(conn, attempt.user_id, attempt.stored, rehashed)


def _signed_in(conn: sqlite3.Connection, user_id: int, stored: str, rehashed: str | None) -> User | None:
    if rehashed:  # unless the password changed since `stored` was read
        conn.execute("update users set password_hash = ? where id = ? and password_hash = ?", [rehashed, user_id, stored])
    row = conn.execute(
        f"select {_USER_COLUMNS} from users u where u.id = ? and u.password_hash in (?, ?)", [user_id, stored, rehashed]
    ).fetchone()
    return User(*row) if row else None


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not anyone's password")


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------- sessions


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(conn: sqlite3.Connection, user: User, days: int = SESSION_DAYS) -> str:
    """A new session for the user: the token for the cookie (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    conn.execute("delete from sessions where expires <= ?", [iso_utc(now)])
    conn.execute(
        "insert into sessions (id, user_id, created, expires) values (?, ?, ?, ?)",
        [_digest(token), user.id, iso_utc(now), iso_utc(now + timedelta(days=days))],
    )
    return token


def session_user(conn: sqlite3.Connection, token: str) -> User | None:
    """The user of a live session, or None (unknown, ended or expired)."""
    if not isinstance(token, str) or not 0 < len(token) <= 100:
        return None
    row = conn.execute(
        f"select {_USER_COLUMNS} from sessions s join users u on u.id = s.user_id where s.id = ? and s.expires > ?",
        [_digest(token), now_iso()],
    ).fetchone()
    return User(*row) if row else None


def end_session(conn: sqlite3.Connection, token: str) -> None:
    conn.execute("delete from sessions where id = ?", [_digest(token)])


# ---------------------------------------------------------------- throttle


def locked_for(conn: sqlite3.Connection, name: str, now: datetime | None = None) -> float:
    """Seconds until the name may try a password again (0: now)."""
    row = conn.execute("select failures, last_at from login_failures where name = ?", [_throttle_key(name)]).fetchone()
    if not row or row[0] < MAX_FAILURES:
        return 0.0
    left = datetime.fromisoformat(row[1]) + LOCKOUT - (now or datetime.now(UTC))
    return max(0.0, left.total_seconds())


def record_failure(conn: sqlite3.Connection, name: str) -> int:
    """Count a wrong password for the name (a count older than the lockout starts again)."""
    now = datetime.now(UTC)
    stale = iso_utc(now - LOCKOUT)
    conn.execute("delete from login_failures where last_at < ?", [stale])
    conn.execute(
        "insert into login_failures (name, failures, last_at) values (?, 1, ?) "
        "on conflict (name) do update set failures = failures + 1, last_at = excluded.last_at",
        [_throttle_key(name), iso_utc(now)],
    )
    return conn.execute("select failures from login_failures where name = ?", [_throttle_key(name)]).fetchone()[0]


def clear_failures(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("delete from login_failures where name = ?", [_throttle_key(name)])


def _throttle_key(name: str) -> str:
    return (name or "").strip().lower()[:64]


# ---------------------------------------------------------------- feed tokens


def feed_token(conn: sqlite3.Connection, name: str, rotate: bool = False) -> str:
    """The account's feed token as its URLs carry it (`ID.SECRET`); `rotate`: a new one
    (the old URLs stop working)."""
    user = require_user(conn, name)
    if rotate:
        conn.execute("update users set feed_token = ? where id = ?", [secrets.token_urlsafe(24), user.id])
    return f"{user.id}.{conn.execute('select feed_token from users where id = ?', [user.id]).fetchone()[0]}"


def feed_user(conn: sqlite3.Connection, token: str) -> User | None:
    """The account a feed token belongs to, or None; the secret is compared in constant time."""
    text, _, secret = (token or "").partition(".")
    number = ascii_int(text, 18)
    if number is None or not secret or len(secret) > 100:
        return None
    row = conn.execute(f"select {_USER_COLUMNS}, u.feed_token from users u where u.id = ?", [number]).fetchone()
    if row is None or not hmac.compare_digest(row[4].encode("utf-8"), secret.encode("utf-8")):
        return None
    return User(*row[:4])
