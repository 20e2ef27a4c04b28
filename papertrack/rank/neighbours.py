"""Related papers, precomputed by `papertrack rank`: each paper's nearest papers by cosine
similarity of TF-IDF vectors, stored in `related_papers` so that a look-up is one row read.

The vectors are plain cosine's (title and abstract, word 1-2-grams without English stop
words, sublinear tf, smoothed idf, words in fewer than 3 papers or more than a tenth of
them dropped, L2-normalised; words hashed into 2^21 columns so nothing grows with the
vocabulary), with two small blocks beside them: the paper's topic tags (taxonomy and
saved-query tags) and its arXiv categories (`TAG_WEIGHT`, `CATEGORY_WEIGHT`).

Comparing every pair costs n^2: at 1M papers, days. So each paper's **candidates** come
from a pruned index: every paper is indexed under its `TOP_TERMS` strongest words only,
and a paper looks up its own strongest words while the papers they index stay within
`BUDGET` (scikit-learn-like sparse product keeping the best `CANDIDATES` per row:
sparse_dot_topn, in C++ on `n_jobs` threads). The candidates are then **rescored exactly**
with the full vectors, and the `KEEP` best are stored. bench/related_bench.py measures
what this keeps of exact cosine's lists and what it costs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import sqlite_utils
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from papertrack.rank.features import Batch, concat_rows, map_batches
from papertrack.store.schema import transaction

N_FEATURES = 1 << 21
MIN_DF, MAX_DF = 3, 0.1
TAG_WEIGHT = 0.2
CATEGORY_WEIGHT = 0.2
TOP_TERMS = 50  # the words a paper is indexed under, for finding candidates
BUDGET = 20_000  # index entries a paper's candidate search may read
CANDIDATES = 100  # rescored exactly per paper
KEEP = 10  # related papers stored per paper
CHUNK_ROWS = 20_000  # rows per sparse product (bounds its memory)


@dataclass
class Counts:
    """Raw hashed term counts of a batch, and its metadata tokens."""

    ids: list[str]
    text: sp.csr_matrix
    meta: list[list[str]]


@dataclass
class NeighbourReport:
    papers: int = 0
    seconds: float = 0.0


def _hasher() -> HashingVectorizer:
    return HashingVectorizer(
        strip_accents="unicode", lowercase=True, stop_words="english", ngram_range=(1, 2),
        n_features=N_FEATURES, alternate_sign=False, norm=None, dtype=np.float32,
    )  # fmt: skip


class _Counter:
    """Counts a batch (picklable: sent to joblib's worker processes)."""

    def __init__(self, topic_tags: Iterable[str]):
        self.topic_tags = frozenset(topic_tags)

    def __call__(self, batch: Batch) -> Counts:
        text = _hasher().transform([batch.text(i) for i in range(len(batch))])
        meta = [
            [f"tag:{t}" for t in sorted(batch.tags[i]) if t in self.topic_tags] + [f"cat:{c}" for c in batch.categories[i]]
            for i in range(len(batch))
        ]
        return Counts(batch.ids, text, meta)


def vectors(parts: list[Counts]) -> tuple[list[str], sp.csr_matrix, sp.csr_matrix]:
    """(ids, text vectors, full vectors: text + tag and category blocks), rows L2-normalised.
    `parts` is emptied (each batch's counts freed once copied)."""
    ids = [pid for c in parts for pid in c.ids]
    meta = [tokens for c in parts for tokens in c.meta]
    counts = concat_rows([parts.pop(0).text for _ in range(len(parts))], N_FEATURES)
    n = len(ids)
    df = np.bincount(counts.indices, minlength=N_FEATURES)
    idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
    idf[(df < MIN_DF) | (df > MAX_DF * n)] = 0
    np.log(counts.data, out=counts.data)
    counts.data += 1
    counts.data *= idf[counts.indices]
    counts.eliminate_zeros()
    text = normalize(counts, copy=False)
    blocks = [text]
    for prefix, weight in (("tag:", TAG_WEIGHT), ("cat:", CATEGORY_WEIGHT)):
        blocks.append(_binary([[t for t in tokens if t.startswith(prefix)] for tokens in meta]) * weight)
    return ids, text, normalize(sp.hstack(blocks, format="csr", dtype=np.float32), copy=False)


def _binary(rows: list[list[str]]) -> sp.csr_matrix:
    vocabulary: dict[str, int] = {}
    cols = [vocabulary.setdefault(t, len(vocabulary)) for row in rows for t in row]
    indptr = np.cumsum([0] + [len(row) for row in rows])
    m = sp.csr_matrix(
        (np.ones(len(cols), dtype=np.float32), np.array(cols, dtype=np.int32), indptr), shape=(len(rows), len(vocabulary))
    )
    return normalize(m, copy=False) if vocabulary else m


def _by_rows(fn: Callable[[sp.csr_matrix], sp.csr_matrix], X: sp.csr_matrix) -> sp.csr_matrix:
    """`fn` applied to `CHUNK_ROWS` rows at a time (bounds the temporary arrays)."""
    return concat_rows([fn(X[s : s + CHUNK_ROWS]) for s in range(0, X.shape[0], CHUNK_ROWS)], X.shape[1])


def strongest(X: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` largest entries (ties: the lower column)."""
    return _by_rows(lambda chunk: _strongest(chunk, keep), X)


def _strongest(X: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    order = np.lexsort((X.indices, -X.data, rows))
    rank = np.arange(len(order)) - X.indptr[rows[order]]
    chosen = np.sort(order[rank < keep])
    return _subset(X, rows, chosen)


def budgeted(Q: sp.csr_matrix, df: np.ndarray, budget: int) -> sp.csr_matrix:
    """Each row's entries, strongest first, while the index entries of their columns
    (`df`) add up to at most `budget` (a column over the budget on its own is skipped)."""
    return _by_rows(lambda chunk: _budgeted(chunk, df, budget), Q)


def _budgeted(Q: sp.csr_matrix, df: np.ndarray, budget: int) -> sp.csr_matrix:
    Q = _subset(Q, np.repeat(np.arange(Q.shape[0]), np.diff(Q.indptr)), np.flatnonzero(df[Q.indices] <= budget))
    rows = np.repeat(np.arange(Q.shape[0]), np.diff(Q.indptr))
    order = np.lexsort((Q.indices, -Q.data, rows))
    total = np.cumsum(df[Q.indices[order]].astype(np.int64))
    starts = Q.indptr[rows[order]]
    before = np.where(starts > 0, total[np.maximum(starts - 1, 0)], 0)
    chosen = np.sort(order[total - before <= budget])
    return _subset(Q, rows, chosen)


def _subset(X: sp.csr_matrix, rows: np.ndarray, chosen: np.ndarray) -> sp.csr_matrix:
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[chosen], minlength=X.shape[0]))])
    return sp.csr_matrix((X.data[chosen], X.indices[chosen], indptr), shape=X.shape)


def candidates(text: sp.csr_matrix, n_jobs: int = 2) -> sp.csr_matrix:
    """Per row, up to `CANDIDATES` + 1 other rows sharing strong words (itself included),
    by the pruned index's dot product."""
    from sparse_dot_topn import sp_matmul_topn

    index = strongest(text, TOP_TERMS)
    postings = index.T.tocsr()  # words x papers
    df = np.diff(postings.indptr)
    query = budgeted(index, df, BUDGET)
    parts = [
        sp_matmul_topn(query[s : s + CHUNK_ROWS], postings, top_n=CANDIDATES + 1, n_threads=n_jobs)
        for s in range(0, text.shape[0], CHUNK_ROWS)
    ]
    return sp.vstack(parts, format="csr") if parts else sp.csr_matrix(text.shape[:1] * 2)


def nearest(full: sp.csr_matrix, cands: sp.csr_matrix, keep: int = KEEP) -> list[list[tuple[int, float]]]:
    """Per row, its `keep` best candidates (itself left out) by exact cosine, best first
    (ties: the lower row). One dense copy of the row, read at each candidate's columns."""
    dense = np.zeros(full.shape[1], dtype=np.float32)
    indptr, indices, data = full.indptr, full.indices, full.data
    out: list[list[tuple[int, float]]] = []
    for i in range(full.shape[0]):
        cols = cands.indices[cands.indptr[i] : cands.indptr[i + 1]]
        cols = cols[cols != i]
        if not len(cols):
            out.append([])
            continue
        lo, hi = indptr[i], indptr[i + 1]
        dense[indices[lo:hi]] = data[lo:hi]
        starts, lengths = indptr[cols], indptr[cols + 1] - indptr[cols]
        entries = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        sims = np.add.reduceat(dense[indices[entries]] * data[entries], np.cumsum(lengths) - lengths) * (lengths > 0)
        dense[indices[lo:hi]] = 0
        best = np.lexsort((cols, -sims))[:keep]
        out.append([(int(cols[j]), float(sims[j])) for j in best if sims[j] > 0])
    return out


def refresh(db: sqlite_utils.Database, topic_tags: Iterable[str] = (), n_jobs: int = 2) -> NeighbourReport:
    """Recompute every paper's related papers (table related_papers)."""
    t0 = time.perf_counter()
    parts = map_batches(_Counter(topic_tags), db.conn, n_jobs)
    ids: list[str] = []
    found: list[list[tuple[int, float]]] = []
    if any(p.ids for p in parts):  # a database without papers has no vectors to normalise
        ids, text, full = vectors(parts)
        found = nearest(full, candidates(text, n_jobs))
    with transaction(db):
        db.execute("delete from related_papers")
        db.conn.executemany(
            "insert into related_papers (papers_id, related) values (?, ?)",
            ((pid, json.dumps([[ids[j], round(s, 3)] for j, s in near])) for pid, near in zip(ids, found)),
        )
    return NeighbourReport(len(ids), time.perf_counter() - t0)
