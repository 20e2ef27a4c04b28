"""Link DBLP records to the papers we have; fold `dblp:` rows into arXiv papers later.

A DBLP record is the paper, in this order:
  1. already linked to its DBLP key (an arXiv paper, or its own `dblp:<key>` row);
  2. the arXiv paper DBLP points to (a CoRR record, or an `ee` link to arxiv.org);
  3. a stored paper with the same DOI;
  4. a stored paper with the same title and a shared author (`matching.py`);
  5. its arXiv preprint, looked up by title (batched `ti:"..."` phrases, confirmed by
     the same title rule) and saved;
  6. otherwise a new `dblp:<key>` row carrying DBLP's metadata.
A linked paper takes DBLP's venue, year, volume, pages, key and (if it has none) DOI,
with `venue_source = 'dblp'`, which outranks a venue read from an arXiv comment; a paper
already linked to another DBLP key keeps that one. CoRR records only tag their arXiv paper.

When an arXiv harvest later stores the preprint of a `dblp:` row, `merge_preprints`
(called by `store.save_papers` for new arXiv ids) moves everything attached to the row
(query links, manual tag decisions, notes, picks, citation key, and any other table
pointing at papers.id) onto the arXiv id and deletes the row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import arxiv
import sqlite_utils

from .config import SavedQuery
from .enrich.tags import Taxonomy
from .matching import TitleIndex, best_match, find_by_title
from .models import Paper, normalize_title
from .sources.arxiv import ArxivClient
from .sources.dblp import DblpPage
from .store import SaveResult, link_query, refresh_tags, save_papers

DBLP_PREFIX = "dblp:"
LOOKUP_BATCH = 20  # titles per arXiv request (an OR of ti:"..." phrases; keeps the URL short)
VENUE_COLUMNS = ("venue", "venue_type", "volume", "pages", "year")


@dataclass
class Plan:
    """What one DBLP page will write: worked out before the write transaction opens,
    because it may ask arXiv (seconds apart) for preprints."""

    matches: list[tuple[str, Paper]] = field(default_factory=list)  # (stored id, DBLP record)
    found: list[tuple[Paper, Paper]] = field(default_factory=list)  # (arXiv paper fetched, DBLP record)
    rows: list[Paper] = field(default_factory=list)  # records that become dblp: rows
    preprints: list[str] = field(default_factory=list)  # arXiv ids of CoRR records (tag only)
    fetched: list[Paper] = field(default_factory=list)  # arXiv papers fetched for CoRR records


def plan_page(
    db: sqlite_utils.Database,
    page: DblpPage,
    query: SavedQuery,
    arxiv_client: ArxivClient,
    lookup_known: bool = False,
) -> Plan:
    """Resolve each record of a page (see the module docstring). Preprint look-ups run
    for records that have no row yet, or for all unmatched ones when `lookup_known`."""
    pattern = re.compile(query.title_filter, re.IGNORECASE) if query.title_filter else None
    records = [
        p
        for p in page.papers
        if (not pattern or pattern.search(p.title)) and (not query.since or (p.year or 9999) >= query.since.year)
    ]
    plan = Plan()
    if not records:
        return plan
    keys = _lookup(
        db,
        "select dblp_key, id from papers where dblp_key in (select value from json_each(?)) order by id like 'dblp:%' desc",
        [r.dblp_key for r in records],
    )  # arXiv rows win
    linked_ids = {r.id: page.arxiv_ids[r.id] for r in records if r.id in page.arxiv_ids}
    stored = set(
        _lookup(db, "select id, id from papers where id in (select value from json_each(?))", list(linked_ids.values()))
    )
    dois = _lookup(
        db,
        "select lower(doi), id from papers where lower(doi) in (select value from json_each(?)) and id not like 'dblp:%'",
        [r.doi for r in records if r.doi],
    )
    by_arxiv_id: dict[str, Paper] = {}  # arXiv id -> the record that names it
    unmatched: list[Paper] = []
    for record in records:
        aid = linked_ids.get(record.id)
        if record.id in page.preprints:  # a CoRR record: the arXiv paper itself, no venue
            if aid in stored:
                plan.preprints.append(aid)
            else:
                by_arxiv_id[aid] = record
            continue
        pid = keys.get(record.dblp_key)
        has_row = pid == record.id
        target = None if has_row else pid
        target = target or (aid if aid in stored else None) or dois.get(record.doi)
        if target is None and aid and (lookup_known or not has_row):
            by_arxiv_id[aid] = record
            continue
        if target is None and not has_row:  # a row's title was matched when its preprint arrived
            target = find_by_title(db, record.title, record.authors, exclude_prefix=DBLP_PREFIX)
        if target:
            plan.matches.append((target, record))
        else:
            unmatched.append(record)
    for paper in arxiv_client.fetch_ids(list(by_arxiv_id)) if by_arxiv_id else ():
        record = by_arxiv_id.pop(paper.id, None)
        if record is None:
            continue
        if record.id in page.preprints:
            plan.fetched.append(paper)
            plan.preprints.append(paper.id)
        else:
            plan.found.append((paper, record))
    unmatched += [r for r in by_arxiv_id.values() if r.id not in page.preprints]  # ids arXiv did not know
    rows = {pid for pid in keys.values() if pid.startswith(DBLP_PREFIX)}
    found = lookup_preprints(arxiv_client, [r for r in unmatched if lookup_known or r.id not in rows])
    for record in unmatched:
        if record.id in found:
            plan.found.append((found[record.id], record))
        else:
            plan.rows.append(record)
    return plan


def lookup_preprints(arxiv_client: ArxivClient, records: Sequence[Paper], batch: int = LOOKUP_BATCH) -> dict[str, Paper]:
    """Find the arXiv preprints of these DBLP records by title: {record id: arXiv paper}."""
    out: dict[str, Paper] = {}
    records = [r for r in records if len(normalize_title(r.title).split()) >= 2]
    for i in range(0, len(records), batch):
        chunk = records[i : i + batch]
        query = " OR ".join(f'ti:"{normalize_title(r.title)}"' for r in chunk)
        page = arxiv_client.page(query, 0, size=min(len(chunk) * 5, 2000), sort_by=arxiv.SortCriterion.Relevance)
        candidates = [(p.id, p.title, p.authors) for p in page.papers]
        by_id = {p.id: p for p in page.papers}
        for record in chunk:
            pid = best_match(record.title, record.authors, candidates)
            if pid:
                out[record.id] = by_id[pid]
    return out


def save_plan(db: sqlite_utils.Database, plan: Plan, query_id: int, taxonomy: Taxonomy | None) -> SaveResult:
    """Write a planned page (inside the caller's transaction); returns new and updated ids."""
    result = SaveResult()
    arxiv_papers = [*plan.fetched, *(paper for paper, _ in plan.found)]
    if arxiv_papers:
        result += save_papers(db, arxiv_papers, query_id, taxonomy)
    if plan.rows:
        result += save_papers(db, plan.rows, query_id, taxonomy, venue_source="dblp")
        db.conn.executemany(
            "update papers set dblp_key = ? where id = ? and dblp_key is not ?",
            [(r.dblp_key, r.id, r.dblp_key) for r in plan.rows],
        )
    touched = set(result.new) | set(result.updated)
    merged = []
    for pid, record in [*plan.matches, *((paper.id, record) for paper, record in plan.found)]:
        had_row = merge_row(db, record.id, pid)  # the record's own dblp: row, if an earlier run made one
        if had_row:
            merged.append(pid)
        changed = apply_venue(db, pid, record)
        if (had_row or changed) and pid not in touched:
            result.updated.append(pid)
            touched.add(pid)
    linked = link_query(db, query_id, dict.fromkeys([*(pid for pid, _ in plan.matches), *plan.preprints]))
    refresh_tags(db, list(dict.fromkeys([*linked, *merged])))
    return result


def apply_venue(db: sqlite_utils.Database, paper_id: str, record: Paper) -> bool:
    """Give a stored paper the DBLP record's venue, year, volume, pages, key and DOI.
    Returns whether anything changed. A paper linked to another DBLP key keeps its own."""
    cur = db.execute(
        "update papers set venue = ?, venue_type = ?, volume = ?, pages = ?, year = coalesce(?, year), "
        "venue_source = 'dblp', dblp_key = ?, doi = coalesce(doi, ?) "
        "where id = ? and (dblp_key is null or dblp_key = ?) and not ("
        "venue is ? and venue_type is ? and volume is ? and pages is ? and year is coalesce(?, year) "
        "and venue_source is 'dblp' and dblp_key is ? and doi is coalesce(doi, ?))",
        [
            record.venue,
            record.venue_type,
            record.volume,
            record.pages,
            record.year,
            record.dblp_key,
            record.doi,
            paper_id,
            record.dblp_key,
            record.venue,
            record.venue_type,
            record.volume,
            record.pages,
            record.year,
            record.dblp_key,
            record.doi,
        ],
    )
    return cur.rowcount > 0


# ---------------------------------------------------------------- merging dblp: rows into arXiv papers


def has_dblp_rows(db: sqlite_utils.Database) -> bool:
    # a range on the primary key: an index seek, so arXiv harvests pay nothing when there are none
    return db.execute("select 1 from papers where id >= 'dblp:' and id < 'dblp;' limit 1").fetchone() is not None


def merge_preprints(db: sqlite_utils.Database, papers: Sequence[Paper]) -> list[tuple[str, str]]:
    """Fold `dblp:` rows into these newly stored arXiv papers when they are the same paper
    (same rule as linking). Returns the (dblp id, arXiv id) pairs merged."""
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
    """Move `source` (a dblp: row) onto `target` and delete it: DBLP's venue data, the
    citation key, and every row of every table that points at papers.id. False when
    there is no such row. The caller refreshes the target's tags."""
    old = db.execute(
        f"select citation_key, dblp_key, doi, venue_source, {', '.join(VENUE_COLUMNS)} from papers where id = ?", [source]
    ).fetchone()
    if old is None:
        return False
    citation_key, dblp_key, doi, venue_source, *venue = old
    db.execute("update papers set citation_key = null where id = ?", [source])  # unique: free it first
    # the row's key wins: it was the paper's first (the arXiv paper got one moments ago, on insert)
    db.execute(
        f"update papers set {', '.join(f'{c} = ?' for c in VENUE_COLUMNS)}, venue_source = ?, dblp_key = ?, "
        "doi = coalesce(doi, ?), citation_key = coalesce(?, citation_key) where id = ?",
        [*venue, venue_source, dblp_key, doi, citation_key, target],
    )
    for table, column in _paper_references(db):
        if table in ("papers_authors", "papers_tags"):  # recomputed for the arXiv paper
            db.execute(f"delete from [{table}] where [{column}] = ?", [source])
            continue
        db.execute(f"update or ignore [{table}] set [{column}] = ? where [{column}] = ?", [target, source])
        db.execute(f"delete from [{table}] where [{column}] = ?", [source])
    # the editor's text wins over derived values
    db.execute(
        "update papers set summary = coalesce((select summary from notes where papers_id = ?), summary), "
        "code_url = coalesce((select code_url from notes where papers_id = ?), code_url) where id = ?",
        [target, target, target],
    )
    db.execute("delete from papers where id = ?", [source])
    return True


def _paper_references(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to papers.id, including other features' tables."""
    return [
        (t.name, fk.column)
        for t in db.tables
        for fk in t.foreign_keys
        if fk.other_table == "papers" and fk.other_column == "id"
    ]


def _lookup(db: sqlite_utils.Database, sql: str, values: list) -> dict:
    if not values:
        return {}
    return {k: v for k, v in db.execute(sql, [json.dumps(list(values))]) if k is not None}
