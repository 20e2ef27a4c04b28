"""The browse page's `sort=for-you`: a signed-in reader's own ranking.

`Recommender` keeps each reader's latest `Ranking` in memory and asks the ranking process
(`ranker`) for a new one when the reader's library moved on (their `library_version`) or
papers arrived; the page shows the ranking it has meanwhile, never waits for a fit.
`FOR_YOU` is the sort (`store.browse.register_sort`); its keys come from the ranking the
request set in `CURRENT` (the web layer does, around its queries): with nothing
selected, a slice of the ranking; with a search (unless a word alone matches more than
20,000 papers), arXiv syntax's SQL conditions or filters selecting under 2% of the papers,
the selected papers fetched and ordered by their place in it; else the ranking walked in
chunks checked against the conditions (one FTS probe a row for a search).
"""

from __future__ import annotations

import contextvars
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from papertrack.accounts.ranker import FitJob, FitResult, Ranker
from papertrack.errors import UsageError
from papertrack.rank.profiles import MIN_POSITIVES
from papertrack.store.browse import Cursor, Sort
from papertrack.store.browse_search import Selection, papers_count

WALK_SHARE = 0.02  # filters selecting at least this share of the papers: walk the ranking; else fetch them
FETCH_ALL = 20_000  # a search matching up to this many papers is fetched whole
WALK = 2_000  # ranked papers checked against the conditions at a time, at most
MAX_REASONS = 5_000  # reasons kept per ranking


@dataclass
class Ranking:
    """One reader's papers best first (`keys`, with `values` = minus the score ascending,
    ties by key), the strongest weights for the reasons, and what it was fitted on."""

    user_id: int
    version: int
    keys: np.ndarray
    values: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    signature: tuple[int, int]
    positives: int = 0
    negatives: int = 0
    why: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict, repr=False)  # reasons known so far
    place: np.ndarray = field(init=False, repr=False)  # k -> index in keys, -1 when not ranked

    def __post_init__(self) -> None:
        self.place = np.full(int(self.keys.max()) + 1 if len(self.keys) else 0, -1, dtype=np.int64)
        self.place[self.keys] = np.arange(len(self.keys))

    @classmethod
    def of(cls, r: FitResult) -> Ranking:
        return cls(
            r.user_id, r.version, r.keys, r.values, r.cols, r.weights, r.signature, r.positives, r.negatives, r.reasons
        )

    def start(self, after: Cursor | None) -> int:
        """Index of the first paper after the cursor (value, k)."""
        if after is None:
            return 0
        lo = int(np.searchsorted(self.values, after[0], "left"))
        hi = int(np.searchsorted(self.values, after[0], "right"))
        return lo + int(np.searchsorted(self.keys[lo:hi], after[1], "right"))

    def slice(self, start: int, limit: int) -> list[tuple[int, float]]:
        return [(int(k), float(v)) for k, v in zip(self.keys[start : start + limit], self.values[start : start + limit])]

    def ordered(self, keys: Sequence[int], start: int, limit: int) -> list[tuple[int, float]]:
        """Those of `keys` ranked at `start` or later, best first, at most `limit`."""
        ks = np.asarray(keys, dtype=np.int64)
        ks = ks[(ks >= 0) & (ks < len(self.place))]
        at = self.place[ks]
        at = np.sort(at[at >= start])[:limit]
        return self.slice_at(at)

    def slice_at(self, at: np.ndarray) -> list[tuple[int, float]]:
        return [(int(self.keys[i]), float(self.values[i])) for i in at]


CURRENT: contextvars.ContextVar[Ranking | None] = contextvars.ContextVar("papertrack_for_you", default=None)


def for_you_keys(conn: sqlite3.Connection, sel: Selection, arg: str | None, after: Cursor | None, limit: int) -> list:
    ranking = CURRENT.get()
    if ranking is None or arg is not None:
        raise UsageError("sort 'for-you' ranks papers for a signed-in reader: sign in first (/-/login)")
    start = ranking.start(after)
    s, f = sel.search, sel.filters
    if not s.active and f.empty:
        return ranking.slice(start, limit)
    total = max(papers_count(conn), 1)
    if s.fts is not None:  # an FTS probe a row costs 20-60 us: walk only for very common words alone
        share = (sel.matches or 0) / total if f.values() == [] and (sel.matches or 0) > FETCH_ALL else 0.0
    else:
        share = (sel.driver[1] if f.values() else total) / total
    if s.cond is not None or share < WALK_SHARE:  # few papers (or arXiv syntax's SQL): fetch them, order them
        frm, params, _, key = sel.source()
        return ranking.ordered([r[0] for r in conn.execute(f"select {key} {frm}", params)], start, limit)
    conds, params = f.conditions()
    if s.fts is not None:
        conds.append("exists (select 1 from papers_fts where papers_fts match ? and rowid = b.k)")
        params.append(s.fts)
    step = min(WALK, max(100, int(2 * limit / max(share, 0.001))))  # about two pages of selected papers a query
    out: list[tuple[int, float]] = []
    while len(out) < limit and start < len(ranking.keys):
        chunk = ranking.keys[start : start + step]
        found = {
            r[0]
            for r in conn.execute(
                f"select b.k from browse b where b.k in (select value from json_each(?)) and {' and '.join(conds)}",
                [json.dumps(chunk.tolist()), *params],
            )
        }
        out += [p for p in ranking.slice(start, step) if p[0] in found][: limit - len(out)]
        start += step
    return out


FOR_YOU = Sort("for-you", "for you", for_you_keys)


@dataclass
class Status:
    """What the page says about a reader's ranking."""

    ranking: Ranking | None
    needed: int = 0  # positives still missing before a first fit
    updating: bool = False  # a newer ranking is being fitted


class Recommender:
    """Every reader's ranking on one server (one per Datasette instance)."""

    def __init__(self, papers_path: str | Path, n_jobs: int = 2):
        self._rankings: dict[int, Ranking] = {}
        self._asked: dict[int, tuple[int, tuple[int, int] | None]] = {}  # user -> (version, signature) last asked for
        self._idf: tuple[np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()
        self._fitted = threading.Condition(self._lock)
        self.ranker = Ranker(papers_path, self._deliver, n_jobs)

    def _deliver(self, result: FitResult) -> None:
        ranking = Ranking.of(result)
        with self._lock:
            if result.idf is not None:
                self._idf = result.idf
            current = self._rankings.get(result.user_id)
            if current is None or current.version <= ranking.version:
                self._rankings[result.user_id] = ranking
            self._fitted.notify_all()

    def ranking(self, user_id: int) -> Ranking | None:
        return self._rankings.get(user_id)

    def needs_fit(self, user_id: int, version: int, signature: tuple[int, int]) -> bool:
        """Whether to read the reader's profile and `ask` for a fit: their library changed
        (`version`) or papers arrived (`signature`) since the last one asked for."""
        asked = self._asked.get(user_id)
        return asked is None or asked[0] != version or (asked[1] != signature and not self.ranker.pending(user_id))

    def ask(self, user_id: int, version: int, signature: tuple[int, int], positives: list[str], negatives: list[str]) -> int:
        """Ask for a fit (in the background); how many positives are still missing (0: asked)."""
        if len(positives) < MIN_POSITIVES:
            with self._lock:
                self._rankings.pop(user_id, None)
                self._asked.pop(user_id, None)
            return MIN_POSITIVES - len(positives)
        with self._lock:
            self._asked[user_id] = (version, signature)
        self.ranker.submit(FitJob(user_id, version, positives, negatives))
        return 0

    def status(self, user_id: int, version: int, signature: tuple[int, int], needed: int = 0) -> Status:
        ranking = None if needed else self._rankings.get(user_id)
        current = ranking is not None and ranking.version == version and ranking.signature == signature
        return Status(ranking, needed, updating=not needed and not current)

    def wait(self, user_id: int, version: int, timeout: float) -> Ranking | None:
        """Block until the reader's ranking reaches `version` (tests, benchmarks)."""
        with self._fitted:
            self._fitted.wait_for(lambda: (r := self._rankings.get(user_id)) is not None and r.version >= version, timeout)
            return self._rankings.get(user_id)

    def reasons(
        self, conn: sqlite3.Connection, ranking: Ranking, ids: Sequence[str]
    ) -> dict[str, tuple[list[str], list[str]]]:
        """{paper id: (reasons for, reasons against)} for these papers: those of the first
        papers came with the ranking, the others are worked out once and kept with it."""
        missing = [i for i in ids if i not in ranking.why]
        if missing and self._idf is not None and len(ranking.why) < MAX_REASONS:
            from papertrack.rank.features import Featurizer, read_batch
            from papertrack.rank.feedback import reasons

            feat = Featurizer()
            feat.idf_text, feat.idf_title = self._idf
            batch = read_batch(conn, missing)
            ranking.why.update(zip(batch.ids, reasons(feat, ranking.cols, ranking.weights, batch)))
        return {i: ranking.why[i] for i in ids if i in ranking.why}

    def close(self) -> None:
        self.ranker.close()
