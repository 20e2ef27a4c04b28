"""Harvest saved queries: for each query, page -> save -> progress, one transaction a page.

arXiv queries are incremental by a watermark: results come newest-updated first, and
paging stops at the first paper updated before the previous complete run's newest one,
so a run with nothing new costs one request. New versions move a paper to the top of
that order, so they are picked up too. DBLP queries (see `harvest_dblp`) remember their
hit count instead. The state of an unfinished run (which date window, which offset) is
committed with every page: a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlite_utils

from papertrack.config import Config, SavedQuery
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.errors import PapertrackError, SourceError
from papertrack.ingest.link_dblp import plan_page, save_plan
from papertrack.models import iso_utc, now_iso
from papertrack.sources.arxiv import ArxivClient, Page
from papertrack.sources.arxiv_query import PAGING_LIMIT, arxiv_form, first_window, split_window, windowed
from papertrack.sources.dblp import DblpClient, DblpPage
from papertrack.store.papers import SaveResult, save_papers
from papertrack.store.runs import Heartbeat, query_state, record_run, set_progress, start_run, sync_queries
from papertrack.store.schema import transaction

# arXiv dates a version by its submission, but lists it only once announced (a day or more
# later, longer if held for moderation), so an incremental run re-reads a week behind the
# watermark; those papers are usually on the first page anyway.
LOOKBACK = timedelta(days=7)


@dataclass
class RunReport:
    """One query's run, as shown in the closing table and stored in harvest_runs."""

    query: str
    requests: int = 0
    new: int = 0
    updated: int = 0
    total: int = 0
    status: str = "ok"
    error: str | None = None
    new_ids: list[str] = field(default_factory=list)
    base_requests: int = field(default=0, repr=False)  # the client's count when the run began


OnPage = Callable[[RunReport, Page | DblpPage], None]  # progress: a page of `total` results


@dataclass
class Run:
    """One saved query being harvested: where to write, what to count, whom to tell."""

    db: sqlite_utils.Database
    query: SavedQuery
    query_id: int
    run_id: int
    report: RunReport
    taxonomy: Taxonomy
    full: bool
    requests: Callable[[], int]  # requests made so far by every client the run uses
    on_page: OnPage | None = None

    def count(self, saved: SaveResult) -> None:
        """Add a page's counts to the report and its harvest_runs row (inside the page's transaction)."""
        report = self.report
        report.new += len(saved.new)
        report.updated += len(saved.updated)
        report.new_ids += saved.new
        report.requests = self.requests() - report.base_requests
        self.db.execute(
            "update harvest_runs set requests = ?, new = ?, updated = ? where id = ?",
            [report.requests, report.new, report.updated, self.run_id],
        )


def harvest(
    db: sqlite_utils.Database,
    config: Config,
    names: Iterable[str] = (),
    *,
    full: bool = False,
    arxiv_client: ArxivClient | None = None,
    on_page: OnPage | None = None,
    lookback: timedelta = LOOKBACK,
    dblp_client: DblpClient | None = None,
) -> list[RunReport]:
    """Run the named saved queries (all by default). A failed query does not stop the rest."""
    queries = config.select(list(names))
    ids = sync_queries(db, queries)
    taxonomy = Taxonomy(config.taxonomy)
    client = arxiv_client or ArxivClient()
    dblp = (dblp_client or DblpClient()) if any(q.source == "dblp" for q in queries) else None

    def requests() -> int:  # a DBLP query also asks arXiv for preprints
        return client.requests + (dblp.requests if dblp else 0)

    # Every endpoint this harvest may use is taken before the first run starts, always in
    # this order: two harvests can then never each hold one and wait for the other's.
    for source in (client, dblp):
        if source is not None:
            source.hold()
    reports = []
    for q in queries:
        report = RunReport(q.name, base_requests=requests())
        run_id = start_run(db, q.name)
        run = Run(db, q, ids[q.name], run_id, report, taxonomy, full, requests, on_page)
        with Heartbeat(db, run_id):
            _run(run, client, dblp, lookback)
        reports.append(report)
    return reports


def _run(run: Run, client: ArxivClient, dblp: DblpClient | None, lookback: timedelta) -> None:
    """One query's run, its outcome recorded in its harvest_runs row whatever happens:
    `failed` (a source's error; or the database's, raised on after recording it if the
    database still takes the record), or `interrupted` (Ctrl+C, SIGTERM)."""
    db, q, report = run.db, run.query, run.report
    unwinding = False
    try:
        if q.source == "arxiv":
            harvest_arxiv(run, client, lookback)
        elif dblp is not None:
            harvest_dblp(run, dblp, client)
        else:  # config.SOURCES admits no other
            raise SourceError(f"source {q.source!r} is not supported")
    except PapertrackError as e:
        report.status, report.error = "failed", str(e)
    except Exception as e:  # the database's own error (disk full, read-only, ...), or a bug
        unwinding, report.status = True, "failed"
        report.error = str(e) if isinstance(e, sqlite3.Error) else f"{type(e).__name__}: {e}"
        raise
    except BaseException as e:
        unwinding, report.status, report.error = True, "interrupted", str(e) or "stopped by Ctrl+C"
        raise
    finally:
        report.requests = run.requests() - report.base_requests
        try:
            report.total = db.execute("select count(*) from papers_queries where queries_id = ?", [run.query_id]).fetchone()[
                0
            ]
            record_run(
                db,
                run.run_id,
                finished=now_iso(),
                status=report.status,
                error=report.error,
                requests=report.requests,
                new=report.new,
                updated=report.updated,
            )
        except sqlite3.Error:
            if not unwinding:
                raise  # else the error on its way out says more than this one


def harvest_arxiv(run: Run, client: ArxivClient, lookback: timedelta = LOOKBACK) -> None:
    """Page one arXiv query into the database, resuming any unfinished run."""
    db, query, query_id, full = run.db, run.query, run.query_id, run.full
    watermark, state = query_state(db, query_id)
    if state is None or (full and not state.get("full")):
        floor = None if full or not watermark else _shift(watermark, -lookback)
        state = {"full": full, "floor": floor, "windows": [first_window(query.since)], "start": 0, "newest": None}
    floor, sent = state["floor"], arxiv_form(query.query)
    while state["windows"]:
        window, start = state["windows"][0], state["start"]
        page = client.page(windowed(sent, window), start)
        if start == 0 and page.total > PAGING_LIMIT and not _reaches(page, floor):
            # more than arXiv will page through: split by submission date and start over
            state["windows"][0:1] = split_window(window, page.total)
            with transaction(db):
                set_progress(db, query_id, state)
            continue
        keep = [p for p in page.papers if floor is None or (p.updated or "") >= floor]
        end = start + len(page.papers)
        if len(keep) < len(page.papers) or end >= min(page.total, PAGING_LIMIT) or not page.papers:
            state["windows"].pop(0)
            state["start"] = 0
        else:
            state["start"] = end
        state["newest"] = max([state["newest"] or "", *(p.updated or "" for p in keep)]) or None
        # storing happens inside the politeness delay: the session waits from the last response
        with transaction(db):
            saved = save_papers(db, keep, query_id=query_id, taxonomy=run.taxonomy)
            if state["windows"]:
                set_progress(db, query_id, state)
            else:
                set_progress(db, query_id, None, watermark=max(state["newest"] or "", watermark or "") or None)
            run.count(saved)
        if run.on_page:
            run.on_page(run.report, page)


def harvest_dblp(run: Run, dblp: DblpClient, arxiv_client: ArxivClient) -> None:
    """Page one DBLP search into the database, linking each record to its arXiv paper.

    DBLP can neither sort nor filter by date, but a venue's table of contents is a closed
    set that only grows: the watermark is the hit count of the last complete run and the
    title filter it ran with. A run reads the first page; if neither changed it stops
    there (one request), else it reads every page again, where records already stored
    cost no look-ups. `full` reads every page and looks up unlinked preprints again.
    """
    db, query, query_id, full = run.db, run.query, run.query_id, run.full
    watermark, state = query_state(db, query_id)
    if state is None or (full and not state.get("full")):
        state = {"full": full, "first": 0}
    fresh = state["first"] == 0
    for page in dblp.fetch_pages(query.query, state["first"]):
        # a changed title_filter changes the mark too: the records it now admits are read
        mark = json.dumps({"hits": page.total, "title_filter": query.title_filter})
        done = page.first + page.sent >= page.total or (fresh and not full and watermark == mark)
        plan = plan_page(db, page, query, arxiv_client, lookup_known=state["full"])
        with transaction(db):
            saved = save_plan(db, plan, query_id, run.taxonomy)
            if done:
                set_progress(db, query_id, None, watermark=mark)
            else:
                set_progress(db, query_id, {**state, "first": page.first + page.sent})
            run.count(saved)
        if run.on_page:
            run.on_page(run.report, page)
        if done:
            break


def _shift(iso: str, delta: timedelta) -> str:
    return iso_utc(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ") + delta)  # type: ignore[return-value]


def _reaches(page: Page, floor: str | None) -> bool:
    """Whether this page already holds a paper older than the watermark (paging ends here)."""
    return floor is not None and any((p.updated or "") < floor for p in page.papers)
