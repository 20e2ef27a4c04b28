"""Folding a `dblp:` row into its arXiv preprint once the preprint is stored.

A DBLP record with no arXiv paper yet is stored as its own `dblp:<key>` row. When a later
harvest or import stores the preprint, `merge_preprints` (called by `papers.save_papers`
for new arXiv ids) finds the row by title and authors (`identity`) and `merge_row` moves
everything attached to it (DBLP's venue, the citation key, query links, manual tag
decisions, notes, picks, and any other table pointing at papers.id) onto the arXiv id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlite_utils

from papertrack.models import Paper
from papertrack.store.identity import TitleIndex
from papertrack.store.precedence import VENUE_COLUMNS, apply_notes, set_venue

DBLP_PREFIX = "dblp:"


def has_dblp_rows(db: sqlite_utils.Database) -> bool:
    # a range on the primary key: an index seek, so arXiv harvests pay nothing when there are none
    return db.execute("select 1 from papers where id >= 'dblp:' and id < 'dblp;' limit 1").fetchone() is not None


def merge_preprints(db: sqlite_utils.Database, papers: Sequence[Paper]) -> list[tuple[str, str]]:
    """Fold `dblp:` rows into these newly stored arXiv papers when they are the same paper
    (the linking rule). Returns the (dblp id, arXiv id) pairs merged."""
    papers = [p for p in papers if ":" not in p.id]
    if not papers or not has_dblp_rows(db):
        return []
    index = TitleIndex(
        (r[0], r[1], json.loads(r[2] or "[]"))
        for r in db.execute("select id, title, authors from papers where id >= 'dblp:' and id < 'dblp;'")
    )
    merged = []
    for paper in papers:
        row = index.find(paper.title, paper.authors)
        if row:
            index.remove(row)
            merge_row(db, row, paper.id)
            merged.append((row, paper.id))
    return merged


def merge_row(db: sqlite_utils.Database, source: str, target: str) -> bool:
    """Move `source` (a dblp: row) onto `target` and delete it: its venue (by precedence),
    DBLP key, DOI (if the target has none), citation key, and every row of every table that
    points at papers.id. False when there is no such row. The caller refreshes the
    target's tags."""
    old = db.execute(
        f"select citation_key, dblp_key, doi, venue_source, year, {', '.join(VENUE_COLUMNS)} from papers where id = ?",
        [source],
    ).fetchone()
    if old is None:
        return False
    citation_key, dblp_key, doi, venue_source, year, *venue = old
    db.execute("update papers set citation_key = null where id = ?", [source])  # unique: free it first
    set_venue(db, target, dict(zip(VENUE_COLUMNS, venue)), venue_source, year)
    # the row's key wins: it was the paper's first (the arXiv paper got one moments ago, on insert)
    db.execute(
        "update papers set dblp_key = coalesce(?, dblp_key), doi = coalesce(doi, ?), "
        "citation_key = coalesce(?, citation_key) where id = ?",
        [dblp_key, doi, citation_key, target],
    )
    for table, column in _paper_references(db):
        if table in ("papers_authors", "papers_tags"):  # recomputed for the arXiv paper
            db.execute(f"delete from [{table}] where [{column}] = ?", [source])
            continue
        db.execute(f"update or ignore [{table}] set [{column}] = ? where [{column}] = ?", [target, source])
        db.execute(f"delete from [{table}] where [{column}] = ?", [source])
    apply_notes(db, [target])  # a note may have come with the row
    db.execute("delete from papers where id = ?", [source])
    return True


def _paper_references(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to papers.id, including other features' tables."""
    return [
        (t.name, fk.column)
        for t in db.tables
        for fk in t.foreign_keys
        if fk.other_table == "papers" and fk.other_column == "id" and fk.column
    ]
