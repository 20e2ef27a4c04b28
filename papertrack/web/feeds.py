"""A reader's private Atom feeds, for feed readers that cannot sign in: the URL carries
their feed token (`ID.SECRET`, compared in constant time; `papertrack users feed-token
NAME --rotate` replaces it).

* `/-/feeds/TOKEN/search/N.atom`: the newest 50 papers of saved search N, less the
  reader's muted words;
* `/-/feeds/TOKEN/for-you.atom`: the 50 papers the reader's ranking puts first among those
  submitted in the last `FOR_YOU_DAYS` days (up to the newest paper stored), muted words
  left out; empty until the ranking exists (it is asked for when the feed is read).

A wrong token is a 404, the same as a search that is not the reader's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from urllib.parse import parse_qs

import numpy as np
from datasette.utils.asgi import MultiParams, Response

from papertrack.accounts import entries, users
from papertrack.accounts.foryou import CURRENT, Ranking
from papertrack.errors import UsageError
from papertrack.rank.feedback import papers_signature
from papertrack.store.browse import BrowseQuery, Card, browse_page
from papertrack.web.accounts import accounts_of
from papertrack.web.browse import FEED_SIZE, atom_response, newest
from papertrack.web.browse_view import describe, read_args
from papertrack.web.databases import first_papertrack

FOR_YOU_DAYS = 30


async def feed(datasette, request):
    accounts = accounts_of(datasette)
    token, what = request.url_vars["token"], request.url_vars["what"]
    user = await accounts.read(lambda conn: users.feed_user(conn, token)) if accounts else None
    if accounts is None or user is None:
        return Response.text("Error: no such feed\n", status=404)
    name = first_papertrack(datasette)
    mute = tuple(await accounts.read(lambda conn: entries.muted(conn, user.id)))
    site = datasette.metadata("title") or "papertrack"
    if what == "for-you":
        signature = await datasette.get_database(name).execute_fn(papers_signature)
        recommender = accounts.recommender
        if recommender.needs_fit(user.id, user.library_version, signature):
            positives, negatives = await accounts.read(lambda conn: entries.profile(conn, user.id))
            recommender.ask(user.id, user.library_version, signature, positives, negatives)
        ranking = recommender.ranking(user.id)
        cards = partial(_for_you, ranking=ranking, mute=mute) if ranking else lambda conn: []
        title = f"{site}: papers for {user.name}"
    else:
        search = await accounts.read(lambda conn: entries.get_search(conn, user.id, int(what.removeprefix("search/"))))
        if search is None:
            return Response.text("Error: no such feed\n", status=404)
        try:
            query = replace(read_args(MultiParams(parse_qs(search.query))).query, mute=mute)
        except UsageError as e:  # a tag or venue the search names is gone
            return Response.text(f"Error: {e}\n", status=400)
        cards, title = newest(query), f"{site}: {search.name} ({describe(query)})"
    return await atom_response(
        datasette, request, name, cards, title, request.path, datasette.urls.path("/browse"), private=True
    )


def _for_you(conn: sqlite3.Connection, ranking: Ranking, mute: tuple[str, ...]) -> list[Card]:
    latest = conn.execute("select max(t) from browse").fetchone()[0] or 0
    since = latest - FOR_YOU_DAYS * 86400
    # the ranking walked in order, keeping the recent papers, less the muted ones
    query = BrowseQuery(sort="for-you", mute=mute)
    token = CURRENT.set(_recent(conn, ranking, since))
    try:
        return browse_page(conn, query, FEED_SIZE, counts=False).cards
    finally:
        CURRENT.reset(token)


def _recent(conn: sqlite3.Connection, ranking: Ranking, since: int) -> Ranking:
    """The ranking restricted to papers submitted since `since` (Unix seconds)."""
    recent = np.array([r[0] for r in conn.execute("select k from browse where t >= ?", [since])], dtype=np.int64)
    keep = np.isin(ranking.keys, recent)
    return replace(ranking, keys=ranking.keys[keep], values=ranking.values[keep])


def routes() -> list[tuple[str, Callable]]:
    return [(r"^/-/feeds/(?P<token>[^/]{1,200})/(?P<what>for-you|search/[0-9]{1,12})\.atom$", feed)]
