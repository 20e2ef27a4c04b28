"""Which attached databases are papertrack's (hold a `papers` table): the plugin's hooks
act on those only."""

from __future__ import annotations

import sqlite3
from weakref import WeakKeyDictionary

from datasette.utils.asgi import NotFound

_papertrack_dbs: WeakKeyDictionary = WeakKeyDictionary()  # Datasette -> {database name: has papers}


def papertrack_databases(datasette) -> set[str]:
    """Names of the attached databases that hold a `papers` table (checked once each)."""
    known = _papertrack_dbs.setdefault(datasette, {})
    for name, db in datasette.databases.items():
        if name not in known:
            known[name] = _has_papers(db)
    return {name for name, yes in known.items() if yes}


def first_papertrack(datasette) -> str:
    """The first attached database holding papertrack's papers (the site's own pages read it)."""
    found = papertrack_databases(datasette)
    for name in datasette.databases:
        if name in found:
            return name
    raise NotFound("No papertrack database is attached")


def is_papertrack(datasette, database: str | None) -> bool:
    """Whether `database` holds papertrack's papers (cheap: called for every cell)."""
    known = _papertrack_dbs.get(datasette) or {}
    if database not in known:
        return database in papertrack_databases(datasette)
    return known[database]


def _has_papers(db) -> bool:
    if db.is_memory or not db.path:
        return False
    try:
        conn = sqlite3.connect(f"file:{db.path}?mode=ro", uri=True)
        try:
            return (
                conn.execute("select 1 from sqlite_master where type = 'table' and name = 'papers'").fetchone() is not None
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return False
