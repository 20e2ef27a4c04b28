"""arXiv's search_query: read it as arXiv reads it, evaluate it against one record.

`parse` first rewrites the query exactly as arXiv's export API does (`arxiv_rewrite`: a
missing operator is OR, a word with no field is `all:`, `ti:(a b)` gives `ti:` to both
words, NOT is ANDNOT, partial date ranges are filled in, ...), then parses the result,
refusing with `QuerySyntaxError` what arXiv answers with HTTP 400 (unbalanced
parentheses, a dangling operator, an empty group, ...). Fields: ti au abs co jr all cat id
doi rn submittedDate. AND / OR / ANDNOT are evaluated left to right, parentheses first;
ANDNOT at the start of the query or of a group negates the one operand after it. That is
the shared stand-in's reading; arXiv's own grammar groups from the right, so `arxiv_form`,
the text a harvest sends, adds parentheses wherever the two readings would differ.

Matching: text is lower-cased and split into ASCII letter/digit tokens, a token loses a
plural ending (`ies`->`y`, `es`, `s`) when longer than the ending + 3, a bare term must
occur in the field, a phrase as consecutive tokens; `cat:` and `doi:` match exactly or by
a prefix ending in `*`; `rn:` (report numbers) matches nothing, as nothing stores them.

`evaluate` is the reference used by the demo's local arXiv stand-in and by the tests
that check the SQL translation in `match`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from papertrack.errors import SourceError, UsageError
from papertrack.models import Paper
from papertrack.sources.arxiv_rewrite import Kind, Token, join_tokens, rewrite_tokens, split_words

TEXT_FIELDS = ("ti", "abs", "au", "co", "jr")
FIELDS = (*TEXT_FIELDS, "all", "cat", "id", "doi", "rn", "submitteddate")
_NAMES = {f: "submittedDate" if f == "submitteddate" else f for f in FIELDS}
_TOKEN = re.compile(r"[a-z0-9]+")
_RANGE = re.compile(r"\s*(\d{8,14})\s+TO\s+(\d{8,14})\s*")
OPERATORS = ("AND", "OR", "ANDNOT")
# What a query may hold, checked before any parsing: real saved queries are under 200 characters
# and 40 terms; the bounds keep a crafted one from costing memory or recursion.
MAX_QUERY_LENGTH = 4000  # characters
MAX_TOKENS = 400  # words, operators and parentheses, after arXiv's rewriting
MAX_DEPTH = 16  # nested parentheses
PAGING_LIMIT = 30000  # arXiv does not page past this many results of one query
ARXIV_EPOCH = "199101010000"  # before arXiv's first submission
# The end of an open submission-date window: far ahead of any clock (this machine's may be
# behind arXiv's), and in a year no server's time-zone arithmetic overflows.
OPEN_END = "299912312359"
_MINUTE = "%Y%m%d%H%M"


class QuerySyntaxError(UsageError):
    """A query arXiv would reject; the message says why."""


@dataclass(frozen=True)
class Term:
    field: str  # one of FIELDS
    value: str  # unquoted text, category, id, DOI or date range
    phrase: bool = False


@dataclass(frozen=True)
class Op:
    op: str  # AND, OR, ANDNOT
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    """A leading ANDNOT: everything but what `node` matches."""

    node: Node


Node = Term | Op | Not


def tokens(text: str | None) -> list[str]:
    return _TOKEN.findall((text or "").lower())


def stem(token: str) -> str:
    for suffix in ("ies", "es", "s"):
        if token.endswith(suffix) and len(token) > len(suffix) + 3:
            return token[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return token


def stems(text: str | None) -> list[str]:
    return [stem(t) for t in tokens(text)]


def parse(query: str) -> Node:
    """The tree of `Term`, `Op` and `Not` that arXiv searches for `query` (rewritten first);
    `QuerySyntaxError` also for a query beyond the bounds above."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(f"the query is {len(query):,} characters long; at most {MAX_QUERY_LENGTH:,} are read")
    toks = rewrite_tokens(query)
    if len(toks) > MAX_TOKENS:
        raise QuerySyntaxError(f"the query has {len(toks):,} terms and operators; at most {MAX_TOKENS} are read")
    depth = 0
    for tok in toks:
        depth += (tok.kind is Kind.LEFT_PAREN) - (tok.kind is Kind.RIGHT_PAREN)
        if depth > MAX_DEPTH:
            raise QuerySyntaxError(f"the query nests parentheses more than {MAX_DEPTH} deep")
    return _Parser(query, toks).parse()


def arxiv_form(query: str) -> str:
    """The query as a harvest sends it: rewritten as arXiv rewrites it, with parentheses
    wherever arXiv's right-to-left grouping would differ from the left-to-right reading
    (`ti:a OR ti:b AND cat:cs.LG` -> `(ti:a OR ti:b) AND cat:cs.LG`). arXiv's own rewriting
    leaves this text as it is."""
    return unparse(parse(query))


def reads_differently(query: str) -> bool:
    """Does `arxiv_form` differ from `query` by more than spacing (an added `all:`, OR,
    field or parenthesis, a filled-in date, ...)? False for a query arXiv refuses."""
    try:
        return split_words(arxiv_form(query)) != split_words(query)
    except QuerySyntaxError:
        return False


def arxiv_rewrite(query: str) -> str:
    """arXiv's rewriting of `query` alone, spaced as arXiv spaces it ('' if nothing is left)."""
    return join_tokens(rewrite_tokens(query))


def unparse(node: Node, top: bool = True) -> str:
    """A tree as query text that means the same read left to right or grouped from the right."""
    if isinstance(node, Term):
        value = f'"{node.value}"' if node.phrase else node.value
        return f"{_NAMES[node.field]}:{value}"
    if isinstance(node, Not):
        inner = unparse(node.node, top=False)
        inner = f"({inner})" if isinstance(node.node, Op) else inner
        return f"ANDNOT {inner}" if top else f"(ANDNOT {inner})"
    left, right = unparse(node.left, top=False), unparse(node.right, top=False)
    if isinstance(node.left, Op) and (node.left.op, node.op) not in _FLAT:
        left = f"({left})"
    if isinstance(node.right, Op):
        right = f"({right})"
    return f"{left} {node.op} {right}"


# (inner, outer) operator pairs for which `a inner b outer c` means the same however grouped
_FLAT = {("AND", "AND"), ("OR", "OR"), ("AND", "ANDNOT")}


class _Parser:
    """Recursive descent over rewritten tokens; errors worded for the query as written."""

    def __init__(self, query: str, toks: list[Token]):
        self.query, self.toks, self.pos = query, toks, 0

    def fail(self, problem: str) -> QuerySyntaxError:
        shown = join_tokens(self.toks)
        reads = f"reads it as {shown!r} and " if shown != self.query.strip() and len(shown) <= 120 else ""
        return QuerySyntaxError(f"{problem} (arXiv {reads}answers HTTP 400)")

    def peek(self) -> Token | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def parse(self) -> Node:
        if not self.toks:
            raise QuerySyntaxError(f"nothing to search for in {self.query!r}")
        node = self.expression()
        tok = self.peek()
        if tok is not None:
            raise self.fail(
                "unbalanced parentheses: a ')' closes nothing" if tok.kind is Kind.RIGHT_PAREN else self.stray(tok)
            )
        return node

    def stray(self, tok: Token) -> str:
        return "'NOT' cannot follow another operator" if tok.text == "NOT" else f"unexpected {tok.text!r}"

    def expression(self) -> Node:
        node = self.operand(None)
        while (tok := self.peek()) is not None and tok.kind is Kind.OPERATOR and tok.text in OPERATORS:
            self.pos += 1
            node = Op(tok.text, node, self.operand(tok.text))
        return node

    def operand(self, after: str | None) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.fail(
                f"dangling operator: nothing follows {after!r}" if after else "unbalanced parentheses: a '(' is never closed"
            )
        self.pos += 1
        if tok.kind is Kind.LEFT_PAREN:
            if (inner := self.peek()) is not None and inner.kind is Kind.RIGHT_PAREN:
                raise self.fail("empty group '()'")
            node = self.expression()
            closing = self.peek()
            if closing is None:
                raise self.fail("unbalanced parentheses: a '(' is never closed")
            if closing.kind is not Kind.RIGHT_PAREN:
                raise self.fail(self.stray(closing))
            self.pos += 1
            return node
        if tok == (Kind.OPERATOR, "ANDNOT"):
            return Not(self.operand("ANDNOT"))
        if tok.kind is Kind.RIGHT_PAREN:
            raise self.fail(
                f"dangling operator: nothing follows {after!r}" if after else "unbalanced parentheses: a ')' closes nothing"
            )
        if tok.kind is Kind.OPERATOR:
            if tok.text == "NOT" or after:
                raise self.fail(
                    self.stray(tok) if tok.text == "NOT" else f"two operators in a row: {after!r} then {tok.text!r}"
                )
            raise self.fail(f"{tok.text!r} has nothing on its left")
        # after rewriting, every word has its prefix in front of it
        self.pos += 1
        return self.term(tok.text[:-1], self.toks[self.pos - 1].text)

    def term(self, field: str, value: str) -> Term:
        phrase = len(value) > 1 and value[0] == value[-1] == '"'
        inner = value[1:-1] if phrase else value
        if phrase and (len(inner) - len(inner.rstrip("\\"))) % 2:
            raise self.fail(f"the quoted value {value} ends in a backslash")
        field = field.lower()
        if field == "submitteddate":
            try:
                date_range(inner if phrase else value)
            except QuerySyntaxError as e:
                raise QuerySyntaxError(str(e)) from None
        return Term(field, inner, phrase)


@lru_cache(maxsize=1024)  # evaluate() asks again for every record
def date_range(value: str) -> tuple[str, str]:
    """`201601010000 TO 202001010000` (a submittedDate value, quotes removed) -> ISO
    bounds (`2016-01-01T00:00:00Z`, ...); 8 to 14 digits a side, padded with zeros."""
    m = _RANGE.fullmatch(value)
    try:
        if m:
            return _iso(m.group(1)), _iso(m.group(2))
    except ValueError:
        pass
    raise QuerySyntaxError(
        f"bad date range submittedDate:{value!r} (write submittedDate:[YYYYMMDD TO YYYYMMDD], hhmm optional;"
        " [YYYY TO YYYY] and [YYYYMM TO YYYYMM] are filled in only in brackets)"
    )


def _iso(digits: str) -> str:
    return datetime.strptime((digits + "000000")[:12], _MINUTE).strftime("%Y-%m-%dT%H:%M:00Z")


class Record:
    """A paper prepared for `evaluate`: stemmed token lists per field."""

    __slots__ = ("id", "categories", "published", "updated", "doi", "fields", "sets")

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
        doi: str | None = None,
    ):
        self.id, self.categories, self.doi = id, categories, doi
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


def record_of(p: Paper) -> Record:
    """A stored or harvested paper prepared for `evaluate`."""
    return Record(
        p.id,
        p.title,
        p.abstract,
        p.authors,
        p.categories,
        p.comment,
        p.journal_ref,
        p.published or "",
        p.updated or "",
        p.doi,
    )


def evaluate(node: Node, rec: Record) -> bool:
    """Does `rec` match the query tree? (The stand-in's semantics, see module docstring.)"""
    if isinstance(node, Not):
        return not evaluate(node.node, rec)
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
    if node.field == "doi":
        v, doi = node.value.lower(), (rec.doi or "").lower()
        return bool(doi) and (doi == v or (v.endswith("*") and doi.startswith(v[:-1])))
    if node.field == "rn":
        return False
    if node.field == "submitteddate":
        lo, hi = date_range(node.value)
        return lo <= (rec.published or "") <= hi
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
    """`query` restricted to a submission-date window `[lo, hi]` (None: open). An open end
    is `OPEN_END`, not this machine's clock: arXiv's may be ahead of it."""
    lo, hi = window
    if lo is None and hi is None:
        return query
    return f"({query}) AND submittedDate:[{lo or ARXIV_EPOCH} TO {hi or OPEN_END}]"


def split_window(window: Window, total: int, newest: str) -> list[Window]:
    """Halve a submission-date window (newest half first): its `total` results exceed
    what arXiv pages through. An open window ends, for the halving, at `newest` (the
    newest date its results carry, as arXiv wrote it), and its newer half stays open."""
    lo = datetime.strptime(window[0] or ARXIV_EPOCH, _MINUTE)
    if window[1]:
        hi = datetime.strptime(window[1], _MINUTE)
    elif newest:
        hi = datetime.fromisoformat(newest).replace(tzinfo=None)
    else:
        raise SourceError(f"arXiv reported {total} results but dated none of them: no window to split")
    if hi - lo < timedelta(minutes=2):
        raise SourceError(f"{total} results submitted within one minute exceed arXiv's paging limit of {PAGING_LIMIT}")
    mid = lo + (hi - lo) / 2
    return [
        [(mid + timedelta(minutes=1)).strftime(_MINUTE), window[1]],
        [lo.strftime(_MINUTE), mid.strftime(_MINUTE)],
    ]
