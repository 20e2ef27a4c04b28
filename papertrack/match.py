"""Saved arXiv queries run against the local database (`papertrack match`), no network.

A query tree from `query.parse` becomes one SQL condition over `papers`. Text terms
become FTS5 queries on `papers_fts` (column filters: ti title, abs abstract, au authors,
co comment, jr journal_ref, all: all five, never the summary); maximal all-text subtrees
become a single FTS5 expression (AND, OR, and NOT for ANDNOT). `cat:`, `id:` and date
ranges are plain SQL. The result agrees with the local arXiv stand-in (`query.evaluate`):

* Stemming. The stand-in strips plural endings (`stem`): a query word matches every
  token with the same stem. The index is unstemmed, so each word is expanded into the
  surface forms that stem alike (`variants`: network -> network, networks, networkes),
  kept only if the index has them (fts5vocab); phrases become the OR of their variants.
* `all:` phrases. The stand-in concatenates the fields, so a phrase may run from the end
  of one field into the start of the next; those few candidates (FTS5 `^` finds the
  second half at a field's start) are checked by the reference evaluator itself.
* What cannot agree: FTS5's unicode61 tokenizer folds accents (`naïve` is `naive`),
  while the stand-in splits words at every non-ASCII letter (`na`, `ve`).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from .config import Config, SavedQuery
from .harvest import first_window, windowed
from .query import Node, Op, Record, Term, date_range, evaluate, parse, stem, tokens
from .schema import transaction
from .store import link_query, query_state, refresh_tags, sync_queries

COLUMNS = {"ti": "title", "abs": "abstract", "au": "authors", "co": "comment", "jr": "journal_ref"}
ALL = "{" + " ".join(COLUMNS.values()) + "}"
_FTS_OP = {"AND": "AND", "OR": "OR", "ANDNOT": "NOT"}
_SQL_OP = {"AND": "AND", "OR": "OR", "ANDNOT": "AND NOT"}
_IN_FTS = "p.rowid in (select rowid from papers_fts where papers_fts match ?)"
ARXIV_ONLY = "instr(p.id, ':') = 0"  # dblp:, doi: and bib: rows are not on arXiv


@dataclass(frozen=True)
class Fts:
    expr: str  # an FTS5 query


@dataclass(frozen=True)
class Sql:
    cond: str
    params: tuple = ()


FALSE = Sql("0")
Compiled = Fts | Sql


def variants(word: str) -> list[str]:
    """The tokens that stem like `word` (`stem`'s preimage): network -> network, networkes, networks."""
    s = stem(word)
    candidates = {s, s + "s", s + "es"} | ({s[:-1] + "ies"} if s.endswith("y") else set())
    return sorted(t for t in candidates if stem(t) == s)


class Translator:
    """Compiles query trees against one database (whose FTS vocabulary prunes variants)."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.present: dict[str, bool] = {}
        db.execute("create virtual table if not exists temp.papers_fts_terms using fts5vocab(main, 'papers_fts', 'row')")
        db.conn.create_function("papertrack_all_phrase", 6, _all_phrase, deterministic=True)

    def known(self, words: Iterable[str]) -> list[list[str]]:
        """For each word, its variants that occur in the index."""
        out = [variants(w) for w in words]
        missing = {t for vs in out for t in vs if t not in self.present}
        if missing:
            found = {
                r[0]
                for r in self.db.execute(
                    "select term from temp.papers_fts_terms where term in (select value from json_each(?))",
                    [json.dumps(sorted(missing))],
                )
            }
            self.present.update({t: t in found for t in missing})
        return [[t for t in vs if self.present[t]] for vs in out]

    def where(self, node: Node) -> tuple[str, list]:
        """A SQL condition on `papers p` selecting what `node` matches, with its parameters."""
        compiled = self.compile(node)
        sql = compiled if isinstance(compiled, Sql) else Sql(_IN_FTS, (compiled.expr,))
        return sql.cond, list(sql.params)

    def compile(self, node: Node) -> Compiled:
        if isinstance(node, Op):
            return self._op(node.op, self.compile(node.left), self.compile(node.right))
        if node.field in COLUMNS or node.field == "all":
            return self._text(node)
        if node.field == "cat":
            value = node.value
            needle = json.dumps(value[:-1])[:-1] if value.endswith("*") else json.dumps(value)
            return Sql("instr(coalesce(p.categories, ''), ?) > 0", (needle,))
        if node.field == "id":
            return Sql("p.id = ?", (re.sub(r"v\d+$", "", node.value),))
        lo, hi = date_range(node.value)
        column = "published" if node.field == "submitteddate" else "updated"
        return Sql(f"coalesce(p.{column}, '') between ? and ?", (lo, hi))

    def _op(self, op: str, left: Compiled, right: Compiled) -> Compiled:
        if left == FALSE:
            return right if op == "OR" else FALSE
        if right == FALSE:
            return FALSE if op == "AND" else left
        if isinstance(left, Fts) and isinstance(right, Fts):
            return Fts(f"({left.expr}) {_FTS_OP[op]} ({right.expr})")
        left_sql, right_sql = _as_sql(left), _as_sql(right)
        return Sql(f"({left_sql.cond}) {_SQL_OP[op]} ({right_sql.cond})", left_sql.params + right_sql.params)

    def _text(self, term: Term) -> Compiled:
        words = tokens(term.value)
        forms = self.known(words)
        if not words or not all(forms):
            return FALSE
        columns = ALL if term.field == "all" else COLUMNS[term.field]
        if not term.phrase or len(words) == 1:
            return Fts(f"{columns} : (" + " AND ".join(_any(vs) for vs in forms) + ")")
        within = Fts(f"{columns} : ({_phrases(forms)})")
        if term.field != "all":
            return within
        # a phrase that starts in one field and ends at the start of the next
        rest = "{" + " ".join(list(COLUMNS.values())[1:]) + "}"
        spans = " OR ".join(
            f"(({ALL} : ({_phrases(forms[:k])})) AND ({rest} : ({_phrases(forms[k:], initial=True)})))"
            for k in range(1, len(words))
        )
        check = Sql(
            f"({_IN_FTS} and papertrack_all_phrase(p.title, p.abstract, p.authors, p.comment, p.journal_ref, ?))",
            (spans, term.value),
        )
        return Sql(f"({_IN_FTS}) or {check.cond}", (within.expr, *check.params))


def _any(forms: list[str]) -> str:
    return "(" + " OR ".join(f'"{t}"' for t in forms) + ")"


def _phrases(forms: list[list[str]], initial: bool = False) -> str:
    mark = "^ " if initial else ""
    return " OR ".join(mark + '"' + " ".join(combo) + '"' for combo in itertools.product(*forms))


def _as_sql(compiled: Compiled) -> Sql:
    return compiled if isinstance(compiled, Sql) else Sql(_IN_FTS, (compiled.expr,))


def _all_phrase(title: str, abstract: str, authors: str, comment: str, journal_ref: str, phrase: str) -> int:
    """The stand-in's own verdict on an `all:"phrase"` (fields concatenated)."""
    record = Record("", title or "", abstract or "", json.loads(authors or "[]"), [], comment, journal_ref, "", "")
    return int(evaluate(Term("all", phrase, True), record))


# ---------------------------------------------------------------- running saved queries


def match_ids(db: sqlite_utils.Database, query: str, translator: Translator | None = None) -> list[str]:
    """Ids of the arXiv papers in the database that `query` (arXiv syntax) matches."""
    cond, params = (translator or Translator(db)).where(parse(query))
    return [r[0] for r in db.execute(f"select p.id from papers p where ({cond}) and {ARXIV_ONLY}", params)]


def saved_query_text(query: SavedQuery) -> str:
    """The query exactly as a full harvest sends it (restricted to `since` onwards)."""
    return windowed(query.query, first_window(query))


@dataclass
class MatchReport:
    query: str
    matched: int = 0
    linked: int = 0  # papers newly linked to the query (and tagged)
    seconds: float = 0.0
    status: str = "ok"


def match_saved(db: sqlite_utils.Database, config: Config, names: Iterable[str] = ()) -> list[MatchReport]:
    """Run saved arXiv queries locally: link and tag what they match, as a harvest would.

    A query never harvested (no watermark) that a completed snapshot import covers gets
    the snapshot's newest date as its watermark, so its first harvest is incremental.
    """
    queries = config.select(list(names))
    ids = sync_queries(db, queries)
    translator = Translator(db)
    reports = []
    for q in queries:
        report = MatchReport(q.name)
        if q.source != "arxiv":
            report.status = f"skipped: {q.source} query"
            reports.append(report)
            continue
        started = time.perf_counter()
        found = match_ids(db, saved_query_text(q), translator)
        with transaction(db):
            fresh = link_query(db, ids[q.name], found)
            refresh_tags(db, fresh)
            _adopt_snapshot_watermark(db, q, ids[q.name])
        report.matched, report.linked = len(found), len(fresh)
        report.seconds = time.perf_counter() - started
        reports.append(report)
    return reports


def _adopt_snapshot_watermark(db: sqlite_utils.Database, query: SavedQuery, query_id: int) -> None:
    watermark, progress = query_state(db, query_id)
    if watermark or progress:
        return
    cats = [t.value.rstrip("*") for t in _terms(parse(query.query)) if t.field == "cat"]
    since = query.since.isoformat() if query.since else ""
    newest = None
    for row in db.query("select filter, newest from imports where status = 'done' and newest is not null"):
        keep = json.loads(row["filter"])
        prefixes, imported_since = keep.get("categories") or [], keep.get("since")
        covers = (not prefixes or (cats and all(c.startswith(tuple(prefixes)) for c in cats))) and (
            not imported_since or imported_since <= since
        )
        if covers and (newest is None or row["newest"] > newest):
            newest = row["newest"]
    if newest:
        db.execute("update queries set watermark = ? where id = ?", [newest, query_id])


def _terms(node: Node) -> list[Term]:
    return [*_terms(node.left), *_terms(node.right)] if isinstance(node, Op) else [node]


def try_query(db: sqlite_utils.Database, query: str, limit: int = 10) -> tuple[int, list[dict]]:
    """How many papers `query` matches, and the newest `limit` of them."""
    cond, params = Translator(db).where(parse(query))
    sql = f"from papers p where ({cond}) and {ARXIV_ONLY}"
    count = db.execute(f"select count(*) {sql}", params).fetchone()[0]
    rows = list(db.query(f"select p.id, p.published, p.title {sql} order by p.published desc limit ?", [*params, limit]))
    return count, rows
