"""One saved query's run in a harvest: its report, its `harvest_runs` row, its outcome.

Every source records its runs the same way (`recorded`): the row ends `ok`, `failed`
(a source's error; or the database's, raised on after recording it if the database
still takes the record), `deferred` (the service is throttling this machine: `Throttled`)
or `interrupted` (Ctrl+C, SIGTERM), with the counts of what the run stored. A page of
one query's run is stored the same way too (`Run.store`: the page, the query's progress or
its end, the counts, in one transaction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlite_utils

from papertrack.config import SavedQuery
from papertrack.enrich.taxonomy import Taxonomy
from papertrack.errors import PapertrackError, Throttled, stop_reason
from papertrack.models import now_iso
from papertrack.store.papers import SaveResult
from papertrack.store.runs import Heartbeat, coverage, query_state, record_run, set_progress, start_run
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
    via: str = ""  # the source that ran it (its --via word)
    note: str | None = None  # something the user should hear once (a query kept on the query API)
    new_ids: list[str] = field(default_factory=list)
    base_requests: int = field(default=0, repr=False)  # the clients' count when the run began


OnPage = Callable[[RunReport, Any], None]  # progress: a page with `total` and `papers`


@dataclass(frozen=True)
class Options:
    """How this harvest runs: `full` ignores watermarks; `via` picks arXiv's channel
    (auto, oai, api); `keep_all` stores every record an OAI listing brings; `lookback`
    is how far behind its watermark an incremental query API run re-reads."""

    full: bool = False
    via: str = "auto"
    keep_all: bool = False
    lookback: timedelta = LOOKBACK


@dataclass
class State:
    """A saved query's stored state, for the sources deciding whether they take it."""

    watermark: str | None
    progress: dict | None
    covered: str | None  # the day its papers are complete up to (the service's date)
    covered_via: str | None  # api, oai or snapshot


def stored_state(db: sqlite_utils.Database, query_id: int) -> State:
    """A saved query's state as stored (`store.runs`)."""
    return State(*query_state(db, query_id), *coverage(db, query_id))


@dataclass
class Run:
    """One saved query being harvested: where to write, what to count, whom to tell."""

    db: sqlite_utils.Database
    query: SavedQuery
    query_id: int
    report: RunReport
    taxonomy: Taxonomy
    options: Options
    requests: Callable[[], int]  # requests made so far by every client the run uses
    on_page: OnPage | None = None
    run_id: int = 0  # its harvest_runs row, once `begin` opened it
    done: bool = False  # its harvest completed (its progress cleared, its watermark moved)

    @property
    def full(self) -> bool:
        return self.options.full

    def begin(self) -> None:
        """Open the run's harvest_runs row and start counting its requests."""
        self.run_id = start_run(self.db, self.query.name, self.report.via or None)
        self.report.base_requests = self.requests()

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

    def page(self, page: Any) -> None:
        """Tell the caller a page was stored (progress bars)."""
        if self.on_page:
            self.on_page(self.report, page)

    def store(
        self,
        page: Any,
        save: Callable[[], SaveResult],
        progress: dict | None,
        watermark: str | None = None,
        covered: tuple[str, str] | None = None,
    ) -> None:
        """Store one page in one transaction: `save` writes it, then the query's `progress`
        (None: the run is complete, see `finish`) and the page's counts; then tell the caller."""
        with transaction(self.db):
            saved = save()
            if progress is None:
                self.finish(watermark, covered)
            else:
                set_progress(self.db, self.query_id, progress)
            self.count(saved)
        self.page(page)

    def finish(self, watermark: str | None, covered: tuple[str, str] | None = None) -> None:
        """The run is complete (inside the caller's transaction): clear the query's progress,
        move its watermark, record the day it is `covered` up to and through what."""
        set_progress(self.db, self.query_id, None, watermark=watermark, covered=covered)
        self.done = True

    def end(self, status: str, error: str) -> None:
        """This run ends early, with `status` (failed, deferred) and why; the others go on."""
        if not self.done and self.report.status == "ok":
            self.report.status, self.report.error = status, error


@contextmanager
def recorded(runs: Sequence[Run]) -> Iterator[None]:
    """Open these runs' rows, run the body (heartbeats kept), then record each one's
    outcome in its row, whatever happens. An error ends every run not yet done:
    `Throttled` defers them, another source error fails them; the database's own errors
    and interruptions are raised on after recording."""
    if not runs:
        yield
        return
    for run in runs:
        run.begin()
    db, unwinding = runs[0].db, False
    try:
        with Heartbeat(db, [r.run_id for r in runs]):
            yield
    except Throttled as e:
        _end(runs, "deferred", str(e))
    except PapertrackError as e:
        _end(runs, "failed", str(e))
    except Exception as e:  # the database's own error (disk full, read-only, ...), or a bug
        unwinding = True
        _end(runs, "failed", str(e) if isinstance(e, sqlite3.Error) else f"{type(e).__name__}: {e}")
        raise
    except BaseException as e:
        unwinding = True
        _end(runs, "interrupted", stop_reason(e))
        raise
    finally:
        for run in runs:
            _record(run, unwinding)


def _end(runs: Sequence[Run], status: str, error: str) -> None:
    for run in runs:
        run.end(status, error)


def _record(run: Run, unwinding: bool) -> None:
    report = run.report
    report.requests = run.requests() - report.base_requests
    try:
        report.total = run.db.execute("select count(*) from papers_queries where queries_id = ?", [run.query_id]).fetchone()[
            0
        ]
        record_run(
            run.db,
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
