"""arXiv's search_query grammar: parse it, and evaluate it against one record.

Grammar (as the arXiv API documents it): `field:term`, `field:"a phrase"`, fields
ti au abs co jr cat id all, `submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]` (and
lastUpdatedDate), AND / OR / ANDNOT evaluated left to right, parentheses first, adjacent
terms ANDed. Matching: text is lower-cased and split into ASCII letter/digit tokens, a
token loses a plural ending (`ies`->`y`, `es`, `s`) when longer than the ending + 3,
a bare term must occur in the field, a phrase as consecutive tokens; `cat:` matches a
category exactly or by a prefix ending in `*`.

`evaluate` is the reference used by the demo's local arXiv stand-in and by the tests
that check the SQL translation in `match`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from papertrack.errors import SourceError, UsageError

TEXT_FIELDS = ("ti", "abs", "au", "co", "jr")
FIELDS = (*TEXT_FIELDS, "all", "cat", "id", "submitteddate", "lastupdateddate")
_TOKEN = re.compile(r"[a-z0-9]+")
_LEX = re.compile(r'\s*(\(|\)|ANDNOT\b|AND\b|OR\b|[a-zA-Z]+:\[[^\]]*\]|[a-zA-Z]+:"[^"]*"|"[^"]*"|[^\s()]+)')
_RANGE = re.compile(r"\[\s*(\d{8,14})\s+TO\s+(\d{8,14})\s*\]")
OPERATORS = ("AND", "OR", "ANDNOT")
PAGING_LIMIT = 30000  # arXiv does not page past this many results of one query
ARXIV_EPOCH = "199101010000"  # before arXiv's first submission
_MINUTE = "%Y%m%d%H%M"


class QuerySyntaxError(UsageError):
    """A query arXiv would reject; the message says where."""


@dataclass(frozen=True)
class Term:
    field: str  # one of FIELDS
    value: str  # unquoted text, category, id, or date range
    phrase: bool = False


@dataclass(frozen=True)
class Op:
    op: str  # AND, OR, ANDNOT
    left: Node
    right: Node


Node = Term | Op


def tokens(text: str | None) -> list[str]:
    return _TOKEN.findall((text or "").lower())


def stem(token: str) -> str:
    for suffix in ("ies", "es", "s"):
        if token.endswith(suffix) and len(token) > len(suffix) + 3:
            return token[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return token


def stems(text: str | None) -> list[str]:
    return [stem(t) for t in tokens(text)]


def lex(query: str) -> list[str]:
    out, pos, query = [], 0, query.strip()
    while pos < len(query):
        m = _LEX.match(query, pos)
        if not m or m.end() == pos:
            raise QuerySyntaxError(f"cannot parse query at {query[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(query) and query[pos].isspace():
            pos += 1
    return out


def parse(query: str) -> Node:
    """Parse a search_query into a tree of `Term` and `Op`."""
    toks, pos = lex(query), 0
    if not toks:
        raise QuerySyntaxError("empty query")

    def expr() -> Node:
        nonlocal pos
        node = atom()
        while pos < len(toks) and toks[pos] != ")":
            op = "AND"
            if toks[pos] in OPERATORS:
                op = toks[pos]
                pos += 1
            node = Op(op, node, atom())
        return node

    def atom() -> Node:
        nonlocal pos
        if pos >= len(toks):
            raise QuerySyntaxError(f"query ends early: {query!r}")
        tok = toks[pos]
        pos += 1
        if tok == "(":
            node = expr()
            if pos >= len(toks) or toks[pos] != ")":
                raise QuerySyntaxError(f"unbalanced parenthesis in {query!r}")
            pos += 1
            return node
        if tok in (")", *OPERATORS):
            raise QuerySyntaxError(f"unexpected {tok} in {query!r}")
        field, value = ("all", tok)
        if re.match(r"^[a-zA-Z]+:", tok):
            field, value = tok.split(":", 1)
            field = field.lower()
        if field not in FIELDS:
            raise QuerySyntaxError(f"unknown field {field!r} in {query!r}")
        if field in ("submitteddate", "lastupdateddate"):
            date_range(value)  # validate now
        phrase = value.startswith('"') and value.endswith('"') and len(value) > 1
        return Term(field, value.strip('"'), phrase)

    node = expr()
    if pos != len(toks):
        raise QuerySyntaxError(f"unexpected {toks[pos]} in {query!r}")
    return node


@lru_cache(maxsize=1024)  # evaluate() asks again for every record
def date_range(value: str) -> tuple[str, str]:
    """`[201601010000 TO 202001010000]` -> ISO bounds (`2016-01-01T00:00:00Z`, ...)."""
    m = _RANGE.fullmatch(value.strip())
    if not m:
        raise QuerySyntaxError(f"bad date range {value!r} (use [YYYYMMDDHHMM TO YYYYMMDDHHMM])")

    def iso(digits: str) -> str:
        return datetime.strptime((digits + "000000")[:12], "%Y%m%d%H%M").strftime("%Y-%m-%dT%H:%M:00Z")

    return iso(m.group(1)), iso(m.group(2))


class Record:
    """A paper prepared for `evaluate`: stemmed token lists per field."""

    __slots__ = ("id", "categories", "published", "updated", "fields", "sets")

    def __init__(
        self,
        id: str,
        title: str,
        abstract: str,
        authors: list[str],
        categories: list[str],
        comment: str | None,
        journal_ref: str | None,
        published: str,
        updated: str,
    ):
        self.id, self.categories = id, categories
        self.published, self.updated = published, updated
        self.fields = {
            "ti": stems(title),
            "abs": stems(abstract),
            "au": stems(" ".join(authors)),
            "co": stems(comment),
            "jr": stems(journal_ref),
        }
        self.fields["all"] = [t for f in TEXT_FIELDS for t in self.fields[f]]
        self.sets = {k: set(v) for k, v in self.fields.items()}


def evaluate(node: Node, rec: Record) -> bool:
    """Does `rec` match the query tree? (The stand-in's semantics, see module docstring.)"""
    if isinstance(node, Op):
        left = evaluate(node.left, rec)
        if node.op == "AND":
            return left and evaluate(node.right, rec)
        if node.op == "OR":
            return left or evaluate(node.right, rec)
        return left and not evaluate(node.right, rec)
    if node.field == "cat":
        v = node.value
        return any(c == v or (v.endswith("*") and c.startswith(v[:-1])) for c in rec.categories)
    if node.field == "id":
        return rec.id == re.sub(r"v\d+$", "", node.value)
    if node.field in ("submitteddate", "lastupdateddate"):
        lo, hi = date_range(node.value)
        date = rec.published if node.field == "submitteddate" else rec.updated
        return lo <= (date or "") <= hi
    words = _term_stems(node.value)
    if not words:
        return False
    if node.phrase and len(words) > 1:
        seq, n = rec.fields[node.field], len(words)
        return any(tuple(seq[i : i + n]) == words for i in range(len(seq) - n + 1))
    return all(w in rec.sets[node.field] for w in words)


@lru_cache(maxsize=4096)  # a term's stems, once per query rather than once per record
def _term_stems(value: str) -> tuple[str, ...]:
    return tuple(stems(value))


# ---------------------------------------------------------------- submission-date windows

Window = list[str | None]  # [lo, hi] as YYYYMMDDHHMM; None is open


def first_window(since: date | None) -> Window:
    """The submission-date window a full harvest starts with: from `since` on."""
    return [since.strftime("%Y%m%d") + "0000" if since else None, None]


def windowed(query: str, window: Window) -> str:
    """`query` restricted to a submission-date window `[lo, hi]` (None: open)."""
    lo, hi = window
    if lo is None and hi is None:
        return query
    hi = hi or (datetime.now(UTC) + timedelta(days=1)).strftime(_MINUTE)
    return f"({query}) AND submittedDate:[{lo or ARXIV_EPOCH} TO {hi}]"


def split_window(window: Window, total: int) -> list[Window]:
    """Halve a submission-date window (newest half first): its `total` results exceed
    what arXiv pages through."""
    lo = datetime.strptime(window[0] or ARXIV_EPOCH, _MINUTE)
    hi = datetime.strptime(window[1], _MINUTE) if window[1] else datetime.now(UTC).replace(tzinfo=None)
    if hi - lo < timedelta(minutes=2):
        raise SourceError(f"{total} results submitted within one minute exceed arXiv's paging limit of {PAGING_LIMIT}")
    mid = lo + (hi - lo) / 2
    return [
        [(mid + timedelta(minutes=1)).strftime(_MINUTE), hi.strftime(_MINUTE)],
        [lo.strftime(_MINUTE), mid.strftime(_MINUTE)],
    ]
