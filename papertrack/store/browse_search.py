"""What the browse page selects: its search text and filters, read into conditions on the
derived tables (`store.derived`), with every bad value a `UsageError` naming it.

Search text is either plain words and "quoted phrases" (every one must occur, in any
indexed column, plural-insensitive like arXiv: `network` finds networks) or arXiv's own
syntax (`ti:`, `au:`, `abs:`, `cat:`, AND / OR / ANDNOT, parentheses), read by
`store.search`'s translator, so a saved query pasted in finds what `papertrack match`
finds. Conditions use `b` for `browse`, `f` for `papers_fts` and `p` for `papers`.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

import sqlite_utils

from papertrack.errors import UsageError
from papertrack.sources.arxiv_query import FIELDS, QuerySyntaxError, parse
from papertrack.store.derived import MASK_BITS
from papertrack.store.search import FALSE, Fts, Sql, Translator, phrase_parts, phrase_spellings

_WORD = re.compile(r"[^\W_]+")
_CHUNK = re.compile(r'"([^"]*)"|(\S+)')
_ARXIV = re.compile(r"(?i:\b(?:" + "|".join(FIELDS) + r"):)|\b(?:AND|OR|ANDNOT|NOT)\b|[()]")


@dataclass(frozen=True)
class Search:
    """A search as SQL: an FTS5 expression (`fts`, which bm25 can rank), or a condition on
    `b`/`p` (`cond`, arXiv syntax with `cat:`, `id:`, dates); `nothing`: nothing matches."""

    text: str = ""
    fts: str | None = None
    cond: str | None = None
    params: tuple = ()
    nothing: bool = False
    notes: tuple[str, ...] = ()  # what was simplified to keep the search bounded

    @property
    def active(self) -> bool:
        return self.fts is not None or self.cond is not None


@dataclass
class Filters:
    """Selected facet values as ids: tags (all of them), category, venue, year."""

    tags: list[int] = field(default_factory=list)
    cat: int | None = None
    venue: int | None = None
    year: int | None = None
    exclude: str | None = None  # FTS5 expression of papers left out (muted phrases)

    @property
    def empty(self) -> bool:
        return not self.tags and self.cat is None and self.venue is None and self.year is None and not self.exclude

    def values(self) -> list[tuple[str, int]]:
        """(facet, value) of every selected value."""
        out = [("tag", t) for t in self.tags]
        return out + [(f, v) for f in ("cat", "venue", "year") if (v := getattr(self, f)) is not None]

    def conditions(self, alias: str = "b") -> tuple[list[str], list]:
        """Conditions on a `browse` row: tag ids up to MASK_BITS by the bit mask, larger
        ones through browse_tags; the excluded papers' FTS match."""
        conds: list[str] = []
        params: list[int | str] = []
        mask = sum(1 << t for t in self.tags if t <= MASK_BITS)
        if mask:
            conds.append(f"{alias}.tags & ? = ?")
            params += [mask, mask]
        for t in self.tags:
            if t > MASK_BITS:
                conds.append(f"{alias}.k in (select k from browse_tags where tag = ?)")
                params.append(t)
        for col in ("cat", "venue", "year"):
            if (v := getattr(self, col)) is not None:
                conds.append(f"{alias}.{col} = ?")
                params.append(v)
        if self.exclude:
            conds.append(f"{alias}.k not in (select rowid from papers_fts where papers_fts match ?)")
            params.append(self.exclude)
        return conds, params


class BrowseTranslator(Translator):
    """`store.search.Translator` on the browse tables: conditions on `b` (papers' columns
    through `p`, joined only when used), `cat:` through `browse_cats`, and the vocabulary
    probed term by term through the index (fts5vocab would count whole doclists)."""

    key = "b.k"

    def indexed(self, terms: set[str]) -> set[str]:
        probe = "select 1 from papers_fts where papers_fts match ? limit 1"
        return {t for t in terms if self.db.execute(probe, [f'"{t}"']).fetchone()}

    def category(self, value: str) -> Sql:
        cats = "b.k in (select bc.k from browse_cats bc join browse_values v on v.id = bc.cat where v.facet = 'cat' and "
        if value.endswith("*"):
            return Sql(cats + "substr(v.value, 1, ?) = ?)", (len(value) - 1, value[:-1]))
        return Sql(cats + "v.value = ?)", (value,))


def parse_search(conn: sqlite3.Connection, text: str | None) -> Search:
    """The search for `text` (see the module docstring); `QuerySyntaxError` when arXiv
    would refuse it or a quote is left open."""
    text = " ".join((text or "").split())
    if not text:
        return Search()
    translator = BrowseTranslator(sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False))
    if _ARXIV.search(text):
        compiled = translator.compile(parse(text))
        if compiled == FALSE:
            return Search(text, nothing=True)
        if isinstance(compiled, Fts):
            return Search(text, fts=compiled.expr)
        return Search(text, cond=compiled.cond, params=tuple(compiled.params))
    if text.count('"') % 2:
        raise QuerySyntaxError(f"unbalanced quotes in {text!r}: a '\"' is never closed")
    parts: list[str] = []
    notes: list[str] = []
    for phrase, word in _CHUNK.findall(text):
        words = [w.lower() for w in _WORD.findall(phrase or word)]
        if not words:
            continue
        forms = translator.known(words)
        if not all(forms):
            return Search(text, nothing=True)
        pieces = phrase_parts(forms)
        if len(pieces) > 1:
            notes.append(_simplified(words, pieces))
        parts += [phrase_spellings(piece) for piece in pieces]
    if not parts:
        raise QuerySyntaxError(f"nothing to search for in {text!r}")
    return Search(text, fts=" AND ".join(f"({p})" for p in parts), notes=tuple(notes))


def _simplified(words: list[str], pieces: list[list[list[str]]]) -> str:
    """What the page says of a phrase searched as its parts."""
    shown = ", ".join(f"“{' '.join(vs[0] for vs in piece)}”" for piece in pieces[:3])
    more = f" and {len(pieces) - 3} more" if len(pieces) > 3 else ""
    phrase = " ".join(words) if len(words) <= 8 else " ".join(words[:8]) + " …"
    return (
        f"The phrase “{phrase}” ({len(words)} words) has too many plural forms to search as one phrase: "
        f"searched for its parts {shown}{more}, each as a phrase."
    )


def resolve_filters(
    conn: sqlite3.Connection,
    tags: tuple[str, ...] | list[str] = (),
    category: str | None = None,
    venue: str | None = None,
    year: int | None = None,
) -> Filters:
    """Names -> ids; a name no paper carries is a `UsageError` naming it."""
    out = Filters(year=year)
    for name in dict.fromkeys(tags):
        row = conn.execute("select id from tags where name = ?", [name]).fetchone()
        if row is None:
            raise UsageError(f"no paper has the tag {name!r}")
        out.tags.append(row[0])
    for attr, what, value in (("cat", "category", category), ("venue", "venue", venue)):
        if value is not None:
            row = conn.execute("select id from browse_values where facet = ? and value = ?", [attr, value]).fetchone()
            if row is None:
                raise UsageError(f"no paper has the {what} {value!r}")
            setattr(out, attr, row[0])
    return out


@dataclass
class Selection:
    """A query read into SQL: the search, the filters, the FTS match count (None without
    an FTS part) and the selected value with the fewest papers (`driver`: facet, papers, value)."""

    search: Search
    filters: Filters
    matches: int | None = None
    driver: tuple[str, int, int] = ("t", 0, 0)

    def source(self, ranked: bool = False) -> tuple[str, list, str, str]:
        """FROM/WHERE giving the selected `browse` rows `b`; the alias (`b` or `bt`) whose
        (t, k) walk in date order; the key to sample on. `ranked`: the FTS index drives (bm25)."""
        s, f = self.search, self.filters
        conds, params = f.conditions()
        where = "".join(f" and {c}" for c in conds)
        facet, n, value = self.driver
        fts_first = s.fts is not None and (ranked or self.matches is None or n * PROBE_RATIO >= self.matches)
        if fts_first and ranked and not conds:
            return "from papers_fts f where papers_fts match ?", [s.fts], "f", "f.rowid"
        if fts_first:
            # FTS first, whatever SQLite guesses: probing it row by row costs 20-60 us a row (2 ms with bm25)
            frm = f"from papers_fts f cross join browse b on b.k = f.rowid where papers_fts match ?{where}"
            return frm, [s.fts, *params], "b", "f.rowid"
        if s.cond is not None:
            # SQLite drops the join when the condition reads no column of p
            return (
                f"from browse b left join papers p on p.rowid = b.k where ({s.cond}){where}",
                [*s.params, *params],
                "b",
                "b.k",
            )
        # filters alone, or a search matching far more papers than the smallest filter value
        # has: walk that value's index, probing the FTS index row by row
        probe, extra = (
            (" and exists (select 1 from papers_fts where papers_fts match ? and rowid = b.k)", [s.fts])
            if s.fts
            else ("", [])
        )
        if facet == "tag":
            frm = f"from browse_tags bt cross join browse b on b.k = bt.k where bt.tag = ?{where}{probe}"
            return frm, [value, *params, *extra], "bt", "bt.k"
        return f"from browse b indexed by {_INDEX[facet]} where 1{where}{probe}", [*params, *extra], "b", "b.k"


PROBE_RATIO = 300  # a search with filters: the filter drives when it has 300x fewer papers than the search matches
_INDEX = {"t": "browse_t", "cat": "browse_cat_t", "venue": "browse_venue_t", "year": "browse_year_t"}


def select(
    conn: sqlite3.Connection,
    q: str | None = None,
    tags: tuple[str, ...] | list[str] = (),
    category: str | None = None,
    venue: str | None = None,
    year: int | None = None,
    mute: tuple[str, ...] | list[str] = (),
) -> Selection:
    """Read search text and filter names into a `Selection` (UsageError for a value that
    does not exist, QuerySyntaxError for a search arXiv would refuse); papers with one of
    the `mute` phrases are left out."""
    filters = resolve_filters(conn, tags, category, venue, year)
    filters.exclude = muted_fts(conn, mute)
    search = parse_search(conn, q)
    matches = None
    if search.fts is not None:
        matches = conn.execute("select count(*) from papers_fts where papers_fts match ?", [search.fts]).fetchone()[0]
    best = ("t", papers_count(conn), 0)
    for facet, value in filters.values():
        n = global_count(conn, facet, value)
        if n < best[1]:
            best = (facet, n, value)
    return Selection(search, filters, matches, best)


def global_count(conn: sqlite3.Connection, facet: str, value: int) -> int:
    """Papers with this facet value in the whole database."""
    row = conn.execute("select n from facet_counts where facet = ? and value = ?", [facet, value]).fetchone()
    return row[0] if row else 0


def papers_count(conn: sqlite3.Connection) -> int:
    return conn.execute("select coalesce(sum(n), 0) from facet_counts where facet = 'year'").fetchone()[0]


def muted_fts(conn: sqlite3.Connection, phrases: tuple[str, ...] | list[str]) -> str | None:
    """The FTS5 expression of papers holding any of these phrases (each searched as a
    quoted phrase, plural-insensitive); None when none occurs in any paper."""
    parts = []
    for phrase in phrases:
        words = " ".join(_WORD.findall(phrase.lower()))  # no quotes, fields or operators left
        search = parse_search(conn, f'"{words}"') if words else Search()
        if search.fts:
            parts.append(f"({search.fts})")
    return " OR ".join(parts) or None
