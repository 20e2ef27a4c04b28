"""Link DBLP records to the papers we have (`dblp:` rows are merged later: `store.merge`).

A DBLP record is the paper, in this order:
  1. already linked to its DBLP key (an arXiv paper, or its own `dblp:<key>` row);
  2. the arXiv paper DBLP points to (a CoRR record, or an `ee` link to arxiv.org);
  3. a stored paper with the same DOI;
  4. a stored paper with the same title and a shared author (`store.identity`);
  5. its arXiv preprint, looked up by title (batched `ti:"..."` phrases, confirmed by
     the same title rule) and saved;
  6. otherwise a new `dblp:<key>` row carrying DBLP's metadata.
A linked paper takes DBLP's venue, year, volume, pages, key and (if it has none) DOI,
with `venue_source = 'dblp'`, which outranks a venue read from an arXiv comment; a paper
already linked to another DBLP key keeps that one. CoRR records only tag their arXiv paper.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import arxiv
import sqlite_utils

from papertrack.config import SavedQuery
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.models import Paper, normalize_title
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.dblp import DblpPage
from papertrack.store.identity import best_match, find_by_title
from papertrack.store.merge import DBLP_PREFIX, merge_row
from papertrack.store.papers import SaveResult, link_query, save_papers
from papertrack.store.precedence import VENUE_COLUMNS, set_venue
from papertrack.store.tags import refresh_tags

LOOKUP_BATCH = 20  # titles per arXiv request (an OR of ti:"..." phrases; keeps the URL short)


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
    arxiv_client: ArxivClient | None,
    lookup_known: bool = False,
) -> Plan:
    """Resolve each record of a page (see the module docstring). Preprint look-ups run
    for records that have no row yet, or for all unmatched ones when `lookup_known`;
    without an `arxiv_client` none do (rules 2 and 5 are skipped)."""
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
        if record.id in page.preprints and aid:  # a CoRR record: the arXiv paper itself, no venue
            if aid in stored:
                plan.preprints.append(aid)
            elif arxiv_client:
                by_arxiv_id[aid] = record
            continue
        pid = keys.get(record.dblp_key)
        has_row = pid == record.id
        target = None if has_row else pid
        target = target or (aid if aid in stored else None) or dois.get(record.doi)
        if target is None and aid and arxiv_client and (lookup_known or not has_row):
            by_arxiv_id[aid] = record
            continue
        if target is None and not has_row:  # a row's title was matched when its preprint arrived
            target = find_by_title(db, record.title, record.authors, exclude_prefix=DBLP_PREFIX)
        if target:
            plan.matches.append((target, record))
        else:
            unmatched.append(record)
    for paper in arxiv_client.fetch_ids(list(by_arxiv_id)) if arxiv_client and by_arxiv_id else ():
        if paper.id not in by_arxiv_id:
            continue
        record = by_arxiv_id.pop(paper.id)
        if record.id in page.preprints:
            plan.fetched.append(paper)
            plan.preprints.append(paper.id)
        else:
            plan.found.append((paper, record))
    unmatched += [r for r in by_arxiv_id.values() if r.id not in page.preprints]  # ids arXiv did not know
    rows = {pid for pid in keys.values() if pid.startswith(DBLP_PREFIX)}
    found = (
        lookup_preprints(arxiv_client, [r for r in unmatched if lookup_known or r.id not in rows]) if arxiv_client else {}
    )
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
        result += save_papers(db, arxiv_papers, query_id=query_id, taxonomy=taxonomy)
    if plan.rows:
        result += save_papers(db, plan.rows, query_id=query_id, taxonomy=taxonomy, venue_source="dblp")
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
    """Give a stored paper the DBLP record's venue, year, volume, pages (by precedence), key
    and DOI (if it has none). Returns whether anything changed. A paper linked to another
    DBLP key keeps its own."""
    key = db.execute("select dblp_key from papers where id = ?", [paper_id]).fetchone()
    if key is None or key[0] not in (None, record.dblp_key):
        return False
    venue = {c: getattr(record, c) for c in VENUE_COLUMNS}
    changed = set_venue(db, paper_id, venue, "dblp", record.year)
    cur = db.execute(
        "update papers set dblp_key = ?, doi = coalesce(doi, ?) where id = ? and (dblp_key is not ? or doi is null and ? is not null)",
        [record.dblp_key, record.doi, paper_id, record.dblp_key, record.doi],
    )
    return changed or cur.rowcount > 0


def _lookup(db: sqlite_utils.Database, sql: str, values: list) -> dict:
    if not values:
        return {}
    return {k: v for k, v in db.execute(sql, [json.dumps(list(values))]) if k is not None}
