"""Is this file a papertrack database? Checked read-only and without sqlite-utils, so that
look-ups that must start fast can ask too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from papertrack.errors import UsageError

NOT_A_DATABASE = ("SQLITE_NOTADB", "SQLITE_CORRUPT")


def check_papertrack_file(path: Path) -> None:
    """`UsageError` unless `path` is a papertrack database (a SQLite file with a `papers`
    table), checked read-only: a typo, an empty file or another program's database is
    refused untouched, never turned into a new papertrack database."""
    if not path.is_file():
        raise UsageError(f"no database at {path}: harvest or import papers first")
    if path.stat().st_size == 0:
        raise UsageError(f"{path}: an empty file, not a papertrack database (remove it to start a new one)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = conn.execute("select 1 from sqlite_master where type = 'table' and name = 'papers'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        if getattr(e, "sqlite_errorname", "") in NOT_A_DATABASE:
            raise UsageError(f"{path}: not a papertrack database ({e})") from None
        raise  # cannot open, locked, ...: the caller reports it as it is
    if not found:
        raise UsageError(f"{path}: not a papertrack database (it has no papers table)")
