"""The browse page's queries: a page of papers for a search, filters and sort, with
keyset paging, the cards' contents, the counts (`browse_counts`), the feed and the ids
of every result (for BibTeX). Pure of HTML: the web layer renders what this returns.

Every query reads the derived tables (`store.derived`) and the search index; `papers`
is read only for the cards shown. Plans are chosen here rather than left to SQLite,
from numbers it cannot see: the FTS match count picks how a newest-first search walks
the date index, and `facet_counts` picks which selected value drives a filtered list.

Sorts are a registry (`SORTS`, `register_sort`): each gives the page's keys in order
with a sort value, and the last key's (value, k) is the next page's cursor.
"""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from papertrack.errors import UsageError
from papertrack.store.browse_counts import Counts, facet_counts
from papertrack.store.browse_search import Search, Selection, papers_count, select

PAGE_SIZE = 20
SMALL_MATCH = 3000  # fewer FTS matches: fetch them all and sort by date
PROBE_SHARE = 0.10  # matches >= 10% of papers: walk the date index, probing the FTS index per row,
PROBE_WALK = 2000  # unless that walk would pass more rows than this (an export's thousand results)
BM25 = "bm25(papers_fts, 10.0, 2.0, 1.0, 4.0, 0.5, 0.5)"  # title, abstract, summary, authors, comment, journal_ref
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"  # highlight() markers, turned into <mark> after escaping

Cursor = tuple[float, int]  # (sort value, browse.k) of the last row shown


@dataclass(frozen=True)
class BrowseQuery:
    """What the page was asked for (names as typed; `year` already an integer)."""

    q: str = ""
    tags: tuple[str, ...] = ()
    category: str | None = None
    venue: str | None = None
    year: int | None = None
    sort: str | None = None
    after: Cursor | None = None
    mute: tuple[str, ...] = ()  # phrases whose papers are left out (a signed-in user's muted words)

    @property
    def empty(self) -> bool:
        return not (self.q.strip() or self.tags or self.category or self.venue or self.year is not None)


KeysFn = Callable[[sqlite3.Connection, Selection, str | None, Cursor | None, int], list[tuple[int, float]]]


@dataclass(frozen=True)
class Sort:
    """A way to order the page: `keys(conn, selection, arg, after, limit)` gives
    [(browse.k, sort value)] in page order, after the cursor (`sort=name` or `name:arg`)."""

    name: str
    label: str
    keys: KeysFn
    needs_search: bool = False  # only when the query has search text (relevance)


SORTS: dict[str, Sort] = {}


def register_sort(sort: Sort) -> None:
    SORTS[sort.name] = sort


def find_sort(name: str) -> tuple[Sort, str | None]:
    base, _, arg = name.partition(":")
    if base not in SORTS:
        raise UsageError(f"unknown sort {name!r}: use one of {', '.join(sorted(SORTS))}")
    return SORTS[base], arg or None


@dataclass
class Card:
    """One paper as the page shows it; `title_html` and `summary_html` are the title and
    summary HTML-escaped, with the search's matches in <mark>."""

    k: int
    id: str
    title: str
    summary: str
    authors: list[str]
    published: str | None
    updated: str | None
    venue: str | None
    category: str | None
    url: str | None
    pdf_url: str | None
    code_url: str | None
    tags: list[str] = field(default_factory=list)
    title_html: str = ""
    summary_html: str = ""


@dataclass
class Page:
    """A page: its cards, the sort used, the next page's cursor (None on the last) and the counts."""

    cards: list[Card]
    sort: str
    next: Cursor | None
    counts: Counts | None = None
    notes: tuple[str, ...] = ()  # what the search simplified to stay bounded (`Search.notes`)


def sort_of(query: BrowseQuery, selection: Selection) -> str:
    """The sort asked for (unless it needs a ranked search and there is none), else
    relevance for a ranked search, else newest."""
    if query.sort and not (find_sort(query.sort)[0].needs_search and selection.search.fts is None):
        return query.sort
    return "relevance" if selection.search.fts is not None else "newest"


def selection_of(conn: sqlite3.Connection, query: BrowseQuery) -> Selection:
    """The query's search and filters read into SQL (`browse_search.select`)."""
    return select(conn, query.q, query.tags, query.category, query.venue, query.year, query.mute)


def browse_page(conn: sqlite3.Connection, query: BrowseQuery, size: int = PAGE_SIZE, counts: bool = True) -> Page:
    """One page of cards, the cursor of the next one (None on the last), and the counts."""
    selection = selection_of(conn, query)
    sort_name = sort_of(query, selection)
    sort, arg = find_sort(sort_name)
    keys = [] if selection.search.nothing else sort.keys(conn, selection, arg, query.after, size + 1)
    more = len(keys) > size
    keys = keys[:size]
    next_cursor = (keys[-1][1], keys[-1][0]) if more else None
    page = Page(cards(conn, [k for k, _ in keys], selection.search), sort_name, next_cursor, notes=selection.search.notes)
    if counts:
        page.counts = facet_counts(conn, selection)
    return page


def result_ids(conn: sqlite3.Connection, query: BrowseQuery, limit: int) -> list[str]:
    """Paper ids of the first `limit` results, in the page's order (for a BibTeX export)."""
    selection = selection_of(conn, query)
    sort, arg = find_sort(sort_of(query, selection))
    keys = [] if selection.search.nothing else sort.keys(conn, selection, arg, None, limit)
    return [r[0] for r in conn.execute(_BY_KEYS.format(cols="p.id"), [json.dumps([k for k, _ in keys])])]


_BY_KEYS = "select {cols} from json_each(?) j join papers p on p.rowid = j.value order by j.key"


def cards(conn: sqlite3.Connection, keys: list[int], search: Search | None = None) -> list[Card]:
    """The cards of these papers, in this order, with the search's matches marked."""
    if not keys:
        return []
    ids = json.dumps(keys)
    cols = (
        "p.rowid, p.id, p.title, p.summary, p.authors, p.published, p.updated, p.venue, p.primary_category, "
        "p.url, p.pdf_url, p.code_url"
    )
    out = []
    for k, pid, title, summary, authors, published, updated, venue, category, url, pdf_url, code_url in conn.execute(
        _BY_KEYS.format(cols=cols), [ids]
    ):
        out.append(
            Card(
                k,
                pid,
                title or "",
                summary or "",
                json.loads(authors or "[]"),
                published,
                updated,
                venue,
                category,
                url,
                pdf_url,
                code_url,
                title_html=_escaped(title),
                summary_html=_escaped(summary),
            )  # fmt: skip
        )
    by_key = {c.k: c for c in out}
    for k, name in conn.execute(
        "select bt.k, t.name from browse_tags bt join tags t on t.id = bt.tag "
        "where bt.k in (select value from json_each(?)) order by t.name",
        [ids],
    ):
        by_key[k].tags.append(name)
    if search is not None and search.fts is not None:
        for k, title, summary in conn.execute(
            "select rowid, highlight(papers_fts, 0, ?2, ?3), highlight(papers_fts, 2, ?2, ?3) from papers_fts "
            "where papers_fts match ?1 and rowid in (select value from json_each(?4))",
            [search.fts, MARK_OPEN, MARK_CLOSE, ids],
        ):
            card = by_key[k]
            card.title_html, card.summary_html = _marked(title, card.title_html), _marked(summary, card.summary_html)
    return out


def _escaped(text: str | None) -> str:
    return html.escape(text or "", quote=False)


def _marked(highlighted: str | None, plain: str) -> str:
    """Escape FTS5's highlight() output, then turn its markers into <mark>; the plain
    (escaped) text when the text itself holds a marker character."""
    text = highlighted or ""
    if html.escape(text.replace(MARK_OPEN, "").replace(MARK_CLOSE, ""), quote=False) != plain:
        return plain
    return html.escape(text, quote=False).replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")


# ---------------------------------------------------------------- the built-in sorts


def _by_date(desc: bool) -> KeysFn:
    def keys(conn: sqlite3.Connection, sel: Selection, arg: str | None, after: Cursor | None, limit: int) -> list:
        op, order = ("<", "desc") if desc else (">", "asc")
        s = sel.search
        params: list
        if s.fts is not None and sel.filters.empty and (sel.matches or 0) >= SMALL_MATCH:
            alias, params = "b", [s.fts]
            n = papers_count(conn)
            if sel.matches >= PROBE_SHARE * n and limit * n <= PROBE_WALK * sel.matches:  # type: ignore[operator]
                # common words: about limit / share rows of the date index, one FTS probe each
                frm = "from browse b indexed by browse_t where exists (select 1 from papers_fts where papers_fts match ? and rowid = b.k)"
            else:  # the matches once, then the date index until `limit` of them are found
                frm = (
                    "from browse b indexed by browse_t where b.k in (select rowid from papers_fts where papers_fts match ?)"
                )
        else:  # a filter's index in date order, or few matches fetched and sorted
            frm, params, alias, _ = sel.source()
        if after is not None:
            frm += f" and ({alias}.t, {alias}.k) {op} (?, ?)"
            params = [*params, after[0], after[1]]
        sql = f"select {alias}.k, {alias}.t {frm} order by {alias}.t {order}, {alias}.k {order} limit ?"
        return conn.execute(sql, [*params, limit]).fetchall()

    return keys


def _relevance(conn: sqlite3.Connection, sel: Selection, arg: str | None, after: Cursor | None, limit: int) -> list:
    frm, params, _, _ = sel.source(ranked=True)
    sql = f"select k, r from (select f.rowid as k, {BM25} as r {frm})"
    if after is not None:
        sql += " where (r, k) > (?, ?)"
        params = [*params, after[0], after[1]]
    return [(k, r) for k, r in conn.execute(sql + " order by r, k limit ?", [*params, limit])]


register_sort(Sort("relevance", "relevance", _relevance, needs_search=True))
register_sort(Sort("newest", "newest first", _by_date(desc=True)))
register_sort(Sort("oldest", "oldest first", _by_date(desc=False)))
