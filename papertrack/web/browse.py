"""The researchers' site, served by the plugin (`plugin.register_routes`):

* `/` and `/browse`: paper cards for a search, filters and sort, with facet counts
  (and, with nothing selected, the chart of papers per tag per month);
* `/browse.atom`: the newest 50 papers of the same selection as an Atom feed;
* `/browse.bib`: BibTeX for every result (up to `bib.BIB_CAP`), by `bibtex.export`, one
  export at a time (`guard.export_slot`).

The queries are `store.browse`'s; each request runs all of them in one `execute_fn`
inside one read transaction (one snapshot while a harvest writes) under a time limit
(`read_snapshot`; a reader's private feeds too, through `atom_response`). Nothing is cached
between requests. Bad parameters render the page with the reason and HTTP 400. Pages of
an immutable database carry `Cache-Control: public` for a CDN; `Server-Timing` says how
long the queries and the rendering took.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from weakref import WeakKeyDictionary

import sqlite_utils
from datasette.utils import sqlite_timelimit, tilde_encode
from datasette.utils.asgi import Response
from datasette.version import __version__ as datasette_version

from papertrack.bibtex.export import export_ids
from papertrack.errors import UsageError
from papertrack.rank.scores import LIKE, ranked_profiles
from papertrack.store import derived
from papertrack.store.browse import SORTS, BrowseQuery, Card, browse_page, register_sort, result_ids
from papertrack.store.browse_counts import tag_months
from papertrack.web.bib import BIB_CAP, truncated
from papertrack.web.browse_chart import tag_chart
from papertrack.web.browse_feed import atom_feed
from papertrack.web.browse_view import Links, card_view, describe, facet_lists, page_range, read_args, selected
from papertrack.web.databases import first_papertrack
from papertrack.web.guard import RETRY_AFTER, Busy, export_slot, hidden_profiles
from papertrack.web.personal import Personal, decorate, personalize

FEED_SIZE = 50
TIME_LIMIT_FACTOR = 10  # a page's queries together may take this many times Datasette's sql_time_limit_ms
_ready: WeakKeyDictionary = WeakKeyDictionary()  # Datasette -> names of databases whose browse tables are current
register_sort(LIKE)  # sort=like:TAG, a profile's papers best first (papertrack rank)


def routes() -> list[tuple[str, Callable]]:
    return [(r"^/$", browse), (r"^/browse$", browse), (r"^/browse\.atom$", feed), (r"^/browse\.bib$", bibtex)]


def sort_links(query: BrowseQuery, links: Links, profiles: list[str], me: Personal) -> list[tuple[str, str, str]]:
    """(sort, label, url) of each sort the page offers: one `like:TAG` per ranked profile;
    `for-you` for a signed-in reader."""
    out = []
    for s in SORTS.values():
        if (s.needs_search and not query.q) or (s.name == "for-you" and me.user is None):
            continue
        names = [(f"{s.name}:{p}", f"like {p}") for p in profiles] if s is LIKE else [(s.name, s.label)]
        out += [(name, label, links.sorted_by(name)) for name, label in names]
    return out


def check_profile(datasette, request, query: BrowseQuery) -> None:
    """`UsageError` for `sort=like:PROFILE` of a profile this visitor may not sort by
    (`guard.hidden_profiles`: picks, on a public site, for editors only)."""
    base, _, profile = (query.sort or "").partition(":")
    if base == LIKE.name and profile in hidden_profiles(datasette, request.actor):
        raise UsageError(f"sort={query.sort}: the {profile} profile is for editors on this site")


class NotReady(Exception):
    """The database has no (current) browse tables: it was never opened by this papertrack."""


async def browse(datasette, request):
    name = _database(datasette)
    started = time.perf_counter()
    try:
        args = read_args(request.args)
        check_profile(datasette, request, args.query)
        query, me = await personalize(datasette, request, args.query, name)
        landing = query.empty and query.after is None

        def run(conn: sqlite3.Connection):
            page = browse_page(conn, query)
            return page, tag_months(conn) if landing else None, ranked_profiles(conn)

        (page, chart, profiles), sql_ms = await read_snapshot(datasette, name, me.bind(run))
        profiles = [p for p in profiles if p not in hidden_profiles(datasette, request.actor)]
        await decorate(datasette, me, name, page.cards)
    except UsageError as e:
        return await _error(datasette, request, name, str(e), 400)
    except NotReady as e:
        return await _error(datasette, request, name, str(e), 503)
    rendered = time.perf_counter()
    links = Links(datasette.urls.path("/browse"), query)
    paper_url, bib_url = _paper_urls(datasette, name)
    first, last = page_range(page, args.start)
    chosen = selected(query, links)
    context = {
        **_common(datasette, name, query),
        "page": page,
        "cards": [
            {**card_view(c, links, paper_url(c), bib_url(c), related=bool(profiles)), **me.card(c)} for c in page.cards
        ],
        "counts": page.counts,
        "facets": facet_lists(page.counts, query, links) if page.counts else [],
        "selected": chosen,
        "sorts": sort_links(query, links, profiles, me),
        "current_sort": "for-you" if me.for_you and me.user else page.sort,
        "me": me,
        "here": request.path + (f"?{request.query_string}" if request.query_string else ""),
        "first": first,
        "last": last,
        "next_url": links.next(page.next, last) if page.next else None,
        "first_page_url": links.here() if query.after else None,
        "feed_url": links.here(datasette.urls.path("/browse.atom")),
        "bib_url": links.here(datasette.urls.path("/browse.bib")),
        "search_only_url": links.search_only() if query.q and chosen else None,
        "chart": tag_chart(*chart, tag_url=lambda t: links.toggle("tag", t)) if chart else None,
        "query_ms": sql_ms,
    }
    html = await datasette.render_template("browse.html", context, request=request)
    render_ms = (time.perf_counter() - rendered) * 1000
    response = Response.html(html)
    _headers(datasette, name, response, sql_ms, render_ms, (time.perf_counter() - started) * 1000)
    return response


async def feed(datasette, request):
    name = _database(datasette)
    try:
        query, _ = await personalize(datasette, request, read_args(request.args).query, name)
    except UsageError as e:
        return Response.text(f"Error: {e}\n", status=400)
    links = Links(datasette.urls.path("/browse"), replace(query, sort="newest", after=None))
    title = f"{datasette.metadata('title') or 'papertrack'}: {describe(query)}"
    return await atom_response(
        datasette, request, name, newest(query), title, links.here(datasette.urls.path("/browse.atom")), links.here()
    )


def newest(query: BrowseQuery) -> Callable[[sqlite3.Connection], list[Card]]:
    """What a feed of the selection holds: its newest FEED_SIZE papers."""
    query = replace(query, sort="newest", after=None)
    return lambda conn: browse_page(conn, query, FEED_SIZE, counts=False).cards


async def atom_response(
    datasette,
    request,
    name: str,
    cards: Callable[[sqlite3.Connection], list[Card]],
    title: str,
    self_path: str,
    html_path: str,
    private: bool = False,
) -> Response:
    """The Atom feed of `cards(conn)`, run as every page's queries are (`read_snapshot`):
    `/browse.atom` and a reader's private feeds (`private`: never kept by a shared cache)."""
    started = time.perf_counter()
    try:
        found, sql_ms = await read_snapshot(datasette, name, cards)
    except (UsageError, NotReady) as e:
        return Response.text(f"Error: {e}\n", status=400 if isinstance(e, UsageError) else 503)
    paper_url, _ = _paper_urls(datasette, name)
    rendered = time.perf_counter()
    body = atom_feed(
        found,
        title=title,
        self_url=datasette.absolute_url(request, self_path),
        html_url=datasette.absolute_url(request, html_path),
        paper_url=lambda c: datasette.absolute_url(request, paper_url(c)),
    )
    render_ms = (time.perf_counter() - rendered) * 1000
    response = Response(body, content_type="application/atom+xml; charset=utf-8")
    _headers(datasette, name, response, sql_ms, render_ms, (time.perf_counter() - started) * 1000)
    if private:
        response.headers["Cache-Control"] = "private, max-age=300"
    return response


async def bibtex(datasette, request):
    name = _database(datasette)
    started = time.perf_counter()

    def run(conn: sqlite3.Connection) -> tuple[str, bool]:
        ids = result_ids(conn, query, BIB_CAP + 1)
        return export_ids(sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False), ids[:BIB_CAP]), len(
            ids
        ) > BIB_CAP

    try:
        query = read_args(request.args).query
        check_profile(datasette, request, query)
        query, me = await personalize(datasette, request, query, name)
        async with export_slot(datasette):
            (body, more), sql_ms = await read_snapshot(datasette, name, me.bind(run))
    except (UsageError, NotReady) as e:
        return Response.text(f"Error: {e}\n", status=400 if isinstance(e, UsageError) else 503)
    except Busy as e:
        return Response.text(f"Error: {e}\n", status=503, headers={"Retry-After": str(RETRY_AFTER)})
    headers = {"content-disposition": 'inline; filename="papertrack.bib"'}
    if more:
        body, headers["x-papertrack-truncated"] = truncated(body, "papers match"), str(BIB_CAP)
    response = Response(body, content_type="text/plain; charset=utf-8", headers=headers)
    _headers(datasette, name, response, sql_ms, 0, (time.perf_counter() - started) * 1000)
    return response


def _database(datasette) -> str:
    """The first attached database holding papertrack's papers."""
    return first_papertrack(datasette)


async def read_snapshot(datasette, name: str, fn: Callable[[sqlite3.Connection], Any]) -> tuple[Any, float]:
    """`fn(conn)` on a read connection, in one transaction (one snapshot), under a time
    limit; returns (its result, milliseconds spent in the thread)."""
    ready = _ready.setdefault(datasette, set())
    limit = datasette.setting("sql_time_limit_ms") * TIME_LIMIT_FACTOR

    def call(conn: sqlite3.Connection):
        started = time.perf_counter()
        if name not in ready:
            if not derived.is_current(conn):
                raise NotReady(
                    "this database has no browse tables yet (or older ones): open it once with papertrack, "
                    "for example `papertrack status --db FILE` or `papertrack serve`, then reload"
                )
            ready.add(name)
        try:
            with sqlite_timelimit(conn, limit):
                conn.execute("begin")
                result = fn(conn)
        except sqlite3.OperationalError as e:
            if "interrupted" in str(e):
                raise UsageError("this search took too long; narrow it (add words or a filter)") from None
            raise
        finally:
            # after the limit is lifted: past the deadline, SQLite would interrupt the rollback too
            # and leave this thread's connection inside the transaction
            if conn.in_transaction:  # SQLite may have rolled back itself (a full disk)
                conn.execute("rollback")
        return result, (time.perf_counter() - started) * 1000

    return await datasette.get_database(name).execute_fn(call)


def _paper_urls(datasette, name: str) -> tuple[Callable[[Card], str], Callable[[Card], str]]:
    def page(card: Card) -> str:
        return datasette.urls.row(name, "papers", tilde_encode(card.id))

    def bib(card: Card) -> str:
        return datasette.urls.row(name, "papers", tilde_encode(card.id), format="bib")

    return page, bib


def _common(datasette, name: str, query: BrowseQuery) -> dict:
    return {
        "database": name,
        "database_url": datasette.urls.database(name),
        "table_url": datasette.urls.table(name, "papers"),
        "browse_url": datasette.urls.path("/browse"),
        "home_url": datasette.urls.instance(),
        "index_url": datasette.urls.path("/-/index"),
        "query": query,
        "description": describe(query),
        "metadata": datasette.metadata(),
        "datasette_version": datasette_version,
    }


async def _error(datasette, request, name: str, message: str, status: int) -> Response:
    query = BrowseQuery(q=" ".join((request.args.get("q") or "").split())[:500])
    context = {**_common(datasette, name, query), "error": message, "facets": [], "cards": [], "selected": []}
    html = await datasette.render_template("browse.html", context, request=request)
    return Response.html(html, status=status)


def _headers(datasette, name: str, response: Response, sql_ms: float, render_ms: float, total_ms: float) -> None:
    ttl = int(datasette.setting("default_cache_ttl"))
    immutable = not datasette.get_database(name).is_mutable
    cache = "no-cache" if ttl == 0 else f"max-age={ttl}"
    response.headers["Cache-Control"] = f"public, {cache}" if immutable and ttl else cache
    response.headers["Server-Timing"] = f"sql;dur={sql_ms:.1f}, render;dur={render_ms:.1f}, total;dur={total_ms:.1f}"
