"""`papertrack import-dblp FILE`: the venue queries of queries.yaml run over dblp's XML dump.

For people who download the dump in a browser (dblp shows scripts a bot check). The dump
is streamed once (`sources.dblp_xml`); each record is matched against every dblp query
(toc, venue, year, title words: `DblpQuery.matches`), and each query's matches are
linked and stored exactly as a SPARQL harvest links them (`link_dblp`: the query's title
filter and `since`, stored papers, arXiv preprints), `batch` records per transaction.
Records are keyed by their dblp key, so a rerun after a kill re-links what it had and
stores nothing twice. The queries' harvest state (watermarks, runs) is left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from papertrack.config import Config, SavedQuery
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.errors import UsageError
from papertrack.ingest.link_dblp import plan_page, save_plan
from papertrack.sources.arxiv import ArxivClient
from papertrack.sources.dblp import page_of
from papertrack.sources.dblp_query import parse_dblp
from papertrack.sources.dblp_xml import read_dump
from papertrack.store.runs import sync_queries
from papertrack.store.schema import transaction

BATCH = 1000  # records of one query per transaction


@dataclass
class QueryCount:
    query: str
    records: int = 0  # dump records the query matched
    new: int = 0
    updated: int = 0
    total: int = 0  # papers the query holds afterwards


@dataclass
class DumpReport:
    path: str
    read: int = 0  # publications read
    seconds: float = 0.0
    queries: dict[str, QueryCount] = field(default_factory=dict)


def import_dblp(
    db: sqlite_utils.Database,
    path: str | Path,
    config: Config,
    names: Iterable[str] = (),
    *,
    arxiv_client: ArxivClient | None = None,
    batch: int = BATCH,
    on_read: Callable[[DumpReport], None] | None = None,
) -> DumpReport:
    """Store what the dblp queries (all, or `names`) match in the dump at `path`, linked
    like a harvest; without `arxiv_client`, no arXiv look-ups (stored papers only)."""
    chosen = config.select(list(names))
    named = [q for q in chosen if names and q.source != "dblp"]
    if named:
        raise UsageError(f"{named[0].name!r} is an {named[0].source} query: the dump serves dblp queries only")
    queries = [q for q in chosen if q.source == "dblp"]
    if not queries:
        raise UsageError(f"{config.path} has no dblp query to run over the dump")
    ids = sync_queries(db, queries)
    parsed = [(q, parse_dblp(q.query)) for q in queries]
    taxonomy = Taxonomy(config.taxonomy)
    report = DumpReport(str(path), queries={q.name: QueryCount(q.name) for q in queries})
    pending: dict[str, list[dict]] = {q.name: [] for q in queries}
    started = time.perf_counter()

    def flush(query: SavedQuery) -> None:
        infos, pending[query.name] = pending[query.name], []
        if not infos:
            return
        plan = plan_page(db, page_of(infos, 0, len(infos), str(path)), query, arxiv_client)
        with transaction(db):
            saved = save_plan(db, plan, ids[query.name], taxonomy)
        count = report.queries[query.name]
        count.new, count.updated = count.new + len(saved.new), count.updated + len(saved.updated)

    for record in read_dump(path):
        report.read += 1
        for query, dq in parsed:
            if dq.matches(record):
                pending[query.name].append(record.info())
                report.queries[query.name].records += 1
                if len(pending[query.name]) >= batch:
                    flush(query)
        if on_read and report.read % 100_000 == 0:
            on_read(report)
    for query, _ in parsed:
        flush(query)
    for query in queries:
        report.queries[query.name].total = db.execute(
            "select count(*) from papers_queries where queries_id = ?", [ids[query.name]]
        ).fetchone()[0]
    report.seconds = time.perf_counter() - started
    return report
