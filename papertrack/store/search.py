"""arXiv's query syntax compiled to SQL over the stored papers, so that a saved query, run
locally, finds what it finds on arXiv (`papertrack match`, the browse page's search).

A query tree from `sources.arxiv_query.parse` becomes one SQL condition over `papers`. Text terms
become FTS5 queries on `papers_fts` (column filters: ti title, abs abstract, au authors,
co comment, jr journal_ref, all: all five, never the summary); maximal all-text subtrees
become a single FTS5 expression (AND, OR, and NOT for ANDNOT). `cat:`, `id:` and date
ranges, `doi:` and ANDNOT at the start of a group are plain SQL; `rn:` matches nothing. The result agrees with the local arXiv stand-in (`sources.arxiv_query.evaluate`):

* Stemming. The stand-in strips plural endings (`stem`): a query word matches every
  token with the same stem. The index is unstemmed, so each word is expanded into the
  surface forms that stem alike (`variants`: network -> network, networks, networkes),
  kept only if the index has them (fts5vocab); phrases become the OR of their variants,
  up to `MAX_PHRASE_FORMS` spellings. A longer phrase (`phrase_parts`) is looked up by its
  parts, each spelled out, and every candidate is checked by the reference evaluator: exact,
  and never thousands of spellings (a phrase of 24 plural words has 16 million).
* `all:` phrases. The stand-in concatenates the fields, so a phrase may run from the end
  of one field into the start of the next; those few candidates (FTS5 `^` finds the
  second half at a field's start) are checked by the reference evaluator itself
  (`papertrack_phrase`).
* What cannot agree: FTS5's unicode61 tokenizer folds accents (`naïve` is `naive`),
  while the stand-in splits words at every non-ASCII letter (`na`, `ve`).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from papertrack.sources.arxiv_query import Node, Not, Op, Record, Term, date_range, evaluate, parse, stem, tokens

COLUMNS = {"ti": "title", "abs": "abstract", "au": "authors", "co": "comment", "jr": "journal_ref"}
ALL = "{" + " ".join(COLUMNS.values()) + "}"
_FTS_OP = {"AND": "AND", "OR": "OR", "ANDNOT": "NOT"}
_SQL_OP = {"AND": "AND", "OR": "OR", "ANDNOT": "AND NOT"}
_IN_FTS = "{key} in (select rowid from papers_fts where papers_fts match ?)"
ARXIV_ONLY = "instr(p.id, ':') = 0"  # dblp:, doi: and bib: rows are not on arXiv


@dataclass(frozen=True)
class Fts:
    expr: str  # an FTS5 query


@dataclass(frozen=True)
class Sql:
    cond: str
    params: tuple = ()


MAX_PHRASE_FORMS = 16  # spellings of a phrase's plural forms written out; a longer phrase is checked row by row
FALSE = Sql("0")
TRUE = Sql("1")
Compiled = Fts | Sql


def variants(word: str) -> list[str]:
    """The tokens that stem like `word` (`stem`'s preimage): network -> network, networkes, networks."""
    s = stem(word)
    candidates = {s, s + "s", s + "es"} | ({s[:-1] + "ies"} if s.endswith("y") else set())
    return sorted(t for t in candidates if stem(t) == s)


class Translator:
    """Compiles query trees against one database (whose FTS vocabulary prunes variants).

    Conditions are on `papers p`; `key` is the expression matched against papers_fts
    rowids. Subclasses may change `key`, how the vocabulary is consulted (`indexed`) and
    how `cat:` is matched (`category`): the browse page matches on its own tables.
    """

    key = "p.rowid"

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.present: dict[str, bool] = {}
        db.conn.create_function("papertrack_phrase", 7, _phrase, deterministic=True)

    def indexed(self, terms: set[str]) -> set[str]:
        """Which of these terms occur in the index (one fts5vocab look-up for all)."""
        self.db.execute(
            "create virtual table if not exists temp.papers_fts_terms using fts5vocab(main, 'papers_fts', 'row')"
        )
        return {
            r[0]
            for r in self.db.execute(
                "select term from temp.papers_fts_terms where term in (select value from json_each(?))",
                [json.dumps(sorted(terms))],
            )
        }

    def known(self, words: Iterable[str]) -> list[list[str]]:
        """For each word, its variants that occur in the index."""
        out = [variants(w) for w in words]
        missing = {t for vs in out for t in vs if t not in self.present}
        if missing:
            found = self.indexed(missing)
            self.present.update({t: t in found for t in missing})
        return [[t for t in vs if self.present[t]] for vs in out]

    def category(self, value: str) -> Sql:
        """`cat:value` (`cs.LG`, or a prefix ending in `*`): any listed category."""
        needle = json.dumps(value[:-1])[:-1] if value.endswith("*") else json.dumps(value)
        return Sql("instr(coalesce(p.categories, ''), ?) > 0", (needle,))

    def where(self, node: Node) -> tuple[str, list]:
        """A SQL condition on `papers p` selecting what `node` matches, with its parameters."""
        sql = self.as_sql(self.compile(node))
        return sql.cond, list(sql.params)

    def as_sql(self, compiled: Compiled) -> Sql:
        """A compiled query as a condition (an FTS expression becomes a rowid look-up)."""
        return compiled if isinstance(compiled, Sql) else Sql(_IN_FTS.format(key=self.key), (compiled.expr,))

    def compile(self, node: Node) -> Compiled:
        if isinstance(node, Not):
            inner = self.compile(node.node)
            return TRUE if inner == FALSE else Sql(f"not ({self.as_sql(inner).cond})", self.as_sql(inner).params)
        if isinstance(node, Op):
            return self._op(node.op, self.compile(node.left), self.compile(node.right))
        if node.field in COLUMNS or node.field == "all":
            return self._text(node)
        if node.field == "cat":
            return self.category(node.value)
        if node.field == "id":
            return Sql("p.id = ?", (re.sub(r"v\d+$", "", node.value),))
        if node.field == "doi":
            value = node.value.lower()
            if value.endswith("*"):
                return Sql("coalesce(p.doi, '') != '' and substr(lower(p.doi), 1, ?) = ?", (len(value) - 1, value[:-1]))
            return Sql("coalesce(p.doi, '') != '' and lower(p.doi) = ?", (value,))
        if node.field == "rn":
            return FALSE  # report numbers are not stored
        lo, hi = date_range(node.value)
        return Sql("coalesce(p.published, '') between ? and ?", (lo, hi))

    def _op(self, op: str, left: Compiled, right: Compiled) -> Compiled:
        if left == FALSE:
            return right if op == "OR" else FALSE
        if right == FALSE:
            return FALSE if op == "AND" else left
        if isinstance(left, Fts) and isinstance(right, Fts):
            return Fts(f"({left.expr}) {_FTS_OP[op]} ({right.expr})")
        left_sql, right_sql = self.as_sql(left), self.as_sql(right)
        return Sql(f"({left_sql.cond}) {_SQL_OP[op]} ({right_sql.cond})", left_sql.params + right_sql.params)

    def _text(self, term: Term) -> Compiled:
        words = tokens(term.value)
        forms = self.known(words)
        if not words or not all(forms):
            return FALSE
        columns = ALL if term.field == "all" else COLUMNS[term.field]
        if not term.phrase or len(words) == 1:
            return Fts(f"{columns} : (" + " AND ".join(_any(vs) for vs in forms) + ")")
        in_fts = _IN_FTS.format(key=self.key)
        parts = phrase_parts(forms)
        if len(parts) > 1:
            # too many plural forms to spell out: rows holding each part (every word, for
            # all:, whose phrase may cross fields), confirmed by the stand-in's own reading
            near = (
                " AND ".join(f"({phrase_spellings(p)})" for p in parts)
                if term.field != "all"
                else " AND ".join(_any(vs) for vs in forms)
            )
            return Sql(f"({in_fts} and {_CHECK})", (f"{columns} : ({near})", term.field, term.value))
        within = Fts(f"{columns} : ({phrase_spellings(forms)})")
        if term.field != "all":
            return within
        # a phrase that starts in one field and ends at the start of the next
        rest = "{" + " ".join(list(COLUMNS.values())[1:]) + "}"
        spans = " OR ".join(
            f"(({ALL} : ({phrase_spellings(forms[:k])})) AND ({rest} : ({phrase_spellings(forms[k:], initial=True)})))"
            for k in range(1, len(words))
        )
        return Sql(f"({in_fts}) or ({in_fts} and {_CHECK})", (within.expr, spans, "all", term.value))


_CHECK = "papertrack_phrase(p.title, p.abstract, p.authors, p.comment, p.journal_ref, ?, ?)"


def phrase_parts(forms: list[list[str]], cap: int = MAX_PHRASE_FORMS) -> list[list[list[str]]]:
    """A phrase's words (each a list of its surface forms) cut into consecutive parts of at
    most `cap` combinations each; one part when the whole phrase can be spelled out."""
    parts: list[list[list[str]]] = [[]]
    combos = 1
    for vs in forms:
        if parts[-1] and combos * len(vs) > cap:
            parts.append([])
            combos = 1
        parts[-1].append(vs)
        combos *= len(vs)
    return parts


def _any(forms: list[str]) -> str:
    return "(" + " OR ".join(f'"{t}"' for t in forms) + ")"


def phrase_spellings(forms: list[list[str]], initial: bool = False) -> str:
    """The OR of every spelling of the phrase (callers keep `forms` within `phrase_parts`' cap)."""
    mark = "^ " if initial else ""
    return " OR ".join(mark + '"' + " ".join(combo) + '"' for combo in itertools.product(*forms))


def _phrase(title: str, abstract: str, authors: str, comment: str, journal_ref: str, field: str, phrase: str) -> int:
    """The stand-in's own verdict on `field:"phrase"` (for all:, the fields concatenated)."""
    record = Record("", title or "", abstract or "", json.loads(authors or "[]"), [], comment, journal_ref, "", "")
    return int(evaluate(Term(field, phrase, True), record))


def match_ids(db: sqlite_utils.Database, query: str, translator: Translator | None = None) -> list[str]:
    """Ids of the arXiv papers in the database that `query` (arXiv syntax) matches."""
    cond, params = (translator or Translator(db)).where(parse(query))
    return [r[0] for r in db.execute(f"select p.id from papers p where ({cond}) and {ARXIV_ONLY}", params)]
