"""Features of papers for the profile models: sparse, hashed, shared by every profile.

Three blocks side by side, each L2-normalised per row, then weighted:

* text: title + abstract, word 1-2-grams (scikit-learn's HashingVectorizer, 2^20 columns,
  English stop words), tf -> 1 + log(tf), times idf over the database (terms in fewer
  than 2 papers or in more than half of them weigh 0);
* title (x1.0): the title alone, the same way: a title word counts twice;
* metadata (x0.5): binary tokens hashed into 2^16 columns: each tag (`tag:T`) and tag
  with its origin (`tag:T@query`), the number of taxonomy tags (`ntags>=k`), arXiv
  categories and the primary one, the venue series and type, a code link.

The recipe was chosen on validation months of real 2024 arXiv listings (bench/rank_bench.py
measures it against arxiv-sanity's). Only the idf vectors are fitted: hashing needs no
vocabulary, so chunks are vectorised in worker processes and nothing grows with the
vocabulary.
"""

from __future__ import annotations

import ctypes
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from papertrack.rank.recipe import CHUNK, MAX_DF, META_WEIGHT, MIN_DF, N_META, N_TEXT, TITLE_WEIGHT, TOKEN

T = TypeVar("T")
_YEAR = re.compile(r"\s*\b(19|20)\d\d\b")
_COLUMNS = "id, title, abstract, categories, primary_category, venue, venue_type, code_url"


@dataclass
class Batch:
    """Papers as columns, with their tags ({tag: origins})."""

    ids: list[str] = field(default_factory=list)
    title: list[str] = field(default_factory=list)
    abstract: list[str] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)
    primary: list[str | None] = field(default_factory=list)
    venue: list[str | None] = field(default_factory=list)
    venue_type: list[str | None] = field(default_factory=list)
    code_url: list[str | None] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def text(self, i: int) -> str:
        return f"{self.title[i]} {self.abstract[i]}"


def read_batch(conn: sqlite3.Connection, ids: Sequence[str]) -> Batch:
    """These papers (in this order; unknown ids are left out) with their tags."""
    param = json.dumps(list(ids))
    rows = {
        r[0]: r for r in conn.execute(f"select {_COLUMNS} from papers where id in (select value from json_each(?))", [param])
    }
    tags: dict[str, dict[str, str]] = {}
    for pid, name, origin in conn.execute(
        "select pt.papers_id, t.name, pt.origin from papers_tags pt join tags t on t.id = pt.tags_id "
        "where pt.papers_id in (select value from json_each(?))",
        [param],
    ):
        tags.setdefault(pid, {})[name] = origin or ""
    batch = Batch()
    for pid in ids:
        r = rows.get(pid)
        if r is None:
            continue
        batch.ids.append(pid)
        batch.title.append(r[1] or "")
        batch.abstract.append(r[2] or "")
        batch.categories.append(json.loads(r[3] or "[]"))
        batch.primary.append(r[4])
        batch.venue.append(r[5])
        batch.venue_type.append(r[6])
        batch.code_url.append(r[7])
        batch.tags.append(tags.get(pid, {}))
    return batch


def iter_batches(conn: sqlite3.Connection, size: int = CHUNK) -> Iterator[Batch]:
    """Every paper, in id order, `size` at a time."""
    last = ""
    while True:
        ids = [r[0] for r in conn.execute("select id from papers where id > ? order by id limit ?", [last, size])]
        if not ids:
            return
        yield read_batch(conn, ids)
        last = ids[-1]


def meta_tokens(batch: Batch, i: int, exclude: frozenset[str], topic_tags: frozenset[str]) -> list[str]:
    """What papertrack knows about paper i beyond its text, as tokens (`exclude`: tags
    left out, the profile's own)."""
    tags = {t: o for t, o in batch.tags[i].items() if t not in exclude}
    out = [f"tag:{t}" for t in tags]
    out += [f"tag:{t}@{o}" for t, o in tags.items()]
    n = sum(1 for t in tags if t in topic_tags)
    out += [f"ntags>={k}" for k in range(1, min(n, 4) + 1)]
    cats = [c for c in batch.categories[i] if "." in c or "-" in c]
    out += [f"cat:{c}" for c in cats]
    primary = batch.primary[i] or (cats[0] if cats else None)
    if primary:
        out.append(f"primary:{primary}")
    if batch.venue[i]:
        out += [f"venue:{_YEAR.sub('', batch.venue[i] or '').strip()}", f"venue_type:{batch.venue_type[i] or 'unknown'}"]
    if batch.code_url[i]:
        out.append("has_code")
    return out


def hash_column(term: str, n_features: int) -> int:
    """The column HashingVectorizer gives `term` (signed murmurhash3, seed 0, abs mod n)."""
    return abs(murmurhash3_32(term, seed=0, positive=False)) % n_features


def hasher() -> HashingVectorizer:
    return HashingVectorizer(
        strip_accents="unicode", lowercase=True, stop_words="english", token_pattern=TOKEN, ngram_range=(1, 2),
        n_features=N_TEXT, alternate_sign=False, norm=None, dtype=np.float32,
    )  # fmt: skip


@dataclass
class Counts:
    """Raw term counts of a batch (text and title) and its metadata block."""

    ids: list[str]
    text: sp.csr_matrix
    title: sp.csr_matrix
    meta: sp.csr_matrix


class Featurizer:
    """Turns batches into feature rows; `idf_text` and `idf_title` are fitted on a database
    (`fit_idf`) or loaded with a stored model."""

    def __init__(self, exclude: Iterable[str] = (), topic_tags: Iterable[str] = ()):
        self.exclude, self.topic_tags = frozenset(exclude), frozenset(topic_tags)
        # empty until fitted or loaded (and cheap to send to the worker processes that hash)
        self.idf_text = np.zeros(0, dtype=np.float32)
        self.idf_title = np.zeros(0, dtype=np.float32)

    @property
    def n_columns(self) -> int:
        return 2 * N_TEXT + N_META

    def counts(self, batch: Batch) -> Counts:
        hv = hasher()
        text = hv.transform([batch.text(i) for i in range(len(batch))])
        title = hv.transform(batch.title)
        return Counts(batch.ids, text, title, self.meta(batch))

    def meta(self, batch: Batch, exclude: frozenset[str] | None = None) -> sp.csr_matrix:
        """The metadata block, L2 per row, not yet weighted."""
        exclude = self.exclude if exclude is None else exclude
        indptr, cols = [0], []
        for i in range(len(batch)):
            cols += sorted({hash_column(t, N_META) for t in meta_tokens(batch, i, exclude, self.topic_tags)})
            indptr.append(len(cols))
        m = sp.csr_matrix(
            (np.ones(len(cols), dtype=np.float32), np.array(cols, dtype=np.int32), np.array(indptr, dtype=np.int64)),
            shape=(len(batch), N_META),
        )
        return normalize(m, copy=False)

    def fit_idf(self, parts: Sequence[Counts], n: int) -> None:
        df_text, df_title = np.zeros(N_TEXT, dtype=np.int64), np.zeros(N_TEXT, dtype=np.int64)
        for c in parts:
            df_text += np.bincount(c.text.indices, minlength=N_TEXT)
            df_title += np.bincount(c.title.indices, minlength=N_TEXT)
        self.idf_text, self.idf_title = _idf(df_text, n), _idf(df_title, n)

    def weigh(self, c: Counts) -> sp.csr_matrix:
        """Feature rows from counts (the count matrices are changed in place)."""
        blocks = [_tfidf(c.text, self.idf_text), _tfidf(c.title, self.idf_title) * TITLE_WEIGHT, c.meta * META_WEIGHT]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def transform(self, batch: Batch) -> sp.csr_matrix:
        return self.weigh(self.counts(batch))

    def term_names(self, batch: Batch, i: int) -> dict[int, str]:
        """Column -> term for the columns paper i uses (its text re-tokenised, its metadata)."""
        analyze = hasher().build_analyzer()
        out: dict[int, str] = {}
        for base, text in ((0, batch.text(i)), (N_TEXT, batch.title[i])):
            for term in set(analyze(text)):
                out.setdefault(base + hash_column(term, N_TEXT), term)
        for token in meta_tokens(batch, i, self.exclude, self.topic_tags):
            out[2 * N_TEXT + hash_column(token, N_META)] = token
        return out


def _idf(df: np.ndarray, n: int) -> np.ndarray:
    """Smoothed idf, 0 for terms in fewer than MIN_DF papers or more than MAX_DF of them."""
    idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
    idf[(df < MIN_DF) | (df > MAX_DF * n)] = 0
    return idf


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    np.log(counts.data, out=counts.data)
    counts.data += 1
    counts.data *= idf[counts.indices]
    counts.eliminate_zeros()
    return normalize(counts, copy=False)


def map_batches(fn: Callable[[Batch], T], conn: sqlite3.Connection, n_jobs: int = 2) -> list[T]:
    """`fn` of every batch of papers, in id order: in `n_jobs` worker processes (joblib)
    when the database is large."""
    batches = iter_batches(conn)
    if n_jobs > 1 and conn.execute("select count(*) from papers").fetchone()[0] > CHUNK:
        from joblib import Parallel, delayed

        out: list[T] = []
        with Parallel(n_jobs=n_jobs) as parallel:
            while wave := [b for b in (next(batches, None) for _ in range(n_jobs)) if b is not None]:
                out += parallel(delayed(fn)(b) for b in wave)
        _stop_workers()
    else:
        out = [fn(b) for b in batches]
    _trim()
    return out


def featurize_db(feat: Featurizer, conn: sqlite3.Connection, n_jobs: int = 2) -> tuple[sp.csr_matrix, list[str]]:
    """Fit `feat`'s idf on every paper of the database; the feature matrix and the ids of its rows.

    Batches are hashed in `n_jobs` worker processes (joblib) when the database is large;
    the weighted chunks are copied into one matrix, each freed once copied."""
    parts = map_batches(feat.counts, conn, n_jobs)
    ids = [pid for c in parts for pid in c.ids]
    feat.fit_idf(parts, len(ids))
    rows: list[sp.csr_matrix] = []
    while parts:
        rows.append(feat.weigh(parts.pop(0)))
    X = concat_rows(rows, feat.n_columns)
    _trim()
    return X, ids


def concat_rows(chunks: list[sp.csr_matrix], n_cols: int) -> sp.csr_matrix:
    """vstack that frees each chunk once copied (peak: the result and the chunks not yet copied)."""
    nnz = sum(c.nnz for c in chunks)
    n_rows = sum(c.shape[0] for c in chunks)
    index = np.int32 if nnz < 2**31 else np.int64
    data, indices = np.empty(nnz, dtype=np.float32), np.empty(nnz, dtype=index)
    indptr = np.zeros(n_rows + 1, dtype=index)
    r = k = 0
    while chunks:
        c = chunks.pop(0)
        data[k : k + c.nnz], indices[k : k + c.nnz] = c.data, c.indices
        indptr[r + 1 : r + 1 + c.shape[0]] = c.indptr[1:] + k
        r, k = r + c.shape[0], k + c.nnz
        del c
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


def _trim() -> None:
    """Give freed heap back to the OS (glibc keeps ~400 MB at 200,000 papers otherwise:
    arrays unpickled from the workers land on the heap, not in their own mappings)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _stop_workers() -> None:
    """joblib keeps its worker processes alive for reuse; the fit does not need them."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
