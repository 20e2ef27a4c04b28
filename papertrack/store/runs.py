"""Saved queries and harvest runs: their state in the database, and their health.

A query's progress (watermark, the state of an unfinished run, the day it is complete up
to) lives in `queries`; each run of a query is a row of `harvest_runs`. `HEALTH_SQL` flags
each query (failed, deferred, interrupted, running, never, stale, ok); `papertrack status`
and Datasette's "Harvest health" query both run it, so the two cannot disagree.

A process killed with -9 (or a power cut) leaves its row `running`. Two things tell:
* the SQL itself: a running harvest refreshes its row's `heartbeat` every `HEARTBEAT`
  seconds (`Heartbeat`), and a `running` row silent for `SILENCE` seconds reads as
  interrupted. Plain SQL, so stock Datasette and a copy of the database on another
  machine, which can see no process, agree;
* the database's harvest lock (`locks.database_lock`), on the machine that writes it: a
  harvest holds it while it runs and the kernel drops it when the process dies, so when
  it is free no row can be running (`end_dead_runs`, called by `status` under the lock).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from papertrack.config import SavedQuery
from papertrack.errors import LockHeld
from papertrack.models import now_iso
from papertrack.sources.locks import Lock
from papertrack.store.schema import transaction

HEARTBEAT = 20  # seconds between a running harvest's signs of life
SILENCE = 120  # a running row without one for this long belongs to a process that is gone
DEAD_RUN = "the process ended before the run finished"

HEALTH_SQL = f"""with runs as (
  select query, status, started, error,
    status = 'running' and coalesce(heartbeat, started)
      < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-{SILENCE} seconds') as dead,
    row_number() over (partition by query order by id desc) as n
  from harvest_runs
),
last_run as (
  select query, started,
    case when dead then 'interrupted' else status end as status,
    case when dead then '{DEAD_RUN}' else error end as error
  from runs where n = 1
),
flagged as (
  select q.name as query, q.source,
    (select count(*) from papers_queries pq where pq.queries_id = q.id) as papers,
    q.last_success, r.status as last_run, r.started as last_run_started, r.error,
    case
      when r.status = 'failed' then 'failed'
      when r.status = 'deferred' then 'deferred'
      when r.status = 'interrupted' or (r.status is null and q.progress is not null) then 'interrupted'
      when r.status = 'running' then 'running'
      when q.last_success is null then 'never'
      when q.last_success < strftime('%Y-%m-%dT%H:%M:%SZ', 'now',
        '-' || coalesce(nullif(:days, ''), '14') || ' days') then 'stale'
      else 'ok'
    end as flag
  from queries q left join last_run r on r.query = q.name
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
                    "update queries set source = ?, query = ?, since = ?, watermark = null, progress = null, "
                    "covered = null, covered_via = null where id = ?",
                    [q.source, q.query, since, row[0]],
                )
            db.execute("update queries set tags = ? where id = ? and tags is not ?", [tags, row[0], tags])
        for name, position in zip(ids, range(1, len(ids) + 1)):
            db.execute("update queries set position = ? where id = ? and position is not ?", [position, ids[name], position])
    return ids


def tag_order(db: sqlite_utils.Database) -> list[str]:
    """Tags in the order the saved queries give them, queries in queries.yaml's order (as
    last synced): how digests and the desk order their groups."""
    order: dict[str, None] = {}
    for (tags,) in db.execute("select tags from queries order by position is null, position, id"):
        try:
            order.update(dict.fromkeys(t for t in json.loads(tags or "[]") if isinstance(t, str)))
        except ValueError:
            continue
    return list(order)


def query_state(db: sqlite_utils.Database, query_id: int) -> tuple[str | None, dict | None]:
    """(watermark, progress) of a saved query."""
    watermark, progress = db.execute("select watermark, progress from queries where id = ?", [query_id]).fetchone()
    return watermark, json.loads(progress) if progress else None


def set_progress(
    db: sqlite_utils.Database,
    query_id: int,
    progress: dict | None,
    watermark: str | None = None,
    covered: tuple[str, str] | None = None,
) -> None:
    """Store a query's in-flight progress (or clear it and move the watermark when done;
    `covered`: the day it is now complete up to, and through what)."""
    if progress is None:
        day, via = covered or (None, None)
        db.execute(
            "update queries set progress = null, watermark = coalesce(?, watermark), last_success = ?, "
            "covered = coalesce(?, covered), covered_via = coalesce(?, covered_via) where id = ?",
            [watermark, now_iso(), day, via, query_id],
        )
    else:
        db.execute("update queries set progress = ? where id = ?", [json.dumps(progress), query_id])


def coverage(db: sqlite_utils.Database, query_id: int) -> tuple[str | None, str | None]:
    """(day, via): the day a query's papers are complete up to and how, or (None, None).
    A query harvested before papertrack recorded this counts as complete up to its
    watermark, through the query API."""
    row = db.execute("select covered, covered_via, watermark, last_success from queries where id = ?", [query_id]).fetchone()
    if row is None:
        return None, None
    covered, via, watermark, last_success = row
    if covered:
        return covered, via
    if watermark and last_success and watermark[:4].isdigit():
        return watermark[:10], "api"
    return None, None


def last_statuses(db: sqlite_utils.Database, names: Iterable[str]) -> dict[str, str]:
    """The status of each named query's latest run (deferred queries go first next time)."""
    return dict(
        db.execute(
            "select query, status from harvest_runs where id in (select max(id) from harvest_runs "
            "where query in (select value from json_each(?)) group by query)",
            [json.dumps(list(names))],
        ).fetchall()
    )


def start_run(db: sqlite_utils.Database, query: str, via: str | None = None) -> int:
    """Open a harvest_runs row; a row left 'running' by a killed process becomes 'interrupted'."""
    with transaction(db):
        db.execute(
            "update harvest_runs set status = 'interrupted', error = ? where query = ? and status = 'running'",
            [DEAD_RUN, query],
        )
        now = now_iso()
        cur = db.execute(
            "insert into harvest_runs (query, started, status, requests, new, updated, heartbeat, via) "
            "values (?, ?, 'running', 0, 0, 0, ?, ?)",
            [query, now, now, via],
        )
    return cur.lastrowid  # type: ignore[return-value]


def end_dead_runs(db: sqlite_utils.Database) -> int:
    """Mark every row left 'running' interrupted. Only for a caller holding the database's
    harvest lock: then no harvest is alive to own such a row."""
    with transaction(db):
        return db.execute(
            "update harvest_runs set status = 'interrupted', error = ? where status = 'running'", [DEAD_RUN]
        ).rowcount


class Heartbeat:
    """Refreshes running rows' `heartbeat` every `every` seconds from a thread with its
    own connection, for as long as the `with` block runs (a file database only). A beat
    that finds the database busy or full is skipped: the next one tries again."""

    def __init__(self, db: sqlite_utils.Database, run_ids: int | Iterable[int], every: float = HEARTBEAT):
        self.run_ids = json.dumps([run_ids] if isinstance(run_ids, int) else list(run_ids))
        self.every = every
        self.path = next((row[2] for row in db.execute("pragma database_list") if row[1] == "main"), "")
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.path:
            self.thread = threading.Thread(target=self._beat, name="papertrack-heartbeat", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()

    def _beat(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=2, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            while not self.stopped.wait(self.every):
                try:
                    conn.execute(
                        "update harvest_runs set heartbeat = ? where id in (select value from json_each(?)) "
                        "and status = 'running'",
                        [now_iso(), self.run_ids],
                    )
                except sqlite3.Error:
                    pass
        finally:
            conn.close()


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
    flag: str  # failed, deferred, interrupted, running, never, stale or ok


def query_status(
    db: sqlite_utils.Database, queries: Iterable[SavedQuery], stale_days: float = 14, harvest_lock: Lock | None = None
) -> list[QueryStatus]:
    """The health of these saved queries (`HEALTH_SQL`), in their order.

    With the database's `harvest_lock` (taken shared, never waited for): if no harvest
    holds it, the rows left 'running' are dead and are marked interrupted first."""
    queries = list(queries)
    sync_queries(db, queries)
    if harvest_lock is not None:
        try:
            with harvest_lock:
                end_dead_runs(db)
        except (LockHeld, OSError):
            pass  # a harvest or import holds the database (its rows are alive), or no lock file can be made here
    rows = {r["query"]: r for r in db.query(HEALTH_SQL, {"days": stale_days})}
    return [
        QueryStatus(q.name, q.source, r["papers"], r["last_success"], r["last_run"], r["error"], r["flag"])
        for q in queries
        for r in [rows[q.name]]
    ]
