"""Which stored paper an id as users write it names (`resolve_id`), for every command and
the Datasette `/-/paper/` page. Light on purpose (no sqlite-utils, no fuzzy matching):
`papertrack related` resolves its argument from a cold start; `store.identity` re-exports
these.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

from papertrack.errors import UsageError
from papertrack.models import arxiv_id

if TYPE_CHECKING:
    import sqlite_utils


def paper_key(text: str) -> str:
    """The `papers.id` an id as users write it denotes (`1909.04977`, `1909.04977v2`,
    `arXiv:1909.04977`, an abs or pdf URL, `dblp:...`), whether stored or not. Every
    command and the Datasette `/-/paper/` page go through it (via `resolve_id` here)."""
    return arxiv_id(text) or text.strip()


def resolve_id(db: sqlite_utils.Database | sqlite3.Connection, text: str) -> str:
    """The stored paper an id as users write it names (`paper_key`); UsageError when
    there is none."""
    candidate = paper_key(text)
    if not db.execute("select 1 from papers where id = ?", [candidate]).fetchone():
        raise UsageError(f"no paper {text!r} in the database")
    return candidate


def resolve_ids(db: sqlite_utils.Database, texts: Iterable[str]) -> list[str]:
    """`resolve_id` for each, all checked before anything is written."""
    return list(dict.fromkeys(resolve_id(db, t) for t in texts))
