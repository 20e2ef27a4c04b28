"""Writing papers, links, tags, query state and run records (github-to-sqlite's `save_*`).

Functions here never open transactions themselves unless named `*_page`/`record_*`:
callers group them with `schema.transaction` so that a page and the query's progress
commit together.
"""

from __future__ import annotations

import json
import operator
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlite_utils

from .citekeys import keys_for
from .config import SavedQuery
from .enrich import Derived, derive
from .enrich.tags import Taxonomy
from .models import Paper, now_iso
from .schema import transaction

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
VENUE_RANK = {None: 0, "arxiv": 1, "bibtex": 2, "dblp": 3}
_INSERT_COLUMNS = ("id", *SOURCE_FIELDS, *DERIVED_FIELDS, "citation_key", "first_seen", "last_seen")


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


def _in(ids: Sequence[str]) -> str:
    return json.dumps(list(ids))


def save_papers(
    db: sqlite_utils.Database,
    papers: Sequence[Paper],
    query_id: int | None = None,
    taxonomy: Taxonomy | None = None,
    venue_source: str = "arxiv",
    now: str | None = None,
    citation_keys: dict[str, str] | None = None,
) -> SaveResult:
    """Insert new papers and update changed ones, with authors, derived fields and tags;
    link them all to the saved query `query_id` when given. New papers get their citation
    key (`citation_keys` gives wished-for ones, such as an imported entry's own key).

    Derived values follow precedence: the editor's note beats everything, a venue from a
    higher-ranked source (dblp > bibtex > arxiv) is never replaced by a lower one.
    """
    now = now or now_iso()
    result = SaveResult()
    papers = list({p.id: p for p in papers}.values())  # a page may repeat an id
    if not papers:
        return result
    existing = stored_rows(db, [p.id for p in papers])
    inserts, updates, tag_hits = [], [], {}
    for paper in papers:
        row = _row(paper)
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
    _write_rows(db, [row_values(r) for r in inserts], [row_values(r) for r in updates])
    save_authors(db, {p.id: p.authors for p in papers if p.id in tag_hits})
    if result.new:
        from .linking import merge_preprints  # linking builds on this module

        new = set(result.new)
        merge_preprints(db, [p for p in papers if p.id in new])  # a venue-only dblp: row may be one of them
    linked = link_query(db, query_id, [p.id for p in papers]) if query_id is not None else []
    refresh_tags(db, list(dict.fromkeys([*tag_hits, *linked])), tag_hits)
    return result


def stored_rows(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, dict]:
    """The stored rows of these papers, with the editor's note summary and code link
    (`note_summary`, `note_code_url`) that `finish_row` gives precedence to."""
    return {
        row["id"]: row
        for row in db.query(
            "select p.*, n.summary as note_summary, n.code_url as note_code_url from papers p "
            "left join notes n on n.papers_id = p.id where p.id in (select value from json_each(?))",
            [_in(ids)],
        )
    }


def finish_row(row: dict, paper: Paper, derived: Derived, old: dict | None, venue_source: str, now: str) -> dict:
    """Complete `row` (from `_row(paper)`) with derived and bookkeeping columns, following
    precedence against the stored row `old` (None for a new paper)."""
    venue = {"venue": paper.venue, "venue_type": paper.venue_type, "volume": paper.volume, "pages": paper.pages}
    if not paper.venue and derived.venue:
        venue.update(
            venue=derived.venue,
            venue_type=derived.venue_type,
            volume=paper.volume or derived.volume,
            pages=paper.pages or derived.pages,
        )
    venue["venue_source"] = (venue_source if paper.venue else "arxiv") if venue["venue"] else None
    # a higher-ranked source wins; a venue once stated stays when a new version names none
    kept = old is not None and (
        VENUE_RANK.get(old["venue_source"], 0) > VENUE_RANK.get(venue["venue_source"], 0)
        or bool(old["venue"] and not venue["venue"])
    )
    if kept:
        venue = {k: old[k] for k in venue}
    row.update(
        **venue,
        # a kept venue keeps its year too (a journal name carries none to read it from)
        year=(old["year"] if kept else None) or _venue_year(venue["venue"]) or paper.year or _year(paper.published),
        summary=(old and old["note_summary"]) or derived.summary,
        code_url=(old and old["note_code_url"]) or derived.code_url,
        first_seen=old["first_seen"] if old else now,
        last_seen=now,
        citation_key=old["citation_key"] if old else None,  # a new paper's key comes from save_papers
    )
    return row


row_values = operator.itemgetter(*_INSERT_COLUMNS)  # a finished row as a tuple in `_INSERT_COLUMNS` order


def _write_rows(db: sqlite_utils.Database, inserts: Sequence[tuple], updates: Sequence[tuple]) -> None:
    """Insert and update paper rows (tuples in `_INSERT_COLUMNS` order) through a temp
    staging table, one statement each.

    The FTS triggers then fire inside a single statement: FTS5 flushes its pending index
    at every statement boundary, so row-by-row executemany into `papers` costs about three
    times as much as staging the rows and moving them over in one INSERT ... SELECT.
    """
    cols = ", ".join(_INSERT_COLUMNS)
    db.execute(f"create temp table if not exists staging_papers as select {cols} from papers where 0")
    for rows, sql in (
        (inserts, f"insert into papers ({cols}) select {cols} from temp.staging_papers"),
        (
            updates,
            "update papers set "
            + ", ".join(f"{c} = s.{c}" for c in _INSERT_COLUMNS if c not in ("id", "first_seen", "citation_key"))
            + " from temp.staging_papers s where papers.id = s.id",
        ),
    ):
        if rows:
            db.conn.executemany(
                f"insert into temp.staging_papers ({cols}) values ({', '.join('?' * len(_INSERT_COLUMNS))})",
                rows,
            )
            db.execute(sql)
            db.execute("delete from temp.staging_papers")


def _row(paper: Paper) -> dict:
    """The source columns of `paper` (authors and categories as JSON)."""
    row = {f: getattr(paper, f) for f in SOURCE_FIELDS}
    row["id"] = paper.id
    row["authors"] = json.dumps(paper.authors, ensure_ascii=False)
    row["categories"] = json.dumps(paper.categories)
    return row


def _year(date: str | None) -> int | None:
    return int(date[:4]) if date and date[:4].isdigit() else None


def _venue_year(venue: str | None) -> int | None:
    """The year a venue label ends with or names last ("CVPR 2020", "ICLR 2015 Workshop")."""
    years = re.findall(r"\b(?:19|20)\d\d\b", venue or "")
    return int(years[-1]) if years else None


def save_authors(db: sqlite_utils.Database, authors_by_paper: dict[str, list[str]]) -> None:
    """Replace the papers_authors rows of these papers, creating authors as needed."""
    if not authors_by_paper:
        return
    names = {n for names in authors_by_paper.values() for n in names}
    db.conn.executemany("insert or ignore into authors (name) values (?)", [(n,) for n in names])
    db.execute(
        "delete from papers_authors where papers_id in (select value from json_each(?))", [_in(list(authors_by_paper))]
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
            [query_id, _in(ids)],
        )
    }
    fresh = [i for i in ids if i not in known]
    db.conn.executemany("insert into papers_queries (papers_id, queries_id) values (?, ?)", [(i, query_id) for i in fresh])
    return fresh


def refresh_tags(
    db: sqlite_utils.Database, ids: Sequence[str], taxonomy_hits: dict[str, dict[str, str]] | None = None
) -> None:
    """Rewrite the tags of `ids` as: query tags + taxonomy tags + manual adds - manual removes.

    `taxonomy_hits` gives freshly computed taxonomy tags ({id: {tag: evidence}}); for ids
    not in it the taxonomy tags already stored are kept.
    """
    if not ids:
        return
    taxonomy_hits = taxonomy_hits or {}
    links: dict[str, dict[str, list]] = defaultdict(dict)  # id -> tag -> [origins, evidence]

    def add(pid: str, tag: str, origin: str, evidence: str | None = None) -> None:
        entry = links[pid].setdefault(tag, [[], None])
        if origin not in entry[0]:
            entry[0].append(origin)
        entry[1] = evidence or entry[1]

    ids_json = _in(ids)
    for pid, tags in db.execute(
        "select pq.papers_id, q.tags from papers_queries pq join queries q on q.id = pq.queries_id "
        "where pq.papers_id in (select value from json_each(?))",
        [ids_json],
    ):
        for tag in json.loads(tags or "[]"):
            add(pid, tag, "query")
    for pid, tag, evidence in db.execute(
        "select pt.papers_id, t.name, pt.evidence from papers_tags pt join tags t on t.id = pt.tags_id "
        "where pt.papers_id in (select value from json_each(?)) and pt.origin like '%taxonomy%'",
        [ids_json],
    ):
        if pid not in taxonomy_hits:
            add(pid, tag, "taxonomy", evidence)
    for pid, hits in taxonomy_hits.items():
        for tag, evidence in hits.items():
            add(pid, tag, "taxonomy", evidence)
    for pid, tag, action in db.execute(
        "select papers_id, tag, action from tag_edits where papers_id in (select value from json_each(?))", [ids_json]
    ):
        if action == "remove":
            links[pid].pop(tag, None)
        else:
            add(pid, tag, "manual")
    names = sorted({t for tags in links.values() for t in tags})
    db.conn.executemany("insert or ignore into tags (name) values (?)", [(n,) for n in names])
    tag_ids = dict(db.execute("select name, id from tags where name in (select value from json_each(?))", [_in(names)]))
    db.execute("delete from papers_tags where papers_id in (select value from json_each(?))", [ids_json])
    order = ("query", "taxonomy", "manual")
    db.conn.executemany(
        "insert into papers_tags (papers_id, tags_id, origin, evidence) values (?, ?, ?, ?)",
        [
            (pid, tag_ids[tag], ",".join(sorted(origins, key=order.index)), evidence)
            for pid, tags in links.items()
            for tag, (origins, evidence) in tags.items()
        ],
    )


# ---------------------------------------------------------------- saved queries and runs


def sync_queries(db: sqlite_utils.Database, queries: Iterable[SavedQuery]) -> dict[str, int]:
    """Upsert the saved queries; a changed query text or `since` resets its harvest state."""
    ids = {}
    with transaction(db):
        for q in queries:
            since = q.since.isoformat() if q.since else None
            row = db.execute("select id, source, query, since from queries where name = ?", [q.name]).fetchone()
            tags = json.dumps(list(q.tags))
            if row is None:
                cur = db.execute(
                    "insert into queries (name, source, query, tags, since) values (?, ?, ?, ?, ?)",
                    [q.name, q.source, q.query, tags, since],
                )
                ids[q.name] = cur.lastrowid
                continue
            ids[q.name] = row[0]
            if tuple(row[1:]) != (q.source, q.query, since):
                db.execute(
                    "update queries set source = ?, query = ?, since = ?, watermark = null, progress = null where id = ?",
                    [q.source, q.query, since, row[0]],
                )
            db.execute("update queries set tags = ? where id = ? and tags is not ?", [tags, row[0], tags])
    return ids


def query_state(db: sqlite_utils.Database, query_id: int) -> tuple[str | None, dict | None]:
    """(watermark, progress) of a saved query."""
    watermark, progress = db.execute("select watermark, progress from queries where id = ?", [query_id]).fetchone()
    return watermark, json.loads(progress) if progress else None


def set_progress(db: sqlite_utils.Database, query_id: int, progress: dict | None, watermark: str | None = None) -> None:
    """Store a query's in-flight progress (or clear it and move the watermark when done)."""
    if progress is None:
        db.execute(
            "update queries set progress = null, watermark = coalesce(?, watermark), last_success = ? where id = ?",
            [watermark, now_iso(), query_id],
        )
    else:
        db.execute("update queries set progress = ? where id = ?", [json.dumps(progress), query_id])


def start_run(db: sqlite_utils.Database, query: str) -> int:
    """Open a harvest_runs row; a row left 'running' by a killed process becomes 'interrupted'."""
    with transaction(db):
        db.execute(
            "update harvest_runs set status = 'interrupted', error = 'process ended before the run finished' "
            "where query = ? and status = 'running'",
            [query],
        )
        cur = db.execute(
            "insert into harvest_runs (query, started, status, requests, new, updated) values (?, ?, 'running', 0, 0, 0)",
            [query, now_iso()],
        )
    return cur.lastrowid  # type: ignore[return-value]


def record_run(db: sqlite_utils.Database, run_id: int, **values) -> None:
    """Update a run row (counts, status, error, finished) in its own transaction."""
    sets = ", ".join(f"{k} = ?" for k in values)
    with transaction(db):
        db.execute(f"update harvest_runs set {sets} where id = ?", [*values.values(), run_id])
