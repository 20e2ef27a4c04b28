"""Saving papers (github-to-sqlite's `save_*`): rows, authors, query links, tags.

Functions here never open transactions: callers group them with `schema.transaction`, so
that a page and the query's progress commit together. Which stored value wins when
sources disagree is decided in `precedence`.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlite_utils

from papertrack.enrich import Derived, derive
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.models import Paper, now_iso
from papertrack.store.citekeys import keys_for
from papertrack.store.merge import merge_preprints
from papertrack.store.precedence import VENUE_COLUMNS, apply_notes, keeps_venue, noted, venue_year
from papertrack.store.schema import ids_json
from papertrack.store.tags import refresh_tags

# Fields a source owns: a change in any of them makes a stored paper "updated".
SOURCE_FIELDS = (
    "title",
    "abstract",
    "authors",
    "published",
    "updated",
    "version",
    "primary_category",
    "categories",
    "doi",
    "journal_ref",
    "comment",
    "url",
    "pdf_url",
)
DERIVED_FIELDS = ("venue", "venue_source", "venue_type", "volume", "pages", "year", "summary", "code_url")
INSERT_COLUMNS = ("id", *SOURCE_FIELDS, *DERIVED_FIELDS, "citation_key", "first_seen", "last_seen")
row_values = operator.itemgetter(*INSERT_COLUMNS)  # a finished row as a tuple in `INSERT_COLUMNS` order


@dataclass
class SaveResult:
    """What a save did: ids of new and changed papers, and how many were already current."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0

    def __iadd__(self, other: SaveResult) -> SaveResult:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def save_papers(
    db: sqlite_utils.Database,
    papers: Sequence[Paper],
    *,
    query_id: int | None = None,
    taxonomy: Taxonomy | None = None,
    venue_source: str = "arxiv",
    now: str | None = None,
    citation_keys: dict[str, str] | None = None,
) -> SaveResult:
    """Insert new papers and update changed ones, with authors, derived fields and tags;
    link them all to the saved query `query_id` when given. New papers get their citation
    key (`citation_keys` gives wished-for ones, such as an imported entry's own key), and a
    `dblp:` row that turns out to be one of them is merged into it.
    """
    now = now or now_iso()
    result = SaveResult()
    papers = list({p.id: p for p in papers}.values())  # a page may repeat an id
    if not papers:
        return result
    existing = stored_rows(db, [p.id for p in papers])
    inserts, updates, tag_hits = [], [], {}
    for paper in papers:
        row = paper_row(paper)
        old = existing.get(paper.id)
        if old is not None and not row["doi"]:
            row["doi"] = old["doi"]  # a source that knows no DOI (arXiv, mostly) keeps DBLP's
        if old is not None and all(old[f] == row[f] for f in SOURCE_FIELDS):
            result.unchanged += 1
            continue
        derived = derive(paper, taxonomy)
        tag_hits[paper.id] = derived.tags
        finish_row(row, paper, derived, old, venue_source, now)
        if old is None:
            inserts.append(row)
            result.new.append(paper.id)
        else:
            updates.append(row)
            result.updated.append(paper.id)
    keys = keys_for(db, inserts, citation_keys)
    for row in inserts:
        row["citation_key"] = keys[row["id"]]
    write_rows(db, [row_values(r) for r in inserts], [row_values(r) for r in updates])
    apply_notes(db, noted(db, result.updated))
    save_authors(db, {p.id: p.authors for p in papers if p.id in tag_hits})
    if result.new:
        new = set(result.new)
        merge_preprints(db, [p for p in papers if p.id in new])  # a venue-only dblp: row may be one of them
    linked = link_query(db, query_id, [p.id for p in papers]) if query_id is not None else []
    refresh_tags(db, list(dict.fromkeys([*tag_hits, *linked])), tag_hits)
    return result


def stored_rows(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, dict]:
    """The stored rows of these papers, by id."""
    return {
        row["id"]: row
        for row in db.query("select * from papers where id in (select value from json_each(?))", [ids_json(ids)])
    }


def paper_row(paper: Paper) -> dict:
    """The source columns of `paper` (authors and categories as JSON), and its id."""
    row = {f: getattr(paper, f) for f in SOURCE_FIELDS}
    row["id"] = paper.id
    row["authors"] = json.dumps(paper.authors, ensure_ascii=False)
    row["categories"] = json.dumps(paper.categories)
    return row


def finish_row(row: dict, paper: Paper, derived: Derived, old: dict | None, venue_source: str, now: str) -> dict:
    """Complete `row` (from `paper_row(paper)`) with derived and bookkeeping columns, keeping
    the stored venue of `old` (None for a new paper) where precedence says so. The editor's
    note is applied afterwards (`precedence.apply_notes`)."""
    venue = {"venue": paper.venue, "venue_type": paper.venue_type, "volume": paper.volume, "pages": paper.pages}
    if not paper.venue and derived.venue:
        venue.update(
            venue=derived.venue,
            venue_type=derived.venue_type,
            volume=paper.volume or derived.volume,
            pages=paper.pages or derived.pages,
        )
    venue["venue_source"] = (venue_source if paper.venue else "arxiv") if venue["venue"] else None
    kept = old is not None and keeps_venue(old, venue["venue"], venue["venue_source"])
    if kept:
        venue = {k: old[k] for k in (*VENUE_COLUMNS, "venue_source")}  # type: ignore[index]
    row.update(
        **venue,
        # a kept venue keeps its year too (a journal name carries none to read it from)
        year=(old["year"] if old and kept else None) or venue_year(venue["venue"]) or paper.year or _year(paper.published),
        summary=derived.summary,
        code_url=derived.code_url,
        first_seen=old["first_seen"] if old else now,
        last_seen=now,
        citation_key=old["citation_key"] if old else None,  # a new paper's key comes from save_papers
    )
    return row


def _year(date: str | None) -> int | None:
    return int(date[:4]) if date and date[:4].isdigit() else None


def write_rows(db: sqlite_utils.Database, inserts: Sequence[tuple], updates: Sequence[tuple]) -> None:
    """Insert and update paper rows (tuples in `INSERT_COLUMNS` order) through a temp
    staging table, one statement each.

    The FTS triggers then fire inside a single statement: FTS5 flushes its pending index
    at every statement boundary, so row-by-row executemany into `papers` costs about three
    times as much as staging the rows and moving them over in one INSERT ... SELECT.
    """
    cols = ", ".join(INSERT_COLUMNS)
    db.execute(f"create temp table if not exists staging_papers as select {cols} from papers where 0")
    for rows, sql in (
        (inserts, f"insert into papers ({cols}) select {cols} from temp.staging_papers"),
        (
            updates,
            "update papers set "
            + ", ".join(f"{c} = s.{c}" for c in INSERT_COLUMNS if c not in ("id", "first_seen", "citation_key"))
            + " from temp.staging_papers s where papers.id = s.id",
        ),
    ):
        if rows:
            db.conn.executemany(
                f"insert into temp.staging_papers ({cols}) values ({', '.join('?' * len(INSERT_COLUMNS))})",
                rows,
            )
            db.execute(sql)
            db.execute("delete from temp.staging_papers")


def save_authors(db: sqlite_utils.Database, authors_by_paper: dict[str, list[str]]) -> None:
    """Replace the papers_authors rows of these papers, creating authors as needed."""
    if not authors_by_paper:
        return
    names = {n for names in authors_by_paper.values() for n in names}
    db.conn.executemany("insert or ignore into authors (name) values (?)", [(n,) for n in names])
    db.execute(
        "delete from papers_authors where papers_id in (select value from json_each(?))", [ids_json(authors_by_paper)]
    )
    db.conn.executemany(
        "insert or ignore into papers_authors (papers_id, authors_id, position) select ?, id, ? from authors where name = ?",
        [(pid, i, n) for pid, names in authors_by_paper.items() for i, n in enumerate(names, 1)],
    )


def link_query(db: sqlite_utils.Database, query_id: int, paper_ids: Iterable[str]) -> list[str]:
    """Record that a saved query found these papers; returns the ids newly linked."""
    ids = list(paper_ids)
    known = {
        r[0]
        for r in db.execute(
            "select papers_id from papers_queries where queries_id = ? and papers_id in (select value from json_each(?))",
            [query_id, ids_json(ids)],
        )
    }
    fresh = [i for i in ids if i not in known]
    db.conn.executemany("insert into papers_queries (papers_id, queries_id) values (?, ?)", [(i, query_id) for i in fresh])
    return fresh
