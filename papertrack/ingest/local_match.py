"""Saved arXiv queries run against the local database (`papertrack match`), no network:
what they match is linked and tagged exactly as a harvest would (`store.search` compiles
the query to SQL).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from papertrack.config import Config, SavedQuery
from papertrack.sources.arxiv_query import Node, Not, Op, Term, arxiv_form, first_window, parse, unparse, windowed
from papertrack.store.papers import link_query
from papertrack.store.runs import query_state, sync_queries
from papertrack.store.schema import transaction
from papertrack.store.search import ARXIV_ONLY, Translator, match_ids
from papertrack.store.tags import refresh_tags


def saved_query_text(query: SavedQuery) -> str:
    """The query exactly as a full harvest sends it (restricted to `since` onwards)."""
    return windowed(arxiv_form(query.query), first_window(query.since))


@dataclass
class MatchReport:
    query: str
    matched: int = 0
    linked: int = 0  # papers newly linked to the query (and tagged)
    seconds: float = 0.0
    status: str = "ok"


def match_saved(db: sqlite_utils.Database, config: Config, names: Iterable[str] = ()) -> list[MatchReport]:
    """Run saved arXiv queries locally: link and tag what they match, as a harvest would.

    A query never harvested (no watermark) that a completed snapshot import covers gets
    the snapshot's newest date as its watermark, and counts as backfilled up to that day:
    its first harvest is incremental, and through OAI-PMH when it can be.
    """
    queries = config.select(list(names))
    ids = sync_queries(db, queries)
    translator = Translator(db)
    reports = []
    for q in queries:
        report = MatchReport(q.name)
        if q.source != "arxiv":
            report.status = f"skipped: {q.source} query"
            reports.append(report)
            continue
        started = time.perf_counter()
        found = match_ids(db, saved_query_text(q), translator)
        with transaction(db):
            fresh = link_query(db, ids[q.name], found)
            refresh_tags(db, fresh)
            _adopt_snapshot_watermark(db, q, ids[q.name])
        report.matched, report.linked = len(found), len(fresh)
        report.seconds = time.perf_counter() - started
        reports.append(report)
    return reports


def _adopt_snapshot_watermark(db: sqlite_utils.Database, query: SavedQuery, query_id: int) -> None:
    watermark, progress = query_state(db, query_id)
    if watermark or progress:
        return
    cats = [t.value.rstrip("*") for t in _terms(parse(query.query)) if t.field == "cat"]
    since = query.since.isoformat() if query.since else ""
    newest = None
    for row in db.query("select filter, newest from imports where status = 'done' and newest is not null"):
        keep = json.loads(row["filter"])
        prefixes, imported_since = keep.get("categories") or [], keep.get("since")
        covers = (not prefixes or (cats and all(c.startswith(tuple(prefixes)) for c in cats))) and (
            not imported_since or imported_since <= since
        )
        if covers and (newest is None or row["newest"] > newest):
            newest = row["newest"]
    if newest:
        db.execute(
            "update queries set watermark = ?, covered = ?, covered_via = 'snapshot' where id = ?",
            [newest, newest[:10], query_id],
        )


def _terms(node: Node) -> list[Term]:
    if isinstance(node, Not):
        return _terms(node.node)
    return [*_terms(node.left), *_terms(node.right)] if isinstance(node, Op) else [node]


def try_query(db: sqlite_utils.Database, query: str, limit: int = 10) -> tuple[str, int, list[dict]]:
    """The query as arXiv reads it (`arxiv_form`), how many papers it matches, and the
    newest `limit` of them."""
    tree = parse(query)
    cond, params = Translator(db).where(tree)
    sql = f"from papers p where ({cond}) and {ARXIV_ONLY}"
    count = db.execute(f"select count(*) {sql}", params).fetchone()[0]
    rows = list(db.query(f"select p.id, p.published, p.title {sql} order by p.published desc limit ?", [*params, limit]))
    return unparse(tree), count, rows
