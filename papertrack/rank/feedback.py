"""A reader's own profile from feedback, with the rank package's machinery: saved and
liked papers positive, disliked papers negative, the rest unlabelled.

`PaperIndex` holds every paper's features in memory (`features.featurize_db`, the same
rows `rank` fits on) and takes in new papers as they arrive (transformed with the idf it
has, until the database has grown by a quarter: then it is rebuilt). `fit_feedback`
learns one logistic regression (`model.used_columns`, lbfgs, C=1): the positives against
the disliked papers, each weighing `NEGATIVE_WEIGHT` unlabelled ones, and a fixed sample
of `UNLABELLED` unlabelled papers (the same rows at every refit of one reader, so a like
moves the ranking by what it says, not by a new draw): a fit costs about a second
whatever the size of the database. `reasons` names the terms that raise and lower a
paper's score, as `model.why_label` writes them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from papertrack.rank.features import Batch, Featurizer, featurize_db, read_batch
from papertrack.rank.model import used_columns, why_label

UNLABELLED = 10_000  # unlabelled papers a fit sees
NEGATIVE_WEIGHT = 10.0  # a disliked paper weighs as much as this many unlabelled ones
KEPT_WEIGHTS = 50_000  # largest weights kept for the reasons (the scores use them all)
REBUILD_GROWTH = 0.25  # rebuild the index (idf) once the database grew by this share
REASONS = 3  # reasons for and against shown per paper


@dataclass
class PaperIndex:
    """Every paper's feature row; `keys[i]` is row i's papers.rowid (the browse page's k)."""

    feat: Featurizer
    X: sp.csr_matrix
    ids: list[str]
    keys: np.ndarray
    built_with: int  # papers when the idf was fitted
    signature: tuple[int, int]  # `papers_signature` when the rows were read
    rows: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rows = {pid: i for i, pid in enumerate(self.ids)}

    @classmethod
    def build(cls, conn: sqlite3.Connection, n_jobs: int = 1) -> PaperIndex:
        signature = papers_signature(conn)
        feat = Featurizer()
        X, ids = featurize_db(feat, conn, n_jobs)
        return cls(feat, X, ids, _rowids(conn, ids), len(ids), signature)

    def row_of(self, ids: Sequence[str]) -> np.ndarray:
        """The rows of these papers (unknown ids left out)."""
        return np.array([self.rows[i] for i in ids if i in self.rows], dtype=np.int64)

    def refresh(self, conn: sqlite3.Connection, n_jobs: int = 1) -> PaperIndex:
        """This index with the papers stored since (the same object when nothing changed),
        or a rebuilt one when papers went away (merges) or the database grew by a quarter."""
        signature = papers_signature(conn)
        if signature == self.signature:
            return self
        count, known = signature[0], self.signature[1]
        new = [r[0] for r in conn.execute("select id from papers where rowid > ? order by rowid", [known])]
        if count != len(self.ids) + len(new) or count > self.built_with * (1 + REBUILD_GROWTH):
            return PaperIndex.build(conn, n_jobs)
        batch = read_batch(conn, new)
        rows = self.feat.transform(batch)
        X = sp.vstack([self.X, rows], format="csr", dtype=np.float32)
        keys = np.concatenate([self.keys, _rowids(conn, batch.ids)])
        return PaperIndex(self.feat, X, self.ids + batch.ids, keys, self.built_with, signature)


def papers_signature(conn: sqlite3.Connection) -> tuple[int, int]:
    """(papers, largest rowid): moves when papers are added or removed (read from the
    browse tables, which triggers keep current: cheap on every page)."""
    count, newest = conn.execute(
        "select (select coalesce(sum(n), 0) from facet_counts where facet = 'year'), (select coalesce(max(k), 0) from browse)"
    ).fetchone()
    return int(count), int(newest)


def _rowids(conn: sqlite3.Connection, ids: Sequence[str]) -> np.ndarray:
    found = dict(
        conn.execute("select id, rowid from papers where id in (select value from json_each(?))", [json.dumps(list(ids))])
    )
    return np.array([found[i] for i in ids], dtype=np.int64)


@dataclass
class FeedbackModel:
    coef: np.ndarray  # float32 over every feature column
    intercept: float
    positives: int
    negatives: int

    def scores(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef + np.float32(self.intercept))

    def strongest(self, keep: int = KEPT_WEIGHTS) -> tuple[np.ndarray, np.ndarray]:
        """(columns, weights) of the `keep` largest weights by size, columns sorted: enough
        to name a paper's reasons."""
        nonzero = np.flatnonzero(self.coef)
        if len(nonzero) > keep:
            nonzero = nonzero[np.argpartition(-np.abs(self.coef[nonzero]), keep)[:keep]]
        cols = np.sort(nonzero).astype(np.int32)
        return cols, self.coef[cols].astype(np.float32)


def fit_feedback(
    X: sp.csr_matrix,
    positives: np.ndarray,
    negatives: np.ndarray | None = None,
    seed: int = 0,
    unlabelled: int = UNLABELLED,
    negative_weight: float = NEGATIVE_WEIGHT,
) -> FeedbackModel:
    """Fit on rows `positives` (1), `negatives` (0, weighted) and a seeded sample of the
    other rows (0); positives and negatives weigh the same in total."""
    negatives = np.zeros(0, dtype=np.int64) if negatives is None else negatives
    judged = np.union1d(positives, negatives)
    order = np.random.default_rng(seed).permutation(X.shape[0])
    sample = order[~np.isin(order, judged)][:unlabelled]
    rows = np.concatenate([positives, negatives, sample]).astype(np.int64)
    y = np.zeros(len(rows), dtype=np.int8)
    y[: len(positives)] = 1
    weight = np.ones(len(rows), dtype=np.float64)
    weight[len(positives) : len(positives) + len(negatives)] = negative_weight
    negative_total = weight[len(positives) :].sum()
    weight[: len(positives)] = negative_total / max(len(positives), 1)
    weight *= len(rows) / weight.sum()  # mean weight 1: C means what it means in `rank`
    sub = X[rows]
    with used_columns(sub) as used:
        clf = LogisticRegression(solver="lbfgs", C=1.0, max_iter=1000).fit(sub, y, sample_weight=weight)
    coef = np.zeros(used.n_columns, dtype=np.float32)
    coef[used.columns] = clf.coef_.ravel()
    return FeedbackModel(coef, float(clf.intercept_[0]), len(positives), len(negatives))


def reasons(
    feat: Featurizer, cols: np.ndarray, weights: np.ndarray, batch: Batch, top: int = REASONS
) -> list[tuple[list[str], list[str]]]:
    """Per paper of `batch`: the reasons that raise its score most and those that lower it
    most (contribution x_j * w_j, merged by `why_label`), strongest first."""
    X = feat.transform(batch)
    out = []
    for i in range(X.shape[0]):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        columns, values = X.indices[lo:hi], X.data[lo:hi]
        at = np.searchsorted(cols, columns)
        hit = (at < len(cols)) & (cols[np.minimum(at, len(cols) - 1)] == columns)
        names = feat.term_names(batch, i)
        merged: dict[str, float] = {}
        for col, value in zip(columns[hit], values[hit] * weights[at[hit]]):
            name = names.get(int(col))
            if name and value:
                label = why_label(name)
                merged[label] = merged.get(label, 0.0) + float(value)
        ranked = sorted(merged.items(), key=lambda kv: kv[1])
        against = [k for k, v in ranked[:top] if v < 0]
        for_ = [k for k, v in reversed(ranked[-top:]) if v > 0]
        out.append((for_, against))
    return out
