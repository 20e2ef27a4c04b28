"""Saved queries and harvest runs: their state in the database, and their health.

A query's progress (watermark, the state of an unfinished run) lives in `queries`; each
run of a query is a row of `harvest_runs`. `HEALTH_SQL` flags each query (failed,
interrupted, running, never, stale, ok); `papertrack status` and Datasette's "Harvest
health" query both run it, so the two cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from papertrack.config import SavedQuery
from papertrack.models import now_iso
from papertrack.store.schema import transaction

HEALTH_SQL = """with last_run as (
  select query, status, started, error,
    row_number() over (partition by query order by id desc) as n
  from harvest_runs
),
flagged as (
  select q.name as query, q.source,
    (select count(*) from papers_queries pq where pq.queries_id = q.id) as papers,
    q.last_success, r.status as last_run, r.started as last_run_started, r.error,
    case
      when r.status = 'failed' then 'failed'
      when r.status = 'interrupted' or (r.status is null and q.progress is not null) then 'interrupted'
      when r.status = 'running' then 'running'
      when q.last_success is null then 'never'
      when q.last_success < strftime('%Y-%m-%dT%H:%M:%SZ', 'now',
        '-' || coalesce(nullif(:days, ''), '14') || ' days') then 'stale'
      else 'ok'
    end as flag
  from queries q left join last_run r on r.query = q.name and r.n = 1
)
select flag, query, source, papers, last_success, last_run, last_run_started, error
from flagged
order by flag in ('ok', 'running'), query"""


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
                ids[q.name] = cur.lastrowid or 0  # sqlite3 sets it after every insert
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


@dataclass
class QueryStatus:
    """A saved query's harvest health, for `papertrack status`."""

    query: str
    source: str
    papers: int
    last_success: str | None
    last_status: str | None
    last_error: str | None
    flag: str  # failed, interrupted, running, never, stale or ok


def query_status(db: sqlite_utils.Database, queries: Iterable[SavedQuery], stale_days: float = 14) -> list[QueryStatus]:
    """The health of these saved queries (`HEALTH_SQL`), in their order."""
    queries = list(queries)
    sync_queries(db, queries)
    rows = {r["query"]: r for r in db.query(HEALTH_SQL, {"days": stale_days})}
    return [
        QueryStatus(q.name, q.source, r["papers"], r["last_success"], r["last_run"], r["error"], r["flag"])
        for q in queries
        for r in [rows[q.name]]
    ]
