"""One profile's model: a logistic regression on the features, its scores and its reasons.

`fit` learns positives (the profile's papers) against every other paper, with
scikit-learn's LogisticRegression (lbfgs, C=1, balanced classes: it works on the
float32 sparse matrix as it is, without copying it). The profile's own tag is never a
feature: the positives' rows are scored and fitted without it. A model is stored as
numpy arrays (`to_bytes`, an .npz without pickles: a database from elsewhere cannot
run code when its model is loaded).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from papertrack.rank.features import Batch, Featurizer, hash_column, meta_tokens
from papertrack.rank.recipe import META_WEIGHT, N_META, N_TEXT, SETTINGS

WHY_TOP = 5  # reasons kept per paper
WHY_POOL = 15  # strongest features looked at (several may merge into one reason)
NAMED_POSITIVES = 5000  # positives whose terms name the columns (a sample of larger profiles)


@dataclass
class ProfileModel:
    profile: str
    feat: Featurizer  # excludes the profile's own tag
    coef: np.ndarray  # float32, one weight per feature column
    intercept: float
    names: dict[int, str]  # column -> term or metadata token, for the columns that raise scores

    def scores(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef + np.float32(self.intercept))

    def why(self, X: sp.csr_matrix, top: int = WHY_TOP, pool: int = WHY_POOL) -> list[list[str]]:
        """Per row: the reasons that raise its score most (contribution x_ij * w_j, the
        `pool` largest, merged by `why_label` with contributions added), strongest first."""
        positive = np.maximum(self.coef, 0)
        contrib = X.data * positive[X.indices]
        out = []
        for r in range(X.shape[0]):
            lo, hi = X.indptr[r], X.indptr[r + 1]
            seg = contrib[lo:hi]
            best = np.argpartition(-seg, pool)[:pool] if hi - lo > pool else np.arange(hi - lo)
            merged: dict[str, float] = {}
            for col, value in zip(X.indices[lo:hi][best], seg[best]):
                name = self.names.get(int(col))
                if value > 0 and name:
                    label = why_label(name)
                    merged[label] = merged.get(label, 0.0) + float(value)
            out.append(sorted(merged, key=merged.__getitem__, reverse=True)[:top])
        return out

    def to_bytes(self) -> bytes:
        cols = np.array(sorted(self.names), dtype=np.int64)
        text = "\n".join(self.names[c] for c in cols.tolist()).encode("utf-8")
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, idf_text=self.feat.idf_text, idf_title=self.feat.idf_title, coef=self.coef,
            intercept=np.array([self.intercept]), name_cols=cols, name_text=np.frombuffer(text, dtype=np.uint8),
        )  # fmt: skip
        return buffer.getvalue()

    def settings(self) -> str:
        return json.dumps({**SETTINGS, "exclude": sorted(self.feat.exclude), "topic_tags": sorted(self.feat.topic_tags)})

    @classmethod
    def from_bytes(cls, profile: str, blob: bytes, settings: str) -> ProfileModel:
        config = json.loads(settings)
        feat = Featurizer(config["exclude"], config["topic_tags"])
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            feat.idf_text, feat.idf_title = arrays["idf_text"], arrays["idf_title"]
            terms = bytes(arrays["name_text"]).decode("utf-8").split("\n") if arrays["name_text"].size else []
            names = dict(zip(arrays["name_cols"].tolist(), terms))
            return cls(profile, feat, arrays["coef"], float(arrays["intercept"][0]), names)


def fit(profile: str, shared: Featurizer, X: sp.csr_matrix, rows: Sequence[int], positives: Batch) -> ProfileModel:
    """Learn the profile from the rows `rows` of `X` (the papers of `positives`, in that
    order) against every other row. `shared` holds the fitted idf."""
    feat = Featurizer(shared.exclude | {profile}, shared.topic_tags)
    feat.idf_text, feat.idf_title = shared.idf_text, shared.idf_title
    y = np.zeros(X.shape[0], dtype=np.int8)
    y[list(rows)] = 1
    with own_tag_removed(X, rows, positives, feat), used_columns(X) as used:
        clf = LogisticRegression(solver="lbfgs", C=1.0, class_weight="balanced", max_iter=1000).fit(X, y)
    coef = np.zeros(used.n_columns, dtype=np.float32)
    coef[used.columns] = clf.coef_.ravel()
    return ProfileModel(profile, feat, coef, float(clf.intercept_[0]), _names(feat, positives, coef))


@dataclass
class UsedColumns:
    columns: np.ndarray  # the columns of the full feature space that some row uses
    n_columns: int  # the width of the full space


@contextmanager
def used_columns(X: sp.csr_matrix) -> Iterator[UsedColumns]:
    """Within the block, `X` has only the columns some row uses (renumbered in place, no
    copy of the data); restored after. A column no row uses gets no gradient and, under
    L2, a weight of 0, so fitting on the used ones gives the same model, and lbfgs works
    on tens of thousands of weights instead of three million hashed columns."""
    indices, shape = X.indices, X.shape
    columns = np.unique(indices)
    X.indices = np.searchsorted(columns, indices).astype(indices.dtype)
    X._shape = (shape[0], len(columns))
    try:
        yield UsedColumns(columns, shape[1])
    finally:
        X.indices, X._shape = indices, shape


@contextmanager
def own_tag_removed(X: sp.csr_matrix, rows: Sequence[int], positives: Batch, feat: Featurizer) -> Iterator[None]:
    """Within the block, the positives' metadata in `X` is as `feat` sees it (without
    the profile's tag, so with fewer taxonomy tags); restored after. The tokens left are a
    subset of those stored, so the rows keep their shape: removed ones become 0."""
    start = 2 * N_TEXT
    saved = []
    for j, r in enumerate(rows):
        lo, hi = X.indptr[r], X.indptr[r + 1]
        meta = np.flatnonzero(X.indices[lo:hi] >= start) + lo
        saved.append((meta, X.data[meta].copy()))
        kept = {hash_column(t, N_META) for t in meta_tokens(positives, j, feat.exclude, feat.topic_tags)}
        keep = np.isin(X.indices[meta] - start, list(kept))
        X.data[meta] = np.where(keep, META_WEIGHT / np.sqrt(max(len(kept), 1)), 0).astype(np.float32)
    try:
        yield
    finally:
        for meta, data in saved:
            X.data[meta] = data


def _names(feat: Featurizer, positives: Batch, coef: np.ndarray) -> dict[int, str]:
    """Column -> term for the columns with a positive weight, from the positives' own
    terms: an L2-regularised model on non-negative features gives no positive weight to
    a column no positive uses, so (up to hash collisions) every reason gets its name."""
    names: dict[int, str] = {}
    step = max(1, len(positives) // NAMED_POSITIVES)
    for i in range(0, len(positives), step):
        for col, term in feat.term_names(positives, i).items():
            if coef[col] > 0:
                names.setdefault(col, term)
    return names


def why_label(name: str) -> str:
    """A feature as the reader reads it: a title word and the same word in the abstract
    are one reason, a tag and the tag with its origin too; metadata in words."""
    kind, _, value = name.partition(":")
    if name.startswith("ntags>="):
        return "number of taxonomy tags"
    if kind == "tag":
        return f"tag {value.partition('@')[0]}"
    if kind in ("cat", "primary"):
        return value
    if kind == "venue":
        return f"venue {value}"
    if kind == "venue_type":
        return f"accepted ({value})"
    if name == "has_code":
        return "code link"
    return name
