"""The browse page's URL parameters and what its template shows: the query read from
the URL (every bad value a `UsageError` naming it, which the page shows with HTTP 400),
links that add or remove one filter, the facet lists and the cards' details.

Parameters: `q`, `tag` (repeatable: papers with every one), `category`, `venue`, `year`,
`sort` (relevance, newest, oldest, or a registered sort), and for paging `after` (the
last row's sort value and key, `VALUE,KEY`, as the "Next" link writes it) with `start`
(how many rows came before, for "papers 21-40" only).
"""

from __future__ import annotations

import math
import re
import urllib.parse
from dataclasses import dataclass, replace

from papertrack.errors import UsageError
from papertrack.store.browse import BrowseQuery, Card, Cursor, Page, find_sort
from papertrack.store.browse_counts import Counts

MAX_QUERY = 500  # characters of search text
MAX_VALUE = 200  # characters of a filter or sort value
MAX_TAGS = 10  # tags selected at once
MAX_START = 10**9  # rows before a page
MAX_AUTHORS = 8  # shown on a card before "and N more"
FACET_TITLES = {"tag": "Tags", "cat": "Categories", "venue": "Venues", "year": "Years"}
PARAM = {"tag": "tag", "cat": "category", "venue": "venue", "year": "year"}
# a page position as the Next link writes it: an integer or a float's repr, then the row key;
# ASCII digits only, lengths bounded (int() and float() would take '²', '٣' or 5,000 digits)
_AFTER = re.compile(r"(-?[0-9]{1,19}(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?),([0-9]{1,19})")
SQLITE_INT = 2**63 - 1


@dataclass(frozen=True)
class Request:
    """A browse URL read: the query and the rows shown before this page."""

    query: BrowseQuery
    start: int = 0


def read_args(args) -> Request:
    """Datasette's `request.args` -> `Request`; `UsageError` for a bad value."""

    def one(name: str) -> str | None:
        value = (args.get(name) or "").strip()
        return value or None

    q = " ".join((args.get("q") or "").split())
    if len(q) > MAX_QUERY:
        raise UsageError(f"the search text is {len(q):,} characters long; at most {MAX_QUERY} are read")
    for name in ("category", "venue", "sort", "tag"):
        for value in args.getlist(name):
            if len(value) > MAX_VALUE:
                raise UsageError(f"{name} is {len(value):,} characters long; at most {MAX_VALUE} are read")
    year = one("year")
    if year is not None and not re.fullmatch(r"[0-9]{4}", year):
        raise UsageError(f"year {year!r} is not a year (write it as 2024)")
    tags = tuple(dict.fromkeys(t.strip() for t in args.getlist("tag") if t.strip()))
    if len(tags) > MAX_TAGS:
        raise UsageError(f"{len(tags)} tags are selected; at most {MAX_TAGS} at once")
    if (sort := one("sort")) is not None:
        find_sort(sort)  # an unknown sort is a bad parameter on every route
    after = read_after(one("after"))
    start = one("start") or "0"
    if not re.fullmatch(r"[0-9]{1,10}", start) or int(start) > MAX_START:
        raise UsageError(f"start={start[:20]!r} is not a row number")
    query = BrowseQuery(q, tags, one("category"), one("venue"), int(year) if year else None, sort, after)
    return Request(query, int(start) if after else 0)


def read_after(raw: str | None) -> Cursor | None:
    """`after=VALUE,KEY` (the Next link's page position) -> a cursor; `UsageError` unless
    both are numbers SQLite can hold."""
    if raw is None:
        return None
    m = _AFTER.fullmatch(raw)
    value: float | int | None = None
    if m:
        text = m.group(1)
        value = float(text) if re.search(r"[.eE]", text) else int(text)
        if not (math.isfinite(value) and abs(value) <= SQLITE_INT and int(m.group(2)) <= SQLITE_INT):
            value = None
    if value is None or m is None:
        raise UsageError(f"after={raw[:40]!r} is not a page position (follow the page's Next link)")
    return (value, int(m.group(2)))


class Links:
    """URLs of the same page with one thing changed (always back to the first page)."""

    def __init__(self, path: str, query: BrowseQuery):
        self.path, self.query = path, replace(query, after=None)

    def url(self, query: BrowseQuery, path: str | None = None, **extra: object) -> str:
        params: list[tuple[str, object]] = [("q", query.q)] if query.q else []
        params += [("tag", t) for t in query.tags]
        params += [(n, v) for n in ("category", "venue", "year") if (v := getattr(query, n)) is not None]
        params += [("sort", query.sort)] if query.sort else []
        params += [(k, v) for k, v in extra.items() if v is not None]
        text = urllib.parse.urlencode(params)
        return (path or self.path) + (f"?{text}" if text else "")

    def here(self, path: str | None = None) -> str:
        return self.url(self.query, path)

    def toggle(self, facet: str, value: str) -> str:
        """Add the value to the filters, or take it away when it is selected."""
        q = self.query
        if facet == "tag":
            tags = tuple(t for t in q.tags if t != value) if value in q.tags else (*q.tags, value)
            return self.url(replace(q, tags=tags))
        if facet == "year":
            return self.url(replace(q, year=None if q.year == int(value) else int(value)))
        if facet == "cat":
            return self.url(replace(q, category=None if q.category == value else value))
        return self.url(replace(q, venue=None if q.venue == value else value))

    def sorted_by(self, sort: str) -> str:
        return self.url(replace(self.query, sort=sort))

    def search_only(self) -> str:
        return self.url(BrowseQuery(q=self.query.q))

    def next(self, cursor: Cursor, start: int) -> str:
        return self.url(self.query, after=f"{cursor[0]!r},{cursor[1]}", start=start)


def selected(query: BrowseQuery, links: Links) -> list[tuple[str, str, str]]:
    """(facet title, value, URL without it) of every selected filter."""
    out = [("tag", t, links.toggle("tag", t)) for t in query.tags]
    for facet in ("cat", "venue", "year"):
        value = getattr(query, PARAM[facet])
        if value is not None:
            out.append((facet, str(value), links.toggle(facet, str(value))))
    return [(FACET_TITLES[f][:-1].lower() if f != "cat" else "category", v, u) for f, v, u in out]


def facet_lists(counts: Counts, query: BrowseQuery, links: Links) -> list[dict]:
    """Each facet's values with their counts, a toggle link and whether it is selected."""
    chosen: dict[str, set[str | None]] = {
        "tag": set(query.tags),
        "cat": {query.category},
        "venue": {query.venue},
        "year": {str(query.year)},
    }
    out = []
    for facet, title in FACET_TITLES.items():
        values = counts.values.get(facet, [])
        if facet == "year":
            values = sorted(values, key=lambda v: -v[0])
        items = [
            {"label": label, "n": n, "url": links.toggle(facet, label), "selected": label in chosen[facet]}
            for _, label, n in values
        ]
        if items:
            out.append({"facet": facet, "title": title, "items": items})
    return out


def authors_line(authors: list[str]) -> str:
    """At most MAX_AUTHORS names, then how many more."""
    if len(authors) <= MAX_AUTHORS:
        return ", ".join(authors)
    return f"{', '.join(authors[:MAX_AUTHORS])} and {len(authors) - MAX_AUTHORS} more ({len(authors)} authors)"


def describe(query: BrowseQuery) -> str:
    """The selection in words, for the page's and the feed's title."""
    parts = [f"“{query.q}”"] if query.q else []
    parts += [f"tag {t}" for t in query.tags]
    parts += [f"{n} {v}" for n in ("category", "venue", "year") if (v := getattr(query, n)) is not None]
    return ", ".join(parts) or "all papers"


def card_view(card: Card, links: Links, paper_url: str, bib_url: str, related: bool = False) -> dict:
    """What the template shows of a card; `related`: link to the paper page's related papers."""
    return {
        "card": card,
        "related_url": f"{paper_url}#related" if related else None,
        "authors": authors_line(card.authors),
        "date": (card.published or "")[:10],
        "paper_url": paper_url,
        "bib_url": bib_url,
        "tag_links": [(t, links.toggle("tag", t) if t not in links.query.tags else None) for t in card.tags],
        "category_url": links.toggle("cat", card.category)
        if card.category and card.category != links.query.category
        else None,
        "venue_url": links.toggle("venue", card.venue) if card.venue and card.venue != links.query.venue else None,
    }


def page_range(page: Page, start: int) -> tuple[int, int]:
    """1-based numbers of the first and last card shown."""
    return (start + 1, start + len(page.cards)) if page.cards else (0, 0)
