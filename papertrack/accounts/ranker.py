"""The process that fits readers' rankings, away from the web server's threads.

A fit is seconds of numpy and scikit-learn; in a thread of the server it would hold the
GIL and slow every page. So one child process (spawned on the first fit asked for) holds
every paper's features (`rank.feedback.PaperIndex`, refreshed before each fit), takes
jobs one at a time and sends each reader's order back through a pipe. The server keeps at
most one job per reader waiting (the newest: a burst of likes costs one fit). The child
ends when the server does (its end of the pipe closes).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import quote

import numpy as np


@dataclass
class FitJob:
    user_id: int
    version: int  # the reader's library_version the job was read at
    positives: list[str]
    negatives: list[str]


@dataclass
class FitResult:
    user_id: int
    version: int
    keys: np.ndarray  # papers.rowid best first, the reader's judged papers left out
    values: np.ndarray  # minus the score, ascending: the browse page's sort value
    cols: np.ndarray  # the strongest weights (for the reasons)
    weights: np.ndarray
    signature: tuple[int, int]  # (papers, largest rowid) the features were read at
    idf: tuple[np.ndarray, np.ndarray] | None  # the features' idf, when they changed since the last result
    reasons: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # of the first papers
    positives: int = 0
    negatives: int = 0
    seconds: float = 0.0
    error: str | None = None


def connect(papers_path: str | Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(Path(papers_path).resolve()))}?mode=ro", uri=True)


TOP_REASONS = 200  # papers whose reasons come with a ranking (the first pages of for-you)


def fit_job(index, job: FitJob, send_idf: bool = True, conn: sqlite3.Connection | None = None) -> FitResult:
    """The reader's ranking from the index (`rank.feedback.PaperIndex`); `send_idf`: with
    the features' idf (the server needs them to name the reasons); with `conn` (the papers),
    the reasons of the first TOP_REASONS papers."""
    from papertrack.rank.features import read_batch
    from papertrack.rank.feedback import fit_feedback, reasons

    started = time.perf_counter()
    pos, neg = index.row_of(job.positives), index.row_of(job.negatives)
    model = fit_feedback(index.X, pos, neg, seed=job.user_id)
    scores = model.scores(index.X).astype(np.float64)
    judged = np.union1d(pos, neg)
    keep = np.setdiff1d(np.arange(len(index.keys)), judged, assume_unique=True)
    keys, values = index.keys[keep], -scores[keep]
    order = np.lexsort((keys, values))
    cols, weights = model.strongest()
    idf = (index.feat.idf_text, index.feat.idf_title) if send_idf else None
    why = {}
    if conn is not None:
        first = [index.ids[r] for r in keep[order[:TOP_REASONS]]]
        batch = read_batch(conn, first)
        why = dict(zip(batch.ids, reasons(index.feat, cols, weights, batch)))
    return FitResult(
        job.user_id, job.version, keys[order], values[order], cols, weights, index.signature, idf,
        why, len(pos), len(neg), time.perf_counter() - started,
    )  # fmt: skip


def _serve(pipe, papers_path: str, n_jobs: int) -> None:
    """The child: fit jobs as they come until the server goes."""
    from threadpoolctl import threadpool_limits

    from papertrack.rank.feedback import PaperIndex

    index = sent = None
    with threadpool_limits(1):  # one core for fits; the other stays the server's
        while True:
            try:
                job = pipe.recv()
            except (EOFError, OSError):
                return
            try:
                conn = connect(papers_path)
                try:
                    conn.execute("begin")  # one snapshot while a harvest writes
                    index = PaperIndex.build(conn, n_jobs) if index is None else index.refresh(conn, n_jobs)
                    result = fit_job(index, job, send_idf=index.feat is not sent, conn=conn)
                finally:
                    conn.close()
                sent = index.feat
            except Exception as e:  # reported to the server, which keeps the reader's last ranking
                result = _failed(job, f"{type(e).__name__}: {e}")
            pipe.send(result)


def _failed(job: FitJob, error: str) -> FitResult:
    empty = np.zeros(0)
    return FitResult(job.user_id, job.version, empty, empty, empty, empty, (0, 0), None, error=error)


class Ranker:
    """The server's side: `submit` a job (never blocks); `deliver` gets each result, in a
    thread of its own."""

    def __init__(self, papers_path: str | Path, deliver: Callable[[FitResult], None], n_jobs: int = 2):
        self.papers_path, self.deliver, self.n_jobs = str(papers_path), deliver, n_jobs
        self._lock = threading.Lock()
        self._waiting: dict[int, FitJob] = {}
        self._busy = False
        self._pipe: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def submit(self, job: FitJob) -> None:
        with self._lock:
            self._waiting[job.user_id] = job
            if not self._busy:
                self._send_next()

    def pending(self, user_id: int) -> bool:
        with self._lock:
            return user_id in self._waiting

    def _send_next(self) -> None:  # holding the lock
        if not self._waiting:
            return
        user_id = next(iter(self._waiting))
        job = self._waiting.pop(user_id)
        if self._process is None or not self._process.is_alive():
            self._start()
        self._busy = True
        assert self._pipe is not None
        self._pipe.send(job)

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, self.papers_path, self.n_jobs), daemon=True, name="papertrack-ranker"
        )
        self._process.start()
        child.close()
        self._pipe = parent
        threading.Thread(target=self._receive, args=(parent,), daemon=True, name="papertrack-ranker-results").start()

    def _receive(self, pipe) -> None:
        while True:
            try:
                result = pipe.recv()
            except (EOFError, OSError):  # the child died: the next job starts another
                with self._lock:
                    self._busy = False
                return
            if result.error:
                print(f"papertrack: the ranking of user {result.user_id} failed: {result.error}", file=sys.stderr)
            else:
                self.deliver(result)
            with self._lock:
                self._busy = False
                self._send_next()

    def close(self) -> None:
        with self._lock:
            self._waiting.clear()
            if self._pipe is not None:
                self._pipe.close()
            if self._process is not None:
                self._process.terminate()
                self._process.join(5)
